package storetest

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/clocktest"
)

// UsageStore is a store with usage metering, as RunUsage tests it.
type UsageStore = interface {
	flavormonk.Store
	flavormonk.UsageStore
}

// RunUsage runs the flavormonk.UsageStore conformance suite. open must
// return a new, empty store on clk for each call; RunUsage closes it.
//
// Semantics the suite pins down, beyond the UsageStore documentation:
//   - 50 concurrent reservations against limits that fit exactly 10: exactly
//     10 succeed, whichever scope (budget or user) is the tight one.
//   - A zero amount is never refused, even in an exhausted scope.
//   - Settle adds the events' cost to every scope of the reservation, past
//     its limit if need be, also after the reservation expired.
//   - PruneUsage removes expired reservation records in batches and
//     leaves live ones, the ledger and what scopes spent.
//   - Invalid input is EINVALID (ETOOLARGE for too many events) and
//     changes nothing.
func RunUsage(t *testing.T, open func(t *testing.T, clk flavormonk.Clock) UsageStore) {
	o := func(t *testing.T, clk flavormonk.Clock) UsageStore {
		t.Helper()
		s := open(t, clk)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s UsageStore, clk *clocktest.Clock)
	}{
		{"ReserveSettle", testReserveSettle},
		{"AllOrNothing", testReserveAllOrNothing},
		{"ConcurrentBudgetExact", func(t *testing.T, s UsageStore, clk *clocktest.Clock) { testConcurrentReserve(t, s, clk, true) }},
		{"ConcurrentQuotaExact", func(t *testing.T, s UsageStore, clk *clocktest.Clock) { testConcurrentReserve(t, s, clk, false) }},
		{"SettleTwice", testSettleTwice},
		{"ConcurrentSettle", testConcurrentSettle},
		{"SettleUnknown", testSettleUnknown},
		{"Expiry", testReserveExpiry},
		{"Overshoot", testOvershoot},
		{"Periods", testPeriods},
		{"ReserveInvalid", testReserveInvalid},
		{"SettleInvalid", testSettleInvalid},
		{"Report", testUsageReport},
		{"Prune", testPruneUsage},
		{"Boundaries", testUsageBoundaries},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktest.New(Start)
			tc.fn(t, o(t, clk.Now), clk)
		})
	}
}

const testPeriod = "2026-11"

func later(clk *clocktest.Clock) time.Time { return clk.Now().Add(time.Hour) }

func spent(t *testing.T, s UsageStore, scope, period string) (int64, int64) {
	t.Helper()
	sp, res, err := s.Spent(ctxT(t), scope, period)
	if err != nil {
		t.Fatalf("Spent(%s, %s): %v", scope, period, err)
	}
	return sp, res
}

func wantSpent(t *testing.T, s UsageStore, scope string, wantSp, wantRes int64) {
	t.Helper()
	sp, res := spent(t, s, scope, testPeriod)
	if sp != wantSp || res != wantRes {
		t.Fatalf("Spent(%s) = spent %d, reserved %d; want %d, %d", scope, sp, res, wantSp, wantRes)
	}
}

func holds(budgetLimit, userLimit, amount int64, user string) []flavormonk.Hold {
	return []flavormonk.Hold{
		{Scope: user, Period: testPeriod, Limit: userLimit, Amount: amount},
		{Scope: flavormonk.ScopeBudget, Period: testPeriod, Limit: budgetLimit, Amount: amount},
	}
}

func event(cost int64) flavormonk.UsageEvent {
	return flavormonk.UsageEvent{UserID: 42, Provider: "openai", Model: "gpt-4o-mini", InputTokens: 100, OutputTokens: 20, CostMicros: cost}
}

