package auth

import (
	"errors"
	"fmt"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)} }

func mustAllow(t *testing.T, th *Throttle, account, ip string) {
	t.Helper()
	if err := th.Allow(account, ip); err != nil {
		t.Fatalf("Allow(%q, %q) = %v, want nil", account, ip, err)
	}
}

func mustDeny(t *testing.T, th *Throttle, account, ip string, wantRetry time.Duration) {
	t.Helper()
	err := th.Allow(account, ip)
	if flavormonk.ErrorCode(err) != flavormonk.ERATELIMIT {
		t.Fatalf("Allow(%q, %q) = %v, want ERATELIMIT", account, ip, err)
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

func TestThrottleAccountLockoutAndRelease(t *testing.T) {
	c := newClock()
	th := NewThrottle(5, 100, 10*time.Minute, 15*time.Minute, c.now)
	for i := range 4 {
		mustAllow(t, th, "alice@example.com", fmt.Sprintf("10.0.0.%d", i))
		th.Fail("alice@example.com", fmt.Sprintf("10.0.0.%d", i))
		c.advance(time.Second)
	}
	mustAllow(t, th, "alice@example.com", "10.0.0.9")
	th.Fail("alice@example.com", "10.0.0.9") // fifth failure within the window
	mustDeny(t, th, "alice@example.com", "10.0.0.50", 15*time.Minute)
	mustAllow(t, th, "bob@example.com", "10.0.0.9") // others unaffected

	// Failures during the lockout do not extend it.
	c.advance(10 * time.Minute)
	for range 50 {
		th.Fail("alice@example.com", "")
	}
	mustDeny(t, th, "alice@example.com", "", 5*time.Minute)
	c.advance(5 * time.Minute)
	mustAllow(t, th, "alice@example.com", "")

	// After release the count starts again from zero.
	th.Fail("alice@example.com", "")
	mustAllow(t, th, "alice@example.com", "")
}

func TestThrottleWindowExpiry(t *testing.T) {
	c := newClock()
	th := NewThrottle(3, 0, time.Minute, 15*time.Minute, c.now)
	th.Fail("a", "")
	th.Fail("a", "")
	c.advance(time.Minute) // the window passes: failures forgotten
	th.Fail("a", "")
	th.Fail("a", "")
	mustAllow(t, th, "a", "")
	th.Fail("a", "")
	mustDeny(t, th, "a", "", 15*time.Minute)
}

func TestThrottleSucceedClearsAccountNotIP(t *testing.T) {
	c := newClock()
	th := NewThrottle(3, 4, time.Hour, 15*time.Minute, c.now)
	th.Fail("victim", "1.2.3.4")
	th.Fail("victim", "1.2.3.4")
	th.Succeed("victim", "1.2.3.4")
	th.Fail("victim", "1.2.3.4")
	th.Fail("victim", "1.2.3.4") // fourth failure from this IP
	mustDeny(t, th, "anyone", "1.2.3.4", 15*time.Minute)
	mustAllow(t, th, "victim", "5.6.7.8") // account count was reset by the success
}

func TestThrottleIPLimitAcrossAccounts(t *testing.T) {
	c := newClock()
	th := NewThrottle(5, 10, 10*time.Minute, 15*time.Minute, c.now)
	for i := range 10 {
		acct := fmt.Sprintf("user%d@example.com", i)
		mustAllow(t, th, acct, "203.0.113.7")
		th.Fail(acct, "203.0.113.7")
	}
	// The sprayer is stopped, for any account...
	mustDeny(t, th, "user99@example.com", "203.0.113.7", 15*time.Minute)
	// ...but the accounts it tried are not locked for others.
	mustAllow(t, th, "user0@example.com", "198.51.100.1")
	c.advance(15 * time.Minute)
	mustAllow(t, th, "user99@example.com", "203.0.113.7")
}

func TestThrottleRetryAfterRounding(t *testing.T) {
	c := newClock()
	th := NewThrottle(1, 0, time.Minute, 15*time.Minute, c.now)
	th.Fail("a", "")
	c.advance(15*time.Minute - 100*time.Millisecond)
	mustDeny(t, th, "a", "", time.Second)
	c.advance(100 * time.Millisecond)
	mustAllow(t, th, "a", "")
}

func TestThrottleBoundedMemory(t *testing.T) {
	c := newClock()
	th := NewThrottle(5, 1000000, time.Minute, 15*time.Minute, c.now)
	th.MaxEntries = 1000
	for i := range 10000 {
		th.Fail(fmt.Sprintf("user%d", i), "10.0.0.1")
	}
	if a, ip := th.Len(); a > 1000 || ip != 1 {
		t.Fatalf("Len = %d, %d; want at most 1000 accounts and 1 IP", a, ip)
	}
	// Expired entries are swept.
	c.advance(2 * time.Minute)
	th.Fail("late", "10.0.0.2")
	if a, ip := th.Len(); a != 1 || ip != 1 {
		t.Fatalf("after window: Len = %d, %d; want 1, 1", a, ip)
	}
	// Huge keys are stored hashed, and still counted.
	th2 := NewThrottle(2, 0, time.Minute, time.Minute, c.now)
	huge := string(make([]byte, 10000))
	th2.Fail(huge, "")
	th2.Fail(huge, "")
	mustDeny(t, th2, huge, "", time.Minute)
	for k := range th2.accounts {
		if len(k) > 65 {
			t.Fatalf("key of %d bytes stored", len(k))
		}
	}
}

func TestThrottleDisabledAndEmpty(t *testing.T) {
	th := NewThrottle(0, 0, time.Minute, time.Minute, nil)
	for range 100 {
		th.Fail("a", "1.1.1.1")
	}
	mustAllow(t, th, "a", "1.1.1.1")
	th = NewThrottle(1, 1, time.Minute, time.Minute, nil)
	th.Fail("", "")
	mustAllow(t, th, "", "")
	if a, ip := th.Len(); a != 0 || ip != 0 {
		t.Fatalf("empty keys were stored: %d %d", a, ip)
	}
}
