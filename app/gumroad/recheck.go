package gumroad

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"math/rand/v2"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/auth"
)

// recheckBatch is how many due grants one round verifies; the rest wait
// for the next round.
const recheckBatch = 500

// Rechecker verifies stored licences again, so that refunded, disputed,
// charged-back or cancelled ones lose the plan they unlocked (and one whose
// dispute was won gets it back). Keys are stored sealed (auth.Sealer) under
// FLAVORMONK_LICENSE_SECRET; grants without a sealed key are not re-checked.
//
// Updates are idempotent, so replicas running rounds at once do no harm;
// with a shared cache (Lock) only one replica runs each round.
type Rechecker struct {
	Store  flavormonk.AccountStore
	Client *Client
	Sealer *auth.Sealer
	Log    *slog.Logger
	// Interval: a grant is due when its last check is older. Zero or less
	// turns the schedule off (Recheck still works).
	Interval time.Duration
	// Tick is how often Run looks for due grants (jittered ±50%); zero
	// means Interval/24 within 1 minute..1 hour.
	Tick time.Duration
	// Lock, when set, lets one replica run each round.
	Lock flavormonk.Cache
	// Now is the clock; nil means the system clock.
	Now flavormonk.Clock
}

// RecheckReport counts what a round did.
type RecheckReport struct {
	Checked     int // verified with Gumroad
	Kept        int // active and still active
	Revoked     int // active before, no longer: the plan was taken back
	Restored    int // inactive before, active again: the plan was given back
	Inactive    int // inactive and still inactive
	Unavailable int // Gumroad could not be asked: kept as is, retried next round
	Unreadable  int // the sealed key does not open (another secret?): kept as is, marked checked
}

// RecheckOptions are what NewRechecker needs.
type RecheckOptions struct {
	// ProductID is the Gumroad product licences are verified against;
	// empty turns re-checks off.
	ProductID string
	// BaseURL is Gumroad's API; DefaultBaseURL when empty.
	BaseURL string
	// LicenseSecret opens the sealed keys (auth.Sealer); empty turns
	// re-checks off, as there are no keys to verify again.
	LicenseSecret string
	// Interval is the Rechecker's Interval.
	Interval time.Duration
}

// NewRechecker builds the Rechecker opts ask for, or nil and the reason
// when re-checks are off.
func NewRechecker(opts RecheckOptions, st flavormonk.AccountStore, log *slog.Logger) (*Rechecker, string, error) {
	if opts.ProductID == "" {
		return nil, "no Gumroad product is configured (FLAVORMONK_GUMROAD_PRODUCT_ID)", nil
	}
	if opts.LicenseSecret == "" {
		return nil, "FLAVORMONK_LICENSE_SECRET is not set: licence keys are stored as hashes only, so refunded, disputed or charged-back licences keep their plan", nil
	}
	s, err := auth.NewSealer(opts.LicenseSecret)
	if err != nil {
		return nil, "", flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_LICENSE_SECRET", "%v", err)
	}
	return &Rechecker{Store: st, Sealer: s, Log: log, Interval: opts.Interval,
		Client: &Client{BaseURL: opts.BaseURL, ProductID: opts.ProductID}}, "", nil
}

// KeyHash is the SHA-256 of a licence key as stored in Grant.LicenseKey.
func KeyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Seal seals key for storage beside its hash.
func (r *Rechecker) Seal(key string) []byte { return r.Sealer.Seal([]byte(key), KeyHash(key)) }

func (r *Rechecker) now() time.Time {
	return r.Now.Now()
}