func testReserveSettle(t *testing.T, s UsageStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	wantSpent(t, s, "user:42", 0, 0)
	if err := s.Reserve(ctx, "r1", holds(10_000, 1_000, 600, "user:42"), later(clk)); err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	wantSpent(t, s, "user:42", 0, 600)
	wantSpent(t, s, flavormonk.ScopeBudget, 0, 600)
	// The user's 1000 cannot take a second 600 while the first is held.
	err := s.Reserve(ctx, "r2", holds(10_000, 1_000, 600, "user:42"), later(clk))
	if flavormonk.ErrorCode(err) != flavormonk.EQUOTA || !strings.Contains(err.Error(), "2026-12-01") {
		t.Fatalf("second Reserve = %v; want EQUOTA saying it resets on 2026-12-01", err)
	}
	if err := s.Settle(ctx, "r1", []flavormonk.UsageEvent{event(250), event(50)}); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	wantSpent(t, s, "user:42", 300, 0)
	wantSpent(t, s, flavormonk.ScopeBudget, 300, 0)
	if err := s.Reserve(ctx, "r2", holds(10_000, 1_000, 600, "user:42"), later(clk)); err != nil {
		t.Fatalf("Reserve after settling: %v", err)
	}
	wantSpent(t, s, "user:42", 300, 600)
	// A settlement without events releases the hold and spends nothing.
	if err := s.Settle(ctx, "r2", nil); err != nil {
		t.Fatalf("Settle without events: %v", err)
	}
	wantSpent(t, s, "user:42", 300, 0)
	// Exactly at the limit fits; one more micro-dollar does not.
	if err := s.Reserve(ctx, "r3", holds(10_000, 1_000, 700, "user:42"), later(clk)); err != nil {
		t.Fatalf("Reserve up to the limit: %v", err)
	}
	if err := s.Reserve(ctx, "r4", holds(10_000, 1_000, 1, "user:42"), later(clk)); flavormonk.ErrorCode(err) != flavormonk.EQUOTA {
		t.Fatalf("Reserve over the limit = %v; want EQUOTA", err)
	}
	// A zero amount always fits; other scopes are unaffected.
	if err := s.Reserve(ctx, "r5", holds(10_000, 1_000, 0, "user:42"), later(clk)); err != nil {
		t.Fatalf("Reserve of zero in a full scope: %v", err)
	}
	if err := s.Reserve(ctx, "r6", holds(10_000, 1_000, 1_000, "visitor:abc"), later(clk)); err != nil {
		t.Fatalf("Reserve for another scope: %v", err)
	}
	if err := s.Reserve(ctx, "r6", holds(10_000, 1_000, 1, "visitor:xyz"), later(clk)); flavormonk.ErrorCode(err) != flavormonk.ECONFLICT {
		t.Fatalf("reused id = %v; want ECONFLICT", err)
	}
	wantSpent(t, s, "visitor:xyz", 0, 0)
	wantSpent(t, s, flavormonk.ScopeBudget, 300, 1_700)
}

func testReserveAllOrNothing(t *testing.T, s UsageStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	// The budget refuses: the user's hold must not stay behind.
	err := s.Reserve(ctx, "a", holds(500, 10_000, 600, "user:1"), later(clk))
	var fe *flavormonk.Error
	if !errors.As(err, &fe) || fe.Code != flavormonk.EBUDGET || !strings.Contains(fe.Message, "budget") || !strings.Contains(fe.Message, "resets") {
		t.Fatalf("Reserve over the budget = %v; want EBUDGET saying when it resets", err)
	}
	wantSpent(t, s, "user:1", 0, 0)
	wantSpent(t, s, flavormonk.ScopeBudget, 0, 0)
	// The user refuses: the budget's hold must not stay behind.
	if err := s.Reserve(ctx, "b", holds(10_000, 500, 600, "user:1"), later(clk)); flavormonk.ErrorCode(err) != flavormonk.EQUOTA {
		t.Fatalf("Reserve over the quota = %v; want EQUOTA", err)
	}
	wantSpent(t, s, flavormonk.ScopeBudget, 0, 0)
	// The failed ids are free to use.
	if err := s.Reserve(ctx, "a", holds(10_000, 10_000, 600, "user:1"), later(clk)); err != nil {
		t.Fatalf("Reserve with the id of a refused reservation: %v", err)
	}
	// Negative limits mean none.
	if err := s.Reserve(ctx, "c", holds(flavormonk.NoLimit, -5, 1e12, "user:2"), later(clk)); err != nil {
		t.Fatalf("Reserve without limits: %v", err)
	}
}

