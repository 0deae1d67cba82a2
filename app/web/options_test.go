package web

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/assistant"
	"github.com/flavormonk/flavormonk/app/backendmetrics"
	"github.com/flavormonk/flavormonk/app/cache"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/inference/router"
	"github.com/flavormonk/flavormonk/app/search"
)

// testOptions are the Options cmd/flavormonk builds from cfg, over st and
// ix, with lexical search and no cache.
func testOptions(t testing.TB, cfg *config.Config, st flavormonk.AppStore, ix *search.Index) Options {
	t.Helper()
	reg := prometheus.NewRegistry()
	bm, err := backendmetrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Store: st, Searcher: search.Lexical(ix), Index: ix,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registerer: reg, Metrics: bm,
		BaseURL: cfg.BaseURL, RequestTimeout: cfg.RequestTimeout, MaxBodyBytes: cfg.MaxBodyBytes,
		MaxQueryBytes: cfg.MaxQueryBytes, SearchMaxResults: cfg.SearchMaxResults,
		SecureCookies: cfg.SecureCookies, TrustedProxies: cfg.TrustedPrefixes(),
	}
}

// useCache gives o the tier's cache c, as main does: /readyz reports it
// and the API's answers are cached for ttl (the limits counting there are
// withTestAccounts's).
func useCache(t testing.TB, o *Options, c flavormonk.Cache, ttl time.Duration) {
	t.Helper()
	cs, err := search.NewCached(o.Searcher, o.Index, c, search.CacheOptions{TTL: ttl, Log: o.Log, Registerer: o.Registerer, Metrics: o.Metrics})
	if err != nil {
		t.Fatal(err)
	}
	o.Searcher = cs
	o.Degradable = map[string]Pinger{"cache": c}
}

// useAssistant turns on the assistant over o's search and the providers.
func useAssistant(t testing.TB, o *Options, opts assistant.Options, answers int, heartbeat time.Duration, providers ...flavormonk.Provider) {
	t.Helper()
	rt, err := router.New(router.Options{}, providers...)
	if err != nil {
		t.Fatal(err)
	}
	r := &assistant.SearchRetriever{Index: o.Index, Load: o.Store.Recipe}
	o.Assistant, o.Heartbeat = assistant.New(opts, r, rt, cache.NewMemory(answers), nil, nil), heartbeat
}
