package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The hand-over path (-paths handover): the stack between mvp and upgrade
// with keepVmEntry (README "Phase changes"). app-1, the mvp host, is still
// behind its Caddy (users whose DNS has not moved yet) and already a
// target of the load balancer on its blue port, beside app-2; both take
// `--mode inplace --lb-probes N`. On app-1 deploy.sh first hops Caddy to
// green, then restarts blue for the load balancer, moves Caddy back and
// stops green: the load runs through both fronts at once and neither may
// see a failed request.

type hoRig struct {
	r     *rollout
	hosts []*host // app-1 (Caddy in front), app-2
	lb    *haproxy
	caddy *caddy
}

// The report's two rows.
const (
	hoViaCaddy = "hand-over via Caddy on app-1"
	hoViaLB    = "hand-over via HAProxy (app-1, app-2)"
)

func (r *rollout) hoPath(ctx context.Context, image string) (*hoRig, error) {
	// Its own folder: the lb path's hosts, HAProxy and Caddy use the
	// same names in the work directory.
	dir := filepath.Join(r.opt.Work, "handover")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	rig := &hoRig{r: r}
	servers := map[string]string{}
	for _, n := range []string{"app-1", "app-2"} {
		// app-1 is behind the load balancer too: the same drain as app-2.
		h, err := r.newHost("handover/"+n, n == "app-1", r.opt.Drain)
		if err != nil {
			return nil, err
		}
		rig.hosts = append(rig.hosts, h)
		servers[n] = fmt.Sprintf("127.0.0.1:%d", h.Ports["blue"])
	}
	app1 := rig.hosts[0]
	c, err := startCaddy(ctx, dir, app1.Root)
	if err != nil {
		return nil, err
	}
	rig.caddy, app1.Caddy = c, c
	lb, err := startHAProxy(ctx, dir, servers)
	if err != nil {
		return nil, err
	}
	rig.lb = lb
	r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("hand-over: Caddy %s → app-1 blue 127.0.0.1:%d or green 127.0.0.1:%d (FLAVORMONK_CADDY=yes); HAProxy %s → app-1 %s, app-2 %s (FLAVORMONK_CADDY=no), checks as above; app drain %s on both",
		c.url, app1.Ports["blue"], app1.Ports["green"], lb.url, servers["app-1"], servers["app-2"], r.opt.Drain))
	// app-1 as mvp left it (its first deploy, blue/green: blue serves
	// behind Caddy), app-2 as upgrade made it (inplace).
	for i, h := range rig.hosts {
		mode := "inplace"
		if i == 0 {
			mode = "bluegreen"
		}
		s := r.deploy(ctx, h, append(append([]string{"--mode", mode}, r.timeoutArgs(image)...), image)...)
		if s.Err != nil {
			return nil, fmt.Errorf("first deploy: %w\n%s", s.Err, s.Out)
		}
		r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("%s: first deploy of %s (--mode %s) in %.1f s (%s)", h.Name, image, mode, s.Took.Seconds(), describeRunning(h)))
	}
	if err := lb.waitUp(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	return rig, nil
}

// roll deploys each image to app-1 then app-2, --mode inplace, under a
// load through Caddy and one through HAProxy.
func (rig *hoRig) roll(ctx context.Context, images []string, probes int) ([]loadResult, error) {
	r := rig.r
	lbr := &lbRig{r: r, hosts: rig.hosts, lb: rig.lb}
	fronts := []front{{hoViaCaddy, rig.caddy.url}, {hoViaLB, rig.lb.url}}
	return r.underLoads(ctx, fronts, rig.watch, rig.final, func(ctx context.Context, t0 time.Time) []step {
		var steps []step
		for i, image := range images {
			if i > 0 {
				sleep(ctx, r.opt.Hold/2)
			}
			for _, h := range rig.hosts {
				at := r.now().Sub(t0)
				s := r.deploy(ctx, h, lbr.args(image, probes)...)
				s.At, s.WantFail = at, image == imageBroken
				s.Name += " (then " + describeRunning(h) + ")"
				steps = append(steps, s)
				if s.Err != nil {
					return steps
				}
			}
		}
		return steps
	})
}

func (rig *hoRig) final() []string { return finalOf(rig.hosts...) }

// watch records HAProxy's view of the servers and where Caddy proxies.
func (rig *hoRig) watch(ctx context.Context, t0 time.Time) []step {
	lbr := &lbRig{r: rig.r, lb: rig.lb}
	var steps []step
	done := make(chan struct{})
	go func() { defer close(done); steps = lbr.watch(ctx, t0) }()
	var caddySteps []step
	last := ""
	for ctx.Err() == nil {
		if up := rig.upstream(); up != last {
			caddySteps = append(caddySteps, step{Name: "Caddy → " + up, At: rig.r.now().Sub(t0)})
			last = up
		}
		sleep(ctx, 50*time.Millisecond)
	}
	<-done
	return mergeSteps(steps, caddySteps)
}

// upstream names the colour Caddy's upstream snippet points at.
func (rig *hoRig) upstream() string {
	b, err := os.ReadFile(filepath.Join(rig.hosts[0].Root, "etc/caddy/flavormonk-upstream"))
	if err != nil {
		return "no upstream snippet"
	}
	s := strings.TrimSpace(string(b))
	for c, p := range rig.hosts[0].Ports {
		if s == fmt.Sprintf("reverse_proxy 127.0.0.1:%d", p) {
			return c + fmt.Sprintf(" (127.0.0.1:%d)", p)
		}
	}
	return s
}

// checkEnd adds to the report what is wrong with app-1 at the end: Caddy
// proxies to blue, blue runs the last version, green is stopped.
func (rig *hoRig) checkEnd(version string) {
	r, h := rig.r, rig.hosts[0]
	if up := rig.upstream(); !strings.HasPrefix(up, "blue ") {
		r.fail("hand-over: at the end Caddy's upstream is %s; want blue (127.0.0.1:%d)", up, h.Ports["blue"])
	}
	run := h.running()
	if run["blue"] != version {
		r.fail("hand-over: at the end app-1 blue runs %q; want %s", run["blue"], version)
	}
	if v, ok := run["green"]; ok {
		r.fail("hand-over: at the end app-1 green still runs %s; want it stopped", v)
	}
}

func (rig *hoRig) close() {
	for _, h := range rig.hosts {
		h.kill("blue")
		h.kill("green")
	}
	rig.lb.p.stop()
	rig.caddy.p.stop()
}
