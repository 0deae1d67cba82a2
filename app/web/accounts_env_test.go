package web

import (
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/account"
	"github.com/flavormonk/flavormonk/app/auth"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/gumroad"
	"github.com/flavormonk/flavormonk/app/limit"
)

const (
	signupsPerHour  = account.SignupsPerHour
	sessionAbsolute = account.SessionAbsolute
)

// newTestAccounts builds for s what cmd/flavormonk builds: the account
// service on acc, its limits and the request limit counting in c (nil:
// none), sessions read through c when it is Redis, licences from s's
// configuration. The rechecker is nil when re-checks are off.
func newTestAccounts(s *Server, acc flavormonk.AccountStore, visitors account.Visitors, c flavormonk.Cache) *testAccounts {
	cfg := s.cfg
	opts := account.Options{
		Hasher: auth.NewHasher(auth.DefaultParams, 2),
		Store:  acc, Visitors: visitors, Fallback: s.Fallback("session_cache"), Clock: s.now, Log: s.log,
		Login:      limit.NewLogin(limit.NewThrottle(limit.DefaultLimits, s.now), limit.NewCounter(c, s.Fallback("login_throttle"))),
		Signups:    limit.NewSignups(account.SignupsPerHour, time.Hour, s.now, limit.NewCounter(c, s.Fallback("signup_limit"))),
		InviteOnly: cfg.InviteOnly, Plan: cfg.GumroadPlan,
	}
	if cfg.CacheBackend == config.CacheRedis {
		opts.SessionCache = c
	}
	if cfg.GumroadProductID != "" {
		opts.Gumroad = &gumroad.Client{BaseURL: cfg.GumroadURL, ProductID: cfg.GumroadProductID}
		rc, _, err := gumroad.NewRechecker(gumroad.RecheckOptions{ProductID: cfg.GumroadProductID, BaseURL: cfg.GumroadURL,
			LicenseSecret: cfg.LicenseSecret, Interval: cfg.LicenseRecheck}, acc, s.log)
		if err == nil && rc != nil {
			rc.Now, rc.Lock = s.now, c
			opts.Rechecker = rc
		}
	}
	var requests *limit.Requests
	if cfg.RateLimit > 0 {
		requests = limit.NewRequests(cfg.RateLimit, s.now, limit.NewCounter(c, s.Fallback("rate_limit")))
	}
	return &testAccounts{svc: account.New(opts), requests: requests, rechecker: opts.Rechecker, hasher: opts.Hasher}
}

// testAccounts are the pieces newTestAccounts built.
type testAccounts struct {
	svc       *account.Service
	requests  *limit.Requests
	rechecker *gumroad.Rechecker // nil when re-checks are off
	hasher    *auth.Hasher
}

// useTestAccounts turns accounts on for s as newTestAccounts builds them.
func useTestAccounts(s *Server, acc flavormonk.AccountStore, visitors account.Visitors, c flavormonk.Cache) *testAccounts {
	ta := newTestAccounts(s, acc, visitors, c)
	s.UseAccounts(ta.svc, ta.requests)
	return ta
}
