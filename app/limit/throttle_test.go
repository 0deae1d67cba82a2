package limit

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/clocktest"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newClock starts at the beginning of a 15-minute window.
func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)} }

func mustAllow(t *testing.T, th *Throttle, account, ip string) {
	t.Helper()
	if err := th.Take(account, ip); err != nil {
		t.Fatalf("Take(%q, %q) = %v, want nil", account, ip, err)
	}
}

func mustDeny(t *testing.T, th *Throttle, account, ip string, wantRetry time.Duration) {
	t.Helper()
	err := th.Take(account, ip)
	if flavormonk.ErrorCode(err) != flavormonk.ERATELIMIT {
		t.Fatalf("Take(%q, %q) = %v, want ERATELIMIT", account, ip, err)
	}
	var rl *RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("error %T is not a *RateLimitError", err)
	}
	if rl.RetryAfter != wantRetry {
		t.Fatalf("RetryAfter = %v, want %v", rl.RetryAfter, wantRetry)
	}
	if flavormonk.ErrorMessage(err) == "internal error" {
		t.Fatal("rate-limit error has no user message")
	}
}

// An attacker's network uses up its 5 attempts on the account; the owner,
// from another network, still logs in.
func TestThrottlePairLockDoesNotLockOwner(t *testing.T) {
	c := newClock()
	th := NewThrottle(DefaultLimits, c.now)
	for range 5 {
		mustAllow(t, th, "alice@example.com", "198.51.100.7")
		c.advance(time.Second)
	}
	mustDeny(t, th, "alice@example.com", "198.51.100.7", 15*time.Minute-5*time.Second)
	mustAllow(t, th, "alice@example.com", "192.0.2.1") // the owner
	th.Succeed("alice@example.com", "192.0.2.1")
	mustAllow(t, th, "bob@example.com", "198.51.100.7") // other accounts from the network
	// The window ends: the attacker may try again, 5 more.
	c.advance(15 * time.Minute)
	mustAllow(t, th, "alice@example.com", "198.51.100.7")
}

// The account-wide cap: 100 attempts from 20 networks lock the account
// everywhere until the window ends; a success clears it.
func TestThrottleAccountCap(t *testing.T) {
	c := newClock()
	th := NewThrottle(DefaultLimits, c.now)
	for n := range 20 {
		for range 5 {
			mustAllow(t, th, "alice@example.com", fmt.Sprintf("10.0.0.%d", n))
		}
	}
	mustDeny(t, th, "alice@example.com", "192.0.2.1", 15*time.Minute)
	// A refused attempt counts nowhere: the network is not used up.
	for i := range 19 {
		mustAllow(t, th, fmt.Sprintf("u%d@example.com", i), "192.0.2.1")
	}
}

// IPv6 addresses of one /64 share the limits; another /64 does not.
func TestThrottleIPv6Slash64(t *testing.T) {
	c := newClock()
	th := NewThrottle(DefaultLimits, c.now)
	for i := range 5 {
		mustAllow(t, th, "alice@example.com", fmt.Sprintf("2001:db8:1:2::%x", i+1))
	}
	mustDeny(t, th, "alice@example.com", "2001:db8:1:2:ffff::9", 15*time.Minute)
	mustAllow(t, th, "alice@example.com", "2001:db8:1:3::1")
	for i := range 15 {
		mustAllow(t, th, fmt.Sprintf("u%d@example.com", i), fmt.Sprintf("2001:db8:1:2:%x::1", i))
	}
	mustDeny(t, th, "new@example.com", "2001:db8:1:2::abcd", 15*time.Minute)
	if ClientNetwork("::ffff:192.0.2.1") != "192.0.2.1" || ClientNetwork("2001:db8::1") != "2001:db8::/64" || ClientNetwork("x") != "x" {
		t.Fatal("ClientNetwork")
	}
}

// Parallel attempts cannot all pass: exactly the limit is taken.
func TestThrottleTakeIsAtomic(t *testing.T) {
	th := NewThrottle(DefaultLimits, newClock().now)
	var passed atomic.Int64
	var wg sync.WaitGroup
	for range 300 {
		wg.Go(func() {
			if th.Take("alice@example.com", "198.51.100.7") == nil {
				passed.Add(1)
			}
		})
	}
	wg.Wait()
	if passed.Load() != 5 {
		t.Fatalf("%d parallel attempts passed, want 5", passed.Load())
	}
}

