// Package script holds what the local inference test servers (openaitest,
// replicatetest) share: the scripted answer's timing, the faults they can
// inject, and the counters a test or a load test reads back.
package script

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
)

// Kind is a fault a test server can inject.
type Kind int

const (
	// None: the answer streams in full, with usage.
	None Kind = iota
	// HTTP500: the request is answered 500 with the provider's error body.
	HTTP500
	// HTTP429: the request is answered 429 with Fault.RetryAfter (if set)
	// as the Retry-After header.
	HTTP429
	// SlowFirstToken: the first token waits Fault.Delay (10s if zero)
	// instead of the server's FirstToken delay.
	SlowFirstToken
	// Cut: the connection is closed after Fault.After tokens, with no usage
	// and no end-of-stream marker.
	Cut
	// Malformed: after Fault.After tokens the server sends a chunk that is
	// not valid JSON (OpenAI) or an SSE event of an unknown type with a
	// broken payload (Replicate), then closes the stream.
	Malformed
	// StreamError: after Fault.After tokens the provider reports an error
	// inside the stream (OpenAI's data: {"error":…}, Replicate's
	// event: error and a failed prediction).
	StreamError
	// Hang: the stream opens (headers sent) and nothing follows until the
	// client goes away.
	Hang
)

var kindNames = [...]string{"none", "500", "429", "slow-first-token", "cut", "malformed", "stream-error", "hang"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Fault is an injected failure.
type Fault struct {
	Kind Kind
	// After is the number of tokens sent before Cut, Malformed or
	// StreamError strikes.
	After int
	// RetryAfter is the Retry-After header value of a 429: seconds ("2") or
	// an HTTP date. Empty: no header.
	RetryAfter string
	// Delay is the first-token delay of SlowFirstToken (10s if zero).
	Delay time.Duration
	// Times is how many requests the fault hits before the server answers
	// normally again; 0 means every request.
	Times int
}

// Faults hands out an injected fault to the requests it hits. The zero
// value injects nothing. Safe for concurrent use.
type Faults struct {
	mu        sync.Mutex
	fault     Fault
	remaining int
}

// Set injects f (Fault{} clears it).
func (fs *Faults) Set(f Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.fault, fs.remaining = f, f.Times
}

// Next returns the fault for the next request, and counts it down.
func (fs *Faults) Next() Fault {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	f := fs.fault
	if f.Kind == None {
		return Fault{}
	}
	if f.Times > 0 {
		fs.remaining--
		if fs.remaining <= 0 {
			fs.fault = Fault{}
		}
	}
	return f
}

// Timing is the pace of a streamed answer.
type Timing struct {
	FirstToken time.Duration // from the request to the first token
	Interval   time.Duration // between tokens
}

// Stats are a server's counters since it started.
type Stats struct {
	Requests     int64 // requests received (any route)
	Streams      int64 // streams opened
	Open         int64 // streams open now
	Completed    int64 // streams that ran to their end (usage sent, done)
	ClientGone   int64 // streams whose client went away before the end
	Cancels      int64 // cancel requests (Replicate)
	Faults       int64 // requests that got an injected fault
	InputTokens  int64 // sum of the input tokens the server reported
	OutputTokens int64 // sum of the output tokens the server reported
	Seconds      float64
}

// Counters are the atomic counters behind Stats.
type Counters struct {
	requests, streams, open, completed, gone, cancels, faults, in, out, micros atomic.Int64
}

func (c *Counters) Request()    { c.requests.Add(1) }
func (c *Counters) Fault()      { c.faults.Add(1) }
func (c *Counters) Cancel()     { c.cancels.Add(1) }
func (c *Counters) ClientGone() { c.gone.Add(1) }

// StreamOpened counts a stream and returns the func that marks it closed.
func (c *Counters) StreamOpened() (closed func()) {
	c.streams.Add(1)
	c.open.Add(1)
	return func() { c.open.Add(-1) }
}

// Completed counts a stream that ran to its end.
func (c *Counters) Completed() { c.completed.Add(1) }

// Reported adds usage the server reported to a client.
func (c *Counters) Reported(in, out int, seconds float64) {
	c.in.Add(int64(in))
	c.out.Add(int64(out))
	c.micros.Add(int64(seconds * 1e6))
}

// Stats returns a snapshot.
func (c *Counters) Stats() Stats {
	return Stats{
		Requests:     c.requests.Load(),
		Streams:      c.streams.Load(),
		Open:         c.open.Load(),
		Completed:    c.completed.Load(),
		ClientGone:   c.gone.Load(),
		Cancels:      c.cancels.Load(),
		Faults:       c.faults.Load(),
		InputTokens:  c.in.Load(),
		OutputTokens: c.out.Load(),
		Seconds:      float64(c.micros.Load()) / 1e6,
	}
}

// Ring keeps the last N values added. Safe for concurrent use.
type Ring[T any] struct {
	mu    sync.Mutex
	items []T
	max   int
}

// NewRing returns a ring that keeps max values.
func NewRing[T any](max int) *Ring[T] { return &Ring[T]{max: max} }

// Add appends v, dropping the oldest value when full.
func (r *Ring[T]) Add(v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.items) == r.max {
		copy(r.items, r.items[1:])
		r.items = r.items[:r.max-1]
	}
	r.items = append(r.items, v)
}

// All returns the values, oldest first.
func (r *Ring[T]) All() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.items...)
}

// Last returns the newest value, and false when there is none.
func (r *Ring[T]) Last() (T, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var zero T
	if len(r.items) == 0 {
		return zero, false
	}
	return r.items[len(r.items)-1], true
}

// Split cuts an answer into the pieces a model streams: each word with the
// white space before it (" word"), so that joining the pieces gives the
// answer back exactly. Pieces never split a UTF-8 character.
func Split(answer string) []string {
	var pieces []string
	start := 0
	word := false // the current piece has a non-space rune
	for i, r := range answer {
		space := unicode.IsSpace(r)
		if space && word {
			pieces = append(pieces, answer[start:i])
			start, word = i, false
		}
		if !space {
			word = true
		}
	}
	if start < len(answer) {
		pieces = append(pieces, answer[start:])
	}
	return pieces
}

// Sleep waits d, or less if ctx ends first; it reports whether it waited the
// full time.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// FirstDelay is the wait before the first token under fault f.
func FirstDelay(f Fault, t Timing) time.Duration {
	if f.Kind == SlowFirstToken {
		if f.Delay > 0 {
			return f.Delay
		}
		return 10 * time.Second
	}
	return t.FirstToken
}
