package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/backendmetrics"
	"github.com/flavormonk/flavormonk/app/cache"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// readsCache counts the reads of the cache it wraps.
type readsCache struct {
	flavormonk.Cache
	gets atomic.Int64
}

func (c *readsCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	c.gets.Add(1)
	return c.Cache.Get(ctx, key)
}

// newAccounts wires the licence re-checker (with the cache as its lock)
// only when there is a product and a secret, reads sessions through the
// cache only when it is Redis, and builds a request limit only when one is
// asked for.
func TestNewAccounts(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fm.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, tc := range []struct {
		name               string
		backend            string
		secret             string
		rateLimit          int
		rechecks, viaCache bool
		requestLimit       bool
	}{
		{name: "redis, secret, rate limit", backend: config.CacheRedis, secret: "recheck-test-secret-0123456789abcdef", rateLimit: 60,
			rechecks: true, viaCache: true, requestLimit: true},
		{name: "redis, no secret", backend: config.CacheRedis, rateLimit: 10, viaCache: true, requestLimit: true},
		{name: "memory, secret", backend: config.CacheMemory, secret: "recheck-test-secret-0123456789abcdef", rechecks: true},
		{name: "memory, no secret, no rate limit", backend: config.CacheMemory},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, nil)
			cfg.CacheBackend = tc.backend
			cfg.GumroadProductID = "prod"
			cfg.LicenseSecret = tc.secret
			cfg.RateLimit = tc.rateLimit
			m := NewMain(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			c := &readsCache{Cache: cache.NewMemory(100)}
			m.Cache = c
			bm, err := backendmetrics.New(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			acc, requests := m.newAccounts(st, bm)

			if got := m.rechecker != nil; got != tc.rechecks {
				t.Fatalf("rechecker set = %v, want %v", got, tc.rechecks)
			}
			if m.rechecker != nil && m.rechecker.Lock != flavormonk.Cache(c) {
				t.Fatalf("rechecker's lock is %v, want Main's cache", m.rechecker.Lock)
			}
			if !acc.Licenses() {
				t.Fatal("a Gumroad product is configured but licences are off")
			}
			if _, err := acc.Session(ctx, "unknown"); flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
				t.Fatalf("Session(unknown) = %v, want ENOTFOUND", err)
			}
			if got := c.gets.Load() > 0; got != tc.viaCache {
				t.Fatalf("session read through the cache = %v, want %v", got, tc.viaCache)
			}
			if got := requests != nil; got != tc.requestLimit {
				t.Fatalf("request limit = %v, want %v", got, tc.requestLimit)
			}
		})
	}
}
