package router

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// scripted is a provider whose calls follow a script: each call takes the
// next step. The providers themselves are tested against their real wire
// protocols in their packages; this tests the router's decisions.
type scripted struct {
	name  string
	mu    sync.Mutex
	steps []step
	calls []flavormonk.ChatRequest
	block chan struct{} // when set, calls wait on it
}

type step struct {
	tokens []string
	err    error // returned after the tokens
	usage  flavormonk.Usage
}

func (s *scripted) Name() string  { return s.name }
func (s *scripted) Model() string { return s.name + "-model" }

func (s *scripted) Stream(ctx context.Context, req flavormonk.ChatRequest, emit func(string) error) (flavormonk.Usage, error) {
	s.mu.Lock()
	s.calls = append(s.calls, req)
	var st step
	if len(s.steps) > 0 {
		st, s.steps = s.steps[0], s.steps[1:]
	} else {
		st = step{tokens: []string{"ok"}}
	}
	block := s.block
	s.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return flavormonk.Usage{Estimated: true}, ctx.Err()
		}
	}
	for _, t := range st.tokens {
		if err := emit(t); err != nil {
			return st.usage, err
		}
	}
	return st.usage, st.err
}

func (s *scripted) nCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

func perr(status int, retryable bool, after time.Duration) error {
	return &flavormonk.ProviderError{Provider: "x", Status: status, Retryable: retryable, RetryAfter: after, Err: errors.New("boom")}
}

