// Package usage meters what the assistant spends. Before a provider call
// the caller reserves its worst-case cost against the global monthly
// budget and the caller's monthly allowance (by plan, or as an anonymous
// visitor), atomically in the store, so concurrent calls cannot overshoot
// either; after the call it settles the reservation with what was really
// consumed, which is priced, recorded in the usage ledger and counted in
// Prometheus metrics.
//
//	r, err := meter.Reserve(ctx, flavormonk.Caller{UserID: u.ID, Plan: u.Plan}, meter.Worst(p, m, in, maxOut))
//	if err != nil { return err } // EBUDGET or EQUOTA: HTTP 429
//	u, callErr := provider.Stream(ctx, req, emit)
//	err = r.Settle(ctx, []flavormonk.UsageEvent{{Provider: p, Model: m, InputTokens: u.InputTokens, ...}})
//
// Prices live in the pricing subpackage.
package usage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/usage/pricing"
)

// DefaultHold is how long a reservation counts when it is never settled
// (the process died mid-call). It must outlast the longest call.
const DefaultHold = 15 * time.Minute

// DefaultClientFactor is how many visitors' allowances one network
// address gets: room for a household or an office behind one NAT.
const DefaultClientFactor = 20

// Reservation records are pruned pruneAfter they expired (well past
// their month, when nobody settles them any more), by this process at
// most every pruneEvery, pruneBatch at a time.
const (
	pruneAfter = 35 * 24 * time.Hour
	pruneEvery = time.Hour
	pruneBatch = 10_000
)

// settleTimeout bounds a settlement, which runs even when the caller's
// context is cancelled (a client that disconnects still pays).
const settleTimeout = 60 * time.Second

// Config is what a Meter needs. Amounts are micro-USD per UTC month;
// flavormonk.NoLimit (any negative) means none.
type Config struct {
	Prices *pricing.Table
	Budget int64
	// Quotas by plan: flavormonk.PlanFree, flavormonk.PlanChef, and ""
	// for anonymous visitors. A plan missing here is refused (EQUOTA).
	Quotas map[string]int64
	// Hold is how long an unsettled reservation counts; DefaultHold if 0.
	Hold time.Duration
	// MaxCall bounds the compute time Worst counts for models billed per
	// second: no call outlives the caller's deadline.
	MaxCall time.Duration
	// SettleTimeout bounds the retries of a settlement while the store
	// fails; settleTimeout if 0.
	SettleTimeout time.Duration
	// ClientFactor: anonymous visitors from one network address (an IPv4
	// address, an IPv6 /64) share an allowance of ClientFactor times the
	// visitors' quota, so that fresh visitor sessions bring no fresh
	// money; DefaultClientFactor if 0, negative for no such limit.
	ClientFactor int64
	// Registerer receives the metrics; nil for none.
	Registerer prometheus.Registerer
	// Now is the clock; the system clock if nil. Periods are UTC months
	// of it, whatever its zone.
	Now flavormonk.Clock
}

// Meter reserves and settles against a UsageStore. It is safe for
// concurrent use.
type Meter struct {
	store     flavormonk.UsageStore
	cfg       Config
	metrics   *metrics
	lastPrune atomic.Int64 // Unix seconds of the last prune, by cfg.Now

	// Background prunes run under bg, tracked so that Close can wait for
	// them before the store they use is closed.
	bg       context.Context
	stopBG   context.CancelFunc
	pruning  sync.WaitGroup
	closeMu  sync.Mutex
	isClosed bool
}

// New returns a Meter; it fails when cfg has no prices or its metrics
// cannot be registered (a second Meter on one registry).
func New(store flavormonk.UsageStore, cfg Config) (*Meter, error) {
	if store == nil || cfg.Prices == nil {
		return nil, errors.New("usage: a store and prices are required")
	}
	if cfg.Hold <= 0 {
		cfg.Hold = DefaultHold
	}
	if cfg.ClientFactor == 0 {
		cfg.ClientFactor = DefaultClientFactor
	}
	if cfg.Now == nil {
		cfg.Now = flavormonk.SystemClock
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	meter := &Meter{store: store, cfg: cfg, metrics: m}
	meter.bg, meter.stopBG = context.WithCancel(context.Background())
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(meter.budgetGauges()); err != nil {
			return nil, err
		}
	}
	return meter, nil
}

