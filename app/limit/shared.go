// Package limit holds Flavor Monk's limits: the per-client request rate,
// the sign-up limit and the log-in throttle. Each counts in the shared
// cache (Redis on the upgrade and scale tiers), so that replicas count
// together and a client cannot multiply its allowance by the number of
// replicas, and each also counts in this process, which decides alone
// when the cache is absent or failing: a cache outage never means "no
// limit", and never "everyone locked out".
package limit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// CacheTimeout bounds each sign-up's or log-in's calls to the shared
// cache; past it the process's own counts decide. Long enough that a busy
// cache is waited for rather than weakening the limits to per-replica
// ones; short enough that an outage delays a log-in or sign-up by a second
// at most.
const CacheTimeout = time.Second

// HashKey is how a limited name (an account, a client network) appears in
// cache keys: never the email or address itself.
func HashKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// Window returns the index of the fixed window of length d that t is in,
// and when it ends.
func Window(t time.Time, d time.Duration) (int64, time.Time) {
	ms := max(d.Milliseconds(), 1)
	w := t.UnixMilli() / ms
	return w, time.UnixMilli((w + 1) * ms)
}

// WindowKey is prefix's counter in window w.
func WindowKey(prefix string, w int64) string { return prefix + ":" + strconv.FormatInt(w, 10) }

// Verdict is what the shared count says of an attempt.
type Verdict int

const (
	// Undecided: there is no cache or it failed; the local count decides.
	Undecided Verdict = iota
	// Allowed: within the limit.
	Allowed
	// Denied: over the limit.
	Denied
	// OverUnconfirmed: over the limit by the count, but what was given back
	// could not be read, so the attempt might still be within it. Each
	// limit chooses: the log-in throttle lets the local count decide (a
	// cache fault must not lock owners out), sign-ups are refused (a fault
	// must not open the limit to one replica's allowance).
	OverUnconfirmed
)

// Counter is a set of fixed-window counters in a shared cache, taken with
// the cache's atomic Incr so that parallel attempts on any replica cannot
// get past a limit. The cache cannot decrement: an attempt is given back
// by counting it under a second key, which Take subtracts.
type Counter struct {
	cache    flavormonk.Cache // nil: no shared count
	fallback func(err error)
}

// NewCounter returns a Counter over c (nil: none, every Take is
// Undecided); fallback, when set, is told each time the cache failed.
func NewCounter(c flavormonk.Cache, fallback func(err error)) *Counter {
	return &Counter{cache: c, fallback: fallback}
}

// On says whether there is a shared cache to count in.
func (c *Counter) On() bool { return c != nil && c.cache != nil }

func (c *Counter) failed(err error) {
	if c.fallback != nil {
		c.fallback(err)
	}
}

// Take adds one to key, which expires after ttl, and compares the count,
// less what was given back under back ("" for none), with limit.
func (c *Counter) Take(ctx context.Context, key, back string, limit int, ttl time.Duration) Verdict {
	if !c.On() {
		return Undecided
	}
	n, err := c.cache.Incr(ctx, key, ttl)
	if err != nil {
		c.failed(err)
		return Undecided
	}
	if n <= int64(limit) {
		return Allowed
	}
	if back == "" {
		return Denied
	}
	v, ok, err := c.cache.Get(ctx, back)
	if err != nil {
		c.failed(err)
		return OverUnconfirmed
	}
	if b, perr := strconv.ParseInt(string(v), 10, 64); ok && perr == nil && n-b <= int64(limit) {
		return Allowed
	}
	return Denied
}

// GiveBack counts one attempt given back under back.
func (c *Counter) GiveBack(ctx context.Context, back string, ttl time.Duration) {
	if !c.On() {
		return
	}
	if _, err := c.cache.Incr(ctx, back, ttl); err != nil {
		c.failed(err)
	}
}

// Clear deletes counters.
func (c *Counter) Clear(ctx context.Context, keys ...string) {
	if !c.On() || len(keys) == 0 {
		return
	}
	if err := c.cache.Delete(ctx, keys...); err != nil {
		c.failed(err)
	}
}

// RateLimitError is what the limits return: it unwraps to a
// flavormonk.Error with code ERATELIMIT, and RetryAfter says when to try
// again (for a Retry-After header).
type RateLimitError struct {
	RetryAfter time.Duration
	err        *flavormonk.Error
}

func (e *RateLimitError) Error() string { return e.err.Error() }
func (e *RateLimitError) Unwrap() error { return e.err }

// rateLimited returns a RateLimitError retrying after d, in whole seconds
// and at least one; format has one %s, the wait.
func rateLimited(d time.Duration, format string) *RateLimitError {
	d = max(d.Round(time.Second), time.Second)
	return &RateLimitError{RetryAfter: d, err: flavormonk.Errorf(flavormonk.ERATELIMIT, format, d)}
}
