package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/clocktest"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
	"github.com/flavormonk/flavormonk/app/postgres"
	"github.com/flavormonk/flavormonk/app/sqlite"
)

type usageTestStore interface {
	flavormonk.UsageStore
	flavormonk.AccountStore
	Close() error
}

// fillLedger records three days of calls for a user and a visitor.
func fillLedger(t *testing.T, s usageTestStore) {
	t.Helper()
	ctx := context.Background()
	u := &flavormonk.User{Email: "cook@example.com", PasswordHash: "h"}
	if err := s.CreateUser(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	day := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
	events := []flavormonk.UsageEvent{
		{At: day(2, 10), UserID: u.ID, Provider: "openai", Model: "gpt-4o-mini", InputTokens: 1000, OutputTokens: 200, CostMicros: 270},
		{At: day(2, 23), UserID: u.ID, Provider: "replicate", Model: "meta/meta-llama-3-70b-instruct", InputTokens: 2000, OutputTokens: 100, Seconds: 2.5, CostMicros: 1575, Estimated: true},
		{At: day(3, 8), Visitor: "a1b2c3", Provider: "openai", Model: "gpt-4o-mini", InputTokens: 500, OutputTokens: 50, CostMicros: 105},
		{At: day(3, 9), Visitor: "a1b2c3", Provider: "openai", Model: "gpt-4o-mini", CacheHit: true},
		{At: day(30, 23), UserID: u.ID, Provider: "openai", Model: "gpt-4o-mini", InputTokens: 10, OutputTokens: 10, CostMicros: 8},
		{At: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), UserID: u.ID, Provider: "openai", Model: "gpt-4o-mini", InputTokens: 1, CostMicros: 1},
	}
	h := []flavormonk.Hold{{Scope: flavormonk.ScopeBudget, Period: "2026-11", Limit: flavormonk.NoLimit, Amount: 1}}
	if err := s.Reserve(ctx, "r1", h, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Settle(ctx, "r1", events); err != nil {
		t.Fatal(err)
	}
}

func testUsageCLI(t *testing.T) {
	ctx := context.Background()
	var out, errb bytes.Buffer
	run1 := func(args ...string) string {
		t.Helper()
		out.Reset()
		if err := run(ctx, append([]string{"usage"}, args...), &out, &errb); err != nil {
			t.Fatalf("usage %v: %v", args, err)
		}
		return out.String()
	}

	// By day: November only, the December event left out.
	text := run1("--from", "2026-11-01", "--to", "2026-11-30")
	for _, want := range []string{
		"assistant usage 2026-11-01 to 2026-11-30 (UTC), by day",
		"2026-11-02", "2026-11-03", "2026-11-30",
		"0.001845", // day 2: 270 + 1575 micro-USD
		"0.001958", // the total
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report by day lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "2026-12-01") {
		t.Errorf("report includes a day after --to:\n%s", text)
	}

	// JSON by user and model.
	var rep struct {
		By   []string `json:"by"`
		Rows []struct {
			User        string `json:"user"`
			Model       string `json:"model"`
			Events      int64  `json:"events"`
			CostMicros  int64  `json:"cost_micros"`
			InputTokens int64  `json:"tokens_in"`
			Estimated   int64  `json:"estimated"`
			CacheHits   int64  `json:"cache_hits"`
			CostUSD     string `json:"cost_usd"`
		} `json:"rows"`
		Total struct {
			Events     int64
			CostMicros int64 `json:"cost_micros"`
			CacheHits  int64 `json:"cache_hits"`
		} `json:"total"`
	}
	if err := json.Unmarshal([]byte(run1("--from", "2026-11-01", "--to", "2026-12-31", "--by", "model, user", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if strings.Join(rep.By, ",") != "user,model" || len(rep.Rows) != 3 {
		t.Fatalf("JSON report = %+v", rep)
	}
	if r := rep.Rows[0]; !strings.HasPrefix(r.User, "user:") || !strings.HasSuffix(r.User, " cook@example.com") || r.Model != "gpt-4o-mini" || r.Events != 3 || r.CostMicros != 279 || r.CostUSD != "0.000279" {
		t.Errorf("first row = %+v", r)
	}
	if r := rep.Rows[1]; r.Model != "meta/meta-llama-3-70b-instruct" || r.Estimated != 1 {
		t.Errorf("second row = %+v", r)
	}
	if r := rep.Rows[2]; r.User != "visitor:a1b2c3" || r.Events != 2 || r.CacheHits != 1 {
		t.Errorf("visitor row = %+v", r)
	}
	if rep.Total.Events != 6 || rep.Total.CostMicros != 1959 || rep.Total.CacheHits != 1 {
		t.Errorf("total = %+v", rep.Total)
	}

	// Bad input: a clear error and no report.
	for _, args := range [][]string{
		{"--from", "2026-13-01"},
		{"--to", "yesterday"},
		{"--from", "2026-11-05", "--to", "2026-11-04"},
		{"--by", "country"},
		{"--by", ","},
	} {
		out.Reset()
		err := run(ctx, append([]string{"usage"}, args...), &out, &errb)
		if flavormonk.ErrorCode(err) != flavormonk.EINVALID || out.Len() != 0 {
			t.Errorf("usage %v = %v, output %q; want EINVALID and nothing printed", args, err, out.String())
		}
	}
	if err := run(ctx, []string{"usage", "extra"}, &out, &errb); err == nil {
		t.Error("usage with an argument accepted")
	}
	errb.Reset()
	if err := run(ctx, []string{"usage", "-h"}, &out, &errb); err != errHelp || !strings.Contains(errb.String(), "--by KEYS") {
		t.Errorf("usage -h = %v, %q", err, errb.String())
	}
}

func TestUsageCLISQLite(t *testing.T) {
	sqliteLedger(t)
	testUsageCLI(t)
}

// sqliteLedger fills a SQLite store's usage ledger and points the CLI at it.
func sqliteLedger(t *testing.T) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "usage.db")
	t.Setenv("FLAVORMONK_SQLITE_PATH", path)
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	fillLedger(t, s)
	s.Close()
}

func TestUsageCLIPostgres(t *testing.T) {
	dsn := servicetest.PostgresDatabase(t)
	t.Setenv("FLAVORMONK_STORE", "postgres")
	t.Setenv("FLAVORMONK_POSTGRES_URL", dsn)
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	fillLedger(t, s)
	s.Close()
	testUsageCLI(t)
}

// TestUsageCLIDefaultsToUTCMonth: without --from and --to the report is
// the clock's UTC month up to its UTC day, in any local zone; half an
// hour past midnight on 1 December in Berlin is still November.
func TestUsageCLIDefaultsToUTCMonth(t *testing.T) {
	sqliteLedger(t)
	clocktest.InZones(t, func(t *testing.T, zone string) {
		for _, c := range []struct {
			name     string
			at       time.Time
			heading  string
			has, not string
		}{
			{"LastSecondOfNovember", time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC), "2026-11-01 to 2026-11-30", "2026-11-30", "2026-12-01"},
			{"BerlinAlreadyDecember", time.Date(2026, 12, 1, 0, 30, 0, 0, clocktest.Berlin), "2026-11-01 to 2026-11-30", "2026-11-30", "2026-12-01"},
			{"FirstSecondOfDecember", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), "2026-12-01 to 2026-12-01", "2026-12-01", "2026-11-30"},
		} {
			t.Run(c.name, func(t *testing.T) {
				var out, errb bytes.Buffer
				if err := runAt(context.Background(), clocktest.New(c.at).Now, []string{"usage"}, &out, &errb); err != nil {
					t.Fatal(err)
				}
				text := out.String()
				if !strings.Contains(text, "assistant usage "+c.heading+" (UTC)") || !strings.Contains(text, c.has) || strings.Contains(text, c.not) {
					t.Fatalf("usage at %s: want %s with %s and without %s:\n%s", c.at, c.heading, c.has, c.not, text)
				}
			})
		}
	})
}
