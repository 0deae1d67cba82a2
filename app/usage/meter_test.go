package usage_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/clocktest"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
	"github.com/flavormonk/flavormonk/app/postgres"
	"github.com/flavormonk/flavormonk/app/sqlite"
	"github.com/flavormonk/flavormonk/app/usage"
	"github.com/flavormonk/flavormonk/app/usage/pricing"
)

type store interface {
	flavormonk.UsageStore
	Close() error
}

// start is where each test's clock stands at first: a fixed instant, so
// that no verdict depends on the date the suite runs.
var start = time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)

// stores runs fn on a fresh SQLite store and, when a test server is
// configured, a fresh Postgres database, each reading the time from clk
// (at start), as the meter given clk does.
func stores(t *testing.T, fn func(t *testing.T, s store, clk *clocktest.Clock)) {
	t.Run("sqlite", func(t *testing.T) {
		clk := clocktest.New(start)
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "usage.db"), sqlite.WithClock(clk.Now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		fn(t, s, clk)
	})
	t.Run("postgres", func(t *testing.T) {
		clk := clocktest.New(start)
		s, err := postgres.Open(context.Background(), servicetest.PostgresDatabase(t), postgres.WithMaxConns(20), postgres.WithClock(clk.Now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		fn(t, s, clk)
	})
}

// memStore is a private in-memory SQLite store on clk.
func memStore(t *testing.T, clk *clocktest.Clock) store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), ":memory:", sqlite.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type fixture struct {
	m     *usage.Meter
	reg   *prometheus.Registry
	clock *clocktest.Clock
	s     flavormonk.UsageStore
}

func newMeter(t *testing.T, s flavormonk.UsageStore, clk *clocktest.Clock, budget int64, quotas map[string]int64) fixture {
	t.Helper()
	prices, err := pricing.New("replicate/gpu-model=sec:0.001")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := usage.New(s, usage.Config{Prices: prices, Budget: budget, Quotas: quotas, Registerer: reg, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{m: m, reg: reg, clock: clk, s: s}
}

var quotas = map[string]int64{"": 50_000, flavormonk.PlanFree: 250_000, flavormonk.PlanChef: 5_000_000}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func report(t *testing.T, s store, clk *clocktest.Clock) []flavormonk.UsageRow {
	t.Helper()
	rows, err := s.UsageReport(ctxT(t), time.Unix(0, 0), clk.Now().Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestReserveSettle(t *testing.T) {
	stores(t, func(t *testing.T, s store, clk *clocktest.Clock) {
		f := newMeter(t, s, clk, 100_000_000, quotas)
		ctx := ctxT(t)
		chef := flavormonk.Caller{UserID: 42, Plan: flavormonk.PlanChef}
		worst := f.m.Prices().Worst("openai", "gpt-4o-mini", 3000, 1024, 90)
		if worst != 450+615 {
			t.Fatalf("Worst = %d", worst)
		}
		r, err := f.m.Reserve(ctx, chef, worst)
		if err != nil {
			t.Fatal(err)
		}
		if sp, res, err := f.m.Spent(ctx, chef); err != nil || sp != 0 || res != worst {
			t.Fatalf("Spent while held = %d, %d, %v", sp, res, err)
		}
		// The request's context is gone (the client left): usage still counts.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err = r.Settle(cctx, []flavormonk.UsageEvent{
			{Provider: "replicate", Model: "meta/meta-llama-3-70b-instruct", InputTokens: 3000, OutputTokens: 100, Estimated: true},
			{Provider: "openai", Model: "gpt-4o-mini", InputTokens: 3100, OutputTokens: 400},
		})
		if err != nil {
			t.Fatalf("Settle with a cancelled context: %v", err)
		}
		// 3000×0.65 + 100×2.75 = 1950 + 275; 3100×0.15 + 400×0.6 = 465 + 240.
		const cost = 1950 + 275 + 465 + 240
		if sp, res, err := f.m.Spent(ctx, chef); err != nil || sp != cost || res != 0 {
			t.Fatalf("Spent after settling = %d, %d, %v; want %d, 0", sp, res, err, cost)
		}
		if sp, _, _ := s.Spent(ctx, flavormonk.ScopeBudget, flavormonk.UsagePeriod(clk.Now())); sp != cost {
			t.Fatalf("budget spent %d; want %d", sp, cost)
		}
		// Settling again changes nothing.
		if err := r.Settle(ctx, []flavormonk.UsageEvent{{Provider: "openai", Model: "gpt-4o-mini", InputTokens: 1}}); err != nil {
			t.Fatal(err)
		}
		rows := report(t, s, clk)
		if len(rows) != 2 || rows[0].UserID != 42 || rows[0].Provider != "openai" || rows[0].CostMicros != 705 ||
			rows[1].Estimated != 1 || rows[1].CostMicros != 2225 {
			t.Fatalf("report = %+v", rows)
		}
		if got := gather(t, f.reg, "flavormonk_usage_tokens_total", "provider", "openai", "direction", "in"); got != 3100 {
			t.Errorf("openai tokens in = %v", got)
		}
		if got := gather(t, f.reg, "flavormonk_usage_tokens_total", "provider", "replicate", "direction", "out"); got != 100 {
			t.Errorf("replicate tokens out = %v", got)
		}
		if got := gather(t, f.reg, "flavormonk_usage_cost_micros_total"); got != cost {
			t.Errorf("cost metric = %v; want %d", got, cost)
		}
		if got := gather(t, f.reg, "flavormonk_usage_estimated_events_total"); got != 1 {
			t.Errorf("estimated metric = %v", got)
		}
		if got := gather(t, f.reg, "flavormonk_usage_budget_spent_micros"); got != cost {
			t.Errorf("budget spent gauge = %v; want %d", got, cost)
		}
		if got := gather(t, f.reg, "flavormonk_usage_budget_micros"); got != 100_000_000 {
			t.Errorf("budget gauge = %v", got)
		}
		if _, err := f.m.Reserve(ctx, chef, 5); err != nil {
			t.Fatal(err)
		}
		if got := gather(t, f.reg, "flavormonk_usage_budget_reserved_micros"); got != 5 {
			t.Errorf("budget reserved gauge = %v; want 5", got)
		}
	})
}

// gather sums a metric's series whose labels match the given pairs.
func gather(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
				}
				if !found {
					continue series
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

func TestVisitorQuota(t *testing.T) {
	stores(t, func(t *testing.T, s store, clk *clocktest.Clock) {
		f := newMeter(t, s, clk, flavormonk.NoLimit, quotas)
		ctx := ctxT(t)
		v := flavormonk.Caller{Visitor: "cookie-secret-value"}
		var held []flavormonk.Reservation
		for range 2 {
			r, err := f.m.Reserve(ctx, v, 20_000)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, r)
		}
		_, err := f.m.Reserve(ctx, v, 20_000)
		var fe *flavormonk.Error
		if !errors.As(err, &fe) || fe.Code != flavormonk.EQUOTA || !strings.Contains(fe.Message, "visitors") || !strings.Contains(fe.Message, "USD 0.05") || !strings.Contains(fe.Message, "resets on") {
			t.Fatalf("third reservation = %v; want EQUOTA naming the visitors' allowance and its reset", err)
		}
		if got := gather(t, f.reg, "flavormonk_usage_rejections_total", "code", flavormonk.EQUOTA); got != 1 {
			t.Errorf("quota rejections = %v", got)
		}
		// Another visitor has an allowance of their own.
		if _, err := f.m.Reserve(ctx, flavormonk.Caller{Visitor: "other"}, 20_000); err != nil {
			t.Fatal(err)
		}
		// An answer from the cache is recorded even with the allowance held.
		if err := f.m.Record(ctx, v, []flavormonk.UsageEvent{{Provider: "cache", Model: "gpt-4o-mini", CacheHit: true}}); err != nil {
			t.Fatalf("Record of a cache hit: %v", err)
		}
		if err := held[0].Settle(ctx, []flavormonk.UsageEvent{{Provider: "openai", Model: "gpt-4o-mini", InputTokens: 1000, OutputTokens: 100}}); err != nil {
			t.Fatal(err)
		}
		rows := report(t, s, clk)
		key := usage.VisitorKey("cookie-secret-value")
		if len(rows) != 2 {
			t.Fatalf("report = %+v", rows)
		}
		for _, r := range rows {
			if r.Visitor != key || r.UserID != 0 || strings.Contains(r.Visitor, "cookie") {
				t.Fatalf("visitor stored as %q; want the key %q", r.Visitor, key)
			}
		}
		if got := gather(t, f.reg, "flavormonk_usage_cache_hits_total"); got != 1 {
			t.Errorf("cache hits = %v", got)
		}
	})
}

func TestBudgetAndPlans(t *testing.T) {
	stores(t, func(t *testing.T, s store, clk *clocktest.Clock) {
		f := newMeter(t, s, clk, 1_000, map[string]int64{"": 0, flavormonk.PlanFree: 10_000})
		ctx := ctxT(t)
		free := flavormonk.Caller{UserID: 7, Plan: flavormonk.PlanFree}
		if _, err := f.m.Reserve(ctx, free, 1_001); flavormonk.ErrorCode(err) != flavormonk.EBUDGET || !strings.Contains(err.Error(), "budget") {
			t.Fatalf("over the budget = %v; want EBUDGET", err)
		}
		if got := gather(t, f.reg, "flavormonk_usage_rejections_total", "code", flavormonk.EBUDGET); got != 1 {
			t.Errorf("budget rejections = %v", got)
		}
		// A plan without an allowance is refused, a zero allowance refuses
		// paid answers but not free ones.
		if _, err := f.m.Reserve(ctx, flavormonk.Caller{UserID: 8, Plan: flavormonk.PlanChef}, 1); flavormonk.ErrorCode(err) != flavormonk.EQUOTA {
			t.Fatalf("plan without an allowance = %v; want EQUOTA", err)
		}
		if _, err := f.m.Reserve(ctx, flavormonk.Caller{Visitor: "v"}, 1); flavormonk.ErrorCode(err) != flavormonk.EQUOTA {
			t.Fatalf("zero allowance, paid answer = %v; want EQUOTA", err)
		}
		r, err := f.m.Reserve(ctx, flavormonk.Caller{Visitor: "v"}, 0)
		if err != nil {
			t.Fatalf("zero allowance, free answer: %v", err)
		}
		if err := r.Settle(ctx, []flavormonk.UsageEvent{{Provider: "offline", Model: "offline", InputTokens: 500, OutputTokens: 300}}); err != nil {
			t.Fatal(err)
		}
		// An unknown model is charged at the highest known prices, never free.
		r, err = f.m.Reserve(ctx, free, 1_000)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Settle(ctx, []flavormonk.UsageEvent{{Provider: "openai-compatible", Model: "mystery", InputTokens: 100, OutputTokens: 100, Seconds: 1}}); err != nil {
			t.Fatal(err)
		}
		// 100×2.50 + 100×10.00 + 1 s × 0.001 USD.
		if sp, _, _ := f.m.Spent(ctx, free); sp != 250+1000+1000 {
			t.Fatalf("unknown model cost %d; want 2250", sp)
		}
		if got := gather(t, f.reg, "flavormonk_usage_unpriced_events_total"); got != 1 {
			t.Errorf("unpriced events = %v", got)
		}
		// The budget is now overshot (2250 > 1000): paid answers stop.
		if _, err := f.m.Reserve(ctx, free, 1); flavormonk.ErrorCode(err) != flavormonk.EBUDGET {
			t.Fatalf("after overshooting = %v; want EBUDGET", err)
		}
	})
}

// TestMonthBoundary reserves at each boundary instant (month and year
// end, leap day, Berlin's DST changes), with the process's zone UTC and
// Europe/Berlin: the period is the UTC month the call began in, a full
// month resets at the next UTC month, and the settled cost and ledger
// event stay in the period and UTC day of the reservation.
func TestMonthBoundary(t *testing.T) {
	// In time order, on a fresh store per zone: settling prunes in the
	// background what expired 35 days before the clock, which would take
	// the holds of a case set earlier than the one before it.
	bs := slices.Clone(clocktest.Boundaries)
	slices.SortFunc(bs, func(a, b clocktest.Boundary) int { return a.At.Compare(b.At) })
	clocktest.InZones(t, func(t *testing.T, zone string) {
		stores(t, func(t *testing.T, s store, clk *clocktest.Clock) {
			f := newMeter(t, s, clk, flavormonk.NoLimit, quotas)
			ctx := ctxT(t)
			uid := int64(100)
			for _, b := range bs {
				t.Run(b.Name, func(t *testing.T) {
					uid++
					u := flavormonk.Caller{UserID: uid, Plan: flavormonk.PlanFree}
					clk.Set(b.At)
					r, err := f.m.Reserve(ctx, u, 250_000)
					if err != nil {
						t.Fatal(err)
					}
					if r.(*usage.Reservation).Period != b.Period {
						t.Fatalf("period %s; want %s", r.(*usage.Reservation).Period, b.Period)
					}
					_, err = f.m.Reserve(ctx, u, 1)
					if flavormonk.ErrorCode(err) != flavormonk.EQUOTA || !strings.Contains(err.Error(), b.Reset) {
						t.Fatalf("full month = %v; want EQUOTA resetting on %s", err, b.Reset)
					}
					clk.Set(b.At.Add(time.Second))
					r2, err := f.m.Reserve(ctx, u, 250_000)
					if b.Next != b.Period {
						if err != nil || r2.(*usage.Reservation).Period != b.Next {
							t.Fatalf("a second later, in %s: %v", b.Next, err)
						}
					} else if flavormonk.ErrorCode(err) != flavormonk.EQUOTA {
						t.Fatalf("a second later, still in %s: %v; want EQUOTA", b.Period, err)
					}
					// Settled after its hold expired, in the next period.
					clk.Set(b.At.Add(usage.DefaultHold + time.Minute))
					if err := r.Settle(ctx, []flavormonk.UsageEvent{{Provider: "openai", Model: "gpt-4o-mini", InputTokens: 1000}}); err != nil {
						t.Fatal(err)
					}
					if sp, _, err := s.Spent(ctx, "user:"+strconv.FormatInt(uid, 10), b.Period); err != nil || sp != 150 {
						t.Fatalf("Spent(%s) = %d, %v; want 150", b.Period, sp, err)
					}
					from, _ := time.Parse("2006-01", b.Period)
					to, _ := flavormonk.UsagePeriodEnd(b.Period)
					rows, err := s.UsageReport(ctx, from, to)
					if err != nil {
						t.Fatal(err)
					}
					var mine []flavormonk.UsageRow
					for _, row := range rows {
						if row.UserID == uid {
							mine = append(mine, row)
						}
					}
					if len(mine) != 1 || !mine[0].Day.Equal(b.Day) {
						t.Fatalf("ledger of %s = %+v; want one row on %s", b.Period, mine, b.Day.Format("2006-01-02"))
					}
				})
			}
		})
	})
}

func TestConcurrentMeter(t *testing.T) {
	stores(t, func(t *testing.T, s store, clk *clocktest.Clock) {
		f := newMeter(t, s, clk, flavormonk.NoLimit, map[string]int64{flavormonk.PlanChef: 10 * 1_065})
		ctx := ctxT(t)
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := f.m.Reserve(ctx, flavormonk.Caller{UserID: 9, Plan: flavormonk.PlanChef}, 1_065)
				switch {
				case err == nil:
					ok.Add(1)
					_ = r
				case flavormonk.ErrorCode(err) == flavormonk.EQUOTA:
					refused.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 10 || refused.Load() != 40 {
			t.Fatalf("%d reserved, %d refused; want 10, 40", ok.Load(), refused.Load())
		}
	})
}

func TestInvalid(t *testing.T) {
	clk := clocktest.New(start)
	s := memStore(t, clk)
	f := newMeter(t, s, clk, flavormonk.NoLimit, quotas)
	ctx := ctxT(t)
	for _, sub := range []flavormonk.Caller{{}, {UserID: 1, Visitor: "v"}, {UserID: -1}, {Visitor: "v", Plan: flavormonk.PlanChef}} {
		if _, err := f.m.Reserve(ctx, sub, 1); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
			t.Errorf("Reserve(%+v) = %v; want EINVALID", sub, err)
		}
	}
	if _, err := f.m.Reserve(ctx, flavormonk.Caller{UserID: 1, Plan: flavormonk.PlanFree}, -1); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Errorf("negative worst case = %v; want EINVALID", err)
	}
	r, err := f.m.Reserve(ctx, flavormonk.Caller{UserID: 1, Plan: flavormonk.PlanFree}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Settle(ctx, []flavormonk.UsageEvent{{Provider: "", Model: "x"}}); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Errorf("event without a provider = %v; want EINVALID", err)
	}
	// A second Meter cannot register the same metrics.
	if _, err := usage.New(s, usage.Config{Prices: f.m.Prices(), Registerer: f.reg}); err == nil {
		t.Error("a second Meter on one registry was accepted")
	}
	if _, err := usage.New(nil, usage.Config{}); err == nil {
		t.Error("a Meter without store and prices was accepted")
	}
}

// flaky fails its first Settle calls as a dropped connection would.
type flaky struct {
	store
	failures atomic.Int32
}

func (f *flaky) Settle(ctx context.Context, id string, evs []flavormonk.UsageEvent) error {
	if f.failures.Add(-1) >= 0 {
		return errors.New("connection reset by peer")
	}
	return f.store.Settle(ctx, id, evs)
}

func TestSettleRetriesStoreFailures(t *testing.T) {
	clk := clocktest.New(start)
	fs := &flaky{store: memStore(t, clk)}
	f := newMeter(t, fs, clk, flavormonk.NoLimit, quotas)
	ctx := ctxT(t)
	sub := flavormonk.Caller{UserID: 5, Plan: flavormonk.PlanChef}
	ev := []flavormonk.UsageEvent{{Provider: "openai", Model: "gpt-4o-mini", InputTokens: 1000}}

	fs.failures.Store(2)
	r, err := f.m.Reserve(ctx, sub, 500)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Settle(ctx, ev); err != nil {
		t.Fatalf("Settle after two store failures: %v", err)
	}
	if sp, res, _ := f.m.Spent(ctx, sub); sp != 150 || res != 0 {
		t.Fatalf("Spent = %d, %d; want 150, 0", sp, res)
	}

	// A few seconds of failures (a database failover) are waited out.
	fs.failures.Store(4)
	r, err = f.m.Reserve(ctx, sub, 500)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Settle(ctx, ev); err != nil {
		t.Fatalf("Settle after four store failures: %v", err)
	}
	if sp, _, _ := f.m.Spent(ctx, sub); sp != 300 {
		t.Fatalf("Spent = %d; want 300", sp)
	}

	// A store down for longer than the settle timeout: the error is returned.
	prices, _ := pricing.New("")
	short, err := usage.New(fs, usage.Config{Prices: prices, Budget: flavormonk.NoLimit, Quotas: quotas, SettleTimeout: time.Second, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	r, err = short.Reserve(ctx, sub, 500)
	if err != nil {
		t.Fatal(err)
	}
	fs.failures.Store(1000)
	if err := r.Settle(ctx, ev); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Settle with the store down = %v; want its error", err)
	}
	if got := gather(t, f.reg, "flavormonk_usage_tokens_total", "direction", "in"); got != 2000 {
		t.Errorf("tokens counted %v; want the two settled calls' 2000", got)
	}
}

// TestClientAllowance: fresh visitor sessions from one address share one
// allowance of ClientFactor visitors' quotas.
func TestClientAllowance(t *testing.T) {
	stores(t, func(t *testing.T, s store, clk *clocktest.Clock) {
		prices, _ := pricing.New("")
		m, err := usage.New(s, usage.Config{Prices: prices, Budget: flavormonk.NoLimit, Quotas: quotas, ClientFactor: 2, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		ctx := ctxT(t)
		for i, c := range []struct {
			visitor, client string
			ok              bool
		}{
			{"a", "203.0.113.7", true},
			{"b", "203.0.113.7", true},
			{"c", "203.0.113.7", false},          // the address's 2 × 50,000 are held
			{"d", "::ffff:203.0.113.7", false},   // the same address, IPv4-mapped
			{"e", "203.0.113.8", true},           // another address
			{"f", "2001:db8:1:2::1", true},       // IPv6: the /64 counts
			{"g", "2001:db8:1:2:ffff::9", true},  //
			{"h", "2001:db8:1:2:aaaa::3", false}, // same /64, full
			{"i", "2001:db8:1:3::1", true},       // next /64
		} {
			_, err := m.Reserve(ctx, flavormonk.Caller{Visitor: c.visitor, Client: c.client}, 50_000)
			if c.ok != (err == nil) || (err != nil && (flavormonk.ErrorCode(err) != flavormonk.EQUOTA || !strings.Contains(err.Error(), "your network"))) {
				t.Fatalf("#%d %s from %s: %v; want ok=%v", i, c.visitor, c.client, err, c.ok)
			}
		}
		// Users are not limited by their address.
		if _, err := m.Reserve(ctx, flavormonk.Caller{UserID: 1, Plan: flavormonk.PlanChef, Client: "203.0.113.7"}, 50_000); err != nil {
			t.Fatalf("a user from a full address: %v", err)
		}
		if usage.ClientKey("203.0.113.7") == usage.ClientKey("203.0.113.8") || usage.ClientKey("2001:db8::1") != usage.ClientKey("2001:db8::2") {
			t.Fatal("ClientKey does not group addresses as documented")
		}
	})
}

// TestPruneAfterAMonth: settling prunes, in the background and at most
// hourly, the records of reservations that expired over a month ago.
func TestPruneAfterAMonth(t *testing.T) {
	stores(t, func(t *testing.T, s store, clk *clocktest.Clock) {
		f := newMeter(t, s, clk, flavormonk.NoLimit, quotas)
		ctx := ctxT(t)
		sub := flavormonk.Caller{UserID: 2, Plan: flavormonk.PlanChef}
		old, err := f.m.Reserve(ctx, sub, 10)
		if err != nil {
			t.Fatal(err)
		}
		if err := old.Settle(ctx, nil); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(40 * 24 * time.Hour)
		r, err := f.m.Reserve(ctx, sub, 10)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Settle(ctx, nil); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := s.Settle(ctx, old.(*usage.Reservation).ID, nil)
			if flavormonk.ErrorCode(err) == flavormonk.ENOTFOUND {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the old reservation was not pruned: Settle = %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := s.Settle(ctx, r.(*usage.Reservation).ID, nil); err != nil {
			t.Fatalf("the new reservation was pruned too: %v", err)
		}
	})
}

// slowPrune holds PruneUsage until its context ends, as a prune stuck on
// a slow database would.
type slowPrune struct {
	store
	started, returned chan struct{}
	calls             atomic.Int32
}

func (s *slowPrune) PruneUsage(ctx context.Context, before time.Time, limit int) (int64, error) {
	if s.calls.Add(1) == 1 {
		close(s.started)
	}
	<-ctx.Done()
	time.Sleep(50 * time.Millisecond) // a store call finishing after the cancel
	defer func() {
		select {
		case <-s.returned:
		default:
			close(s.returned)
		}
	}()
	return 0, ctx.Err()
}

// TestCloseWaitsForThePrune: the background prune is tracked; Close stops
// it and returns only after it has, so the store can be closed next, and
// no prune starts after Close.
func TestCloseWaitsForThePrune(t *testing.T) {
	clk := clocktest.New(start)
	s, err := sqlite.Open(context.Background(), ":memory:", sqlite.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sp := &slowPrune{store: s, started: make(chan struct{}), returned: make(chan struct{})}
	f := newMeter(t, sp, clk, flavormonk.NoLimit, quotas)
	ctx := ctxT(t)
	sub := flavormonk.Caller{UserID: 3, Plan: flavormonk.PlanChef}
	r, err := f.m.Reserve(ctx, sub, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Settle(ctx, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sp.started:
	case <-time.After(10 * time.Second):
		t.Fatal("settling started no prune")
	}
	f.m.Close()
	select {
	case <-sp.returned:
	default:
		t.Fatal("Close returned while the prune was still running")
	}
	f.clock.Set(f.clock.Now().Add(2 * time.Hour))
	r, err = f.m.Reserve(ctx, sub, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Settle(ctx, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := sp.calls.Load(); n != 1 {
		t.Fatalf("%d prunes; none may start after Close", n)
	}
}

// TestWorstBoundsComputeTime: a model billed per second is reserved for
// at most MaxCall of compute; Cost prices what was consumed.
func TestWorstBoundsComputeTime(t *testing.T) {
	clk := clocktest.New(start)
	prices, err := pricing.New("replicate/gpu-model=sec:0.001,in:1")
	if err != nil {
		t.Fatal(err)
	}
	m, err := usage.New(memStore(t, clk), usage.Config{Prices: prices, MaxCall: 90 * time.Second, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	want := prices.Worst("replicate", "gpu-model", 1_000, 700, 90)
	if got := m.Worst("replicate", "gpu-model", 1_000, 700); got != want || got == prices.Worst("replicate", "gpu-model", 1_000, 700, 0) {
		t.Fatalf("Worst = %d; want %d, with 90 s of compute", got, want)
	}
	u := flavormonk.Usage{InputTokens: 1_000, Seconds: 2.5}
	if got, _ := prices.Cost("replicate", "gpu-model", u); m.Cost("replicate", "gpu-model", u) != got {
		t.Fatalf("Cost = %d; want %d", m.Cost("replicate", "gpu-model", u), got)
	}
}
