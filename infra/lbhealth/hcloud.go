package lbhealth

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/hetznercloud/hcloud-go/v2/hcloud"
)

// DefaultInterval is how often Hcloud asks: the load balancer checks every
// 10 s (plan.LBCheckInterval), so a few seconds notices the change soon
// enough while staying far under the API's 3,600 requests an hour.
const DefaultInterval = 3 * time.Second

// healthyPolls is how many polls in a row must see the target healthy.
// Hetzner admits a target on its first passing check, so one poll could
// catch a flap between a pass and the next failure.
const healthyPolls = 2

// NewClient is the API client for Hcloud, from the token the program's
// hcloud provider uses; endpoint "" is Hetzner's.
func NewClient(token, endpoint string) *hcloud.Client {
	opts := []hcloud.ClientOption{
		hcloud.WithToken(token),
		hcloud.WithApplication("flavormonk-lbhealth", ""),
		// A hung request must not outlast the wait's own timeout by much.
		hcloud.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
	}
	if endpoint != "" {
		opts = append(opts, hcloud.WithEndpoint(endpoint))
	}
	return hcloud.NewClient(opts...)
}

// Hcloud is the Watcher for Hetzner Cloud load balancers: it polls
// GET /load_balancers/{id} until the server target reports every service
// that sends it traffic healthy on two polls in a row. A failed poll (a
// 5xx, a network error) is retried at the next interval until the
// timeout; a load balancer that does not exist, a server that is not
// its target or a token the API refuses ends the wait at once.
type Hcloud struct {
	client   *hcloud.Client
	interval time.Duration
	clock    Clock
}

var _ Watcher = (*Hcloud)(nil)

// HcloudOptions tune an Hcloud watcher; the zero value is production's.
type HcloudOptions struct {
	Interval time.Duration // default DefaultInterval
	Clock    Clock         // default RealClock
}

// NewHcloud returns a Watcher asking through client.
func NewHcloud(client *hcloud.Client, o HcloudOptions) *Hcloud {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	return &Hcloud{client: client, interval: o.Interval, clock: o.Clock}
}

// WaitHealthy implements Watcher.
func (h *Hcloud) WaitHealthy(ctx context.Context, t Target, timeout time.Duration) error {
	start := h.clock.Now()
	deadline := start.Add(timeout)
	e := &Error{Target: t}
	fail := func(err error) error {
		e.Err, e.Waited = err, h.clock.Now().Sub(start)
		return e
	}
	streak := 0
	for {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		lb, _, err := h.client.LoadBalancer.GetByID(ctx, t.LoadBalancerID)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return fail(ctx.Err())
			}
			e.LastAPIError, streak = err, 0
			if hcloud.IsError(err, hcloud.ErrorCodeUnauthorized, hcloud.ErrorCodeForbidden) {
				// No later poll fixes a wrong token.
				return fail(ErrRefused)
			}
		case lb == nil:
			return fail(ErrNoLoadBalancer)
		default:
			e.LastAPIError = nil
			target, ok := serverTarget(lb, t.ServerID)
			if !ok {
				e.Targets = serverTargets(lb)
				return fail(ErrNotTarget)
			}
			ports := listenPorts(lb, t.Port)
			if len(ports) == 0 {
				// No service sends this port traffic (a load balancer
				// made in this run gets its service after the rollout):
				// the server carries none, so there is nothing to drop.
				return nil
			}
			var healthy bool
			e.Last, healthy = statuses(target, ports)
			if healthy {
				streak++
			} else {
				streak = 0
			}
			if streak >= healthyPolls {
				return nil
			}
		}
		left := deadline.Sub(h.clock.Now())
		if left <= 0 {
			return fail(ErrTimeout)
		}
		if err := h.clock.Sleep(ctx, min(h.interval, left)); err != nil {
			return fail(err)
		}
	}
}

func serverTarget(lb *hcloud.LoadBalancer, id int64) (hcloud.LoadBalancerTarget, bool) {
	for _, t := range lb.Targets {
		if t.Type == hcloud.LoadBalancerTargetTypeServer && t.Server != nil && t.Server.Server != nil && t.Server.Server.ID == id {
			return t, true
		}
	}
	return hcloud.LoadBalancerTarget{}, false
}

func serverTargets(lb *hcloud.LoadBalancer) []int64 {
	var ids []int64
	for _, t := range lb.Targets {
		if t.Type == hcloud.LoadBalancerTargetTypeServer && t.Server != nil && t.Server.Server != nil {
			ids = append(ids, t.Server.Server.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// listenPorts are the services that send traffic to port, by listen port
// (the key of a target's health_status).
func listenPorts(lb *hcloud.LoadBalancer, port int) []int {
	var out []int
	for _, s := range lb.Services {
		if s.DestinationPort == port {
			out = append(out, s.ListenPort)
		}
	}
	slices.Sort(out)
	return out
}

// statuses are the target's health on each of ports, and whether all of
// them are healthy. A service with no entry yet (just added) is not.
func statuses(t hcloud.LoadBalancerTarget, ports []int) ([]Status, bool) {
	out := make([]Status, 0, len(ports))
	healthy := true
	for _, p := range ports {
		s := Status{ListenPort: p, Status: "none"}
		for _, hs := range t.HealthStatus {
			if hs.ListenPort != p {
				continue
			}
			s.Status = string(hs.Status)
			if hs.Detail != nil {
				s.Detail = string(*hs.Detail)
			}
			if hs.HTTPStatusCode != nil {
				s.HTTPCode = *hs.HTTPStatusCode
			}
		}
		healthy = healthy && s.Status == string(hcloud.LoadBalancerTargetHealthStatusStatusHealthy)
		out = append(out, s)
	}
	return out, healthy
}
