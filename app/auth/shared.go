package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// cacheTimeout bounds each call to the shared cache: a slow cache must not
// slow log-ins down, it falls back to the local throttle instead.
const cacheTimeout = 100 * time.Millisecond

// SharedThrottle applies a Throttle's rules with its counters in the shared
// cache (Redis on the upgrade and scale tiers), so that every replica counts
// the same failures: an attacker cannot multiply their attempts by the
// number of replicas. Every failure is also recorded in Local, which decides
// alone when the cache is absent or failing: a cache outage never means "no
// limit", and never "everyone locked out" (an unreadable lock is no lock).
//
// Keys hold the SHA-256 of the account and IP, never the email itself.
type SharedThrottle struct {
	Local *Throttle
	// Cache returns the shared cache, or nil when there is none. It is a
	// function because the cache may be attached after the throttle.
	Cache func() flavormonk.Cache
	// Fallback, when set, is told each time the cache failed.
	Fallback func(op string, err error)
}

// NewSharedThrottle returns a SharedThrottle over local's limits.
func NewSharedThrottle(local *Throttle, cache func() flavormonk.Cache) *SharedThrottle {
	return &SharedThrottle{Local: local, Cache: cache}
}

func (t *SharedThrottle) cache() flavormonk.Cache {
	if t.Cache == nil {
		return nil
	}
	return t.Cache()
}

func (t *SharedThrottle) fallback(op string, err error) {
	if t.Fallback != nil {
		t.Fallback(op, err)
	}
}

// HashKey is how a throttled name appears in cache keys.
func HashKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

type throttleTarget struct {
	kind  string // "a" account, "i" IP
	key   string
	limit int
}

func (t *SharedThrottle) targets(account, ip string) []throttleTarget {
	var out []throttleTarget
	if account != "" && t.Local.perAccount > 0 {
		out = append(out, throttleTarget{"a", HashKey(account), t.Local.perAccount})
	}
	if ip != "" && t.Local.perIP > 0 {
		out = append(out, throttleTarget{"i", HashKey(ip), t.Local.perIP})
	}
	return out
}

func lockKey(tg throttleTarget) string  { return "throttle:lock:" + tg.kind + ":" + tg.key }
func failsKey(tg throttleTarget) string { return "throttle:fails:" + tg.kind + ":" + tg.key }

// lockedUntil reads a lock; ok is false when the cache failed.
func (t *SharedThrottle) lockedUntil(ctx context.Context, c flavormonk.Cache, tg throttleTarget) (time.Time, bool) {
	ctx, cancel := context.WithTimeout(ctx, cacheTimeout)
	defer cancel()
	v, found, err := c.Get(ctx, lockKey(tg))
	if err != nil {
		t.fallback("throttle_get", err)
		return time.Time{}, false
	}
	if !found {
		return time.Time{}, true
	}
	ms, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return time.Time{}, true // not ours: no lock
	}
	return time.UnixMilli(ms), true
}

// Allow returns nil when a log-in to account from ip may be attempted, and
// a *RateLimitError otherwise.
func (t *SharedThrottle) Allow(ctx context.Context, account, ip string) error {
	if err := t.Local.Allow(account, ip); err != nil {
		return err
	}
	c := t.cache()
	if c == nil {
		return nil
	}
	now := t.Local.now()
	var wait time.Duration
	for _, tg := range t.targets(account, ip) {
		until, ok := t.lockedUntil(ctx, c, tg)
		if !ok {
			return nil // the local throttle has decided
		}
		// A lock never lasts longer than the lockout, whatever the clock
		// of the replica that wrote it says.
		if d := min(until.Sub(now), t.Local.lockout); d > 0 {
			wait = max(wait, d)
		}
	}
	if wait > 0 {
		return newRateLimitError(wait)
	}
	return nil
}

// Fail records a failed log-in to account from ip, locally and in the
// cache. As in Throttle, a lock is not extended by failures while it lasts.
func (t *SharedThrottle) Fail(ctx context.Context, account, ip string) {
	t.Local.Fail(account, ip)
	c := t.cache()
	if c == nil {
		return
	}
	for _, tg := range t.targets(account, ip) {
		until, ok := t.lockedUntil(ctx, c, tg)
		if !ok {
			return
		}
		now := t.Local.now()
		if now.Before(until) {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, cacheTimeout)
		n, err := c.Incr(cctx, failsKey(tg), t.Local.window)
		if err == nil && n >= int64(tg.limit) {
			lockedUntil := now.Add(t.Local.lockout)
			err = c.Set(cctx, lockKey(tg), strconv.AppendInt(nil, lockedUntil.UnixMilli(), 10), t.Local.lockout)
			if err == nil {
				err = c.Delete(cctx, failsKey(tg))
			}
		}
		cancel()
		if err != nil {
			t.fallback("throttle_fail", err)
			return
		}
	}
}

// Succeed forgets the account's failures (not the IP's), locally and in
// the cache.
func (t *SharedThrottle) Succeed(ctx context.Context, account, ip string) {
	t.Local.Succeed(account, ip)
	c := t.cache()
	if c == nil || account == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, cacheTimeout)
	defer cancel()
	tg := throttleTarget{"a", HashKey(account), t.Local.perAccount}
	if err := c.Delete(ctx, failsKey(tg)); err != nil {
		t.fallback("throttle_succeed", err)
	}
}
