package usage_test

import (
	"fmt"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/usage"
)

func day(s string) time.Time {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestSummarize(t *testing.T) {
	rows := []flavormonk.UsageRow{
		{Day: day("2028-02-29"), UserID: 7, Provider: "openai", Model: "gpt", Events: 2, InputTokens: 100, OutputTokens: 50, CostMicros: 3_000_000, Estimated: 1},
		{Day: day("2028-02-28"), Visitor: "abc", Provider: "offline", Model: "none", Events: 1, CacheHits: 1},
		{Day: day("2028-02-29"), Visitor: "abc", Provider: "openai", Model: "gpt", Events: 1, CostMicros: 1_000_000},
	}
	for i := range 25 {
		rows = append(rows, flavormonk.UsageRow{Day: day("2028-02-01"), UserID: int64(100 + i), Provider: "replicate", Model: "llama", Events: 1, CostMicros: 10})
	}
	s := usage.Summarize(rows)
	if s.Total.Key != "total" || s.Total.Events != 29 || s.Total.InputTokens != 100 || s.Total.Output != 50 ||
		s.Total.Estimated != 1 || s.Total.CacheHits != 1 || fmt.Sprintf("%.6f", s.Total.CostUSD) != "4.000250" {
		t.Fatalf("total %+v", *s.Total)
	}
	var days []string
	for _, d := range s.Days {
		days = append(days, d.Key)
	}
	if fmt.Sprint(days) != "[2028-02-01 2028-02-28 2028-02-29]" {
		t.Errorf("days %v, want oldest first", days)
	}
	if len(s.Models) != 3 || s.Models[0].Key != "openai / gpt" || s.Models[0].Events != 3 || s.Models[2].Key != "offline / none" {
		t.Errorf("models %+v %+v %+v", *s.Models[0], *s.Models[1], *s.Models[2])
	}
	if len(s.Who) != usage.TopSpenders || s.Who[0].Key != "user 7" || s.Who[1].Key != "visitor abc" || s.Who[2].Key != "user 100" {
		t.Errorf("who: %d, first %q %q %q", len(s.Who), s.Who[0].Key, s.Who[1].Key, s.Who[2].Key)
	}
	if empty := usage.Summarize(nil); empty.Total.Key != "total" || len(empty.Days)+len(empty.Models)+len(empty.Who) != 0 {
		t.Errorf("empty summary %+v", empty)
	}
}

func TestReportRange(t *testing.T) {
	// The last second of a year, not in UTC: the default is December, in UTC.
	now := time.Date(2026, 12, 31, 23, 59, 59, 0, time.FixedZone("CET", 3600)) // 22:59:59 UTC
	from, to, err := usage.ReportRange(now, "", "")
	if err != nil || from != day("2026-12-01") || to != day("2027-01-01") {
		t.Fatalf("default range %v – %v, %v", from, to, err)
	}
	if f, tt := usage.DefaultRange(now); f != from || tt != to {
		t.Errorf("DefaultRange %v – %v", f, tt)
	}
	leap := time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC)
	if from, to, err := usage.ReportRange(leap, "2028-02-01", ""); err != nil || from != day("2028-02-01") || to != day("2028-03-01") {
		t.Errorf("from only: %v – %v, %v", from, to, err)
	}
	if from, to, err := usage.ReportRange(leap, "2027-03-01", "2028-03-01"); err != nil || to.Sub(from) != 366*24*time.Hour {
		t.Errorf("a leap year: %v – %v, %v", from, to, err)
	}
	for _, c := range []struct{ from, to, field, msg string }{
		{"2026-11", "", "from", "must be a day like 2026-11-01"},
		{"", "tomorrow", "to", "must be a day like 2026-11-01"},
		{"x", "y", "from", "must be a day like 2026-11-01"},
		{"2028-02-10", "2028-02-10", "to", "must be after from, at most a year later"},
		{"2028-02-10", "2028-02-01", "to", "must be after from, at most a year later"},
		{"2026-01-01", "2027-01-03", "to", "must be after from, at most a year later"},
	} {
		_, _, err := usage.ReportRange(leap, c.from, c.to)
		fe, ok := err.(*flavormonk.Error)
		if !ok || fe.Code != flavormonk.EINVALID || fe.Field != c.field || fe.Message != c.msg {
			t.Errorf("%q – %q: %v; want EINVALID on %s: %s", c.from, c.to, err, c.field, c.msg)
		}
	}
}