// budgetGauges report this month's budget, spent and reserved, read from
// the store at each scrape (one indexed query), for alerts before the
// budget runs out.
func (m *Meter) budgetGauges() prometheus.Collector {
	return gaugeFuncs{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flavormonk_usage_budget_micros",
			Help: "The assistant's monthly budget in micro-USD (-1: none)."},
			func() float64 { return float64(limit(m.cfg.Budget)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flavormonk_usage_budget_spent_micros",
			Help: "Spent from the monthly budget this UTC month, in micro-USD."},
			func() float64 { sp, _ := m.budgetNow(); return sp }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flavormonk_usage_budget_reserved_micros",
			Help: "Held by calls in flight against the monthly budget, in micro-USD."},
			func() float64 { _, res := m.budgetNow(); return res }),
	}
}

// budgetNow reads the budget scope; NaN when the store does not answer.
func (m *Meter) budgetNow() (spent, reserved float64) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	sp, res, err := m.store.Spent(ctx, flavormonk.ScopeBudget, flavormonk.UsagePeriod(m.cfg.Now()))
	if err != nil {
		return math.NaN(), math.NaN()
	}
	return float64(sp), float64(res)
}

type gaugeFuncs []prometheus.GaugeFunc

func (g gaugeFuncs) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range g {
		c.Describe(ch)
	}
}

func (g gaugeFuncs) Collect(ch chan<- prometheus.Metric) {
	for _, c := range g {
		c.Collect(ch)
	}
}

var (
	_ flavormonk.Meter       = (*Meter)(nil)
	_ flavormonk.Reservation = (*Reservation)(nil)
)

// Prices returns the meter's price table.
func (m *Meter) Prices() *pricing.Table { return m.cfg.Prices }

// Worst is the most a call can cost: inTokens of prompt, maxOut tokens of
// answer and, for models billed per second, Config.MaxCall of compute.
func (m *Meter) Worst(provider, model string, inTokens, maxOut int) int64 {
	return m.cfg.Prices.Worst(provider, model, inTokens, maxOut, m.cfg.MaxCall.Seconds())
}

// Cost prices u; an unknown model at the highest known prices.
func (m *Meter) Cost(provider, model string, u flavormonk.Usage) int64 {
	c, _ := m.cfg.Prices.Cost(provider, model, u)
	return c
}

// VisitorKey is how a visitor is named in the ledger and report: a
// SHA-256 prefix of the session id, so that neither exposes the cookie.
func VisitorKey(sessionID string) string {
	sum := sha256.Sum256([]byte(sessionID))
	return hex.EncodeToString(sum[:8])
}

// ClientKey names a network address in the ledger: a SHA-256 prefix of
// the address, or of its /64 for IPv6 (one host's usual share), so that
// rotating addresses within a subnet gains nothing. Anything that is not
// an address is hashed as it is.
func ClientKey(addr string) string {
	if a, err := netip.ParseAddr(addr); err == nil {
		a = a.Unmap()
		if a.Is6() {
			p, _ := a.Prefix(64)
			addr = p.String()
		} else {
			addr = a.String()
		}
	}
	return VisitorKey("client\x00" + addr)
}

// scopeOf returns the caller's scope and ledger identity. An anonymous
// visitor has no Plan; its Client, when set, is the network address whose
// visitors share an allowance.
func scopeOf(s flavormonk.Caller) (scope string, userID int64, visitor string, err error) {
	switch {
	case s.UserID > 0 && s.Visitor == "":
		return "user:" + strconv.FormatInt(s.UserID, 10), s.UserID, "", nil
	case s.UserID == 0 && s.Visitor != "" && s.Plan == "":
		v := VisitorKey(s.Visitor)
		return "visitor:" + v, 0, v, nil
	}
	return "", 0, "", flavormonk.Errorf(flavormonk.EINVALID, "usage: a subject is a user (UserID > 0) or an anonymous visitor (Visitor set, no plan)")
}

