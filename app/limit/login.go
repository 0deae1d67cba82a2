package limit

import (
	"context"
	"time"
)

// Login applies a Throttle's limits with its counters in the shared cache,
// so that every replica counts the same attempts: an attacker cannot
// multiply their attempts by the number of replicas. Each attempt is
// taken with the cache's atomic Incr before the password is verified.
// Every attempt is also counted in the local Throttle, which decides alone
// when the cache is absent or failing.
//
// Keys hold the SHA-256 of the account and network, never the email
// itself, and the index of the fixed window.
type Login struct {
	local  *Throttle
	shared *Counter
}

// NewLogin returns a Login over local's limits, counting in shared too.
func NewLogin(local *Throttle, shared *Counter) *Login {
	return &Login{local: local, shared: shared}
}

// sharedKeys are a target's attempts counter in window w and, for a
// network, the counter of the attempts given back by successes.
func sharedKeys(tg throttleTarget, w int64) (attempts, given string) {
	base := WindowKey(tg.kind+":"+HashKey(tg.name), w)
	return "throttle:n:" + base, "throttle:ok:" + base
}

// Take counts an attempt to log in to account from ip and returns nil, or
// a *RateLimitError (the attempt must not be made) when a limit is used
// up, in this replica's count when the cache is absent or failing, in the
// shared count otherwise.
func (t *Login) Take(ctx context.Context, account, ip string) error {
	local := t.local.Take(account, ip)
	if !t.shared.On() {
		return local
	}
	lim := t.local.limits
	now := t.local.now.Now()
	w, end := lim.window(now)
	ttl := end.Sub(now) + time.Minute
	ctx, cancel := context.WithTimeout(ctx, CacheTimeout)
	defer cancel()
	for _, tg := range lim.targets(account, ip) {
		nk, gk := sharedKeys(tg, w)
		if tg.kind != "i" {
			gk = "" // only a network gets attempts back from successes
		}
		switch t.shared.Take(ctx, nk, gk, tg.limit, ttl) {
		case Undecided, OverUnconfirmed:
			return local
		case Denied:
			return loginLimited(end.Sub(now))
		}
	}
	return nil
}

// Succeed records a successful log-in, locally and in the cache: the
// account's counts (pair and account-wide) are cleared and the network
// gets its attempt back.
func (t *Login) Succeed(ctx context.Context, account, ip string) {
	t.local.Succeed(account, ip)
	if !t.shared.On() {
		return
	}
	lim := t.local.limits
	now := t.local.now.Now()
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
		t.shared.GiveBack(ctx, gk, end.Sub(now)+time.Minute)
	}
	t.shared.Clear(ctx, del...)
}
