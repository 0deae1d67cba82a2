// Package clocktest is a settable flavormonk.Clock for tests in any
// package: boundary tests run at fixed instants, never at the date the
// suite happens to run.
package clocktest

import (
	"sync"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Clock stands still at the time it was last set to. It is safe for
// concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a Clock standing at t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the time the clock stands at.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Add moves the clock on by d and returns the new time.
func (c *Clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// Clock returns c as a flavormonk.Clock.
func (c *Clock) Clock() flavormonk.Clock { return c.Now }
