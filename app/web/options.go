package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/account"
	"github.com/flavormonk/flavormonk/app/assistant"
	"github.com/flavormonk/flavormonk/app/backendmetrics"
	"github.com/flavormonk/flavormonk/app/limit"
	"github.com/flavormonk/flavormonk/app/search"
)

// Options are everything the server needs; main builds them.
type Options struct {
	Store flavormonk.AppStore
	// Searcher answers the search page and the API. When it is also a
	// search.Encoder (the cache-aside decorator), the API sends its
	// encoded answers as they are.
	Searcher search.Searcher
	// Index serves the pantry and the counts shown on pages and /readyz.
	Index *search.Index
	// Assistant turns on POST /api/v1/ask (API tokens with the "ask" scope,
	// or anonymous callers on the visitors' allowance), the chat page at
	// /ask and its stream at /ask/stream (session cookie + CSRF); nil for
	// none.
	Assistant *assistant.Assistant
	// Heartbeat is the comment sent on idle answer streams; 0 is every 15 s.
	Heartbeat time.Duration
	// Accounts turns on sign-up, log-in, sessions, API tokens, favourites
	// and the admin pages; nil for none.
	Accounts *account.Service
	// Requests is the per-client request limit (FLAVORMONK_RATE_LIMIT),
	// counted in the tier's cache; nil for none.
	Requests *limit.Requests
	// Degradable are the backends /readyz reports as "ok" or "degraded"
	// by name ("vector_index", "cache"): their failure degrades answers,
	// never readiness.
	Degradable map[string]Pinger
	// StoreUnreachable tells which store errors mean the store is
	// unreachable (a refused connection, a server shutting down):
	// requests that fail with one answer 503 unavailable, and the outage
	// is logged once per window instead of an error per request. The
	// store package knows its driver's errors; nil classifies none.
	StoreUnreachable func(error) bool
	// Probes counts every /readyz answer by who asked (probes.Counter: the
	// deploy waits on a load balancer's probes); nil counts none.
	Probes ProbeCounter

	Log        *slog.Logger
	Registerer prometheus.Registerer
	// Metrics are the shared backend families; nil registers new ones
	// with Registerer.
	Metrics *backendmetrics.Metrics
	// Clock is where sessions, limits, licences and reports read the
	// time; nil is the system clock.
	Clock flavormonk.Clock

	BaseURL          string        // public URL, for links in API answers
	RequestTimeout   time.Duration // for ordinary routes; streams set their own
	MaxBodyBytes     int64
	MaxQueryBytes    int
	SearchMaxResults int
	SecureCookies    bool           // HTTPS only: Secure cookies and HSTS
	TrustedProxies   []netip.Prefix // X-Forwarded-For is believed only from these
}

// A ProbeCounter is told the status of every /readyz answer, after the
// middleware, so a probe refused before the handler counts as failed.
type ProbeCounter interface {
	Observe(r *http.Request, status int)
}

// A Pinger is a backend that can say whether it answers.
type Pinger interface {
	Ping(ctx context.Context) error
}
