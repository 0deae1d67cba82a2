package plan

import (
	"time"

	appconfig "github.com/flavormonk/flavormonk/app/config"
)

// The load balancer's health check of the app, the same on both clouds.
// The Hetzner and DigitalOcean load balancer declarations read these, and
// the app's drain delay is derived from them, so the two cannot drift.
const (
	LBCheckInterval = 10 * time.Second
	LBCheckTimeout  = 5 * time.Second
	// LBUnhealthyThreshold is how many checks in a row must fail before a
	// target leaves rotation (Hetzner calls it retries).
	LBUnhealthyThreshold = 3
	// LBHealthyThreshold is how many must pass before it comes back
	// (DigitalOcean; Hetzner admits a target on its first passing check).
	LBHealthyThreshold = 3
)

// DrainMargin is added to the time a load balancer needs to see a target
// fail: a check sent just before SIGTERM may still be answered 200 and
// take up to its timeout, and the balancer then has to tell its forwarders.
const DrainMargin = LBCheckTimeout

// KubeEndpointDrain is the scale phase's drain delay. There the cloud load
// balancer targets the nodes (NodePort, externalTrafficPolicy Cluster),
// not the pods, so its health check never follows a pod out; what must
// pass before a terminating pod closes its listener is the removal of its
// endpoint from the Service and from kube-proxy's rules on every node,
// which takes a second or two and is given ten for a busy control plane.
const KubeEndpointDrain = 10 * time.Second

// DrainDelay is FLAVORMONK_DRAIN_DELAY for the phase: how long a stopping
// app keeps serving with /readyz failing.
//
//   - mvp: 0. There is no load balancer to tell; Caddy on the one VM
//     forwards to whatever listens, and a restart stops the old container
//     before the new one can bind the port, so a delay would only lengthen
//     the gap.
//   - upgrade: LBCheckInterval × LBUnhealthyThreshold + DrainMargin (35s):
//     the longest the cloud load balancer may keep sending after /readyz
//     starts failing.
//   - scale: KubeEndpointDrain.
func (p *Plan) DrainDelay() time.Duration {
	switch p.Phase {
	case Upgrade:
		return LBCheckInterval*LBUnhealthyThreshold + DrainMargin
	case Scale:
		return KubeEndpointDrain
	}
	return 0
}

// AppStopTimeout is the longest the phase's app takes to exit after
// SIGTERM (app/config's StopTimeout: drain, grace period, settling); a
// supervisor that kills it after a fixed time must allow at least this.
func (p *Plan) AppStopTimeout() time.Duration {
	c, err := appconfig.Default(appconfig.Tier(p.Phase))
	if err != nil {
		// Every phase is a tier (the plan refuses any other); keep the
		// arithmetic total anyway.
		c = &appconfig.Config{}
	}
	c.DrainDelay = p.DrainDelay()
	return c.StopTimeout()
}
