package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/clocktest"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
	"github.com/flavormonk/flavormonk/app/sqlite"
	metering "github.com/flavormonk/flavormonk/app/usage"
)

// TestExpireVisitorsByTheClock: Main expires visitor sessions unseen for
// 180 days of its clock, not of the wall clock: at a boundary instant a
// visitor last seen 180 days and a second before is removed, one seen
// 180 days before to the second is kept.
func TestExpireVisitorsByTheClock(t *testing.T) {
	for _, b := range clocktest.Boundaries {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			clk := clocktest.New(b.At.Add(-visitorTTL - time.Second))
			st, err := sqlite.Open(ctx, ":memory:", sqlite.WithClock(clk.Now))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			old, err := st.CreateVisitor(ctx)
			if err != nil {
				t.Fatal(err)
			}
			clk.Add(time.Second)
			kept, err := st.CreateVisitor(ctx)
			if err != nil {
				t.Fatal(err)
			}
			clk.Set(b.At)
			m := &Main{Clock: clk.Now, Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			bg, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); m.expireVisitors(bg) }()
			defer func() { cancel(); <-done }()
			deadline := time.Now().Add(5 * time.Second) // real time: waits for the goroutine
			for {
				if _, err := st.Visitor(ctx, old.ID); flavormonk.ErrorCode(err) == flavormonk.ENOTFOUND {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("a visitor unseen for 180 days and a second was not expired")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := st.Visitor(ctx, kept.ID); err != nil {
				t.Fatalf("a visitor unseen for exactly 180 days was expired: %v", err)
			}
		})
	}
}

// TestAskAtMonthEnd runs the whole app on a clock standing in the last
// second of November: Main gives its Clock to the store, the meter and the
// server, so the answer is reserved, settled and recorded in November on
// both stores, whatever the date the suite runs.
func TestAskAtMonthEnd(t *testing.T) {
	at := time.Date(2026, 11, 30, 23, 59, 59, 0, time.UTC)
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			env := map[string]string{}
			if store == "postgres" {
				env["FLAVORMONK_STORE"], env["FLAVORMONK_POSTGRES_URL"] = "postgres", servicetest.PostgresDatabase(t)
			}
			clk := clocktest.New(at)
			m := startMain(t, testConfig(t, env), func(m *Main) { m.Clock = clk.Now })
			vid := visitorID(t, m)
			if v, err := m.Store.Visitor(t.Context(), vid); err != nil || !v.CreatedAt.Equal(at) {
				t.Fatalf("visitor = %+v, %v; want created at %s", v, err, at)
			}
			r := do(t, "POST", m.URL()+"/api/v1/ask", strings.NewReader(`{"question":"How do I make red lentil dal?"}`),
				map[string]string{"Content-Type": "application/json", "Cookie": "fm_visitor=" + vid})
			if r.status != 200 || !strings.Contains(string(r.body), "event: done") {
				t.Fatalf("ask: %d %s", r.status, r.body)
			}
			us := m.Store.(flavormonk.UsageStore)
			rows, err := us.UsageReport(t.Context(), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || rows[0].Visitor != metering.VisitorKey(vid) || !rows[0].Day.Equal(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("November's ledger = %+v; want the answer on 2026-11-30", rows)
			}
			if _, res, err := us.Spent(t.Context(), "visitor:"+metering.VisitorKey(vid), "2026-11"); err != nil || res != 0 {
				t.Fatalf("the November reservation still holds %d (%v); want it settled", res, err)
			}
		})
	}
}
