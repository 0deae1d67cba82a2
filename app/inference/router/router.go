// Package router composes inference providers into one: ordered fallback,
// retries with jittered backoff that honour Retry-After, a cooldown
// (circuit breaker) per provider after repeated failures, a concurrency
// limit per provider, and continuation: when a stream breaks after text
// reached the user, the next provider continues from the partial answer.
package router

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/tokens"
)

// Options tune a Router. Zero values take the defaults in brackets.
type Options struct {
	// Retries per provider on retryable failures before any text was sent
	// (0: none; the config default is 2).
	Retries int
	// Backoff is the first retry's base delay, doubled each retry, with
	// full jitter [250ms]. MaxBackoff caps it, and a Retry-After longer
	// than MaxBackoff moves on to the next provider instead of waiting [5s].
	Backoff, MaxBackoff time.Duration
	// FailureThreshold consecutive failures open a provider's breaker for
	// Cooldown; after it one trial call is let through [3, 30s].
	FailureThreshold int
	Cooldown         time.Duration
	// StallTimeout cancels an attempt that sends no text for this long:
	// no first token, or a gap between tokens [30s]. It counts as the
	// provider's failure, and the next provider continues.
	StallTimeout time.Duration
	// Concurrency caps the calls in flight per provider [32]. A full
	// provider is skipped while another has room; when all are full the
	// call waits for its first choice.
	Concurrency int
	// Now and Sleep are the clock (tests replace them). The breaker's
	// cooldowns are durations, slept for real and set against contexts'
	// deadlines, so Now defaults to the monotonic time.Now; main does not
	// give the router the product's Clock.
	Now   flavormonk.Clock
	Sleep func(ctx context.Context, d time.Duration) error
	// Observe, when set, is told the outcome of every attempt (metrics).
	Observe func(a Attempt)
}

