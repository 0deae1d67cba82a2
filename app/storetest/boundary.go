package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/clocktest"
)

// testUsageBoundaries reserves, settles, expires, prunes and reports at
// each boundary: a reservation made in the last second of a period stays
// in it while it runs into the next one.
func testUsageBoundaries(t *testing.T, s UsageStore, clk *clocktest.Clock) {
	clocktest.InZones(t, func(t *testing.T, zone string) {
		for _, b := range clocktest.Boundaries {
			t.Run(b.Name, func(t *testing.T) {
				if got := flavormonk.UsagePeriod(b.At); got != b.Period {
					t.Fatalf("UsagePeriod(%s) = %s; want %s", b.At, got, b.Period)
				}
				if got := flavormonk.UsagePeriod(b.At.Add(time.Second)); got != b.Next {
					t.Fatalf("UsagePeriod a second later = %s; want %s", got, b.Next)
				}
				ctx := ctxT(t)
				key := fmt.Sprintf("%s-%s", strings.ReplaceAll(zone, "/", "-"), b.Name)
				scope := "user:" + key
				hold := func(period string, amount int64) []flavormonk.Hold {
					return []flavormonk.Hold{{Scope: scope, Period: period, Limit: 1_000, Amount: amount}}
				}
				clk.Set(b.At)
				expires := b.At.Add(15 * time.Minute) // into the next period
				if err := s.Reserve(ctx, key+"-a", hold(b.Period, 1_000), expires); err != nil {
					t.Fatalf("Reserve at %s: %v", b.At, err)
				}
				err := s.Reserve(ctx, key+"-full", hold(b.Period, 1), expires)
				if flavormonk.ErrorCode(err) != flavormonk.EQUOTA || !strings.Contains(err.Error(), b.Reset) {
					t.Fatalf("Reserve in the full period = %v; want EQUOTA resetting on %s", err, b.Reset)
				}
				// A second later the hold still counts in its own period.
				clk.Set(b.At.Add(time.Second))
				if sp, res := spent(t, s, scope, b.Period); sp != 0 || res != 1_000 {
					t.Fatalf("a second after: Spent(%s) = %d, %d; want 0, 1000", b.Period, sp, res)
				}
				if b.Next != b.Period {
					if err := s.Reserve(ctx, key+"-next", hold(b.Next, 1_000), expires.Add(time.Second)); err != nil {
						t.Fatalf("Reserve in the new period %s: %v", b.Next, err)
					}
				}
				// It counts until the instant it expires, not at it.
				clk.Set(expires.Add(-time.Microsecond))
				if _, res := spent(t, s, scope, b.Period); res != 1_000 {
					t.Fatalf("a microsecond before expiry: reserved %d; want 1000", res)
				}
				clk.Set(expires)
				if _, res := spent(t, s, scope, b.Period); res != 0 {
					t.Fatalf("at expiry: reserved %d; want 0", res)
				}
				// The late settlement counts in the period the call began in.
				ev := flavormonk.UsageEvent{At: b.At, Visitor: key, Provider: "openai", Model: "gpt-4o-mini", InputTokens: 10, CostMicros: 700}
				if err := s.Settle(ctx, key+"-a", []flavormonk.UsageEvent{ev}); err != nil {
					t.Fatalf("Settle after expiry: %v", err)
				}
				if sp, _ := spent(t, s, scope, b.Period); sp != 700 {
					t.Fatalf("Spent(%s) after settling = %d; want 700", b.Period, sp)
				}
				if b.Next != b.Period {
					if sp, _ := spent(t, s, scope, b.Next); sp != 0 {
						t.Fatalf("Spent(%s) after settling = %d; want 0 (the cost is the old period's)", b.Next, sp)
					}
				}
				// Pruning takes what expired strictly before its instant.
				if err := s.Reserve(ctx, key+"-p", hold(b.Period, 0), expires.Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
				clk.Set(expires.Add(2 * time.Hour))
				if _, err := s.PruneUsage(ctx, expires.Add(time.Hour), 1_000); err != nil {
					t.Fatal(err)
				}
				if err := s.Settle(ctx, key+"-p", nil); err != nil {
					t.Fatalf("a reservation expiring at the prune instant was pruned: %v", err)
				}
				if err := s.Settle(ctx, key+"-a", nil); flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
					t.Fatalf("a reservation expired before the prune instant: Settle = %v; want ENOTFOUND (pruned)", err)
				}
				// The monthly report: the event is in its UTC month and on
				// its UTC day.
				start, _ := time.Parse("2006-01", b.Period)
				end, _ := flavormonk.UsagePeriodEnd(b.Period)
				rows, err := s.UsageReport(ctx, start, end)
				if err != nil {
					t.Fatal(err)
				}
				var mine []flavormonk.UsageRow
				for _, r := range rows {
					if r.Visitor == key {
						mine = append(mine, r)
					}
				}
				if len(mine) != 1 || !mine[0].Day.Equal(b.Day) || mine[0].Day.Location() != time.UTC || mine[0].CostMicros != 700 {
					t.Fatalf("report of %s = %+v; want one row on %s UTC costing 700", b.Period, mine, b.Day.Format("2006-01-02"))
				}
				if b.Next != b.Period {
					next, _ := flavormonk.UsagePeriodEnd(b.Next)
					rows, err := s.UsageReport(ctx, end, next)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range rows {
						if r.Visitor == key {
							t.Fatalf("report of %s holds the event of %s: %+v", b.Next, b.Period, r)
						}
					}
				}
			})
		}
	})
}

