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

// newTestAccounts builds what cmd/flavormonk builds for a server with
// Options o: the account service on acc, its limits and the request limit
// counting in c (nil: none), sessions read through c when it is Redis,
// licences from cfg. The rechecker is nil when re-checks are off.
func newTestAccounts(o Options, cfg *config.Config, acc flavormonk.AccountStore, visitors account.Visitors, c flavormonk.Cache) *testAccounts {
	now, bm, log := o.Clock.Now, o.Metrics, o.Log
	opts := account.Options{
		Hasher: auth.NewHasher(auth.DefaultParams, 2),
		Store:  acc, Visitors: visitors, Recipes: o.Store, Fallback: bm.Counter("session_cache"), Clock: o.Clock, Log: log,
		Login:      limit.NewLogin(limit.NewThrottle(limit.DefaultLimits, now), limit.NewCounter(c, bm.Counter("login_throttle"))),
		Signups:    limit.NewSignups(account.SignupsPerHour, time.Hour, now, limit.NewCounter(c, bm.Counter("signup_limit"))),
		InviteOnly: cfg.InviteOnly, Plan: cfg.GumroadPlan,
	}
	if cfg.CacheBackend == config.CacheRedis {
		opts.SessionCache = c
	}
	if cfg.GumroadProductID != "" {
		opts.Gumroad = &gumroad.Client{BaseURL: cfg.GumroadURL, ProductID: cfg.GumroadProductID}
		rc, _, err := gumroad.NewRechecker(gumroad.RecheckOptions{ProductID: cfg.GumroadProductID, BaseURL: cfg.GumroadURL,
			LicenseSecret: cfg.LicenseSecret, Interval: cfg.LicenseRecheck}, acc, log)
		if err == nil && rc != nil {
			rc.Now, rc.Lock = o.Clock, c
			opts.Rechecker = rc
		}
	}
	var requests *limit.Requests
	if cfg.RateLimit > 0 {
		requests = limit.NewRequests(cfg.RateLimit, now, limit.NewCounter(c, bm.Counter("rate_limit")))
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

// withTestAccounts turns accounts on in o as newTestAccounts builds them.
func withTestAccounts(o *Options, cfg *config.Config, acc flavormonk.AccountStore, visitors account.Visitors, c flavormonk.Cache) *testAccounts {
	ta := newTestAccounts(*o, cfg, acc, visitors, c)
	o.Accounts, o.Requests = ta.svc, ta.requests
	return ta
}
