package stack

import (
	"fmt"
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumix"

	"github.com/flavormonk/flavormonk/infra/lbhealth"
)

// LBWaitTimeout bounds the wait for one server to be healthy at the load
// balancer after its deploy. The deploy returns once the app answers
// /readyz on the host; the load balancer checks every
// plan.LBCheckInterval (10 s) and admits a target on its first passing
// check, so a healthy server is seen within about 20 s. Past this the
// `pulumi up` fails, and the servers not yet rolled keep the old version.
const LBWaitTimeout = 3 * time.Minute

// lbGate holds each app host's next deploy back until the load balancer
// sends the host just deployed traffic again, so two servers are never
// out of rotation at once.
type lbGate struct {
	ctx *pulumi.Context
	lb  *LoadBalancer
	w   lbhealth.Watcher // nil: nothing to ask (mocks without a watcher)
}

// newLBGate returns nil when there is no load balancer to watch.
func newLBGate(ctx *pulumi.Context, res *Result, in *Inputs) (*lbGate, error) {
	lb := res.LoadBalancer
	if lb == nil {
		return nil, nil
	}
	for _, h := range res.AppHosts {
		if _, ok := lb.Targets[h.Name]; !ok {
			return nil, fmt.Errorf("app host %s is not a target of the load balancer the rollout waits on", h.Name)
		}
	}
	// Real runs always have the token (the hcloud provider needs it too);
	// the program under mocks has no API to ask.
	if in.LBWatcher == nil && !ctx.DryRun() && !ctx.RunningWithMocks() {
		return nil, fmt.Errorf("the rollout waits for the load balancer through the Hetzner API and needs its token: set hcloud:token (as a secret) or HCLOUD_TOKEN")
	}
	return &lbGate{ctx: ctx, lb: lb, w: in.LBWatcher}, nil
}

// after returns env once h, deployed by cmd, is healthy at the load
// balancer. The next deploy takes it as its stdin: unchanged and still
// secret, so that deploy's inputs stay the same, and it starts only after
// the wait. A failed wait fails that deploy, and with it the `pulumi up`.
// A preview asks nothing.
func (g *lbGate) after(h Host, cmd *remote.Command, env pulumi.StringOutput) pulumi.StringOutput {
	if g == nil {
		return env
	}
	dryRun, w := g.ctx.DryRun(), g.w
	// The deploy's stdout resolves when the deploy has run.
	waited := pulumix.Apply3Err(cmd.Stdout, g.lb.ID, g.lb.Targets[h.Name], func(_ string, lbID, serverID int) (string, error) {
		if dryRun || w == nil {
			return "", nil
		}
		t := lbhealth.Target{LoadBalancerID: int64(lbID), ServerID: int64(serverID), Port: g.lb.Port}
		if err := w.WaitHealthy(g.ctx.Context(), t, LBWaitTimeout); err != nil {
			return "", fmt.Errorf("%s: %w", h.Name, err)
		}
		return "", nil
	})
	// env first: an apply stops reading its inputs at the first unknown
	// one, and ToSecret keeps it secret then too (see with).
	gated := pulumix.Apply2(env, waited, func(env, _ string) string { return env })
	return pulumi.ToSecret(pulumix.Cast[pulumi.StringOutput](gated)).(pulumi.StringOutput)
}
