package web

import (
	"context"
	"errors"
	"sync"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// errShuttingDown ends the answer streams still open when the shutdown
// grace period is over.
var errShuttingDown = flavormonk.Errorf(flavormonk.EUNAVAILABLE, "the server is restarting; ask again in a moment")

// streamRetryMillis is the SSE retry hint sent with errShuttingDown: by
// then another instance (or this one restarted) is serving.
const streamRetryMillis = 2000

// streamSet tracks the open answer streams so shutdown can end them with
// an error event and wait until each has settled its usage.
type streamSet struct {
	mu    sync.Mutex
	ended bool
	wg    sync.WaitGroup
	ctx   context.Context // cancelled by end
	stop  context.CancelCauseFunc
}

func newStreamSet() *streamSet {
	ctx, stop := context.WithCancelCause(context.Background())
	return &streamSet{ctx: ctx, stop: stop}
}

// join registers a stream; it returns a context that ends with the request
// or when shutdown ends the streams, and the function to call when the
// stream has settled. After end, it refuses new streams.
func (ss *streamSet) join(parent context.Context) (context.Context, func(), error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ended {
		return nil, nil, errShuttingDown
	}
	ss.wg.Add(1)
	ctx, cancel := context.WithCancelCause(parent)
	unwatch := context.AfterFunc(ss.ctx, func() { cancel(errShuttingDown) })
	return ctx, func() {
		unwatch()
		cancel(context.Canceled)
		ss.wg.Done()
	}, nil
}

// end cancels every open stream and waits, until ctx ends, for each to
// send its error event and settle.
func (ss *streamSet) end(ctx context.Context) error {
	ss.mu.Lock()
	ss.ended = true
	ss.mu.Unlock()
	ss.stop(errShuttingDown)
	done := make(chan struct{})
	go func() { ss.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// EndStreams is shutdown's last step for the assistant, once the grace
// period is over: each answer stream still open gets an error event
// (unavailable, with a retry hint) and settles what its provider calls
// consumed; new streams are refused. It returns when all have settled, or
// with ctx's error when ctx ends first.
func (s *Server) EndStreams(ctx context.Context) error {
	return s.streams.end(ctx)
}

// shuttingDown reports whether ctx (from streamSet.join) was ended by
// EndStreams.
func shuttingDown(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errShuttingDown)
}
