package cache

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Coalescer is cache-aside with request coalescing over any
// flavormonk.Cache: on a miss only one concurrent caller per key runs the
// fill function, the others wait for its result. The cache is never the
// only copy: an error from it is counted, logged (at most every
// LogEvery) and treated as a miss, so fill still serves.
//
// The zero value is not usable; use NewCoalescer. A Coalescer is safe for
// concurrent use.
type Coalescer struct {
	cache flavormonk.Cache
	log   *slog.Logger
	group singleflight.Group

	hits, misses, errors, coalesced, fills, fillErrors atomic.Int64
	lastLog                                            atomic.Int64 // unix nanos of the last logged cache error
}

// LogEvery is the least time between two logged cache errors of one
// Coalescer: an outage is reported, not once per request.
const LogEvery = 10 * time.Second

// CoalescerStats are a Coalescer's counters since it was made, for metrics.
type CoalescerStats struct {
	Hits       int64 // values served from the cache
	Misses     int64 // callers that did not find the key (including on cache errors)
	Errors     int64 // cache errors on Get or Set, each treated as a miss
	Coalesced  int64 // callers that waited for another caller's fill instead of running their own
	Fills      int64 // fill calls
	FillErrors int64 // fill calls that failed (their result is not cached)
}

// NewCoalescer returns a Coalescer over c. log may be nil (no logging).
func NewCoalescer(c flavormonk.Cache, log *slog.Logger) *Coalescer {
	return &Coalescer{cache: c, log: log}
}

// Stats returns the counters.
func (c *Coalescer) Stats() CoalescerStats {
	return CoalescerStats{
		Hits:       c.hits.Load(),
		Misses:     c.misses.Load(),
		Errors:     c.errors.Load(),
		Coalesced:  c.coalesced.Load(),
		Fills:      c.fills.Load(),
		FillErrors: c.fillErrors.Load(),
	}
}

func (c *Coalescer) cacheError(op, key string, err error) {
	c.errors.Add(1)
	if c.log == nil {
		return
	}
	now := time.Now().UnixNano()
	last := c.lastLog.Load()
	if now-last < int64(LogEvery) || !c.lastLog.CompareAndSwap(last, now) {
		return
	}
	c.log.Warn("cache error, serving without the cache", "op", op, "key", key, "err", err,
		"code", flavormonk.ErrorCode(err), "errors_so_far", c.errors.Load())
}

// Do returns the value cached under key, or else the result of fill, which
// it then caches for ttl. hit reports whether the value came from the
// cache. Concurrent callers that miss the same key share one fill; a fill
// error is returned to each of them and is not cached.
//
// fill runs with a context that is not canceled when the caller that
// started it goes away (the others still wait for it) but keeps that
// caller's deadline. Each caller stops waiting when its own ctx ends.
//
// Every caller gets its own copy of the value.
func (c *Coalescer) Do(ctx context.Context, key string, ttl time.Duration, fill func(ctx context.Context) ([]byte, error)) ([]byte, bool, error) {
	if v, ok := c.get(ctx, key); ok {
		c.hits.Add(1)
		return v, true, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	c.misses.Add(1)

	var leader atomic.Bool
	ch := c.group.DoChan(key, func() (v any, err error) {
		leader.Store(true)
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("cache: fill for %q panicked: %v", key, p)
				c.fillErrors.Add(1)
			}
		}()
		// The fill outlives this caller's cancellation: others may wait for it.
		fctx, cancel := detach(ctx)
		defer cancel()
		// Another flight may have filled the key between our Get and now.
		if v, ok := c.get(fctx, key); ok {
			return flight{value: v, cached: true}, nil
		}
		c.fills.Add(1)
		val, err := fill(fctx)
		if err != nil {
			c.fillErrors.Add(1)
			return nil, err
		}
		if err := c.cache.Set(fctx, key, val, ttl); err != nil {
			c.cacheError("set", key, err)
		}
		return flight{value: val}, nil
	})
	select {
	case res := <-ch:
		if !leader.Load() {
			c.coalesced.Add(1)
		}
		if res.Err != nil {
			return nil, false, res.Err
		}
		f := res.Val.(flight)
		v := f.value
		if res.Shared {
			v = append([]byte{}, v...)
		}
		return v, f.cached, nil
	case <-ctx.Done():
		if !leader.Load() {
			c.coalesced.Add(1)
		}
		return nil, false, ctx.Err()
	}
}

type flight struct {
	value  []byte
	cached bool // found in the cache by the flight's re-check
}

// get reads the cache, counting and logging an error as a miss.
func (c *Coalescer) get(ctx context.Context, key string) ([]byte, bool) {
	v, ok, err := c.cache.Get(ctx, key)
	if err != nil {
		if ctx.Err() == nil {
			c.cacheError("get", key, err)
		}
		return nil, false
	}
	return v, ok
}

// detach returns a context that keeps ctx's values and deadline but is not
// canceled with it.
func detach(ctx context.Context) (context.Context, context.CancelFunc) {
	d := context.WithoutCancel(ctx)
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(d, dl)
	}
	return context.WithCancel(d)
}
