package web

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// outageLogEvery is how often a continuing store outage is logged again.
const outageLogEvery = time.Minute

// outageSettle is how long the store must go without a failure before a
// success ends the outage: a database going down answers some requests and
// fails others for a moment, which is one outage, not several.
const outageSettle = 2 * time.Second

// errStoreDown is what users see while the store is unreachable.
var errStoreDown = flavormonk.Errorf(flavormonk.EUNAVAILABLE, "the database is unreachable at the moment; try again shortly")

// storeOutage tracks whether the store is reachable, from the failures
// requests see and the successes of readiness probes and visitor lookups.
type storeOutage struct {
	unreachable func(error) bool // nil: store errors are not classified
	log         *slog.Logger
	now         func() time.Time

	mu     sync.Mutex
	since  time.Time // zero while the store answers
	last   time.Time // the latest failure
	logged time.Time
	failed int
}

// check returns err as an EUNAVAILABLE error (the cause still in its chain)
// when it means the store is unreachable, recording the failure; any other
// err is returned as is.
func (o *storeOutage) check(ctx context.Context, err error) error {
	if err == nil || o.unreachable == nil || !o.unreachable(err) {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	if !o.since.IsZero() && now.Sub(o.last) >= outageLogEvery {
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
	case now.Sub(o.logged) >= outageLogEvery:
		o.logged = now
		o.log.ErrorContext(ctx, "store still unreachable", "down_for", now.Sub(o.since).Round(time.Second), "failed", o.failed, "err", err)
	}
	return fmt.Errorf("%w (%w)", errStoreDown, err)
}

// ok records that the store answered.
func (o *storeOutage) ok(ctx context.Context) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	if o.since.IsZero() || now.Sub(o.last) < outageSettle {
		return
	}
	o.log.InfoContext(ctx, "store reachable again", "down_for", now.Sub(o.since).Round(time.Second), "failed", o.failed)
	o.since, o.failed = time.Time{}, 0
}
