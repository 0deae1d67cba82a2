package flavormonk

import (
	"context"
	"fmt"
	"time"
)

// UsageEvent is one metered provider call (or answer-cache hit), as the
// usage ledger records it. Money is in micro-USD (USD × 1e6).
type UsageEvent struct {
	At time.Time
	// UserID is the account that asked, 0 for a visitor.
	UserID int64
	// Visitor is the visitor's ledger key: a hash of the visitor session
	// id, never the cookie itself (usage.Meter derives it).
	Visitor      string
	Provider     string
	Model        string
	InputTokens  int
	OutputTokens int
	Seconds      float64
	CostMicros   int64
	Estimated    bool // some counts come from our tokenizer, not the provider
	CacheHit     bool // answered from the cache: no provider call
}

// Caller is who asks for a metered call: a user with their plan, or an
// anonymous visitor session. Allowances, the usage ledger and
// conversations belong to it.
type Caller struct {
	UserID int64
	// Visitor is the visitor session id; only a hash of it is stored.
	Visitor string
	Plan    string // "" for a visitor; a user's "" is the free plan
	// Client is a visitor's network address: visitors from one address
	// share an allowance, so fresh sessions bring no fresh money.
	Client string
}

// Meter prices provider calls and holds their worst-case cost against the
// global budget and the caller's allowance while they run. usage.Meter
// implements it.
type Meter interface {
	// Worst is the most a call to provider/model can cost, in micro-USD;
	// the meter bounds the compute time of models billed per second.
	Worst(provider, model string, inTokens, maxOut int) int64
	// Cost prices a usage in micro-USD.
	Cost(provider, model string, u Usage) int64
	// Reserve holds worstMicros for who, atomically against the global
	// budget and who's allowance: EBUDGET or EQUOTA when it does not fit.
	// A caller is a user (UserID, no Visitor) or a visitor (Visitor, no
	// Plan); anything else is EINVALID.
	Reserve(ctx context.Context, who Caller, worstMicros int64) (Reservation, error)
}

// Reservation is a held worst case, settled once with what was consumed.
type Reservation interface {
	// Settle records the events for the reservation's caller; an event
	// with no CostMicros that is not a cache hit is priced by the meter,
	// so that unpriced models are counted as such. Later calls return the
	// first call's result.
	Settle(ctx context.Context, events []UsageEvent) error
}

// Usage scopes: the global budget, and one per user or visitor.
const ScopeBudget = "budget"

// NoLimit as a Hold's Limit: the scope is metered but never refused.
const NoLimit int64 = -1

// Hold is one part of a reservation: Amount micro-USD set aside in one
// scope for one UTC month, refused when the scope's spent + reserved +
// Amount would pass Limit.
type Hold struct {
	Scope  string // "budget", "user:42" or "visitor:<hash>"
	Period string // UTC month, "2026-11"
	// Limit in micro-USD; NoLimit (any negative) for none. A zero Amount
	// is never refused.
	Limit  int64
	Amount int64
}

// UsageRow is one group of the usage report: one UTC day, one user or
// visitor, one provider and model.
type UsageRow struct {
	Day          time.Time `json:"day"`
	UserID       int64     `json:"user_id,omitempty"`
	Visitor      string    `json:"visitor,omitempty"`
	Provider     string    `json:"provider"`
	Model        string    `json:"model"`
	Events       int64     `json:"events"`
	InputTokens  int64     `json:"tokens_in"`
	OutputTokens int64     `json:"tokens_out"`
	Seconds      float64   `json:"seconds"`
	CostMicros   int64     `json:"cost_micros"`
	Estimated    int64     `json:"estimated"`  // events with estimated counts
	CacheHits    int64     `json:"cache_hits"` // events answered from the cache
}

// UsageStore meters spending. Both stores implement it and pass
// storetest.RunUsage.
type UsageStore interface {
	// Reserve sets holds aside under the reservation id, all or none: when
	// one would pass its limit nothing is reserved and the error is
	// EBUDGET (the budget scope) or EQUOTA (any other), saying what is used
	// up and when it resets. A reservation stops counting at expires (the
	// caller crashed before settling). A reused id is ECONFLICT.
	Reserve(ctx context.Context, id string, holds []Hold, expires time.Time) error
	// Settle ends reservation id: its holds are released, the events are
	// recorded and their cost is added to the spent of the same scopes and
	// periods, even past their limits (actual cost may exceed the worst
	// case) and even after the reservation expired. Settling an id twice
	// records it once. An unknown id is ENOTFOUND.
	Settle(ctx context.Context, id string, events []UsageEvent) error
	// Spent returns what a scope spent in a period and what live
	// reservations hold.
	Spent(ctx context.Context, scope, period string) (spent, reserved int64, err error)
	// PruneUsage removes the records of reservations that expired before
	// before, settled or not, at most limit of them, and returns how many
	// it removed. Settling one afterwards is ENOTFOUND; the ledger and
	// what scopes spent are kept.
	PruneUsage(ctx context.Context, before time.Time, limit int) (int64, error)
	// UsageReport sums the events with from <= At < to by UTC day, user or
	// visitor, provider and model, in that order.
	UsageReport(ctx context.Context, from, to time.Time) ([]UsageRow, error)
}

// UsagePeriod returns the period (UTC month) of t.
func UsagePeriod(t time.Time) string { return t.UTC().Format("2006-01") }

// UsagePeriodEnd returns when a period ends (and its limits reset).
func UsagePeriodEnd(period string) (time.Time, error) {
	t, err := time.Parse("2006-01", period)
	if err != nil || len(period) != 7 {
		return time.Time{}, FieldErrorf(EINVALID, "period", "%q is not a month like 2026-11", period)
	}
	return t.AddDate(0, 1, 0), nil
}

// Exhausted is the error for a hold that does not fit: EBUDGET for the
// budget scope, EQUOTA for others.
func (h Hold) Exhausted() *Error {
	reset := "at the start of next month (UTC)"
	if end, err := UsagePeriodEnd(h.Period); err == nil {
		reset = "on " + end.Format("2006-01-02") + " 00:00 UTC"
	}
	if h.Scope == ScopeBudget {
		return Errorf(EBUDGET, "the assistant's spending budget for %s is used up; it resets %s", h.Period, reset)
	}
	return Errorf(EQUOTA, "the assistant allowance for %s is used up (%s); it resets %s", h.Period, h.Scope, reset)
}

// String is for logs.
func (h Hold) String() string {
	return fmt.Sprintf("%s@%s:%d/%d", h.Scope, h.Period, h.Amount, h.Limit)
}
