// Package lbhealth waits, from the machine running `pulumi up`, until a
// load balancer sends a server traffic again: the rollout takes one server
// out at a time and moves on only once the load balancer is seen to admit
// it, never after a fixed sleep.
//
// Hetzner's API reports each target's health per service
// (targets[].health_status); Hcloud polls it with the token the program
// already holds for its provider, so no cloud token ever reaches a VM.
// DigitalOcean's API has no per-droplet health; there the host's deploy
// script counts the load balancer's own probes instead.
package lbhealth

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Target is a server behind a load balancer and the port the load
// balancer sends it traffic on. Only the load balancer's services with
// that destination port count: during a phase change the service may
// still point elsewhere (scale's node port) until the edge switches it
// after the rollout, and a server is not judged on a port it does not
// serve yet.
type Target struct {
	LoadBalancerID int64
	ServerID       int64
	Port           int
}

func (t Target) String() string {
	return fmt.Sprintf("load balancer %d, server %d (port %d)", t.LoadBalancerID, t.ServerID, t.Port)
}

// Watcher waits until a load balancer sends a target traffic.
type Watcher interface {
	// WaitHealthy returns nil once the load balancer reports the target
	// healthy on every service that sends it traffic, or an *Error when
	// timeout passes first, the target is not the load balancer's, or ctx
	// ends.
	WaitHealthy(ctx context.Context, t Target, timeout time.Duration) error
}

// Why a wait ended without the target healthy (Error.Err).
var (
	ErrTimeout        = errors.New("not healthy before the timeout")
	ErrNotTarget      = errors.New("the server is not a target of the load balancer")
	ErrNoLoadBalancer = errors.New("the load balancer does not exist")
	ErrRefused        = errors.New("the API refused the token")
)

// Status is one service's health of a target, as the API reported it.
type Status struct {
	ListenPort int
	Status     string // "unknown", "healthy", "unhealthy"; "none" when the service has no entry yet
	Detail     string // why unhealthy, when the API says ("unexpected_http_status")
	HTTPCode   int    // the check's HTTP status, when the API says
}

func (s Status) String() string {
	out := fmt.Sprintf("listen port %d %s", s.ListenPort, s.Status)
	var why []string
	if s.Detail != "" {
		why = append(why, s.Detail)
	}
	if s.HTTPCode != 0 {
		why = append(why, fmt.Sprintf("HTTP %d", s.HTTPCode))
	}
	if len(why) > 0 {
		out += " (" + strings.Join(why, ", ") + ")"
	}
	return out
}

// Error is a wait that ended without the target healthy. It names the
// load balancer and server and carries what was last seen, so a failed
// `pulumi up` says which server did not come back and how it looked.
type Error struct {
	Target Target
	// Err is why: ErrTimeout, ErrNotTarget, ErrNoLoadBalancer,
	// ErrRefused or the context's error.
	Err error
	// Waited is how long the wait lasted.
	Waited time.Duration
	// Last are the statuses of the last successful poll (nil before one).
	Last []Status
	// LastAPIError is the last poll's error, when it failed.
	LastAPIError error
	// Targets are the load balancer's server targets (ErrNotTarget).
	Targets []int64
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "waiting for %s to be healthy: %v", e.Target, e.Err)
	if errors.Is(e.Err, ErrTimeout) {
		fmt.Fprintf(&b, " (%s)", e.Waited)
	}
	if errors.Is(e.Err, ErrNotTarget) {
		ids := make([]string, len(e.Targets))
		for i, id := range e.Targets {
			ids[i] = fmt.Sprint(id)
		}
		fmt.Fprintf(&b, "; its server targets: [%s]", strings.Join(ids, " "))
	}
	if e.Last != nil {
		parts := make([]string, len(e.Last))
		for i, s := range e.Last {
			parts[i] = s.String()
		}
		fmt.Fprintf(&b, "; last seen: %s", strings.Join(parts, ", "))
	}
	if e.LastAPIError != nil {
		fmt.Fprintf(&b, "; last API error: %v", e.LastAPIError)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Clock is the time a wait reads and sleeps on. Tests pass one that
// advances when slept on, so no test waits in real time.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or until ctx ends (returning ctx.Err()).
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

func (RealClock) Now() time.Time { return time.Now() }

func (RealClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
