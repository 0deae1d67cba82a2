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
	// Concurrency caps the calls in flight per provider [32]. A full
	// provider is skipped while another has room; when all are full the
	// call waits for its first choice.
	Concurrency int
	// Now and Sleep are the clock (tests replace them).
	Now   func() time.Time
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
	failures  int
	openUntil time.Time
	trial     bool // a half-open trial call is in flight
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

// Providers lists the providers in order as name/model.
func (r *Router) Providers() []flavormonk.Provider {
	out := make([]flavormonk.Provider, len(r.entries))
	for i, e := range r.entries {
		out[i] = e.p
	}
	return out
}

// State reports each provider's breaker: "closed", "open" or "half-open".
func (r *Router) State() map[string]string {
	now := r.opts.Now()
	out := map[string]string{}
	for _, e := range r.entries {
		e.mu.Lock()
		switch {
		case e.failures < r.opts.FailureThreshold:
			out[e.p.Name()] = "closed"
		case now.Before(e.openUntil):
			out[e.p.Name()] = "open"
		default:
			out[e.p.Name()] = "half-open"
		}
		e.mu.Unlock()
	}
	return out
}

// admit reports whether the breaker lets a call through now.
func (e *entry) admit(now time.Time, threshold int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failures < threshold {
		return true
	}
	if now.Before(e.openUntil) || e.trial {
		return false
	}
	e.trial = true
	return true
}

func (e *entry) record(ok bool, now time.Time, threshold int, cooldown time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.trial = false
	if ok {
		e.failures = 0
		return
	}
	e.failures++
	if e.failures >= threshold {
		e.openUntil = now.Add(cooldown)
	}
}

// errAborted marks an emit failure, so it is told apart from provider errors.
type errAborted struct{ err error }

func (e errAborted) Error() string { return e.err.Error() }
func (e errAborted) Unwrap() error { return e.err }

// Stream runs req over the providers until one finishes the answer. Text
// goes to emit as it arrives; the result lists every attempt, failed ones
// included, so each is metered. The error is the last provider failure
// (EUNAVAILABLE when every provider failed or was cooling down), ctx's
// error, or emit's error.
func (r *Router) Stream(ctx context.Context, req flavormonk.ChatRequest, emit func(string) error) (*Result, error) {
	res := &Result{}
	var partial []byte
	var last error
	o := &r.opts
	tried := make([]bool, len(r.entries))
	for pass := 0; pass < 2; pass++ {
		for i, e := range r.entries {
			if tried[i] {
				continue
			}
			if !e.admit(o.Now(), o.FailureThreshold) {
				if pass == 0 {
					res.Attempts = append(res.Attempts, Attempt{Provider: e.p.Name(), Model: e.p.Model(), Skipped: "cooldown"})
				}
				continue
			}
			// First pass: skip a full provider while another may have room.
			// Second pass: wait for room.
			if pass == 0 {
				select {
				case e.sem <- struct{}{}:
				default:
					e.release(false)
					res.Attempts = append(res.Attempts, Attempt{Provider: e.p.Name(), Model: e.p.Model(), Skipped: "busy"})
					continue
				}
			} else {
				select {
				case e.sem <- struct{}{}:
				case <-ctx.Done():
					e.release(false)
					return res, ctx.Err()
				}
			}
			tried[i] = true
			done, err := r.run(ctx, e, req, &partial, res, emit)
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

// release undoes admit for a call that did not happen.
func (e *entry) release(_ bool) {
	e.mu.Lock()
	e.trial = false
	e.mu.Unlock()
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

// run calls one provider with retries. It reports whether the answer is
// finished. A failure after text was sent is not retried here: the next
// provider continues.
func (r *Router) run(ctx context.Context, e *entry, req flavormonk.ChatRequest, partial *[]byte, res *Result, emit func(string) error) (bool, error) {
	o := &r.opts
	var err error
	for try := 0; try <= o.Retries; try++ {
		if try > 0 && !e.admit(o.Now(), o.FailureThreshold) {
			return false, err
		}
		call := req
		call.Continue = req.Continue + string(*partial)
		if call.MaxTokens > 0 && len(*partial) > 0 {
			// The continuation gets what is left of the output allowance,
			// at a conservative four bytes per token.
			call.MaxTokens = max(call.MaxTokens-len(*partial)/4, 16)
		}
		start := len(*partial)
		var u flavormonk.Usage
		u, err = e.p.Stream(ctx, call, func(t string) error {
			*partial = append(*partial, t...)
			if err := emit(t); err != nil {
				return errAborted{err}
			}
			return nil
		})
		a := Attempt{Provider: e.p.Name(), Model: e.p.Model(), Usage: u, Sent: string((*partial)[start:]), Err: err}
		res.Attempts = append(res.Attempts, a)
		if o.Observe != nil {
			o.Observe(a)
		}
		if err == nil {
			e.record(true, o.Now(), o.FailureThreshold, o.Cooldown)
			return true, nil
		}
		var ab errAborted
		if errors.As(err, &ab) || ctx.Err() != nil {
			// The client went away: not the provider's fault.
			e.release(false)
			return false, err
		}
		var pe *flavormonk.ProviderError
		retryable := errors.As(err, &pe) && pe.Retryable
		if !retryable && pe == nil {
			retryable = true // an unexpected error: treat as transient
		}
		if retryable || (pe != nil && (pe.Status == 401 || pe.Status == 403)) {
			e.record(false, o.Now(), o.FailureThreshold, o.Cooldown)
		} else {
			e.release(false)
		}
		if !retryable || len(*partial) > start || try == o.Retries {
			return false, err
		}
		wait := backoff(o.Backoff, o.MaxBackoff, try)
		if pe != nil && pe.RetryAfter > 0 {
			if pe.RetryAfter > o.MaxBackoff {
				return false, err // not worth waiting: the next provider
			}
			wait = pe.RetryAfter
		}
		if dl, ok := ctx.Deadline(); ok && o.Now().Add(wait).After(dl) {
			return false, err
		}
		if serr := o.Sleep(ctx, wait); serr != nil {
			return false, serr
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
