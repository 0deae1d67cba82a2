package search

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/backendmetrics"
	"github.com/flavormonk/flavormonk/app/cache"
)

// CacheOptions configure NewCached.
type CacheOptions struct {
	TTL time.Duration
	Log *slog.Logger
	// Registerer receives flavormonk_cache_requests_total (hit, miss).
	Registerer prometheus.Registerer
	// Metrics receive each cached search's latency (op "cached_search").
	Metrics *backendmetrics.Metrics
}

// NewCached keeps next's answers, encoded, in the tier's cache c (in-process,
// or Redis shared by replicas) for o.TTL. Keys carry ix's revision, so an
// import invalidates every cached answer as soon as the index has it, on
// every replica, without scanning keys. Concurrent misses for one key run
// the search once. A Degraded answer (lexical because the vector side
// failed) is served but not cached.
//
// Only SearchJSON goes through the cache: it holds encodings, and decoding
// one into a Result would cost more than the search. Search passes through
// to next.
func NewCached(next Searcher, ix *Index, c flavormonk.Cache, o CacheOptions) (*Cached, error) {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flavormonk_cache_requests_total", Help: "Search-result cache lookups by result (hit, miss); hit ratio = hit / (hit + miss).",
	}, []string{"result"})
	if err := o.Registerer.Register(requests); err != nil {
		return nil, err
	}
	return &Cached{next: next, ix: ix, co: cache.NewCoalescer(c, o.Log), o: o, requests: requests}, nil
}

// Cached is the cache-aside decorator.
type Cached struct {
	next     Searcher
	ix       *Index
	co       *cache.Coalescer
	o        CacheOptions
	requests *prometheus.CounterVec
}

var _ Encoder = (*Cached)(nil)

// Search implements Searcher (uncached; see NewCached).
func (c *Cached) Search(ctx context.Context, q Query) (*Result, error) {
	return c.next.Search(ctx, q)
}

// degraded carries an answer that must be served but not cached.
type degraded struct{ body []byte }

func (degraded) Error() string { return "degraded result" }

func (c *Cached) key(q Query) string {
	b, _ := json.Marshal(q)
	sum := sha256.Sum256(b)
	return "search:" + strconv.FormatInt(c.ix.Revision(), 10) + ":" + hex.EncodeToString(sum[:16])
}

// SearchJSON implements Encoder.
func (c *Cached) SearchJSON(ctx context.Context, q Query) ([]byte, error) {
	start := time.Now()
	body, hit, err := c.co.Do(ctx, c.key(q), c.o.TTL, func(ctx context.Context) ([]byte, error) {
		res, err := c.next.Search(ctx, q)
		if err != nil {
			return nil, err
		}
		b := append(res.AppendJSON(nil), '\n')
		if res.Degraded {
			return nil, degraded{b}
		}
		return b, nil
	})
	var d degraded
	if errors.As(err, &d) {
		return d.body, nil
	}
	if err != nil {
		return nil, err
	}
	result := "miss"
	if hit {
		result = "hit"
	}
	c.requests.WithLabelValues(result).Inc()
	c.o.Metrics.Observe("cached_search", time.Since(start))
	return body, nil
}