// testConcurrentReserve races 50 reservations of 100 against a limit of
// 1000, on the budget (each caller its own user) or on one user's quota.
func testConcurrentReserve(t *testing.T, s UsageStore, clk *clocktest.Clock, budget bool) {
	ctx := ctxT(t)
	const n, amount, limit = 50, 100, 1_000
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var hs []flavormonk.Hold
			want := flavormonk.EQUOTA
			if budget {
				hs = holds(limit, flavormonk.NoLimit, amount, fmt.Sprintf("user:%d", i))
				want = flavormonk.EBUDGET
			} else {
				hs = holds(flavormonk.NoLimit, limit, amount, "user:7")
			}
			err := s.Reserve(ctx, fmt.Sprintf("race-%d", i), hs, later(clk))
			switch {
			case err == nil:
				ok.Add(1)
			case flavormonk.ErrorCode(err) == want:
				refused.Add(1)
			default:
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Reserve: %v", err)
	}
	if ok.Load() != limit/amount || refused.Load() != n-limit/amount {
		t.Fatalf("%d reservations succeeded and %d were refused; want exactly %d and %d", ok.Load(), refused.Load(), limit/amount, n-limit/amount)
	}
	scope := "user:7"
	if budget {
		scope = flavormonk.ScopeBudget
	}
	wantSpent(t, s, scope, 0, limit)
}

func testSettleTwice(t *testing.T, s UsageStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	if err := s.Reserve(ctx, "r", holds(10_000, 10_000, 500, "user:42"), later(clk)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Settle(ctx, "r", []flavormonk.UsageEvent{event(123)}); err != nil {
			t.Fatalf("Settle #%d: %v", i+1, err)
		}
	}
	wantSpent(t, s, "user:42", 123, 0)
	rows := report(t, s, clk)
	if len(rows) != 1 || rows[0].Events != 1 || rows[0].CostMicros != 123 {
		t.Fatalf("report after settling twice = %+v; want one event of 123", rows)
	}
}

func testConcurrentSettle(t *testing.T, s UsageStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	if err := s.Reserve(ctx, "r", holds(10_000, 10_000, 500, "user:42"), later(clk)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Settle(ctx, "r", []flavormonk.UsageEvent{event(77)}); err != nil {
				t.Errorf("Settle: %v", err)
			}
		}()
	}
	wg.Wait()
	wantSpent(t, s, "user:42", 77, 0)
	wantSpent(t, s, flavormonk.ScopeBudget, 77, 0)
	if rows := report(t, s, clk); len(rows) != 1 || rows[0].Events != 1 {
		t.Fatalf("report after concurrent settles = %+v; want one event", rows)
	}
}

func testSettleUnknown(t *testing.T, s UsageStore, clk *clocktest.Clock) {
	if err := s.Settle(ctxT(t), "nope", []flavormonk.UsageEvent{event(1)}); flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
		t.Fatalf("Settle of an unknown id = %v; want ENOTFOUND", err)
	}
	if rows := report(t, s, clk); len(rows) != 0 {
		t.Fatalf("report = %+v; want nothing recorded", rows)
	}
}

func testReserveExpiry(t *testing.T, s UsageStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	soon := clk.Now().Add(300 * time.Millisecond)
	if err := s.Reserve(ctx, "crashed", holds(10_000, 1_000, 1_000, "user:42"), soon); err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve(ctx, "r", holds(10_000, 1_000, 1, "user:42"), later(clk)); flavormonk.ErrorCode(err) != flavormonk.EQUOTA {
		t.Fatalf("Reserve beside a live hold = %v; want EQUOTA", err)
	}
	clk.Set(soon.Add(50 * time.Millisecond))
	wantSpent(t, s, "user:42", 0, 0)
	if err := s.Reserve(ctx, "r", holds(10_000, 1_000, 1_000, "user:42"), later(clk)); err != nil {
		t.Fatalf("Reserve after the hold expired: %v", err)
	}
	// The late call still settles and its cost counts.
	if err := s.Settle(ctx, "crashed", []flavormonk.UsageEvent{event(400)}); err != nil {
		t.Fatalf("Settle of an expired reservation: %v", err)
	}
	wantSpent(t, s, "user:42", 400, 1_000)
}