type clock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return nil
}
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func newRouter(t *testing.T, o Options, ps ...flavormonk.Provider) (*Router, *clock) {
	t.Helper()
	c := &clock{now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	o.Now, o.Sleep = c.Now, c.Sleep
	r, err := New(o, ps...)
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

func collect(r *Router, ctx context.Context) (string, *Result, error) {
	var b strings.Builder
	res, err := r.Stream(ctx, flavormonk.ChatRequest{MaxTokens: 100}, func(s string) error { b.WriteString(s); return nil })
	return b.String(), res, err
}

func TestFailoverBeforeFirstTokenIsInvisible(t *testing.T) {
	a := &scripted{name: "a", steps: []step{{err: perr(500, true, 0)}}}
	b := &scripted{name: "b", steps: []step{{tokens: []string{"hello ", "world"}, usage: flavormonk.Usage{InputTokens: 10, OutputTokens: 2}}}}
	r, _ := newRouter(t, Options{Retries: -1}, a, b)
	text, res, err := collect(r, context.Background())
	if err != nil || text != "hello world" {
		t.Fatalf("got %q, %v", text, err)
	}
	if res.Provider != "b" || len(res.Attempts) != 2 || res.Attempts[0].Err == nil || res.Attempts[1].Err != nil {
		t.Fatalf("result %+v", res)
	}
	if got := res.Contributors(); len(got) != 1 || got[0] != "b" {
		t.Fatalf("contributors %v", got)
	}
	if u := res.Usage(); u.InputTokens != 10 || u.OutputTokens != 2 {
		t.Fatalf("usage %+v", u)
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	a := &scripted{name: "a", steps: []step{{err: perr(429, true, 2*time.Second)}, {tokens: []string{"fine"}}}}
	r, c := newRouter(t, Options{Retries: 2}, a)
	text, res, err := collect(r, context.Background())
	if err != nil || text != "fine" || res.Provider != "a" {
		t.Fatalf("got %q %v %+v", text, err, res)
	}
	if len(c.waits) != 1 || c.waits[0] != 2*time.Second {
		t.Fatalf("waits %v, want one wait of Retry-After 2s", c.waits)
	}
}

func TestRetryAfterLongerThanMaxBackoffMovesOn(t *testing.T) {
	a := &scripted{name: "a", steps: []step{{err: perr(429, true, time.Minute)}}}
	b := &scripted{name: "b"}
	r, c := newRouter(t, Options{Retries: 3, MaxBackoff: 5 * time.Second}, a, b)
	_, res, err := collect(r, context.Background())
	if err != nil || res.Provider != "b" || a.nCalls() != 1 || len(c.waits) != 0 {
		t.Fatalf("err %v provider %s calls a=%d waits %v", err, res.Provider, a.nCalls(), c.waits)
	}
}

func TestBackoffIsJitteredAndGrows(t *testing.T) {
	a := &scripted{name: "a", steps: []step{{err: perr(503, true, 0)}, {err: perr(503, true, 0)}, {err: perr(503, true, 0)}}}
	r, c := newRouter(t, Options{Retries: 3, Backoff: 100 * time.Millisecond, FailureThreshold: 10}, a)
	if _, _, err := collect(r, context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(c.waits) != 3 {
		t.Fatalf("waits %v", c.waits)
	}
	for i, w := range c.waits {
		lo, hi := (100*time.Millisecond<<i)/2, 100*time.Millisecond<<i
		if w < lo || w > hi {
			t.Errorf("wait %d = %v, want in [%v, %v]", i, w, lo, hi)
		}
	}
}

func TestStreamBrokenMidwayIsContinuedByTheNextProvider(t *testing.T) {
	a := &scripted{name: "a", steps: []step{{tokens: []string{"Preheat the ", "oven to "}, err: perr(0, true, 0), usage: flavormonk.Usage{InputTokens: 50, OutputTokens: 4, Estimated: true}}}}
	b := &scripted{name: "b", steps: []step{{tokens: []string{"200 °C."}, usage: flavormonk.Usage{InputTokens: 60, OutputTokens: 3}}}}
	r, _ := newRouter(t, Options{Retries: 2}, a, b)
	text, res, err := collect(r, context.Background())
	if err != nil || text != "Preheat the oven to 200 °C." {
		t.Fatalf("got %q %v", text, err)
	}
	if a.nCalls() != 1 {
		t.Fatalf("a broken stream must not be retried on the same provider: %d calls", a.nCalls())
	}
	if got := b.calls[0].Continue; got != "Preheat the oven to " {
		t.Fatalf("b continued from %q", got)
	}
	if b.calls[0].MaxTokens >= 100 {
		t.Fatalf("continuation max tokens %d: the partial answer's share is not deducted", b.calls[0].MaxTokens)
	}
	if got := res.Contributors(); len(got) != 2 || got[0] != "a" || got[1] != "b" || res.Provider != "b" {
		t.Fatalf("contributors %v finisher %s", got, res.Provider)
	}
	u := res.Usage()
	if u.InputTokens != 110 || u.OutputTokens != 7 || !u.Estimated {
		t.Fatalf("usage %+v: both attempts are metered, the cut one estimated", u)
	}
}

func TestCooldownOpensAfterRepeatedFailuresAndHalfOpens(t *testing.T) {
	var steps []step
	for i := 0; i < 6; i++ {
		steps = append(steps, step{err: perr(500, true, 0)})
	}
	a := &scripted{name: "a", steps: steps}
	b := &scripted{name: "b"}
	r, c := newRouter(t, Options{Retries: -1, FailureThreshold: 3, Cooldown: 30 * time.Second}, a, b)
	for i := 0; i < 3; i++ {
		if _, res, err := collect(r, context.Background()); err != nil || res.Provider != "b" {
			t.Fatal(err)
		}
	}
	if st := r.State()["a"]; st != "open" {
		t.Fatalf("a is %s after 3 failures", st)
	}
	_, res, _ := collect(r, context.Background())
	if a.nCalls() != 3 || res.Attempts[0].Skipped != "cooldown" {
		t.Fatalf("an open provider was called: %d calls, %+v", a.nCalls(), res.Attempts)
	}
	c.advance(31 * time.Second)
	if st := r.State()["a"]; st != "half-open" {
		t.Fatalf("a is %s after the cooldown", st)
	}
	a.mu.Lock()
	a.steps = nil // healthy again
	a.mu.Unlock()
	_, res, _ = collect(r, context.Background())
	if res.Provider != "a" || r.State()["a"] != "closed" {
		t.Fatalf("the trial call did not close the breaker: %s %v", res.Provider, r.State())
	}
}

func TestNonRetryableErrorGoesToNextProviderWithoutTrippingBreaker(t *testing.T) {
	a := &scripted{name: "a", steps: []step{{err: perr(400, false, 0)}, {err: perr(400, false, 0)}, {err: perr(400, false, 0)}, {err: perr(400, false, 0)}}}
	b := &scripted{name: "b"}
	r, c := newRouter(t, Options{Retries: 3, FailureThreshold: 2}, a, b)
	for i := 0; i < 3; i++ {
		if _, res, err := collect(r, context.Background()); err != nil || res.Provider != "b" {
			t.Fatal(err)
		}
	}
	if a.nCalls() != 3 || len(c.waits) != 0 || r.State()["a"] != "closed" {
		t.Fatalf("calls %d waits %v state %s", a.nCalls(), c.waits, r.State()["a"])
	}
}

func TestEmitErrorAbortsEverything(t *testing.T) {
	a := &scripted{name: "a", steps: []step{{tokens: []string{"one", "two"}}}}
	b := &scripted{name: "b"}
	r, _ := newRouter(t, Options{}, a, b)
	gone := errors.New("client gone")
	res, err := r.Stream(context.Background(), flavormonk.ChatRequest{}, func(string) error { return gone })
	if !errors.Is(err, gone) || b.nCalls() != 0 || len(res.Attempts) != 1 {
		t.Fatalf("err %v, b calls %d, attempts %d", err, b.nCalls(), len(res.Attempts))
	}
	if r.State()["a"] != "closed" {
		t.Fatal("a client going away counted against the provider")
	}
}

func TestAllFailingIsUnavailable(t *testing.T) {
	a := &scripted{name: "a", steps: []step{{err: perr(500, true, 0)}}}
	b := &scripted{name: "b", steps: []step{{err: perr(502, true, 0)}}}
	r, _ := newRouter(t, Options{Retries: -1}, a, b)
	_, res, err := collect(r, context.Background())
	if flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE || len(res.Attempts) != 2 {
		t.Fatalf("err %v attempts %d", err, len(res.Attempts))
	}
}

func TestFullProviderIsSkippedForTheNext(t *testing.T) {
	a := &scripted{name: "a", block: make(chan struct{})}
	b := &scripted{name: "b"}
	r, _ := newRouter(t, Options{Concurrency: 1}, a, b)
	done := make(chan *Result)
	go func() { _, res, _ := collect(r, context.Background()); done <- res }()
	for a.nCalls() == 0 {
		time.Sleep(time.Millisecond)
	}
	_, res, err := collect(r, context.Background())
	if err != nil || res.Provider != "b" || res.Attempts[0].Skipped != "busy" {
		t.Fatalf("second call: %v %+v", err, res)
	}
	close(a.block)
	if res := <-done; res.Provider != "a" {
		t.Fatalf("first call finished on %s", res.Provider)
	}
}

func TestCancelStopsTheCall(t *testing.T) {
	a := &scripted{name: "a", block: make(chan struct{})}
	b := &scripted{name: "b"}
	r, _ := newRouter(t, Options{}, a, b)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for a.nCalls() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, res, err := collect(r, ctx)
	if !errors.Is(err, context.Canceled) || b.nCalls() != 0 || !res.Attempts[0].Usage.Estimated {
		t.Fatalf("err %v b calls %d attempts %+v", err, b.nCalls(), res.Attempts)
	}
}

// stalling sends a token, then nothing, until cancelled.
type stalling struct{ calls atomic.Int64 }

func (s *stalling) Name() string  { return "stall" }
func (s *stalling) Model() string { return "stall-1" }
func (s *stalling) Stream(ctx context.Context, _ flavormonk.ChatRequest, emit func(string) error) (flavormonk.Usage, error) {
	s.calls.Add(1)
	if err := emit("Start "); err != nil {
		return flavormonk.Usage{}, err
	}
	<-ctx.Done()
	return flavormonk.Usage{OutputTokens: 1, Estimated: true}, ctx.Err()
}

func TestStalledStreamFailsOverAndCounts(t *testing.T) {
	s := &stalling{}
	b := &scripted{name: "b", steps: []step{{tokens: []string{"finished."}}}}
	r, err := New(Options{StallTimeout: 50 * time.Millisecond, FailureThreshold: 1, Cooldown: time.Minute}, s, b)
	if err != nil {
		t.Fatal(err)
	}
	text, res, err := collect(r, context.Background())
	if err != nil || text != "Start finished." || res.Provider != "b" {
		t.Fatalf("got %q %v %+v", text, err, res)
	}
	var pe *flavormonk.ProviderError
	if !errors.As(res.Attempts[0].Err, &pe) || !pe.Retryable || !errors.Is(res.Attempts[0].Err, errStalled) {
		t.Fatalf("the stalled attempt's error: %v", res.Attempts[0].Err)
	}
	if r.State()["stall"] != "open" {
		t.Fatalf("a stalled provider did not count as failing: %v", r.State())
	}
}

type panicky struct{}

func (panicky) Name() string  { return "panicky" }
func (panicky) Model() string { return "p-1" }
func (panicky) Stream(context.Context, flavormonk.ChatRequest, func(string) error) (flavormonk.Usage, error) {
	panic("boom")
}

func TestPanickingProviderLeaksNothing(t *testing.T) {
	b := &scripted{name: "b"}
	r, _ := newRouter(t, Options{Concurrency: 1, FailureThreshold: 1, Cooldown: time.Second}, panicky{}, b)
	for i := 0; i < 3; i++ {
		if _, res, err := collect(r, context.Background()); err != nil || res.Provider != "b" {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	e := r.entries[0]
	if len(e.sem) != 0 || e.trial {
		t.Fatalf("after panics: %d slots held, trial %v", len(e.sem), e.trial)
	}
}

func TestLongRetryAfterCoolsTheProviderDown(t *testing.T) {
	a := &scripted{name: "a", steps: []step{{err: perr(429, true, time.Minute)}}}
	b := &scripted{name: "b"}
	r, c := newRouter(t, Options{Retries: 2, MaxBackoff: 5 * time.Second, FailureThreshold: 10}, a, b)
	collect(r, context.Background())
	_, res, _ := collect(r, context.Background())
	if a.nCalls() != 1 || res.Attempts[0].Skipped != "cooldown" {
		t.Fatalf("a was called again within its Retry-After: %d calls", a.nCalls())
	}
	c.advance(61 * time.Second)
	collect(r, context.Background())
	if a.nCalls() != 2 {
		t.Fatalf("a was not tried after its Retry-After: %d calls", a.nCalls())
	}
}

func TestOnlyTheTrialCallerEndsTheTrial(t *testing.T) {
	e := &entry{failures: 3}
	now := time.Now()
	ok, trial := e.admit(now, 3)
	if !ok || !trial {
		t.Fatal("no trial admitted")
	}
	// A call admitted before the breaker opened ends: the trial stays.
	e.end(false, neutral, now, 3, time.Second, 0)
	if ok, _ := e.admit(now, 3); ok {
		t.Fatal("a second trial was admitted while the first runs")
	}
	e.end(true, success, now, 3, time.Second, 0)
	if ok, trial := e.admit(now, 3); !ok || trial {
		t.Fatal("the provider is not closed after a successful trial")
	}
}

func TestSkippedAttemptsAreObserved(t *testing.T) {
	a := &scripted{name: "a", steps: []step{{err: perr(500, true, 0)}}}
	b := &scripted{name: "b"}
	var seen []string
	var mu sync.Mutex
	r, _ := newRouter(t, Options{Retries: -1, FailureThreshold: 1, Cooldown: time.Minute, Observe: func(a Attempt) {
		mu.Lock()
		seen = append(seen, a.Provider+":"+a.Skipped)
		mu.Unlock()
	}}, a, b)
	collect(r, context.Background())
	collect(r, context.Background())
	if strings.Join(seen, ",") != "a:,b:,a:cooldown,b:" {
		t.Fatalf("observed %v", seen)
	}
}
