package main

import (
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/account"
	"github.com/flavormonk/flavormonk/app/backendmetrics"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/gumroad"
	"github.com/flavormonk/flavormonk/app/limit"
)

// newAccounts builds the account service and the limits on the cache
// (shared by the replicas when it is Redis), and the request limit when
// FLAVORMONK_RATE_LIMIT asks for one (nil otherwise). A cache that fails
// is counted in bm's fallbacks; the process's own counts decide then.
func (m *Main) newAccounts(st flavormonk.AppStore, bm *backendmetrics.Metrics) (*account.Service, *limit.Requests) {
	cfg := m.Config
	opts := account.Options{
		Store:    st,
		Visitors: st,
		Recipes:  st,
		Fallback: bm.Counter("session_cache"),
		Clock:    m.Clock,
		Log:      m.Log,
		Login: limit.NewLogin(limit.NewThrottle(limit.DefaultLimits, m.Clock),
			limit.NewCounter(m.Cache, bm.Counter("login_throttle"))),
		Signups: limit.NewSignups(account.SignupsPerHour, time.Hour, m.Clock,
			limit.NewCounter(m.Cache, bm.Counter("signup_limit"))),
		InviteOnly: cfg.InviteOnly,
		Plan:       cfg.GumroadPlan,
	}
	// Sessions go through Redis only: an in-process cache would keep
	// logged-out sessions alive on other replicas.
	if cfg.CacheBackend == config.CacheRedis {
		opts.SessionCache = m.Cache
	}
	if cfg.GumroadProductID != "" {
		opts.Gumroad = &gumroad.Client{BaseURL: cfg.GumroadURL, ProductID: cfg.GumroadProductID}
		rc, why, err := gumroad.NewRechecker(recheckOptions(cfg), st, m.Log)
		switch {
		case err != nil:
			m.Log.Error("licence re-checks are off", "err", err)
		case rc == nil:
			m.Log.Warn("licence re-checks are off: " + why)
		default:
			rc.Now = m.Clock
			rc.Lock = m.Cache
			opts.Rechecker = rc
			m.rechecker = rc
		}
	}
	var requests *limit.Requests
	if cfg.RateLimit > 0 {
		requests = limit.NewRequests(cfg.RateLimit, m.Clock, limit.NewCounter(m.Cache, bm.Counter("rate_limit")))
	}
	return account.New(opts), requests
}
