package limit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flavormonk/flavormonk/app/cache"
	"github.com/flavormonk/flavormonk/app/cachetest"
)

// The shared count decides per clock minute; Retry-After is the rest of
// the minute.
func TestRequestsShared(t *testing.T) {
	now := time.Date(2026, 12, 31, 23, 59, 30, 500e6, time.UTC)
	l := NewRequests(3, func() time.Time { return now }, NewCounter(cache.NewMemory(100), nil))
	ctx := context.Background()
	for i := range 3 {
		if err := l.Allow(ctx, "192.0.2.1"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	err := l.Allow(ctx, "192.0.2.1")
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 30*time.Second {
		t.Fatalf("4th request: %v, want a retry in 30s", err)
	}
	if err := l.Allow(ctx, "192.0.2.2"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	now = now.Add(30 * time.Second)
	if err := l.Allow(ctx, "192.0.2.1"); err != nil {
		t.Fatalf("the next minute: %v", err)
	}
}

// Without a working cache, the local bucket (bursts of 10) decides.
func TestRequestsLocal(t *testing.T) {
	now := time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC)
	fell := 0
	l := NewRequests(3, func() time.Time { return now }, NewCounter(&cachetest.Down{}, func(error) { fell++ }))
	ctx := context.Background()
	for i := range 10 {
		if err := l.Allow(ctx, "192.0.2.1"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if err := l.Allow(ctx, "192.0.2.1"); err == nil {
		t.Fatal("no local limit")
	}
	if fell != 11 {
		t.Fatalf("fallbacks = %d, want 11", fell)
	}
	now = now.Add(20 * time.Second) // one token a 20 s
	if err := l.Allow(ctx, "192.0.2.1"); err != nil {
		t.Fatalf("the bucket did not refill: %v", err)
	}
}