func (o *Options) defaults() {
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.Backoff == 0 {
		o.Backoff = 250 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.FailureThreshold == 0 {
		o.FailureThreshold = 3
	}
	if o.Cooldown == 0 {
		o.Cooldown = 30 * time.Second
	}
	if o.StallTimeout == 0 {
		o.StallTimeout = 30 * time.Second
	}
	if o.Concurrency == 0 {
		o.Concurrency = 32
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Attempt is one call to one provider.
type Attempt struct {
	Provider string
	Model    string
	Usage    flavormonk.Usage
	// Sent is the text this attempt added to the answer.
	Sent string
	// Err is nil for the attempt that finished the answer.
	Err error
	// Skipped is set when the provider was not called: its breaker was
	// open or it was at its concurrency limit.
	Skipped string
}

// Result is the outcome of a routed call: every attempt (each is metered),
// and the provider that finished the answer.
type Result struct {
	Attempts []Attempt
	// Provider and Model finished the answer; empty when none did.
	Provider, Model string
	// Text is the whole answer as sent.
	Text string
}

// Usage sums the usage of every attempt.
func (r *Result) Usage() flavormonk.Usage {
	var u flavormonk.Usage
	for _, a := range r.Attempts {
		u = u.Add(a.Usage)
	}
	return u
}

// Contributors lists the providers whose text is part of the answer, in order.
func (r *Result) Contributors() []string {
	var out []string
	for _, a := range r.Attempts {
		if a.Sent != "" && (len(out) == 0 || out[len(out)-1] != a.Provider) {
			out = append(out, a.Provider)
		}
	}
	return out
}

// Router is a Provider-like composition of providers. It is safe for
// concurrent use.
type Router struct {
	opts    Options
	entries []*entry
}

type entry struct {
	p   flavormonk.Provider
	sem chan struct{}

	mu        sync.Mutex
	failures  int       // consecutive failures
	openUntil time.Time // no calls before: the breaker's cooldown, or a long Retry-After
	trial     bool      // a half-open trial call is in flight
}

// New returns a router over providers, tried in order.
func New(opts Options, providers ...flavormonk.Provider) (*Router, error) {
	if len(providers) == 0 {
		return nil, flavormonk.Errorf(flavormonk.EINVALID, "the router needs at least one provider")
	}
	opts.defaults()
	r := &Router{opts: opts}
	for _, p := range providers {
		r.entries = append(r.entries, &entry{p: p, sem: make(chan struct{}, opts.Concurrency)})
	}
	return r, nil
}

// Providers lists the providers in order.
func (r *Router) Providers() []flavormonk.Provider {
	out := make([]flavormonk.Provider, len(r.entries))
	for i, e := range r.entries {
		out[i] = e.p
	}
	return out
}

// State reports each provider's breaker: "closed", "open" (cooling down)
// or "half-open" (the next call is a trial).
func (r *Router) State() map[string]string {
	now := r.opts.Now()
	out := map[string]string{}
	for _, e := range r.entries {
		e.mu.Lock()
		switch {
		case now.Before(e.openUntil):
			out[e.p.Name()] = "open"
		case e.failures >= r.opts.FailureThreshold:
			out[e.p.Name()] = "half-open"
		default:
			out[e.p.Name()] = "closed"
		}
		e.mu.Unlock()
	}
	return out
}

// admit reports whether the breaker lets a call through now, and whether
// that call is the half-open trial (which only its caller may end).
func (e *entry) admit(now time.Time, threshold int) (ok, trial bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if now.Before(e.openUntil) {
		return false, false
	}
	if e.failures < threshold {
		return true, false
	}
	if e.trial {
		return false, false
	}
	e.trial = true
	return true, true
}

// cooling reports whether the provider is cooling down now.
func (e *entry) cooling(now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return now.Before(e.openUntil)
}

type outcome int

const (
	neutral outcome = iota // the call said nothing about the provider's health
	success
	failure
)

// end records an admitted call's outcome. A provider that asked for a
// Retry-After longer than the router waits is left alone that long.
func (e *entry) end(trial bool, o outcome, now time.Time, threshold int, cooldown, retryAfter time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if trial {
		e.trial = false
	}
	switch o {
	case success:
		e.failures = 0
	case failure:
		e.failures++
		if e.failures >= threshold {
			e.openUntil = later(e.openUntil, now.Add(cooldown))
		}
	}
	if retryAfter > 0 {
		e.openUntil = later(e.openUntil, now.Add(retryAfter))
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// errAborted marks an emit failure, so it is told apart from provider errors.
type errAborted struct{ err error }

func (e errAborted) Error() string { return e.err.Error() }
func (e errAborted) Unwrap() error { return e.err }

// errStalled cancels an attempt that sent no text for StallTimeout.
var errStalled = errors.New("stalled")

// Stream runs req over the providers until one finishes the answer. Text
// goes to emit as it arrives; the result lists every attempt, failed ones
// included, so each is metered. The error is EUNAVAILABLE when every
// provider failed or was cooling down (the attempts say why), ctx's error,
// or emit's error.
func (r *Router) Stream(ctx context.Context, req flavormonk.ChatRequest, emit func(string) error) (*Result, error) {
	res := &Result{}
	var partial []byte
	var last error
	o := &r.opts
	tried := make([]bool, len(r.entries))
	skip := func(e *entry, why string) {
		a := Attempt{Provider: e.p.Name(), Model: e.p.Model(), Skipped: why}
		res.Attempts = append(res.Attempts, a)
		if o.Observe != nil {
			o.Observe(a)
		}
	}
	for pass := 0; pass < 2; pass++ {
		for i, e := range r.entries {
			if tried[i] {
				continue
			}
			ok, trial := e.admit(o.Now(), o.FailureThreshold)
			if !ok {
				if pass == 0 {
					skip(e, "cooldown")
				}
				continue
			}
			// First pass: skip a full provider while another may have room.
			// Second pass: wait for room.
			if pass == 0 {
				select {
				case e.sem <- struct{}{}:
				default:
					e.end(trial, neutral, o.Now(), o.FailureThreshold, o.Cooldown, 0)
					skip(e, "busy")
					continue
				}
			} else {
				select {
				case e.sem <- struct{}{}:
				case <-ctx.Done():
					e.end(trial, neutral, o.Now(), o.FailureThreshold, o.Cooldown, 0)
					res.Text = string(partial)
					return res, ctx.Err()
				}
			}
			tried[i] = true
			done, err := r.run(ctx, e, trial, req, &partial, res, emit)
			<-e.sem
			if done {
				res.Provider, res.Model = e.p.Name(), e.p.Model()
				res.Text = string(partial)
				return res, nil
			}
			var ab errAborted
			if errors.As(err, &ab) {
				res.Text = string(partial)
				return res, ab.err
			}
			if ctx.Err() != nil {
				res.Text = string(partial)
				return res, ctx.Err()
			}
			last = err
		}
		if !r.anyBusySkipped(res, tried) {
			break
		}
	}
	res.Text = string(partial)
	if last == nil {
		return res, flavormonk.Errorf(flavormonk.EUNAVAILABLE, "every assistant provider is cooling down after failures; try again in a minute")
	}
	return res, &flavormonk.Error{Code: flavormonk.EUNAVAILABLE, Message: "the assistant's providers failed; try again in a minute"}
}

func (r *Router) anyBusySkipped(res *Result, tried []bool) bool {
	for i, e := range r.entries {
		if tried[i] {
			continue
		}
		for _, a := range res.Attempts {
			if a.Skipped == "busy" && a.Provider == e.p.Name() {
				return true
			}
		}
	}
	return false
}

// safeStream calls the provider; a panic in it becomes a non-retryable
// failure, so the router's accounting (slots, breaker, metering) holds.
func safeStream(ctx context.Context, p flavormonk.Provider, req flavormonk.ChatRequest, emit func(string) error) (u flavormonk.Usage, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &flavormonk.ProviderError{Provider: p.Name(), Err: fmt.Errorf("the provider panicked: %v", v)}
		}
	}()
	return p.Stream(ctx, req, emit)
}

// run calls one provider with retries. It reports whether the answer is
// finished. A failure after text was sent is not retried here: the next
// provider continues. An attempt that sends nothing for StallTimeout (no
// first token, or a gap between tokens) is cancelled and counts as the
// provider's failure.
func (r *Router) run(ctx context.Context, e *entry, trial bool, req flavormonk.ChatRequest, partial *[]byte, res *Result, emit func(string) error) (bool, error) {
	o := &r.opts
	var err error
	for try := 0; try <= o.Retries; try++ {
		call := req
		call.Continue = req.Continue + string(*partial)
		if call.MaxTokens > 0 && len(*partial) > 0 {
			// The continuation gets what is left of the output allowance.
			call.MaxTokens = max(call.MaxTokens-tokens.Count(e.p.Model(), string(*partial)), 16)
		}
		start := len(*partial)
		actx, cancel := context.WithCancelCause(ctx)
		watchdog := time.AfterFunc(o.StallTimeout, func() { cancel(errStalled) })
		var u flavormonk.Usage
		u, err = safeStream(actx, e.p, call, func(t string) error {
			watchdog.Reset(o.StallTimeout)
			*partial = append(*partial, t...)
			if err := emit(t); err != nil {
				return errAborted{err}
			}
			return nil
		})
		watchdog.Stop()
		if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), errStalled) {
			err = &flavormonk.ProviderError{Provider: e.p.Name(), Retryable: true,
				Err: fmt.Errorf("no text for %s: %w", o.StallTimeout, errStalled)}
		}
		cancel(nil)
		a := Attempt{Provider: e.p.Name(), Model: e.p.Model(), Usage: u, Sent: string((*partial)[start:]), Err: err}
		res.Attempts = append(res.Attempts, a)
		if o.Observe != nil {
			o.Observe(a)
		}
		now := o.Now()
		if err == nil {
			e.end(trial, success, now, o.FailureThreshold, o.Cooldown, 0)
			return true, nil
		}
		var ab errAborted
		if errors.As(err, &ab) || ctx.Err() != nil {
			// The client went away or the answer's deadline passed: not
			// the provider's fault.
			e.end(trial, neutral, now, o.FailureThreshold, o.Cooldown, 0)
			return false, err
		}
		var pe *flavormonk.ProviderError
		isPE := errors.As(err, &pe)
		retryable := !isPE || pe.Retryable // an unexpected error: treat as transient
		var retryAfter time.Duration
		if isPE && pe.RetryAfter > o.MaxBackoff {
			retryAfter = pe.RetryAfter // longer than we wait: leave it alone that long
		}
		oc := neutral // a refused request says nothing about the provider
		if retryable || (isPE && (pe.Status == 401 || pe.Status == 403)) {
			oc = failure
		}
		e.end(trial, oc, now, o.FailureThreshold, o.Cooldown, retryAfter)
		trial = false // the trial, if this was one, is over
		if !retryable || len(*partial) > start || try == o.Retries || retryAfter > 0 {
			return false, err
		}
		wait := backoff(o.Backoff, o.MaxBackoff, try)
		if isPE && pe.RetryAfter > 0 {
			wait = pe.RetryAfter
		}
		if dl, ok := ctx.Deadline(); ok && now.Add(wait).After(dl) {
			return false, err
		}
		if serr := o.Sleep(ctx, wait); serr != nil {
			return false, serr
		}
		if e.cooling(o.Now()) {
			return false, err // the breaker opened meanwhile
		}
	}
	return false, err
}

// backoff is full jitter: uniform in [base/2, base·2^try], capped.
func backoff(base, cap time.Duration, try int) time.Duration {
	d := base << try
	if d > cap || d <= 0 {
		d = cap
	}
	return d/2 + rand.N(d/2+1)
}

// String describes the chain, e.g. "replicate(meta/…) → openai(gpt-4o-mini)".
func (r *Router) String() string {
	s := ""
	for i, e := range r.entries {
		if i > 0 {
			s += " → "
		}
		s += fmt.Sprintf("%s(%s)", e.p.Name(), e.p.Model())
	}
	return s
}