// Reservation is a reserved worst case, to settle once the call is over.
type Reservation struct {
	ID     string
	Amount int64 // micro-USD reserved in each scope
	Period string

	m       *Meter
	at      time.Time // when the reservation was made: its events' default time
	userID  int64
	visitor string
	once    sync.Once
	err     error
}

// Reserve sets worstMicros aside in the global budget and the caller's
// allowance for this UTC month. When either cannot take it, the error is
// EBUDGET or EQUOTA with a message that says when it resets. The
// reservation is a *Reservation.
func (m *Meter) Reserve(ctx context.Context, s flavormonk.Caller, worstMicros int64) (flavormonk.Reservation, error) {
	r, err := m.reserve(ctx, s, worstMicros)
	if err != nil {
		m.metrics.rejected(flavormonk.ErrorCode(err))
		return nil, err
	}
	return r, nil
}

func (m *Meter) reserve(ctx context.Context, s flavormonk.Caller, worstMicros int64) (*Reservation, error) {
	scope, userID, visitor, err := scopeOf(s)
	if err != nil {
		return nil, err
	}
	if worstMicros < 0 {
		return nil, flavormonk.Errorf(flavormonk.EINVALID, "usage: a negative worst case (%d)", worstMicros)
	}
	plan := s.Plan
	if userID != 0 && plan == "" {
		plan = flavormonk.PlanFree
	}
	quota, ok := m.cfg.Quotas[plan]
	if !ok {
		return nil, flavormonk.Errorf(flavormonk.EQUOTA, "the %q plan includes no assistant allowance", plan)
	}
	now := m.cfg.Now()
	period := flavormonk.UsagePeriod(now)
	holds := []flavormonk.Hold{
		{Scope: flavormonk.ScopeBudget, Period: period, Limit: limit(m.cfg.Budget), Amount: worstMicros},
		{Scope: scope, Period: period, Limit: limit(quota), Amount: worstMicros},
	}
	if userID == 0 && s.Client != "" && m.cfg.ClientFactor > 0 {
		shared := flavormonk.NoLimit
		if quota >= 0 {
			shared = storekitMaxAmount
			if quota <= storekitMaxAmount/m.cfg.ClientFactor {
				shared = quota * m.cfg.ClientFactor
			}
		}
		holds = append(holds, flavormonk.Hold{Scope: "client:" + ClientKey(s.Client), Period: period, Limit: shared, Amount: worstMicros})
	}
	id := newID()
	if err := m.store.Reserve(ctx, id, holds, now.Add(m.cfg.Hold)); err != nil {
		if flavormonk.ErrorCode(err) == flavormonk.EQUOTA {
			// The stores name the scope that is full (Hold.Exhausted).
			if strings.Contains(err.Error(), "(client:") {
				return nil, flavormonk.Errorf(flavormonk.EQUOTA, "the assistant allowance for visitors from your network is used up; log in, or wait until it resets %s", resetText(period))
			}
			return nil, quotaError(plan, quota, period)
		}
		return nil, err
	}
	return &Reservation{ID: id, Amount: worstMicros, Period: period, m: m, at: now, userID: userID, visitor: visitor}, nil
}

func limit(v int64) int64 {
	if v < 0 {
		return flavormonk.NoLimit
	}
	return v
}

// storekitMaxAmount bounds a shared limit (the stores' own bound on
// amounts, a billion dollars).
const storekitMaxAmount = 1_000_000_000_000_000

// quotaError says whose allowance is used up, how large it is and when
// it resets.
func quotaError(plan string, quota int64, period string) error {
	who := "the allowance for visitors (sign up for more)"
	if plan != "" {
		who = "your " + plan + " plan's allowance"
	}
	return flavormonk.Errorf(flavormonk.EQUOTA, "%s of USD %s of assistant answers a month is used up; it resets %s",
		who, pricing.FormatFixed(quota, 6), resetText(period))
}

func resetText(period string) string {
	if end, err := flavormonk.UsagePeriodEnd(period); err == nil {
		return "on " + end.Format("2006-01-02") + " 00:00 UTC"
	}
	return "next month"
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (Go ≥ 1.24)
	return "rsv_" + hex.EncodeToString(b)
}

