package limit

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// requestsTimeout bounds the shared count's call per request: a slow cache
// must not slow every page down, so past it this process's bucket decides.
const requestsTimeout = 100 * time.Millisecond

// bucketExpiry is how long a client's bucket is kept unseen.
const bucketExpiry = 3 * time.Minute

// Requests allows perMinute requests per minute per client address. With
// a shared cache the counters live there, in the clock's minutes; when the
// cache fails, or without one, a token bucket in this process decides
// (perMinute/60 a second, bursts of max(perMinute/6, 10)).
type Requests struct {
	perMinute int
	now       flavormonk.Clock
	shared    *Counter

	mu      sync.Mutex
	buckets map[string]*bucket
	cleaned time.Time
}

type bucket struct {
	*rate.Limiter
	seen time.Time
}

// NewRequests returns a Requests allowing perMinute (at least 1),
// counting in shared too.
func NewRequests(perMinute int, now flavormonk.Clock, shared *Counter) *Requests {
	return &Requests{perMinute: perMinute, now: now, shared: shared, buckets: map[string]*bucket{}}
}

// Allow counts a request from ip and returns nil, or a *RateLimitError
// retrying at the start of the next minute.
func (l *Requests) Allow(ctx context.Context, ip string) error {
	now := l.now.Now()
	ctx, cancel := context.WithTimeout(ctx, requestsTimeout)
	v := l.shared.Take(ctx, WindowKey("rl:"+ip, now.Unix()/60), "", l.perMinute, 2*time.Minute)
	cancel()
	if v == Undecided && l.allowLocal(ip, now) {
		v = Allowed
	}
	if v == Allowed {
		return nil
	}
	// The rest of the minute, counting the current second in full.
	return &RateLimitError{RetryAfter: time.Duration(60-now.Unix()%60) * time.Second,
		err: flavormonk.Errorf(flavormonk.ERATELIMIT, "too many requests from your address; retry in a minute")}
}

// allowLocal takes a token from ip's bucket.
func (l *Requests) allowLocal(ip string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[ip]
	if b == nil {
		b = &bucket{Limiter: rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), max(l.perMinute/6, 10))}
		l.buckets[ip] = b
	}
	b.seen = now
	if now.Sub(l.cleaned) > bucketExpiry {
		for k, v := range l.buckets {
			if now.Sub(v.seen) > bucketExpiry {
				delete(l.buckets, k)
			}
		}
		l.cleaned = now
	}
	return b.AllowN(now, 1)
}
