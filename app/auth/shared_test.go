package auth

import (
	"context"
	"strconv"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/cache"
	"github.com/flavormonk/flavormonk/app/cachetest"
)

func sharedPair(clk *fakeClock, c flavormonk.Cache) (*SharedThrottle, *SharedThrottle) {
	get := func() flavormonk.Cache { return c }
	a := NewSharedThrottle(NewThrottle(5, 20, 15*time.Minute, 15*time.Minute, clk.now), get)
	b := NewSharedThrottle(NewThrottle(5, 20, 15*time.Minute, 15*time.Minute, clk.now), get)
	return a, b
}

func denied(t *testing.T, err error) bool {
	t.Helper()
	if err == nil {
		return false
	}
	switch flavormonk.ErrorCode(err) {
	case flavormonk.ERATELIMIT:
		return true
	}
	t.Fatalf("unexpected error %v", err)
	return false
}

// Two replicas on one cache count failures together; the lock is bounded
// by the lockout and failures while locked do not extend it.
func TestSharedThrottleAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	a, b := sharedPair(clk, cache.NewMemory(1000))
	for i := range 5 {
		r := a
		if i%2 == 1 {
			r = b
		}
		if denied(t, r.Allow(ctx, "victim@example.com", "198.51.100.1")) {
			t.Fatalf("attempt %d refused", i)
		}
		r.Fail(ctx, "victim@example.com", "198.51.100.1")
	}
	// a saw 3 failures and b 2: alone neither would lock; together they do.
	for name, r := range map[string]*SharedThrottle{"a": a, "b": b} {
		if !denied(t, r.Allow(ctx, "victim@example.com", "203.0.113.7")) {
			t.Fatalf("replica %s: the account is not locked after 5 shared failures", name)
		}
	}
	// Failures during the lock do not extend it.
	clk.advance(10 * time.Minute)
	for range 10 {
		a.Fail(ctx, "victim@example.com", "203.0.113.8")
	}
	clk.advance(5*time.Minute + time.Second)
	if denied(t, b.Allow(ctx, "victim@example.com", "192.0.2.1")) {
		t.Fatal("the lock outlived its 15 minutes")
	}
	// A success clears the account's failures on every replica.
	for range 4 {
		a.Fail(ctx, "owner@example.com", "192.0.2.2")
	}
	b.Succeed(ctx, "owner@example.com", "192.0.2.2")
	a.Local.Succeed("owner@example.com", "")
	a.Fail(ctx, "owner@example.com", "192.0.2.3")
	if denied(t, b.Allow(ctx, "owner@example.com", "192.0.2.3")) {
		t.Fatal("failures survived a success")
	}
}

func TestSharedThrottlePerIP(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	a, b := sharedPair(clk, cache.NewMemory(1000))
	for i := range 20 {
		r := a
		if i%2 == 1 {
			r = b
		}
		r.Fail(ctx, "user"+string(rune('a'+i))+"@example.com", "198.51.100.9")
	}
	if !denied(t, a.Allow(ctx, "new@example.com", "198.51.100.9")) || !denied(t, b.Allow(ctx, "new@example.com", "198.51.100.9")) {
		t.Fatal("20 failures from one IP across replicas did not block it")
	}
	if denied(t, a.Allow(ctx, "new@example.com", "198.51.100.10")) {
		t.Fatal("another IP is blocked")
	}
}

// With the cache down each replica still limits on its own: never no
// limit, never everyone locked out.
func TestSharedThrottleCacheDown(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	down := &cachetest.Down{}
	var fallbacks int
	a, _ := sharedPair(clk, down)
	a.Fallback = func(string, error) { fallbacks++ }
	for range 5 {
		if denied(t, a.Allow(ctx, "victim@example.com", "198.51.100.1")) {
			t.Fatal("refused before the limit")
		}
		a.Fail(ctx, "victim@example.com", "198.51.100.1")
	}
	if !denied(t, a.Allow(ctx, "victim@example.com", "198.51.100.1")) {
		t.Fatal("no limit while the cache is down")
	}
	if denied(t, a.Allow(ctx, "someone@example.com", "198.51.100.2")) {
		t.Fatal("an unrelated log-in is refused while the cache is down")
	}
	if fallbacks == 0 || down.Calls.Load() == 0 {
		t.Fatal("the cache was not tried, or its failures not reported")
	}
	// Without any cache: the local throttle alone.
	solo := NewSharedThrottle(NewThrottle(5, 20, time.Minute, time.Minute, clk.now), nil)
	for range 5 {
		solo.Fail(ctx, "x@example.com", "")
	}
	if !denied(t, solo.Allow(ctx, "x@example.com", "")) {
		t.Fatal("no limit without a cache")
	}
}

// A lock written by a replica whose clock runs far ahead still lasts at
// most the lockout.
func TestSharedThrottleLockBounded(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	c := cache.NewMemory(100)
	a, _ := sharedPair(clk, c)
	until := clk.now().Add(365 * 24 * time.Hour).UnixMilli()
	tg := throttleTarget{"a", HashKey("victim@example.com"), 5}
	if err := c.Set(ctx, lockKey(tg), []byte(time.UnixMilli(until).Format("x")), time.Hour); err != nil {
		t.Fatal(err)
	}
	if denied(t, a.Allow(ctx, "victim@example.com", "")) {
		t.Fatal("a malformed lock locks")
	}
	if err := c.Set(ctx, lockKey(tg), []byte(strconv.FormatInt(until, 10)), time.Hour); err != nil {
		t.Fatal(err)
	}
	err := a.Allow(ctx, "victim@example.com", "")
	rl, ok := err.(*RateLimitError)
	if !ok || rl.RetryAfter > 15*time.Minute {
		t.Fatalf("lock from a fast clock: %v", err)
	}
}