func (r *Rechecker) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Recheck verifies the grants last checked before t (all of them with t =
// now), up to one batch. Gumroad being unavailable ends the round early:
// the grants keep their state and are due again next round.
func (r *Rechecker) Recheck(ctx context.Context, before time.Time) (RecheckReport, error) {
	var rep RecheckReport
	gs, err := r.Store.LicenseGrants(ctx, before, recheckBatch)
	if err != nil {
		return rep, err
	}
	var unreadable []int64 // user ids, for one log line per round
	defer func() {
		if len(unreadable) > 0 {
			r.log().ErrorContext(ctx, "licence re-check: stored keys do not open (was FLAVORMONK_LICENSE_SECRET changed?); their grants keep their state and are marked checked",
				"count", len(unreadable), "user_ids", unreadable[:min(len(unreadable), 20)])
		}
	}()
	for _, g := range gs {
		pt, err := r.Sealer.Open(g.Sealed, g.LicenseKey)
		if err != nil || KeyHash(string(pt)) != g.LicenseKey {
			// Marked checked (state and plan kept, the sealed key too), so
			// that unreadable grants do not fill every batch ahead of the
			// readable ones: they are due again one Interval later.
			rep.Unreadable++
			unreadable = append(unreadable, g.UserID)
			g.CheckedAt, g.Sealed = r.now().UTC(), nil
			if err := r.Store.SetGrant(ctx, g); err != nil {
				return rep, err
			}
			continue
		}
		active, reason, err := r.verify(ctx, string(pt))
		if err != nil {
			if flavormonk.ErrorCode(err) == flavormonk.EUNAVAILABLE {
				rep.Unavailable = len(gs) - rep.Checked - rep.Unreadable
				r.log().WarnContext(ctx, "licence re-check: Gumroad is unavailable; licences keep their state and are retried next round",
					"err", err, "not_checked", rep.Unavailable)
				return rep, nil
			}
			return rep, err
		}
		rep.Checked++
		was := g.Active
		g.Active, g.CheckedAt, g.Sealed = active, r.now().UTC(), nil
		if err := r.Store.SetGrant(ctx, g); err != nil {
			return rep, err
		}
		switch {
		case was && active:
			rep.Kept++
		case !was && !active:
			rep.Inactive++
		case was:
			rep.Revoked++
			if err := r.takeBack(ctx, g); err != nil {
				return rep, err
			}
			r.log().InfoContext(ctx, "licence re-check: licence no longer active, plan revoked", "user_id", g.UserID, "plan", g.Plan, "reason", reason)
		default:
			rep.Restored++
			if err := r.giveBack(ctx, g); err != nil {
				return rep, err
			}
			r.log().InfoContext(ctx, "licence re-check: licence active again, plan restored", "user_id", g.UserID, "plan", g.Plan)
		}
	}
	return rep, nil
}

// verify says whether key is active, and if not why.
func (r *Rechecker) verify(ctx context.Context, key string) (bool, string, error) {
	lic, err := r.Client.Verify(ctx, key)
	if err != nil {
		if flavormonk.ErrorCode(err) == flavormonk.EINVALID {
			return false, "unknown to Gumroad for this product", nil
		}
		return false, "", err
	}
	switch {
	case lic.Active():
		return true, "", nil
	case lic.Refunded:
		return false, "refunded", nil
	case lic.Chargebacked:
		return false, "charged back", nil
	case lic.Disputed:
		return false, "disputed", nil
	case lic.Cancelled:
		return false, "subscription cancelled or ended", nil
	}
	return false, "not valid", nil
}

// takeBack returns the user to the free plan unless another active grant
// gives them the plan the revoked one gave.
func (r *Rechecker) takeBack(ctx context.Context, g *flavormonk.Grant) error {
	u, err := r.Store.User(ctx, g.UserID)
	if err != nil {
		return err
	}
	if u.Plan != g.Plan {
		return nil
	}
	gs, err := r.Store.Grants(ctx, g.UserID)
	if err != nil {
		return err
	}
	for _, o := range gs {
		if o.Active && o.Plan == g.Plan {
			return nil
		}
	}
	return r.Store.SetPlan(ctx, g.UserID, flavormonk.PlanFree)
}

// giveBack restores the plan of a grant active again to a free user.
func (r *Rechecker) giveBack(ctx context.Context, g *flavormonk.Grant) error {
	u, err := r.Store.User(ctx, g.UserID)
	if err != nil {
		return err
	}
	if u.Plan != flavormonk.PlanFree {
		return nil
	}
	return r.Store.SetPlan(ctx, g.UserID, g.Plan)
}

func (r *Rechecker) tick() time.Duration {
	if r.Tick > 0 {
		return r.Tick
	}
	return min(max(r.Interval/24, time.Minute), time.Hour)
}

// lock lets one replica run the round when a shared cache is there; a
// failing cache lets every replica run (the updates are idempotent).
func (r *Rechecker) lock(ctx context.Context, tick time.Duration) bool {
	if r.Lock == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	n, err := r.Lock.Incr(ctx, "license-recheck:lock", max(tick/2, time.Millisecond))
	return err != nil || n == 1
}

// Run re-checks due grants every tick (jittered) until ctx ends.
func (r *Rechecker) Run(ctx context.Context) {
	if r.Interval <= 0 {
		r.log().InfoContext(ctx, "scheduled licence re-checks are off (FLAVORMONK_LICENSE_RECHECK=0); `flavormonk users recheck` still works")
		return
	}
	tick := r.tick()
	for {
		wait := tick/2 + rand.N(tick)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if !r.lock(ctx, tick) {
			continue
		}
		rep, err := r.Recheck(ctx, r.now().Add(-r.Interval))
		switch {
		case err != nil && ctx.Err() == nil:
			r.log().ErrorContext(ctx, "licence re-check failed", "err", err)
		case rep != (RecheckReport{}):
			r.log().InfoContext(ctx, "licence re-check", "checked", rep.Checked, "kept", rep.Kept, "revoked", rep.Revoked,
				"restored", rep.Restored, "inactive", rep.Inactive, "unavailable", rep.Unavailable, "unreadable", rep.Unreadable)
		}
	}
}