// Settle ends the reservation with what the call consumed: each event
// gets the caller's identity, the time if unset, and its cost from the
// meter's prices when CostMicros is 0 and it is not a cache hit. It runs
// even when ctx is cancelled (bounded by a timeout of its own), and only
// once: later calls return the first call's result.
func (r *Reservation) Settle(ctx context.Context, events []flavormonk.UsageEvent) error {
	r.once.Do(func() { r.err = r.settle(ctx, events) })
	return r.err
}

func (r *Reservation) settle(ctx context.Context, events []flavormonk.UsageEvent) error {
	m := r.m
	evs := make([]flavormonk.UsageEvent, len(events))
	now := m.cfg.Now()
	var unknown []string
	for i, e := range events {
		e.UserID, e.Visitor = r.userID, r.visitor
		if e.At.IsZero() {
			// A call belongs to when it began: its cost is added to the
			// reservation's period, and the ledger must agree (a call
			// spanning midnight at the end of a month).
			e.At = r.at
			if e.At.IsZero() {
				e.At = now
			}
		}
		if e.CostMicros == 0 && !e.CacheHit {
			c, known := m.cfg.Prices.Cost(e.Provider, e.Model, flavormonk.Usage{InputTokens: e.InputTokens, OutputTokens: e.OutputTokens, Seconds: e.Seconds})
			e.CostMicros = c
			if !known {
				unknown = append(unknown, e.Provider+"/"+e.Model)
			}
		}
		evs[i] = e
	}
	timeout := m.cfg.SettleTimeout
	if timeout <= 0 {
		timeout = settleTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	// Settling is idempotent, so a failure of the store (not of the
	// input) is retried, with backoff, while the timeout lasts (a database
	// failover takes seconds): a lost settlement is money spent but never
	// counted.
	var err error
	wait := 250 * time.Millisecond
	for {
		if err = m.store.Settle(ctx, r.ID, evs); err == nil {
			break
		}
		var fe *flavormonk.Error
		if errors.As(err, &fe) {
			return fmt.Errorf("usage: settling %s: %w", r.ID, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("usage: settling %s: %w", r.ID, err)
		case <-time.After(wait):
		}
		wait = min(wait*2, 4*time.Second)
	}
	m.metrics.record(evs, unknown)
	m.maybePrune(now)
	return nil
}

// maybePrune removes old reservation records in the background, at most
// every pruneEvery: they are only needed to settle each reservation once.
func (m *Meter) maybePrune(now time.Time) {
	last := m.lastPrune.Load()
	if now.Unix()-last < int64(pruneEvery/time.Second) || !m.lastPrune.CompareAndSwap(last, now.Unix()) {
		return
	}
	m.closeMu.Lock()
	defer m.closeMu.Unlock()
	if m.isClosed {
		return
	}
	m.pruning.Add(1)
	go func() {
		defer m.pruning.Done()
		ctx, cancel := context.WithTimeout(m.bg, 30*time.Second)
		defer cancel()
		_, _ = m.store.PruneUsage(ctx, now.Add(-pruneAfter), pruneBatch)
	}()
}

// Close stops a prune under way and waits for it; none starts after. Call
// it before closing the store.
func (m *Meter) Close() {
	m.closeMu.Lock()
	m.isClosed = true
	m.closeMu.Unlock()
	m.stopBG()
	m.pruning.Wait()
}

// Record meters events that had no reservation, such as answers from the
// cache: a reservation of nothing, settled at once. It is never refused
// for lack of budget or allowance.
func (m *Meter) Record(ctx context.Context, s flavormonk.Caller, events []flavormonk.UsageEvent) error {
	r, err := m.reserve(ctx, s, 0)
	if err != nil {
		return err
	}
	return r.Settle(ctx, events)
}

// Spent returns what the caller spent and holds this UTC month, for
// account pages.
func (m *Meter) Spent(ctx context.Context, s flavormonk.Caller) (spent, reserved int64, err error) {
	scope, _, _, err := scopeOf(s)
	if err != nil {
		return 0, 0, err
	}
	return m.store.Spent(ctx, scope, flavormonk.UsagePeriod(m.cfg.Now()))
}
