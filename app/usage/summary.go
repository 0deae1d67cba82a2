package usage

import (
	"slices"
	"strconv"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// TopSpenders is how many users and visitors a Summary lists.
const TopSpenders = 20

// maxReportSpan bounds a report's range: a longer one would sum a year of
// ledger rows in one request.
const maxReportSpan = 366 * 24 * time.Hour

// Sum is usage added up under one key: a day, a provider and model, a
// user or visitor, or the total.
type Sum struct {
	Key                 string
	Events, Estimated   int64
	CacheHits           int64
	InputTokens, Output int64
	CostUSD             float64
}

// Add counts r in u.
func (u *Sum) Add(r flavormonk.UsageRow) {
	u.Events += r.Events
	u.Estimated += r.Estimated
	u.CacheHits += r.CacheHits
	u.InputTokens += r.InputTokens
	u.Output += r.OutputTokens
	u.CostUSD += float64(r.CostMicros) / 1e6
}

// Summary is a usage report (Store.UsageReport) added up the ways the
// admin page shows it.
type Summary struct {
	Total *Sum // Key "total"
	// Days are keyed 2006-01-02, oldest first.
	Days []*Sum
	// Models are keyed "provider / model", costliest first.
	Models []*Sum
	// Who are keyed "user <id>" or "visitor <hash>": the TopSpenders
	// costliest.
	Who []*Sum
}

// Summarize adds up rows by day, by provider and model, and by who asked.
// Equal costs are ordered by key, so a summary reads the same every time.
func Summarize(rows []flavormonk.UsageRow) Summary {
	byDay, byModel, byWho := map[string]*Sum{}, map[string]*Sum{}, map[string]*Sum{}
	total := &Sum{Key: "total"}
	for _, r := range rows {
		who := "visitor " + r.Visitor
		if r.UserID != 0 {
			who = "user " + strconv.FormatInt(r.UserID, 10)
		}
		for _, g := range []struct {
			m map[string]*Sum
			k string
		}{{byDay, r.Day.Format("2006-01-02")}, {byModel, r.Provider + " / " + r.Model}, {byWho, who}} {
			if g.m[g.k] == nil {
				g.m[g.k] = &Sum{Key: g.k}
			}
			g.m[g.k].Add(r)
		}
		total.Add(r)
	}
	days := costliest(byDay)
	slices.SortFunc(days, func(a, b *Sum) int {
		if a.Key < b.Key {
			return -1
		}
		return 1
	})
	who := costliest(byWho)
	if len(who) > TopSpenders {
		who = who[:TopSpenders]
	}
	return Summary{Total: total, Days: days, Models: costliest(byModel), Who: who}
}

func costliest(m map[string]*Sum) []*Sum {
	out := make([]*Sum, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *Sum) int {
		if a.CostUSD != b.CostUSD {
			if a.CostUSD > b.CostUSD {
				return -1
			}
			return 1
		}
		if a.Key < b.Key {
			return -1
		}
		return 1
	})
	return out
}

// DefaultRange is the report's range when none is asked for: this UTC
// month, today included.
func DefaultRange(now time.Time) (from, to time.Time) {
	now = now.UTC()
	return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC), now.AddDate(0, 0, 1).Truncate(24 * time.Hour)
}

// ReportRange reads a report's range from days like 2026-11-01 (from
// included, to excluded); an empty one keeps DefaultRange's. It is
// EINVALID, on the field "from" or "to", unless to is after from and at
// most a year later.
func ReportRange(now time.Time, fromDay, toDay string) (from, to time.Time, err error) {
	from, to = DefaultRange(now)
	for _, f := range []struct {
		name, v string
		p       *time.Time
	}{{"from", fromDay, &from}, {"to", toDay, &to}} {
		if f.v != "" {
			d, err := time.Parse("2006-01-02", f.v)
			if err != nil {
				return from, to, flavormonk.FieldErrorf(flavormonk.EINVALID, f.name, "must be a day like 2026-11-01")
			}
			*f.p = d
		}
	}
	if !to.After(from) || to.Sub(from) > maxReportSpan {
		return from, to, flavormonk.FieldErrorf(flavormonk.EINVALID, "to", "must be after from, at most a year later")
	}
	return from, to, nil
}