func testOvershoot(t *testing.T, s UsageStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	if err := s.Reserve(ctx, "r", holds(10_000, 1_000, 100, "user:42"), later(clk)); err != nil {
		t.Fatal(err)
	}
	// The worst case was wrong: the real cost is counted anyway.
	if err := s.Settle(ctx, "r", []flavormonk.UsageEvent{event(1_500)}); err != nil {
		t.Fatal(err)
	}
	wantSpent(t, s, "user:42", 1_500, 0)
	if err := s.Reserve(ctx, "r2", holds(10_000, 1_000, 1, "user:42"), later(clk)); flavormonk.ErrorCode(err) != flavormonk.EQUOTA {
		t.Fatalf("Reserve after overshooting = %v; want EQUOTA", err)
	}
	if err := s.Reserve(ctx, "r3", holds(10_000, 1_000, 0, "user:42"), later(clk)); err != nil {
		t.Fatalf("Reserve of zero after overshooting: %v", err)
	}
}

func testPeriods(t *testing.T, s UsageStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	if err := s.Reserve(ctx, "nov", holds(1_000, 1_000, 1_000, "user:42"), later(clk)); err != nil {
		t.Fatal(err)
	}
	dec := []flavormonk.Hold{{Scope: "user:42", Period: "2026-12", Limit: 1_000, Amount: 1_000}, {Scope: flavormonk.ScopeBudget, Period: "2026-12", Limit: 1_000, Amount: 1_000}}
	if err := s.Reserve(ctx, "dec", dec, later(clk)); err != nil {
		t.Fatalf("a new month is a new allowance: %v", err)
	}
	if sp, res := spent(t, s, "user:42", "2026-12"); sp != 0 || res != 1_000 {
		t.Fatalf("Spent(2026-12) = %d, %d", sp, res)
	}
}

func testReserveInvalid(t *testing.T, s UsageStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	ok := holds(10_000, 10_000, 10, "user:1")
	for name, c := range map[string]struct {
		id      string
		hs      []flavormonk.Hold
		expires time.Time
	}{
		"empty id":       {"", ok, later(clk)},
		"long id":        {strings.Repeat("x", 300), ok, later(clk)},
		"NUL in id":      {"a\x00b", ok, later(clk)},
		"no holds":       {"x", nil, later(clk)},
		"too many holds": {"x", make([]flavormonk.Hold, 9), later(clk)},
		"expired":        {"x", ok, clk.Now().Add(-time.Second)},
		"empty scope":    {"x", []flavormonk.Hold{{Period: testPeriod, Amount: 1}}, later(clk)},
		"bad period":     {"x", []flavormonk.Hold{{Scope: "user:1", Period: "2026-13", Amount: 1}}, later(clk)},
		"day period":     {"x", []flavormonk.Hold{{Scope: "user:1", Period: "2026-11-01", Amount: 1}}, later(clk)},
		"negative":       {"x", []flavormonk.Hold{{Scope: "user:1", Period: testPeriod, Amount: -1}}, later(clk)},
		"huge":           {"x", []flavormonk.Hold{{Scope: "user:1", Period: testPeriod, Amount: math.MaxInt64}}, later(clk)},
		"twice":          {"x", []flavormonk.Hold{{Scope: "user:1", Period: testPeriod, Amount: 1}, {Scope: "user:1", Period: testPeriod, Amount: 1}}, later(clk)},
		"bad utf8 scope": {"x", []flavormonk.Hold{{Scope: "user:\xff", Period: testPeriod, Amount: 1}}, later(clk)},
	} {
		if err := s.Reserve(ctx, c.id, c.hs, c.expires); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
			t.Errorf("Reserve (%s) = %v; want EINVALID", name, err)
		}
	}
	wantSpent(t, s, "user:1", 0, 0)
	wantSpent(t, s, flavormonk.ScopeBudget, 0, 0)
}

