package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/cache"
	"github.com/flavormonk/flavormonk/app/search"
)

// searchCache keeps encoded search results in the tier's cache (in-process
// or Redis, shared by replicas). Keys carry the index revision, so an
// import invalidates every cached result as soon as the index has it, on
// every replica, without scanning keys. Concurrent misses for one key run
// the search once.
type searchCache struct {
	c   flavormonk.Cache
	co  *cache.Coalescer
	ttl time.Duration
	s   *Server
}

// UseCache caches API search results in c for ttl.
func (s *Server) UseCache(c flavormonk.Cache, ttl time.Duration) {
	s.cache = &searchCache{c: c, co: cache.NewCoalescer(c, s.log), ttl: ttl, s: s}
}

// degraded carries a result that must be served but not cached: a lexical
// answer given because the vector side failed.
type degraded struct{ body []byte }

func (degraded) Error() string { return "degraded result" }

func (sc *searchCache) key(q search.Query) string {
	b, _ := json.Marshal(q)
	sum := sha256.Sum256(b)
	return "search:" + strconv.FormatInt(sc.s.index.Revision(), 10) + ":" + hex.EncodeToString(sum[:16])
}

func (sc *searchCache) search(ctx context.Context, q search.Query) ([]byte, error) {
	start := time.Now()
	body, hit, err := sc.co.Do(ctx, sc.key(q), sc.ttl, func(ctx context.Context) ([]byte, error) {
		res, err := sc.s.runSearch(ctx, q)
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
	sc.s.metrics.cache.WithLabelValues(result).Inc()
	sc.s.metrics.backend.WithLabelValues("cached_search").Observe(time.Since(start).Seconds())
	return body, nil
}
