package web

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// usageSum is one line of the admin usage report.
type usageSum struct {
	Key                 string
	Events, Estimated   int64
	CacheHits           int64
	InputTokens, Output int64
	CostUSD             float64
}

func (u *usageSum) add(r flavormonk.UsageRow) {
	u.Events += r.Events
	u.Estimated += r.Estimated
	u.CacheHits += r.CacheHits
	u.InputTokens += r.InputTokens
	u.Output += r.OutputTokens
	u.CostUSD += float64(r.CostMicros) / 1e6
}

func sums(m map[string]*usageSum) []*usageSum {
	out := make([]*usageSum, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *usageSum) int {
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

// adminUsage reports assistant usage between two days (default: this UTC
// month) by day, by provider and model, and the top spenders.
func (s *Server) adminUsage(c echo.Context) error {
	now := s.now().UTC()
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	tomorrow := now.AddDate(0, 0, 1).Truncate(24 * time.Hour)
	from, to := monthStart, tomorrow
	var perr error
	for _, f := range []struct {
		name string
		p    *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := c.QueryParam(f.name); v != "" {
			d, err := time.Parse("2006-01-02", v)
			if err != nil {
				perr = flavormonk.FieldErrorf(flavormonk.EINVALID, f.name, "must be a day like 2026-11-01")
				break
			}
			*f.p = d
		}
	}
	if perr == nil && (!to.After(from) || to.Sub(from) > 366*24*time.Hour) {
		perr = flavormonk.FieldErrorf(flavormonk.EINVALID, "to", "must be after from, at most a year later")
	}
	if perr != nil {
		// The form again, on this month, with what was wrong.
		return s.formError(c, "admin_usage", perr, map[string]any{"Title": "Assistant usage", "User": currentUser(c),
			"From": monthStart.Format("2006-01-02"), "To": tomorrow.Format("2006-01-02"), "Total": &usageSum{Key: "total"}})
	}
	rows, err := s.store.UsageReport(c.Request().Context(), from, to)
	if err != nil {
		return err
	}
	byDay, byModel, byWho := map[string]*usageSum{}, map[string]*usageSum{}, map[string]*usageSum{}
	total := &usageSum{Key: "total"}
	for _, r := range rows {
		who := "visitor " + r.Visitor
		if r.UserID != 0 {
			who = "user " + strconv.FormatInt(r.UserID, 10)
		}
		for _, g := range []struct {
			m map[string]*usageSum
			k string
		}{{byDay, r.Day.Format("2006-01-02")}, {byModel, r.Provider + " / " + r.Model}, {byWho, who}} {
			if g.m[g.k] == nil {
				g.m[g.k] = &usageSum{Key: g.k}
			}
			g.m[g.k].add(r)
		}
		total.add(r)
	}
	days := sums(byDay)
	slices.SortFunc(days, func(a, b *usageSum) int {
		if a.Key < b.Key {
			return -1
		}
		return 1
	})
	who := sums(byWho)
	if len(who) > 20 {
		who = who[:20]
	}
	return s.render(c, http.StatusOK, "admin_usage", map[string]any{
		"Title": "Assistant usage", "User": currentUser(c), "From": from.Format("2006-01-02"), "To": to.Format("2006-01-02"),
		"Total": total, "Days": days, "Models": sums(byModel), "Who": who,
	})
}