func testSettleInvalid(t *testing.T, s UsageStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	if err := s.Reserve(ctx, "r", holds(10_000, 10_000, 10, "user:42"), later(clk)); err != nil {
		t.Fatal(err)
	}
	bad := func(f func(e *flavormonk.UsageEvent)) []flavormonk.UsageEvent {
		e := event(5)
		f(&e)
		return []flavormonk.UsageEvent{event(5), e}
	}
	for name, evs := range map[string][]flavormonk.UsageEvent{
		"no provider":      bad(func(e *flavormonk.UsageEvent) { e.Provider = "" }),
		"negative tokens":  bad(func(e *flavormonk.UsageEvent) { e.InputTokens = -1 }),
		"NaN seconds":      bad(func(e *flavormonk.UsageEvent) { e.Seconds = math.NaN() }),
		"infinite seconds": bad(func(e *flavormonk.UsageEvent) { e.Seconds = math.Inf(1) }),
		"negative cost":    bad(func(e *flavormonk.UsageEvent) { e.CostMicros = -3 }),
		"user and visitor": bad(func(e *flavormonk.UsageEvent) { e.Visitor = "v" }),
		"NUL in model":     bad(func(e *flavormonk.UsageEvent) { e.Model = "gpt\x00" }),
		"before 1970":      bad(func(e *flavormonk.UsageEvent) { e.At = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }),
	} {
		if err := s.Settle(ctx, "r", evs); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
			t.Errorf("Settle (%s) = %v; want EINVALID", name, err)
		}
	}
	if err := s.Settle(ctx, "r", make([]flavormonk.UsageEvent, 101)); flavormonk.ErrorCode(err) != flavormonk.ETOOLARGE {
		t.Errorf("Settle of 101 events = %v; want ETOOLARGE", err)
	}
	// Nothing changed: the hold is still live and nothing was recorded.
	wantSpent(t, s, "user:42", 0, 10)
	if rows := report(t, s, clk); len(rows) != 0 {
		t.Fatalf("report = %+v; want nothing recorded", rows)
	}
	if err := s.Settle(ctx, "r", []flavormonk.UsageEvent{event(5)}); err != nil {
		t.Fatalf("Settle after refused ones: %v", err)
	}
}

func report(t *testing.T, s UsageStore, clk *clocktest.Clock) []flavormonk.UsageRow {
	t.Helper()
	rows, err := s.UsageReport(ctxT(t), time.Unix(0, 0), clk.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatalf("UsageReport: %v", err)
	}
	return rows
}

