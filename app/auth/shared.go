package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// CacheTimeout bounds each call to the shared cache for limits; past it
// the process's own counts decide. Long enough that a busy cache is waited
// for rather than weakening the limits to per-replica ones; short enough
// that an outage delays a log-in or sign-up by a second at most.
const CacheTimeout = time.Second

// SharedThrottle applies a Throttle's limits with its counters in the
// shared cache (Redis on the upgrade and scale tiers), so that every
// replica counts the same attempts: an attacker cannot multiply their
// attempts by the number of replicas. Each attempt is taken with the
// cache's atomic Incr before the password is verified. Every attempt is
// also counted in Local, which decides alone when the cache is absent or
// failing: a cache outage never means "no limit", and never "everyone
// locked out".
//
// Keys hold the SHA-256 of the account and network, never the email
// itself, and the index of the fixed window.
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

// sharedKeys are a target's attempts counter in window w and, for a
// network, the counter of the attempts given back by successes.
func sharedKeys(tg throttleTarget, w int64) (attempts, given string) {
	base := tg.kind + ":" + HashKey(tg.name) + ":" + strconv.FormatInt(w, 10)
	return "throttle:n:" + base, "throttle:ok:" + base
}

// Take counts an attempt to log in to account from ip and returns nil, or
// a *RateLimitError (the attempt must not be made) when a limit is used
// up, in this replica's count when the cache is absent or failing, in the
// shared count otherwise.
func (t *SharedThrottle) Take(ctx context.Context, account, ip string) error {
	local := t.Local.Take(account, ip)
	c := t.cache()
	if c == nil {
		return local
	}
	lim := t.Local.limits
	now := t.Local.now.Now()
	w, end := lim.window(now)
	ttl := end.Sub(now) + time.Minute
	ctx, cancel := context.WithTimeout(ctx, CacheTimeout)
	defer cancel()
	for _, tg := range lim.targets(account, ip) {
		nk, gk := sharedKeys(tg, w)
		n, err := c.Incr(ctx, nk, ttl)
		if err != nil {
			t.fallback("throttle_take", err)
			return local // the local count decides
		}
		if n <= int64(tg.limit) {
			continue
		}
		if tg.kind == "i" {
			// Successes from the network gave attempts back.
			v, ok, err := c.Get(ctx, gk)
			if err != nil {
				t.fallback("throttle_take", err)
				return local
			}
			if g, perr := strconv.ParseInt(string(v), 10, 64); ok && perr == nil && n-g <= int64(tg.limit) {
				continue
			}
		}
		return newRateLimitError(end.Sub(now))
	}
	return nil
}

// Succeed records a successful log-in, locally and in the cache: the
// account's counts (pair and account-wide) are cleared and the network
// gets its attempt back.
func (t *SharedThrottle) Succeed(ctx context.Context, account, ip string) {
	t.Local.Succeed(account, ip)
	c := t.cache()
	if c == nil {
		return
	}
	lim := t.Local.limits
	now := t.Local.now.Now()
	w, end := lim.window(now)
	ctx, cancel := context.WithTimeout(ctx, CacheTimeout)
	defer cancel()
	var del []string
	for _, tg := range lim.targets(account, ip) {
		nk, gk := sharedKeys(tg, w)
		if tg.kind != "i" {
			del = append(del, nk)
			continue
		}
		if _, err := c.Incr(ctx, gk, end.Sub(now)+time.Minute); err != nil {
			t.fallback("throttle_succeed", err)
		}
	}
	if err := c.Delete(ctx, del...); err != nil {
		t.fallback("throttle_succeed", err)
	}
}
