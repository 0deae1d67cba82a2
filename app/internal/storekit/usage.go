package storekit

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Limits on usage input, the same in both stores.
const (
	MaxHolds       = 8
	MaxUsageEvents = 100   // events per settlement (a failover chain, retries)
	MaxAmount      = 1e15  // micro-USD: a billion dollars
	maxUsageText   = 256   // ids, scopes, providers, models, visitor keys
	maxTokens      = 1e9   // per event
	maxSeconds     = 1e7   // per event
	maxReportDays  = 36600 // a century
)

func checkUsageText(field, v string, required bool) error {
	switch {
	case v == "" && required:
		return flavormonk.FieldErrorf(flavormonk.EINVALID, field, "%s is required", field)
	case len(v) > maxUsageText:
		return flavormonk.FieldErrorf(flavormonk.EINVALID, field, "%s is longer than %d bytes", field, maxUsageText)
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return flavormonk.FieldErrorf(flavormonk.EINVALID, field, "%s must be UTF-8 text without NUL characters", field)
	}
	return nil
}

// CheckReserve validates a reservation and returns its holds sorted by
// scope and period: every writer locks scopes in that order, so two
// reservations never wait on each other in a cycle.
func CheckReserve(id string, holds []flavormonk.Hold, expires, now time.Time) ([]flavormonk.Hold, error) {
	if err := checkUsageText("id", id, true); err != nil {
		return nil, err
	}
	if len(holds) == 0 || len(holds) > MaxHolds {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "holds", "a reservation needs 1 to %d holds, not %d", MaxHolds, len(holds))
	}
	if !expires.After(now) {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "expires", "the reservation expires in the past (%s)", expires.UTC().Format(time.RFC3339))
	}
	hs := slices.Clone(holds)
	for i, h := range hs {
		field := fmt.Sprintf("holds[%d]", i)
		if err := checkUsageText(field+".scope", h.Scope, true); err != nil {
			return nil, err
		}
		if _, err := flavormonk.UsagePeriodEnd(h.Period); err != nil {
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, field+".period", "%q is not a month like 2026-11", h.Period)
		}
		if h.Amount < 0 || h.Amount > MaxAmount {
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, field+".amount", "amount %d is outside 0..%d micro-USD", h.Amount, int64(MaxAmount))
		}
		if h.Limit < 0 {
			hs[i].Limit = flavormonk.NoLimit
		}
	}
	slices.SortFunc(hs, func(a, b flavormonk.Hold) int {
		if c := strings.Compare(a.Scope, b.Scope); c != 0 {
			return c
		}
		return strings.Compare(a.Period, b.Period)
	})
	for i := 1; i < len(hs); i++ {
		if hs[i].Scope == hs[i-1].Scope && hs[i].Period == hs[i-1].Period {
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "holds", "scope %q and period %s are held twice", hs[i].Scope, hs[i].Period)
		}
	}
	return hs, nil
}

// Fits reports whether a hold fits beside what its scope spent and
// reserved. A zero amount always fits: it cannot overshoot anything.
func Fits(h flavormonk.Hold, spent, reserved int64) bool {
	if h.Amount == 0 || h.Limit < 0 {
		return true
	}
	// All terms are bounded (amounts by MaxAmount, sums by as many holds
	// as a period can take), but guard the addition anyway.
	total := spent + reserved
	if total < spent || total+h.Amount < total {
		return false
	}
	return total+h.Amount <= h.Limit
}

// CheckSettle validates and normalises the events of a settlement: At
// defaults to now and is kept to the microsecond in UTC.
func CheckSettle(id string, events []flavormonk.UsageEvent, now time.Time) ([]flavormonk.UsageEvent, int64, error) {
	if err := checkUsageText("id", id, true); err != nil {
		return nil, 0, err
	}
	if len(events) > MaxUsageEvents {
		return nil, 0, flavormonk.FieldErrorf(flavormonk.ETOOLARGE, "events", "at most %d events per settlement, not %d", MaxUsageEvents, len(events))
	}
	out := slices.Clone(events)
	var total int64
	for i := range out {
		e := &out[i]
		field := fmt.Sprintf("events[%d]", i)
		if e.At.IsZero() {
			e.At = now
		}
		e.At = e.At.UTC().Truncate(time.Microsecond)
		if e.At.Unix() < 0 || e.At.Year() > 9999 {
			return nil, 0, flavormonk.FieldErrorf(flavormonk.EINVALID, field+".at", "time %s is out of range", e.At)
		}
		if err := checkUsageText(field+".provider", e.Provider, true); err != nil {
			return nil, 0, err
		}
		if err := checkUsageText(field+".model", e.Model, false); err != nil {
			return nil, 0, err
		}
		if err := checkUsageText(field+".visitor", e.Visitor, false); err != nil {
			return nil, 0, err
		}
		switch {
		case e.UserID < 0:
			return nil, 0, flavormonk.FieldErrorf(flavormonk.EINVALID, field+".user_id", "user id %d is negative", e.UserID)
		case e.UserID != 0 && e.Visitor != "":
			return nil, 0, flavormonk.FieldErrorf(flavormonk.EINVALID, field, "an event belongs to a user or a visitor, not both")
		case e.InputTokens < 0 || e.InputTokens > maxTokens || e.OutputTokens < 0 || e.OutputTokens > maxTokens:
			return nil, 0, flavormonk.FieldErrorf(flavormonk.EINVALID, field, "token counts must be in 0..%d", int64(maxTokens))
		case math.IsNaN(e.Seconds) || e.Seconds < 0 || e.Seconds > maxSeconds:
			return nil, 0, flavormonk.FieldErrorf(flavormonk.EINVALID, field+".seconds", "seconds must be in 0..%d", int64(maxSeconds))
		case e.CostMicros < 0 || e.CostMicros > MaxAmount:
			return nil, 0, flavormonk.FieldErrorf(flavormonk.EINVALID, field+".cost", "cost %d is outside 0..%d micro-USD", e.CostMicros, int64(MaxAmount))
		}
		total += e.CostMicros
	}
	return out, total, nil
}

// CheckReport validates a report's range.
func CheckReport(from, to time.Time) error {
	if !to.After(from) {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "to", "the end (%s) must come after the start (%s)", to.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
	}
	if to.Sub(from) > maxReportDays*24*time.Hour || from.Year() < 1 || to.Year() > 9999 {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "from", "the range is too long")
	}
	return nil
}