func testUsageReport(t *testing.T, s UsageStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	d1 := time.Date(2026, 11, 3, 23, 59, 59, 999_999_000, time.UTC)
	d2 := time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC)
	events := []flavormonk.UsageEvent{
		{At: d1, UserID: 42, Provider: "replicate", Model: "meta/meta-llama-3-70b-instruct", InputTokens: 1000, OutputTokens: 200, Seconds: 1.5, CostMicros: 1200, Estimated: true},
		{At: d1.Add(-time.Hour), UserID: 42, Provider: "replicate", Model: "meta/meta-llama-3-70b-instruct", InputTokens: 500, OutputTokens: 100, Seconds: 0.25, CostMicros: 600},
		{At: d1, UserID: 42, Provider: "openai", Model: "gpt-4o-mini", InputTokens: 10, OutputTokens: 1, CostMicros: 2},
		{At: d2, Visitor: "v1", Provider: "openai", Model: "gpt-4o-mini", InputTokens: 7, OutputTokens: 3, CostMicros: 3},
		{At: d2.Add(time.Minute), Visitor: "v1", Provider: "cache", Model: "gpt-4o-mini", CacheHit: true},
	}
	if err := s.Reserve(ctx, "r", holds(10_000, 10_000, 100, "user:42"), later(clk)); err != nil {
		t.Fatal(err)
	}
	if err := s.Settle(ctx, "r", events); err != nil {
		t.Fatal(err)
	}
	rows, err := s.UsageReport(ctx, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	day1 := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	day2 := time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC)
	want := []flavormonk.UsageRow{
		{Day: day1, UserID: 42, Provider: "openai", Model: "gpt-4o-mini", Events: 1, InputTokens: 10, OutputTokens: 1, CostMicros: 2},
		{Day: day1, UserID: 42, Provider: "replicate", Model: "meta/meta-llama-3-70b-instruct", Events: 2, InputTokens: 1500, OutputTokens: 300, Seconds: 1.75, CostMicros: 1800, Estimated: 1},
		{Day: day2, Visitor: "v1", Provider: "cache", Model: "gpt-4o-mini", Events: 1, CacheHits: 1},
		{Day: day2, Visitor: "v1", Provider: "openai", Model: "gpt-4o-mini", Events: 1, InputTokens: 7, OutputTokens: 3, CostMicros: 3},
	}
	if len(rows) != len(want) {
		t.Fatalf("report has %d rows: %+v; want %d", len(rows), rows, len(want))
	}
	for i := range want {
		g := rows[i]
		if !g.Day.Equal(want[i].Day) || g.Day.Location() != time.UTC {
			t.Errorf("row %d day = %v; want %v UTC", i, g.Day, want[i].Day)
		}
		g.Day = want[i].Day
		if g != want[i] {
			t.Errorf("row %d = %+v\nwant %+v", i, g, want[i])
		}
	}
	// The range is half-open: to excludes its instant.
	rows, err = s.UsageReport(ctx, d1.Add(-time.Hour), d1)
	if err != nil || len(rows) != 1 || rows[0].Events != 1 || rows[0].CostMicros != 600 {
		t.Fatalf("report of [d1-1h, d1) = %+v, %v; want the one event at d1-1h", rows, err)
	}
	if _, err := s.UsageReport(ctx, d2, d1); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Fatalf("report with to before from = %v; want EINVALID", err)
	}
}

func testPruneUsage(t *testing.T, s UsageStore, clk *clocktest.Clock) {
	ctx := ctxT(t)
	soon := clk.Now().Add(300 * time.Millisecond)
	for _, id := range []string{"a", "b", "d"} {
		if err := s.Reserve(ctx, id, holds(10_000, 10_000, 100, "user:42"), soon); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Settle(ctx, "b", []flavormonk.UsageEvent{event(10)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve(ctx, "c", holds(10_000, 10_000, 100, "user:42"), later(clk)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneUsage(ctx, clk.Now(), 100); err != nil || n != 0 {
		t.Fatalf("PruneUsage before anything expired = %d, %v", n, err)
	}
	clk.Set(soon.Add(50 * time.Millisecond))
	if n, err := s.PruneUsage(ctx, clk.Now(), 1); err != nil || n != 1 {
		t.Fatalf("PruneUsage(limit 1) = %d, %v; want 1", n, err)
	}
	if n, err := s.PruneUsage(ctx, clk.Now(), 100); err != nil || n != 5 {
		t.Fatalf("PruneUsage = %d, %v; want the other 5 records of a, b and d", n, err)
	}
	wantSpent(t, s, "user:42", 10, 100)
	if err := s.Settle(ctx, "a", nil); flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
		t.Fatalf("Settle of a pruned reservation = %v; want ENOTFOUND", err)
	}
	if err := s.Settle(ctx, "c", []flavormonk.UsageEvent{event(20)}); err != nil {
		t.Fatalf("Settle of a live reservation after pruning: %v", err)
	}
	if rows := report(t, s, clk); len(rows) != 1 || rows[0].Events != 2 || rows[0].CostMicros != 30 {
		t.Fatalf("ledger after pruning = %+v; want both events", rows)
	}
	if _, err := s.PruneUsage(ctx, clk.Now(), 0); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Fatalf("PruneUsage(limit 0) = %v; want EINVALID", err)
	}
}
