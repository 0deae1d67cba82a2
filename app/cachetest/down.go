package cachetest

import (
	"context"
	"sync/atomic"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Down is a flavormonk.Cache whose every method fails with EUNAVAILABLE, as
// a cache server that is gone: for tests of the paths that must keep
// serving without the cache. Calls counts the calls made to it.
type Down struct {
	Calls atomic.Int64
}

var _ flavormonk.Cache = (*Down)(nil)

func (d *Down) err() error {
	d.Calls.Add(1)
	return flavormonk.Errorf(flavormonk.EUNAVAILABLE, "cachetest: the cache is down")
}

// Get fails.
func (d *Down) Get(context.Context, string) ([]byte, bool, error) { return nil, false, d.err() }

// Set fails.
func (d *Down) Set(context.Context, string, []byte, time.Duration) error { return d.err() }

// Delete fails.
func (d *Down) Delete(context.Context, ...string) error { return d.err() }

// Incr fails.
func (d *Down) Incr(context.Context, string, time.Duration) (int64, error) { return 0, d.err() }

// Ping fails.
func (d *Down) Ping(context.Context) error { return d.err() }

// Close succeeds.
func (d *Down) Close() error { return nil }
