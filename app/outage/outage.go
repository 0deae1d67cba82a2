// Package outage tells a store that is unreachable from one that refuses
// a request, from the errors requests see, and logs an outage once when it
// starts, once a minute while it lasts and once when it ends, instead of
// an error per request. The web server asks it about every failure; the
// store package says which of its driver's errors mean unreachable.
package outage

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// logEvery is how often a continuing store outage is logged again.
const logEvery = time.Minute

// settle is how long the store must go without a failure before a
// success ends the outage: a database going down answers some requests and
// fails others for a moment, which is one outage, not several.
const settle = 2 * time.Second

// ErrStoreDown is what users see while the store is unreachable.
var ErrStoreDown = flavormonk.Errorf(flavormonk.EUNAVAILABLE, "the database is unreachable at the moment; try again shortly")

// Tracker tracks whether the store is reachable, from the failures
// requests see and the successes of readiness probes and visitor lookups.
// It is safe for concurrent use.
type Tracker struct {
	unreachable func(error) bool // nil: store errors are not classified
	log         *slog.Logger
	clock       flavormonk.Clock

	mu     sync.Mutex
	since  time.Time // zero while the store answers
	last   time.Time // the latest failure
	logged time.Time
	failed int
}

// New returns a Tracker that counts the errors unreachable reports as
// the store being down (nil classifies none), logging to log and reading
// the time from clock.
func New(unreachable func(error) bool, log *slog.Logger, clock flavormonk.Clock) *Tracker {
	return &Tracker{unreachable: unreachable, log: log, clock: clock}
}

// Check returns err as an EUNAVAILABLE error (the cause still in its chain)
// when it means the store is unreachable, recording the failure; any other
// err is returned as is.
func (o *Tracker) Check(ctx context.Context, err error) error {
	if err == nil || o.unreachable == nil || !o.unreachable(err) {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.clock.Now()
	if !o.since.IsZero() && now.Sub(o.last) >= logEvery {
		// A quiet minute since the last failure: the outage ended without a
		// probe or visitor seeing it (API-only traffic), and this is a new one.
		o.since = time.Time{}
	}
	o.failed++
	o.last = now
	switch {
	case o.since.IsZero():
		o.since, o.logged, o.failed = now, now, 1
		o.log.ErrorContext(ctx, "store unreachable: answering 503 until it is back", "err", err)
	case now.Sub(o.logged) >= logEvery:
		o.logged = now
		o.log.ErrorContext(ctx, "store still unreachable", "down_for", now.Sub(o.since).Round(time.Second), "failed", o.failed, "err", err)
	}
	return fmt.Errorf("%w (%w)", ErrStoreDown, err)
}

// OK records that the store answered.
func (o *Tracker) OK(ctx context.Context) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.clock.Now()
	if o.since.IsZero() || now.Sub(o.last) < settle {
		return
	}
	o.log.InfoContext(ctx, "store reachable again", "down_for", now.Sub(o.since).Round(time.Second), "failed", o.failed)
	o.since, o.failed = time.Time{}, 0
}
