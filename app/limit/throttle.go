package limit

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"sync"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// DefaultMaxThrottleEntries caps a Throttle's map of counters.
const DefaultMaxThrottleEntries = 300_000

// ClientNetwork is the network a client address is limited as: the IPv4
// address itself, or the /64 of an IPv6 address (one host's usual share,
// so rotating addresses within it gains nothing), as usage.ClientKey
// counts them. Anything that is not an address is returned as it is.
func ClientNetwork(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// Limits are a Throttle's: at most PerPair attempts on one account from
// one client network, PerAccount on one account from anywhere and
// PerNetwork from one client network on any accounts, per fixed Window.
// A limit below 1 is off.
type Limits struct {
	PerPair, PerAccount, PerNetwork int
	Window                          time.Duration
}

// DefaultLimits are the log-in limits: 5 attempts per account and client
// network, 100 per account, 20 per client network, per 15 minutes.
var DefaultLimits = Limits{PerPair: 5, PerAccount: 100, PerNetwork: 20, Window: 15 * time.Minute}

// throttleTarget is one counter an attempt is taken from.
type throttleTarget struct {
	kind  string // "p" account and network, "a" account, "i" network
	name  string
	limit int
}

// targets lists the counters of an attempt, in the order they are taken:
// an attempt refused by the pair or the network does not count against
// the account, so an attacker's refused attempts do not bring the owner
// nearer the account-wide cap.
func (l Limits) targets(account, ip string) []throttleTarget {
	net := ""
	if ip != "" {
		net = ClientNetwork(ip)
	}
	var out []throttleTarget
	if account != "" && l.PerPair > 0 {
		out = append(out, throttleTarget{"p", account + "\x00" + net, l.PerPair})
	}
	if net != "" && l.PerNetwork > 0 {
		out = append(out, throttleTarget{"i", net, l.PerNetwork})
	}
	if account != "" && l.PerAccount > 0 {
		out = append(out, throttleTarget{"a", account, l.PerAccount})
	}
	return out
}

// window returns the index of the fixed window now is in, and its end.
func (l Limits) window(now time.Time) (int64, time.Time) { return Window(now, l.Window) }

type throttleEntry struct {
	window int64
	n      int // attempts taken in the window, less the successes given back
}

func loginLimited(d time.Duration) *RateLimitError {
	return rateLimited(d, "too many log-in attempts; try again in %s")
}

// Throttle limits log-in attempts in memory. Take counts an attempt
// before the password is verified, atomically with the check, so parallel
// attempts cannot all pass: at most the limit of verifications run per
// window. Past PerPair attempts in a window, the account is refused to
// that client network until the window ends; other networks, the owner's
// included, are not affected until PerAccount attempts (from at least
// PerAccount/PerPair networks). A success clears the account's counts (the
// pair's and the account-wide one) and gives the network its attempt
// back, so logging in to one's own account does not use up one's network.
// Memory is bounded: stale windows are swept and the map holds at most
// MaxEntries counters. A Throttle is safe for concurrent use.
type Throttle struct {
	limits Limits
	now    flavormonk.Clock

	// MaxEntries caps the map; set it before use. Zero means
	// DefaultMaxThrottleEntries.
	MaxEntries int

	mu        sync.Mutex
	counts    map[string]*throttleEntry
	lastSweep int64
}

// NewThrottle returns a Throttle; now is the clock (the system clock when
// nil).
func NewThrottle(l Limits, now flavormonk.Clock) *Throttle {
	return &Throttle{limits: l, now: now, counts: make(map[string]*throttleEntry)}
}

// throttleKey bounds the memory a key takes.
func throttleKey(tg throttleTarget) string {
	k := tg.kind + ":" + tg.name
	if len(k) > 64 {
		sum := sha256.Sum256([]byte(k))
		return tg.kind + "#" + hex.EncodeToString(sum[:])
	}
	return k
}

// Take counts an attempt to log in to account from ip and returns nil, or
// a *RateLimitError (the attempt must not be made) when a limit is used
// up. An empty account or ip is not limited by that side.
func (t *Throttle) Take(account, ip string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now.Now()
	w, end := t.limits.window(now)
	t.maybeSweep(w)
	tgs := t.limits.targets(account, ip)
	for _, tg := range tgs {
		if e := t.counts[throttleKey(tg)]; e != nil && e.window == w && e.n >= tg.limit {
			return loginLimited(end.Sub(now)) // a refused attempt counts nowhere
		}
	}
	for _, tg := range tgs {
		k := throttleKey(tg)
		e := t.counts[k]
		if e == nil {
			t.makeRoom(w)
			e = &throttleEntry{window: w}
			t.counts[k] = e
		}
		if e.window != w {
			e.window, e.n = w, 0
		}
		e.n++
	}
	return nil
}

// Succeed records a successful log-in: the account's counts are cleared
// and the network gets its attempt back.
func (t *Throttle) Succeed(account, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	w, _ := t.limits.window(t.now.Now())
	for _, tg := range t.limits.targets(account, ip) {
		k := throttleKey(tg)
		if tg.kind != "i" {
			delete(t.counts, k)
		} else if e := t.counts[k]; e != nil && e.window == w && e.n > 0 {
			e.n--
		}
	}
}

func (t *Throttle) maybeSweep(w int64) {
	if w == t.lastSweep {
		return
	}
	t.lastSweep = w
	t.sweep(w)
}

func (t *Throttle) sweep(w int64) {
	for k, e := range t.counts {
		if e.window != w {
			delete(t.counts, k)
		}
	}
}

// makeRoom keeps the map under the cap before an insert: first stale
// windows go, then, if it is still full, arbitrary counters (map order)
// down to 90%.
func (t *Throttle) makeRoom(w int64) {
	limit := t.MaxEntries
	if limit <= 0 {
		limit = DefaultMaxThrottleEntries
	}
	if len(t.counts) < limit {
		return
	}
	t.sweep(w)
	for k := range t.counts {
		if len(t.counts) < limit*9/10 || len(t.counts) < limit && limit < 10 {
			break
		}
		delete(t.counts, k)
	}
}

// Len returns the number of counters kept (for tests and metrics).
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.counts)
}
