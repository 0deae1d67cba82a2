package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// DefaultMaxThrottleEntries caps each of a Throttle's maps (accounts, IPs).
const DefaultMaxThrottleEntries = 100_000

// RateLimitError is what Throttle.Allow returns: it unwraps to a
// flavormonk.Error with code ERATELIMIT, and RetryAfter says when to try
// again (for a Retry-After header).
type RateLimitError struct {
	RetryAfter time.Duration
	err        *flavormonk.Error
}

func (e *RateLimitError) Error() string { return e.err.Error() }
func (e *RateLimitError) Unwrap() error { return e.err }

func newRateLimitError(d time.Duration) *RateLimitError {
	d = d.Round(time.Second)
	if d < time.Second {
		d = time.Second
	}
	return &RateLimitError{RetryAfter: d, err: flavormonk.Errorf(flavormonk.ERATELIMIT,
		"too many failed log-in attempts; try again in %s", d)}
}

type throttleEntry struct {
	start    time.Time // start of the current window
	failures int
	until    time.Time // locked until, when after now
}

// Throttle limits failed log-ins per account and per client IP. After
// perAccount failures on one account within window, that account is locked
// for lockout, which should be short (minutes): the lockout is not extended
// by failures while it lasts, so an attacker cannot keep someone else locked
// out, and the per-IP limit (perIP failures within window, whatever the
// accounts, then a block of lockout) stops one client from spraying many
// accounts. A success clears the account's failures but not the IP's, so an
// attacker cannot reset their IP's count by logging into their own account.
// Memory is bounded: expired entries are swept and each map holds at most
// MaxEntries keys. A Throttle is safe for concurrent use.
type Throttle struct {
	perAccount, perIP int
	window, lockout   time.Duration
	now               func() time.Time

	// MaxEntries caps each map; set it before use. Zero means
	// DefaultMaxThrottleEntries.
	MaxEntries int

	mu        sync.Mutex
	accounts  map[string]*throttleEntry
	ips       map[string]*throttleEntry
	lastSweep time.Time
}

// NewThrottle returns a Throttle; now is the clock (time.Now when nil). A
// limit below 1 disables that limit.
func NewThrottle(perAccount, perIP int, window, lockout time.Duration, now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{
		perAccount: perAccount, perIP: perIP, window: window, lockout: lockout, now: now,
		accounts: make(map[string]*throttleEntry), ips: make(map[string]*throttleEntry),
	}
}

// throttleKey bounds the memory a key takes.
func throttleKey(k string) string {
	if len(k) > 64 {
		sum := sha256.Sum256([]byte(k))
		return "#" + hex.EncodeToString(sum[:])
	}
	return k
}

// Allow returns nil when a log-in to account from ip may be attempted, and
// a *RateLimitError otherwise. An empty account or ip is not limited.
func (t *Throttle) Allow(account, ip string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var wait time.Duration
	if account != "" && t.perAccount > 0 {
		if e := t.accounts[throttleKey(account)]; e != nil && now.Before(e.until) {
			wait = e.until.Sub(now)
		}
	}
	if ip != "" && t.perIP > 0 {
		if e := t.ips[throttleKey(ip)]; e != nil && now.Before(e.until) {
			wait = max(wait, e.until.Sub(now))
		}
	}
	if wait > 0 {
		return newRateLimitError(wait)
	}
	return nil
}

// Fail records a failed log-in to account from ip.
func (t *Throttle) Fail(account, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.maybeSweep(now)
	if account != "" && t.perAccount > 0 {
		t.fail(t.accounts, throttleKey(account), t.perAccount, now)
	}
	if ip != "" && t.perIP > 0 {
		t.fail(t.ips, throttleKey(ip), t.perIP, now)
	}
}

func (t *Throttle) fail(m map[string]*throttleEntry, key string, limit int, now time.Time) {
	e := m[key]
	if e == nil {
		t.makeRoom(m, now)
		e = &throttleEntry{start: now}
		m[key] = e
	}
	if now.Before(e.until) {
		return // locked: do not extend the lockout
	}
	if now.Sub(e.start) >= t.window {
		e.start, e.failures = now, 0
	}
	e.failures++
	if e.failures >= limit {
		e.until = now.Add(t.lockout)
		e.start, e.failures = now, 0
	}
}

// Succeed records a successful log-in: the account's failures are
// forgotten (the IP's are not).
func (t *Throttle) Succeed(account, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.accounts, throttleKey(account))
}

func (t *Throttle) expired(e *throttleEntry, now time.Time) bool {
	return !now.Before(e.until) && now.Sub(e.start) >= t.window
}

func (t *Throttle) maybeSweep(now time.Time) {
	if now.Sub(t.lastSweep) < max(t.window, time.Minute) {
		return
	}
	t.lastSweep = now
	t.sweep(t.accounts, now)
	t.sweep(t.ips, now)
}

func (t *Throttle) sweep(m map[string]*throttleEntry, now time.Time) {
	for k, e := range m {
		if t.expired(e, now) {
			delete(m, k)
		}
	}
}

// makeRoom keeps m under the cap before an insert: first expired entries
// go, then, if it is still full, arbitrary ones (map order) down to 90%.
func (t *Throttle) makeRoom(m map[string]*throttleEntry, now time.Time) {
	limit := t.MaxEntries
	if limit <= 0 {
		limit = DefaultMaxThrottleEntries
	}
	if len(m) < limit {
		return
	}
	t.sweep(m, now)
	for k := range m {
		if len(m) < limit*9/10 || len(m) < limit && limit < 10 {
			break
		}
		delete(m, k)
	}
}

// Len returns the number of accounts and IPs tracked (for tests and
// metrics).
func (t *Throttle) Len() (accounts, ips int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.accounts), len(t.ips)
}
