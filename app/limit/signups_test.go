package limit

import (
	"context"
	"errors"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/cache"
	"github.com/flavormonk/flavormonk/app/cachetest"
)

func TestSignups(t *testing.T) {
	now := time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC)
	l := NewSignups(2, time.Hour, func() time.Time { return now }, NewCounter(nil, nil))
	ctx := context.Background()
	_, _ = l.Take(ctx, "a")
	back, _ := l.Take(ctx, "a")
	if _, err := l.Take(ctx, "a"); err == nil {
		t.Fatal("limit not applied")
	}
	back() // a failed sign-up gives its slot back
	if _, err := l.Take(ctx, "a"); err != nil {
		t.Fatal("slot not given back")
	}
	if _, err := l.Take(ctx, "b"); err != nil {
		t.Fatal("other ip limited")
	}
	now = now.Add(time.Hour + time.Second)
	if _, err := l.Take(ctx, "a"); err != nil {
		t.Fatal("window did not slide")
	}
}

// Two replicas on one cache count together, give slots back together, and
// retry at the end of the shared fixed window.
func TestSignupsShared(t *testing.T) {
	now := time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC)
	clk := func() time.Time { return now }
	c := cache.NewMemory(100)
	a := NewSignups(2, time.Hour, clk, NewCounter(c, nil))
	b := NewSignups(2, time.Hour, clk, NewCounter(c, nil))
	ctx := context.Background()
	if _, err := a.Take(ctx, "ip"); err != nil {
		t.Fatal(err)
	}
	back, err := b.Take(ctx, "ip")
	if err != nil {
		t.Fatal(err)
	}
	back()
	if _, err := a.Take(ctx, "ip"); err != nil {
		t.Fatalf("a slot given back on b is not free on a: %v", err)
	}
	_, err = a.Take(ctx, "ip")
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 30*time.Minute {
		t.Fatalf("third sign-up over two replicas: %v, want a retry in 30m", err)
	}
}

// With the cache failing, each replica's memory decides.
func TestSignupsCacheDown(t *testing.T) {
	now := time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC)
	fell := 0
	l := NewSignups(1, time.Hour, func() time.Time { return now }, NewCounter(&cachetest.Down{}, func(error) { fell++ }))
	ctx := context.Background()
	if _, err := l.Take(ctx, "ip"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Take(ctx, "ip"); err == nil {
		t.Fatal("cache down: no limit")
	}
	if fell != 2 {
		t.Fatalf("fallbacks = %d, want 2", fell)
	}
}

// getFails is a shared cache whose Get fails while Incr works: the count
// is readable, what was given back is not.
type getFails struct{ flavormonk.Cache }

func (getFails) Get(context.Context, string) ([]byte, bool, error) {
	return nil, false, errors.New("get failed")
}

// Over the shared limit with the given-back count unreadable, a sign-up is
// refused (the replica's own count, which has room, does not decide), a
// fallback is counted and the local slot is given back.
func TestSignupsSharedGiveBackUnreadable(t *testing.T) {
	now := time.Date(2026, 11, 30, 23, 30, 0, 0, time.UTC)
	clk := func() time.Time { return now }
	c := cache.NewMemory(100)
	a := NewSignups(2, time.Hour, clk, NewCounter(c, nil))
	fell := 0
	b := NewSignups(2, time.Hour, clk, NewCounter(getFails{c}, func(error) { fell++ }))
	ctx := context.Background()
	for range 2 {
		if _, err := a.Take(ctx, "ip"); err != nil {
			t.Fatal(err)
		}
	}
	_, err := b.Take(ctx, "ip")
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 30*time.Minute {
		t.Fatalf("third sign-up, give-back count unreadable: %v, want refused with a retry in 30m", err)
	}
	if fell != 1 {
		t.Fatalf("fallbacks = %d, want 1", fell)
	}
	if n := len(b.byIP["ip"]); n != 0 {
		t.Fatalf("b keeps %d local slots, want the refused one given back", n)
	}
}
