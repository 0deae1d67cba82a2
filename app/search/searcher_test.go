package search

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/backendmetrics"
	"github.com/flavormonk/flavormonk/app/cache"
)

type fakeVectors struct {
	hits []flavormonk.VectorHit
	err  error
}

func (v fakeVectors) Nearest(context.Context, string, int) ([]flavormonk.VectorHit, error) {
	return v.hits, v.err
}

func testMetrics(t *testing.T) (*prometheus.Registry, *backendmetrics.Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	bm, err := backendmetrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	return reg, bm
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestHybridFusesVectors(t *testing.T) {
	ix := fixture()
	_, bm := testMetrics(t)
	h := Hybrid(ix, fakeVectors{hits: []flavormonk.VectorHit{{ID: "tomato-soup", Score: 0.9}}}, HybridOptions{Timeout: time.Second, Log: quiet, Metrics: bm})
	res, err := h.Search(context.Background(), Query{Text: "curry"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Mode != "hybrid" || res.Degraded || !slices.Contains(ids(res), "tomato-soup") {
		t.Fatalf("mode %q degraded %v hits %v", res.Mode, res.Degraded, ids(res))
	}
	if n := testutil.ToFloat64(bm.Fallbacks.WithLabelValues("vector")); n != 0 {
		t.Fatalf("%v fallbacks", n)
	}
	// No text, nothing to embed: lexical, not degraded.
	if res, err := h.Search(context.Background(), Query{Tags: []string{"quick"}}); err != nil || res.Degraded || res.Mode == "hybrid" {
		t.Fatalf("no text: %+v %v", res, err)
	}
}

func TestHybridFallsBackLexically(t *testing.T) {
	ix := fixture()
	_, bm := testMetrics(t)
	h := Hybrid(ix, fakeVectors{err: errors.New("down")}, HybridOptions{Timeout: time.Second, Log: quiet, Metrics: bm})
	res, err := h.Search(context.Background(), Query{Text: "curry"})
	if err != nil {
		t.Fatal(err)
	}
	lex := mustSearch(t, ix, Query{Text: "curry"})
	if !res.Degraded || !slices.Equal(ids(res), ids(lex)) {
		t.Fatalf("degraded %v hits %v, want lexical %v", res.Degraded, ids(res), ids(lex))
	}
	if n := testutil.ToFloat64(bm.Fallbacks.WithLabelValues("vector")); n != 1 {
		t.Fatalf("%v fallbacks, want 1", n)
	}
}

// countingSearcher counts searches and can mark its answers degraded.
type countingSearcher struct {
	next     Searcher
	n        int
	degraded bool
}

func (c *countingSearcher) Search(ctx context.Context, q Query) (*Result, error) {
	c.n++
	res, err := c.next.Search(ctx, q)
	if res != nil {
		res.Degraded = c.degraded
	}
	return res, err
}

func TestCachedKeepsEncodedAnswersPerRevision(t *testing.T) {
	ix := fixture()
	reg, bm := testMetrics(t)
	next := &countingSearcher{next: Lexical(ix)}
	c, err := NewCached(next, ix, cache.NewMemory(100), CacheOptions{TTL: time.Minute, Log: quiet, Registerer: reg, Metrics: bm})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q := Query{Text: "curry"}
	want := append(mustSearch(t, ix, q).AppendJSON(nil), '\n')
	for i := range 2 {
		got, err := c.SearchJSON(ctx, q)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("search %d: %s %v, want %s", i, got, err, want)
		}
	}
	if next.n != 1 {
		t.Fatalf("%d searches for one query asked twice", next.n)
	}
	ix.Apply([]*flavormonk.Recipe{rec("green-curry", "Green Curry", 30, []string{"curry"}, nil, "paste")}, nil, ix.Revision()+1)
	got, err := c.SearchJSON(ctx, q)
	if err != nil || !bytes.Contains(got, []byte("green-curry")) || next.n != 2 {
		t.Fatalf("after an update: %s %v (%d searches)", got, err, next.n)
	}
	hits := testutil.ToFloat64(c.requests.WithLabelValues("hit"))
	misses := testutil.ToFloat64(c.requests.WithLabelValues("miss"))
	if hits != 1 || misses != 2 {
		t.Fatalf("%v hits, %v misses; want 1, 2", hits, misses)
	}
	// Search passes through.
	if _, err := c.Search(ctx, q); err != nil || next.n != 3 {
		t.Fatalf("Search: %v (%d searches)", err, next.n)
	}
}

func TestCachedServesDegradedUncached(t *testing.T) {
	ix := fixture()
	reg, bm := testMetrics(t)
	next := &countingSearcher{next: Lexical(ix), degraded: true}
	c, err := NewCached(next, ix, cache.NewMemory(100), CacheOptions{TTL: time.Minute, Log: quiet, Registerer: reg, Metrics: bm})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got, err := c.SearchJSON(context.Background(), Query{Text: "curry"})
		if err != nil || !bytes.Contains(got, []byte(`"degraded":true`)) {
			t.Fatalf("%s %v", got, err)
		}
	}
	if next.n != 2 {
		t.Fatalf("%d searches; a degraded answer must not be cached", next.n)
	}
}
