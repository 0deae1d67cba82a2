package limit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/cache"
	"github.com/flavormonk/flavormonk/app/cachetest"
)

func sharedPair(clk *fakeClock, c flavormonk.Cache) (*Login, *Login) {
	return sharedPairFallback(clk, c, nil)
}

func sharedPairFallback(clk *fakeClock, c flavormonk.Cache, fallback func(error)) (*Login, *Login) {
	a := NewLogin(NewThrottle(DefaultLimits, clk.now), NewCounter(c, fallback))
	b := NewLogin(NewThrottle(DefaultLimits, clk.now), NewCounter(c, fallback))
	return a, b
}

func denied(t *testing.T, err error) bool {
	t.Helper()
	if err == nil {
		return false
	}
	if flavormonk.ErrorCode(err) == flavormonk.ERATELIMIT {
		return true
	}
	t.Fatalf("unexpected error %v", err)
	return false
}

// Two replicas on one cache count attempts together; the owner's network
// is not locked by the attacker's, and a success clears the account.
func TestLoginAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	a, b := sharedPair(clk, cache.NewMemory(1000))
	for i := range 5 {
		r := []*Login{a, b}[i%2]
		if denied(t, r.Take(ctx, "victim@example.com", "198.51.100.1")) {
			t.Fatalf("attempt %d denied", i)
		}
	}
	for _, r := range []*Login{a, b} {
		if !denied(t, r.Take(ctx, "victim@example.com", "198.51.100.1")) {
			t.Fatal("the attacker's network is not limited across replicas")
		}
		if denied(t, r.Take(ctx, "victim@example.com", "203.0.113.7")) {
			t.Fatal("the owner's network is locked out by the attacker's")
		}
	}
	// The owner fails 3 times on a and logs in on b: the count is cleared.
	for range 3 {
		_ = a.Take(ctx, "owner@example.com", "192.0.2.2")
	}
	b.Succeed(ctx, "owner@example.com", "192.0.2.2")
	for i := range 5 {
		if denied(t, []*Login{a, b}[i%2].Take(ctx, "owner@example.com", "192.0.2.2")) {
			t.Fatalf("after a success, attempt %d denied", i)
		}
	}
}

// 300 parallel attempts over two replicas: exactly the limit pass.
func TestLoginParallel(t *testing.T) {
	ctx := context.Background()
	a, b := sharedPair(newClock(), cache.NewMemory(1000))
	var passed atomic.Int64
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Go(func() {
			if []*Login{a, b}[i%2].Take(ctx, "victim@example.com", "198.51.100.1") == nil {
				passed.Add(1)
			}
		})
	}
	wg.Wait()
	if passed.Load() != 5 {
		t.Fatalf("%d parallel attempts passed, want 5", passed.Load())
	}
}

func TestLoginPerNetwork(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	a, b := sharedPair(clk, cache.NewMemory(1000))
	for i := range 20 {
		r := []*Login{a, b}[i%2]
		if denied(t, r.Take(ctx, fmt.Sprintf("user%d@example.com", i), "2001:db8:5:6::1")) {
			t.Fatalf("attempt %d denied", i)
		}
	}
	// Another address of the same /64 is the same network.
	if !denied(t, a.Take(ctx, "new@example.com", "2001:db8:5:6::99")) || !denied(t, b.Take(ctx, "new@example.com", "2001:db8:5:6:1::1")) {
		t.Fatal("the network is not blocked across replicas")
	}
	if denied(t, a.Take(ctx, "new@example.com", "2001:db8:5:7::1")) {
		t.Fatal("another /64 is blocked")
	}
	// Successes give the network its attempts back.
	c, d := sharedPair(clk, cache.NewMemory(1000))
	for i := range 40 {
		if denied(t, c.Take(ctx, "me@example.com", "192.0.2.9")) {
			t.Fatalf("log-in %d to one's own account denied", i)
		}
		d.Succeed(ctx, "me@example.com", "192.0.2.9")
	}
}

// With the cache failing each replica limits on its own, and others are
// not locked out.
func TestLoginCacheDown(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	down := &cachetest.Down{}
	var fallbacks atomic.Int64
	a, _ := sharedPairFallback(clk, down, func(error) { fallbacks.Add(1) })
	for i := range 5 {
		if denied(t, a.Take(ctx, "victim@example.com", "198.51.100.1")) {
			t.Fatalf("attempt %d denied", i)
		}
	}
	if !denied(t, a.Take(ctx, "victim@example.com", "198.51.100.1")) {
		t.Fatal("cache down: no limit")
	}
	if denied(t, a.Take(ctx, "someone@example.com", "198.51.100.2")) {
		t.Fatal("cache down: everyone locked out")
	}
	if fallbacks.Load() == 0 || down.Calls.Load() == 0 {
		t.Fatal("the cache was not tried")
	}
	solo := NewLogin(NewThrottle(DefaultLimits, clk.now), NewCounter(nil, nil))
	for range 5 {
		_ = solo.Take(ctx, "x@example.com", "1.1.1.1")
	}
	if !denied(t, solo.Take(ctx, "x@example.com", "1.1.1.1")) {
		t.Fatal("no cache: no limit")
	}
}

// Over the network's shared limit with its given-back count unreadable,
// the replica's own count decides (unlike sign-ups): a cache fault must
// not lock a network out.
func TestLoginGiveBackUnreadable(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	c := cache.NewMemory(1000)
	a := NewLogin(NewThrottle(DefaultLimits, clk.now), NewCounter(c, nil))
	fell := 0
	b := NewLogin(NewThrottle(DefaultLimits, clk.now), NewCounter(getFails{c}, func(error) { fell++ }))
	for i := range DefaultLimits.PerNetwork {
		if denied(t, a.Take(ctx, fmt.Sprintf("u%d@example.com", i), "198.51.100.1")) {
			t.Fatalf("attempt %d denied", i)
		}
	}
	if denied(t, b.Take(ctx, "new@example.com", "198.51.100.1")) {
		t.Fatal("give-back count unreadable: denied, want the local count to decide")
	}
	if fell != 1 {
		t.Fatalf("fallbacks = %d, want 1", fell)
	}
}
