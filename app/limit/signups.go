package limit

import (
	"context"
	"slices"
	"sync"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Signups allows at most limit sign-ups per client network
// (ClientNetwork: an IPv4 address, an IPv6 /64) per window. With a shared
// cache the count is kept there, in fixed windows, so replicas count
// together; each replica also keeps a sliding window in memory, which
// decides alone when the cache is absent or failing.
type Signups struct {
	limit  int
	window time.Duration
	now    flavormonk.Clock
	shared *Counter

	mu    sync.Mutex
	byIP  map[string][]time.Time
	swept time.Time
}

// NewSignups returns a Signups allowing limit per window, counting in
// shared too.
func NewSignups(limit int, window time.Duration, now flavormonk.Clock, shared *Counter) *Signups {
	return &Signups{limit: limit, window: window, now: now, shared: shared, byIP: map[string][]time.Time{}}
}

// recent returns the ip's sign-ups inside the window; mu must be held.
func (l *Signups) recent(ip string, now time.Time) []time.Time {
	ts := l.byIP[ip]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= l.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.byIP, ip)
	} else {
		l.byIP[ip] = ts
	}
	return ts
}

func signupsLimited(retry time.Duration) *RateLimitError {
	return rateLimited(retry, "too many sign-ups from your network; try again in %s")
}

// Take takes one of ip's sign-ups, atomically with the check (so parallel
// sign-ups cannot get past the limit), or returns a *RateLimitError once
// ip has used them. The slot is given back with the returned function
// when the sign-up then fails.
func (l *Signups) Take(ctx context.Context, ip string) (giveBack func(), err error) {
	l.mu.Lock()
	now := l.now.Now()
	if now.Sub(l.swept) > l.window {
		for k := range l.byIP {
			l.recent(k, now)
		}
		l.swept = now
	}
	ts := l.recent(ip, now)
	var local error
	if len(ts) >= l.limit {
		local = signupsLimited(l.window - now.Sub(ts[0]))
	} else {
		l.byIP[ip] = append(ts, now)
	}
	l.mu.Unlock()
	giveLocal := func() {
		if local != nil {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		ts := l.byIP[ip]
		if i := slices.Index(ts, now); i >= 0 {
			l.byIP[ip] = slices.Delete(ts, i, i+1)
		}
	}
	if !l.shared.On() {
		return giveLocal, local
	}
	w, end := Window(now, l.window)
	key := WindowKey("signups:"+HashKey(ip), w)
	back := key + ":back"
	ttl := end.Sub(now) + time.Minute
	cctx, cancel := context.WithTimeout(ctx, CacheTimeout)
	defer cancel()
	switch l.shared.Take(cctx, key, back, l.limit, ttl) {
	case Undecided:
		return giveLocal, local // the memory count decides
	case Denied, OverUnconfirmed:
		giveLocal()
		return func() {}, signupsLimited(end.Sub(now))
	}
	return func() {
		giveLocal()
		ctx, cancel := context.WithTimeout(context.Background(), CacheTimeout)
		defer cancel()
		l.shared.GiveBack(ctx, back, end.Sub(l.now.Now())+time.Minute)
	}, nil
}