func TestThrottleSucceedClearsAccountAndGivesBackNetwork(t *testing.T) {
	c := newClock()
	th := NewThrottle(Limits{PerPair: 3, PerAccount: 10, PerNetwork: 4, Window: time.Hour}, c.now)
	for range 3 {
		mustAllow(t, th, "victim", "1.2.3.4")
	}
	th.Succeed("victim", "1.2.3.4") // account counts cleared, one attempt back
	for range 2 {
		mustAllow(t, th, "victim", "1.2.3.4")
	}
	mustDeny(t, th, "anyone", "1.2.3.4", time.Hour) // 5 taken, 1 given back: 4
	// Logging in to one's own account again and again is not limited.
	for range 50 {
		mustAllow(t, th, "me", "5.6.7.8")
		th.Succeed("me", "5.6.7.8")
	}
}

func TestThrottleRetryAfterRounding(t *testing.T) {
	c := newClock()
	th := NewThrottle(Limits{PerPair: 1, Window: 15 * time.Minute}, c.now)
	mustAllow(t, th, "a", "1.1.1.1")
	c.advance(15*time.Minute - 100*time.Millisecond)
	mustDeny(t, th, "a", "1.1.1.1", time.Second)
	c.advance(100 * time.Millisecond)
	mustAllow(t, th, "a", "1.1.1.1")
}

func TestThrottleBoundedMemory(t *testing.T) {
	c := newClock()
	th := NewThrottle(Limits{PerPair: 5, PerAccount: 5, PerNetwork: 1000000, Window: time.Minute}, c.now)
	th.MaxEntries = 1000
	for i := range 10000 {
		_ = th.Take(fmt.Sprintf("user%d", i), "10.0.0.1")
	}
	if n := th.Len(); n > 1000 {
		t.Fatalf("Len = %d; want at most 1000", n)
	}
	// Stale windows are swept.
	c.advance(2 * time.Minute)
	mustAllow(t, th, "late", "10.0.0.2")
	if n := th.Len(); n != 3 {
		t.Fatalf("after window: Len = %d; want 3", n)
	}
	// Huge keys are stored hashed, and still counted.
	th2 := NewThrottle(Limits{PerAccount: 2, Window: time.Minute}, c.now)
	huge := string(make([]byte, 10000))
	mustAllow(t, th2, huge, "")
	mustAllow(t, th2, huge, "")
	mustDeny(t, th2, huge, "", time.Minute)
	for k := range th2.counts {
		if len(k) > 66 {
			t.Fatalf("key of %d bytes stored", len(k))
		}
	}
}

func TestThrottleDisabledAndEmpty(t *testing.T) {
	th := NewThrottle(Limits{Window: time.Minute}, nil)
	for range 100 {
		mustAllow(t, th, "a", "1.1.1.1")
	}
	th = NewThrottle(Limits{PerAccount: 1, PerNetwork: 1, Window: time.Minute}, nil)
	for range 3 {
		mustAllow(t, th, "", "")
	}
	if n := th.Len(); n != 0 {
		t.Fatalf("empty keys were stored: %d", n)
	}
}

// TestThrottleWindowsAtBoundaries: a window that ends at a month's or a
// year's last second, on a leap day or across Berlin's DST change is 15
// minutes of absolute time ending on a UTC quarter hour, whatever the
// local zone.
func TestThrottleWindowsAtBoundaries(t *testing.T) {
	clocktest.InZones(t, func(t *testing.T, zone string) {
		for _, b := range clocktest.Boundaries {
			t.Run(b.Name, func(t *testing.T) {
				clk := clocktest.New(b.At)
				th := NewThrottle(DefaultLimits, clk.Now)
				for range DefaultLimits.PerPair {
					mustAllow(t, th, "cook@example.com", "203.0.113.9")
				}
				end := b.At.UTC().Truncate(DefaultLimits.Window).Add(DefaultLimits.Window)
				if end.Minute()%15 != 0 || end.Second() != 0 || end.Sub(b.At) > DefaultLimits.Window {
					t.Fatalf("window end %s", end)
				}
				mustDeny(t, th, "cook@example.com", "203.0.113.9", max(end.Sub(b.At).Round(time.Second), time.Second))
				clk.Set(end.Add(-time.Millisecond))
				if err := th.Take("cook@example.com", "203.0.113.9"); flavormonk.ErrorCode(err) != flavormonk.ERATELIMIT {
					t.Fatalf("a millisecond before the window ends: %v; want ERATELIMIT", err)
				}
				clk.Set(end)
				mustAllow(t, th, "cook@example.com", "203.0.113.9")
			})
		}
	})
}