// testVisitorBoundaries: visitor sessions are stamped with the store's
// clock, in UTC, and expire strictly before the cut, at every boundary.
func testVisitorBoundaries(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	clocktest.InZones(t, func(t *testing.T, zone string) {
		for _, b := range clocktest.Boundaries {
			t.Run(b.Name, func(t *testing.T) {
				ctx := ctxT(t)
				clk.Set(b.At.Add(-time.Hour))
				v, err := s.CreateVisitor(ctx)
				if err != nil {
					t.Fatal(err)
				}
				clk.Set(b.At)
				if err := s.TouchVisitor(ctx, v.ID); err != nil {
					t.Fatal(err)
				}
				got, err := s.Visitor(ctx, v.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !got.CreatedAt.Equal(b.At.Add(-time.Hour)) || !got.SeenAt.Equal(b.At) || got.SeenAt.Location() != time.UTC {
					t.Fatalf("visitor = created %s, seen %s; want %s and %s in UTC", got.CreatedAt, got.SeenAt, b.At.Add(-time.Hour), b.At.UTC())
				}
				if _, err := s.DeleteVisitorsBefore(ctx, b.At); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Visitor(ctx, v.ID); err != nil {
					t.Fatalf("a visitor seen at the cut was deleted: %v", err)
				}
				if _, err := s.DeleteVisitorsBefore(ctx, b.At.Add(time.Microsecond)); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Visitor(ctx, v.ID); flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
					t.Fatalf("a visitor seen before the cut = %v; want ENOTFOUND", err)
				}
			})
		}
	})
}

// testSessionBoundaries: session times written at a boundary, in any
// zone, read back as the same instants in UTC; CreatedAt and SeenAt
// default to the store's clock.
func testSessionBoundaries(t *testing.T, s AccountsStore, clk *clocktest.Clock) {
	u := newUser(t, s, "boundary@example.com")
	clocktest.InZones(t, func(t *testing.T, zone string) {
		for _, b := range clocktest.Boundaries {
			t.Run(b.Name, func(t *testing.T) {
				ctx := ctxT(t)
				clk.Set(b.At)
				hash := "boundary-" + strings.ReplaceAll(zone, "/", "-") + "-" + b.Name
				expires := b.At.Add(time.Second)
				if err := s.CreateSession(ctx, &flavormonk.Session{TokenHash: hash, UserID: u.ID, CSRF: "c", ExpiresAt: expires}); err != nil {
					t.Fatal(err)
				}
				ss, err := s.Session(ctx, hash)
				if err != nil {
					t.Fatal(err)
				}
				if !ss.CreatedAt.Equal(b.At) || !ss.SeenAt.Equal(b.At) || !ss.ExpiresAt.Equal(expires) || ss.ExpiresAt.Location() != time.UTC {
					t.Fatalf("session = created %s, seen %s, expires %s; want %s, %s, %s in UTC", ss.CreatedAt, ss.SeenAt, ss.ExpiresAt, b.At, b.At, expires)
				}
				seen := b.At.Add(500 * time.Millisecond)
				if err := s.TouchSession(ctx, hash, seen); err != nil {
					t.Fatal(err)
				}
				if ss, err := s.Session(ctx, hash); err != nil || !ss.SeenAt.Equal(seen) {
					t.Fatalf("touched session = %+v, %v; want seen at %s", ss, err, seen)
				}
			})
		}
	})
}

// FullStore is a store with accounts and usage metering.
type FullStore = interface {
	flavormonk.Store
	flavormonk.AccountStore
	flavormonk.UsageStore
}

// RunBoundaries runs only the boundary tests of Run, RunUsage and
// RunAccounts, for a store opened in a setting of its own (a Postgres
// session in another time zone).
func RunBoundaries(t *testing.T, open func(t *testing.T, clk flavormonk.Clock) FullStore) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s FullStore, clk *clocktest.Clock)
	}{
		{"Usage", func(t *testing.T, s FullStore, clk *clocktest.Clock) { testUsageBoundaries(t, s, clk) }},
		{"Visitors", func(t *testing.T, s FullStore, clk *clocktest.Clock) { testVisitorBoundaries(t, s, clk) }},
		{"Sessions", func(t *testing.T, s FullStore, clk *clocktest.Clock) { testSessionBoundaries(t, s, clk) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktest.New(Start)
			s := open(t, clk.Now)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s, clk)
		})
	}
}
