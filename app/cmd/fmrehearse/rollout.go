package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/recipes"
)

// The rollout rehearsal (-phase rollout): the production deploy script
// (infra/cloudinit/files/deploy.sh) rolls a new version out under a steady
// load, once on two hosts behind a real HAProxy (--mode inplace, waiting
// for the load balancer's probes) and once on one host behind a real Caddy
// (--mode bluegreen), and once across the hand-over from mvp to upgrade
// (rollhand.go). systemd and docker are the shims of shim.go; the app
// is the real binary, built once per version.

type rolloutOptions struct {
	Root     string           // workspace root (go.work, scripts/, infra/)
	Work     string           // work directory (logs, hosts' FM_ROOTs)
	PGBase   string           // Postgres cluster URL
	Script   string           // deploy.sh (default: infra/cloudinit/files/deploy.sh)
	Rate     int              // requests per second of the load
	Hold     time.Duration    // load before the first and after the last deploy
	Drain    time.Duration    // FLAVORMONK_DRAIN_DELAY behind the load balancer
	BGDrain  time.Duration    // FLAVORMONK_DRAIN_DELAY of the blue/green host
	LBProbes int              // --lb-probes of the inplace deploys (0: none)
	Timeout  time.Duration    // --timeout of each deploy
	MaxGap   time.Duration    // longest acceptable gap between good answers
	Paths    []string         // "lb", "bluegreen", "handover"
	Rounds   int              // new versions rolled out one after the other (default 1)
	Broken   bool             // then a build that never gets ready, which deploy.sh must refuse
	Builds   map[string]build // prebuilt images (tests); nil: build them
	Now      flavormonk.Clock
	Logf     func(string, ...any)
}

// imageRef is the image reference deploy.sh is given for build i (from 1):
// the first is deployed before the load, the others during it.
func imageRef(i int) string { return fmt.Sprintf("rehearse.local/flavormonk:v%d", i) }

// imageBroken exits at once: its deploy must fail and leave the last
// version serving.
const imageBroken = "rehearse.local/flavormonk:broken"

// brokenTimeout is the --timeout of its deploy (what it waits in vain).
const brokenTimeout = 8 * time.Second

func (o rolloutOptions) images() []string {
	n := max(o.Rounds, 1) + 1
	out := make([]string, n)
	for i := range out {
		out[i] = imageRef(i + 1)
	}
	return out
}

type build struct {
	Bin     string
	Version string
}

type rollout struct {
	opt    rolloutOptions
	rep    *RolloutReport
	builds map[string]build
	ctl    *control
	shims  map[string]string
	env    map[string]string // /etc/flavormonk/env of every host
	paths  []string          // the request mix
	dbName string
	caddy  *caddy
}

// RolloutReport is what a rollout rehearsal found.
type RolloutReport struct {
	Setup    []string
	Paths    []loadResult
	Failures []string
	Notes    []string
}

func (r *RolloutReport) failed() bool { return len(r.Failures) > 0 || len(r.Paths) == 0 }

func (r *rollout) now() time.Time { return r.opt.Now.Now() }

func (r *rollout) logf(format string, args ...any) {
	if r.opt.Logf != nil {
		r.opt.Logf(format, args...)
	}
}

func (r *rollout) fail(format string, args ...any) {
	r.rep.Failures = append(r.rep.Failures, fmt.Sprintf(format, args...))
}

// runRollout runs the rehearsal and returns its report; the error is
// what kept it from running (a failed rollout is in the report).
func runRollout(ctx context.Context, o rolloutOptions) (*RolloutReport, error) {
	r := &rollout{opt: o, rep: &RolloutReport{}}
	defer r.cleanup()
	if err := r.prepare(ctx); err != nil {
		return r.rep, err
	}
	images := o.images()
	first, next := images[0], images[1:]
	if o.Broken {
		next = append(next, imageBroken)
	}
	for _, p := range o.Paths {
		var res loadResult
		var err error
		if p == "handover" {
			// Two fronts, two rows; and app-1's end state to check.
			var rig *hoRig
			if rig, err = r.hoPath(ctx, first); err != nil {
				return r.rep, err
			}
			results, err := rig.roll(ctx, next, o.LBProbes)
			if err != nil {
				return r.rep, err
			}
			for _, res := range results {
				r.judge(res, images)
				r.rep.Paths = append(r.rep.Paths, res)
			}
			rig.checkEnd(r.builds[images[len(images)-1]].Version)
			rig.close()
			continue
		}
		switch p {
		case "lb":
			var rig *lbRig
			if rig, err = r.lbPath(ctx, "load balancer (HAProxy), --mode inplace", first); err == nil {
				res, err = rig.roll(ctx, next, o.LBProbes)
				rig.close() // its processes would only compete with the next path
			}
		case "bluegreen":
			var rig *bgRig
			if rig, err = r.bgPath(ctx, first); err == nil {
				res, err = rig.roll(ctx, next)
			}
		default:
			err = fmt.Errorf("unknown rollout path %q", p)
		}
		if err != nil {
			return r.rep, err
		}
		r.judge(res, images)
		r.rep.Paths = append(r.rep.Paths, res)
	}
	return r.rep, nil
}

// judge adds the failures of one path to the report.
func (r *rollout) judge(res loadResult, images []string) {
	for _, s := range res.Steps {
		switch {
		case s.WantFail && s.Err == nil:
			r.fail("%s: %s succeeded; it must fail (the image never gets ready)", res.Name, s.Name)
		case s.WantFail && !refusedUnready(s.Out+"\n"+s.Err.Error()):
			// Failing is not enough: it must fail because the image
			// never got ready, not on a harness or script error.
			r.fail("%s: %s failed, but not by refusing an image that never got ready: %v\n%s", res.Name, s.Name, s.Err, s.Out)
		case !s.WantFail && s.Err != nil:
			r.fail("%s: %s: %v", res.Name, s.Name, s.Err)
		}
	}
	if res.Failed > 0 {
		r.fail("%s: %d of %d requests failed", res.Name, res.Failed, res.Requests)
	}
	if res.Requests == 0 {
		r.fail("%s: no requests were sent", res.Name)
	}
	if r.opt.MaxGap > 0 && res.Gap.D > r.opt.MaxGap {
		r.fail("%s: the longest gap between good answers was %s (limit %s)", res.Name, res.Gap.D.Round(time.Millisecond), r.opt.MaxGap)
	}
	// Every version answered, in the order deployed.
	var want, got []string
	for _, image := range images {
		want = append(want, r.builds[image].Version)
	}
	for _, vc := range res.Versions {
		got = append(got, vc.Version)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		r.fail("%s: the versions answered, in order, were %v; want %v", res.Name, got, want)
	}
	// And the last one is what runs at the end.
	last := want[len(want)-1]
	if len(res.Final) == 0 {
		r.fail("%s: nothing runs at the end", res.Name)
	}
	for _, f := range res.Final {
		if !strings.HasSuffix(f, " "+last) {
			r.fail("%s: at the end %s; want %s", res.Name, f, last)
		}
	}
}

// refusedUnready reports whether deploy.sh's output (its stderr travels in
// the step's error) says it refused an image that did not get ready
// within its timeout.
func refusedUnready(out string) bool {
	return strings.Contains(out, "did not become ready within") || strings.Contains(out, "not healthy within") ||
		strings.Contains(out, "did not become ready as flavormonk@green.service within") // the hop to green of a hand-over
}

func (r *rollout) prepare(ctx context.Context) error {
	o := r.opt
	if o.Script == "" {
		r.opt.Script = filepath.Join(o.Root, "infra/cloudinit/files/deploy.sh")
	}
	if _, err := os.Stat(r.opt.Script); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if r.shims, err = writeShims(filepath.Join(o.Work, "bin"), self); err != nil {
		return err
	}

	// The builds: the same source, each with its own version.
	r.builds = map[string]build{}
	for k, v := range o.Builds {
		r.builds[k] = v
	}
	if o.Builds == nil {
		if r.builds, err = buildImages(ctx, o.Root, o.Work, o.images(), r.logf); err != nil {
			return err
		}
	}
	for _, image := range o.images() {
		r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("image %s: ./cmd/flavormonk with Version=%s", image, r.builds[image].Version))
	}
	if o.Broken {
		bin := filepath.Join(o.Work, "flavormonk-broken")
		script := "#!/bin/sh\necho 'a broken build: it exits at once' >&2\nexit 1\n"
		if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
			return err
		}
		r.builds[imageBroken] = build{Bin: bin, Version: "broken"}
		r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("image %s: a program that exits at once, deployed last with --timeout %d: deploy.sh must fail and leave the last version serving", imageBroken, int(brokenTimeout.Seconds())))
	}

	// One store for every instance: a fresh database on the cluster.
	r.dbName = fmt.Sprintf("fmrehearse_rollout_%d_%d", r.now().Unix(), os.Getpid())
	// Recorded, so a later run drops it when this one is killed.
	(&state{PID: os.Getpid(), Database: r.dbName}).save(o.Work)
	dbURL, err := freshDatabase(ctx, o.PGBase, r.dbName)
	if err != nil {
		r.dbName = ""
		return err
	}
	r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("Postgres: fresh database %s on %s, shared by every instance", r.dbName, hostOf(o.PGBase)))
	r.env = map[string]string{
		"FLAVORMONK_TIER":             "mvp",
		"FLAVORMONK_POSTGRES_URL":     dbURL,
		"FLAVORMONK_INFERENCE":        "offline",
		"FLAVORMONK_SECURE_COOKIES":   "false",
		"FLAVORMONK_RATE_LIMIT":       "0",
		"FLAVORMONK_SEED":             "true",
		"FLAVORMONK_LOG_FORMAT":       "text",
		"FLAVORMONK_INDEX_POLL":       "1s",
		"FLAVORMONK_SHUTDOWN_TIMEOUT": "10s",
	}
	migrate := exec.Command(r.builds[o.images()[0]].Bin, "migrate")
	migrate.Env = cleanEnv(r.env)
	if _, err := runCmd(ctx, 90*time.Second, "flavormonk migrate", migrate, filepath.Join(o.Work, "migrate.log")); err != nil {
		return err
	}
	seeded, err := recipes.Bundled()
	if err != nil {
		return err
	}
	r.paths = workload(seeded, 500, 7)

	images := map[string]build{}
	for ref, b := range r.builds {
		if ref == imageBroken || slices.Contains(o.images(), ref) {
			images[ref] = b
		}
	}
	r.ctl, err = newControl(o.Work, filepath.Join(o.Root, "infra/cloudinit/files/app-env.sh"), images, cleanEnv)
	return err
}

// buildImages builds ./cmd/flavormonk once per image, each with its own
// version (after the first, a build only links again).
func buildImages(ctx context.Context, root, dir string, images []string, logf func(string, ...any)) (map[string]build, error) {
	out := map[string]build{}
	for i, image := range images {
		v := fmt.Sprintf("rehearse-v%d", i+1)
		bin := filepath.Join(dir, "flavormonk-"+v)
		logf("building ./cmd/flavormonk as %s", v)
		cmd := exec.Command("go", "build", "-ldflags", "-X github.com/flavormonk/flavormonk/app.Version="+v, "-o", bin, "./cmd/flavormonk")
		cmd.Dir = filepath.Join(root, "app")
		if _, err := runCmd(ctx, 5*time.Minute, "go build "+v, cmd, filepath.Join(dir, "build.log")); err != nil {
			return nil, err
		}
		out[image] = build{Bin: bin, Version: v}
	}
	return out, nil
}

// newHost makes a host with its FM_ROOT: /etc/flavormonk/env (the app's
// settings, as the deploy writes them over SSH), host.env (this host's
// ports, all free local ones; the apps listen on loopback) and the
// flavormonk-app-env helper library the production unit uses.
func (r *rollout) newHost(name string, withCaddy bool, drain time.Duration) (*host, error) {
	h := &host{Name: name, Root: filepath.Join(r.opt.Work, name), Ports: map[string]int{}, Metrics: map[string]int{}, StopGrace: 30 * time.Second}
	for _, c := range []string{"blue", "green"} {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		m, err := freePort()
		if err != nil {
			return nil, err
		}
		h.Ports[c], h.Metrics[c] = p, m
	}
	for _, d := range []string{"etc/flavormonk", "usr/local/lib/flavormonk"} {
		if err := os.MkdirAll(h.path(d), 0o755); err != nil {
			return nil, err
		}
	}
	net, err := os.ReadFile(filepath.Join(r.opt.Root, "infra/cloudinit/files/net.sh"))
	if err != nil {
		return nil, err
	}
	caddy := "no"
	if withCaddy {
		caddy = "yes"
	}
	hostEnv := fmt.Sprintf(`FLAVORMONK_ROLE=app
FLAVORMONK_CLOUD=rehearsal
FLAVORMONK_PRIVATE_CIDR=127.0.0.0/8
FLAVORMONK_LISTEN=loopback
FLAVORMONK_APP_PORT=%d
FLAVORMONK_GREEN_PORT=%d
FLAVORMONK_METRICS_PORT=%d
FLAVORMONK_GREEN_METRICS_PORT=%d
FLAVORMONK_CADDY=%s
`, h.Ports["blue"], h.Ports["green"], h.Metrics["blue"], h.Metrics["green"], caddy)
	var env strings.Builder
	for _, k := range sortedKeys(r.env) {
		fmt.Fprintf(&env, "%s=%s\n", k, r.env[k])
	}
	fmt.Fprintf(&env, "FLAVORMONK_DRAIN_DELAY=%s\n", drain)
	for file, body := range map[string]string{
		"etc/flavormonk/env":              env.String(),
		"etc/flavormonk/host.env":         hostEnv,
		"usr/local/lib/flavormonk/net.sh": string(net),
	} {
		if err := os.WriteFile(h.path(file), []byte(body), 0o600); err != nil {
			return nil, err
		}
	}
	r.ctl.add(h)
	return h, nil
}

// deploy runs deploy.sh on h, as the deploy remote command does over SSH.
func (r *rollout) deploy(ctx context.Context, h *host, args ...string) step {
	name := fmt.Sprintf("%s: flavormonk-deploy %s", h.Name, strings.Join(args, " "))
	r.logf("%s", name)
	t0 := r.now()
	timeout := r.opt.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	cmd := exec.Command("bash", append([]string{r.opt.Script}, args...)...)
	env := cleanEnv(map[string]string{
		"FM_ROOT":       h.Root,
		"FM_SYSTEMCTL":  r.shims["systemctl"],
		"FM_DOCKER":     r.shims["docker"],
		"FM_JOURNALCTL": r.shims["journalctl"],
		"FM_POLL":       "0.2",
		controlEnv:      r.ctl.sock,
	})
	cmd.Env = env
	out, err := runCmd(ctx, timeout+30*time.Second, name, cmd, filepath.Join(r.opt.Work, h.Name+"-deploy.log"))
	s := step{Name: name, Took: r.now().Sub(t0), Out: strings.TrimSpace(out)}
	if err != nil {
		s.Err = err
	}
	return s
}

func (r *rollout) timeoutArgs(image string) []string {
	if image == imageBroken {
		return []string{"--timeout", fmt.Sprint(int(brokenTimeout.Seconds()))}
	}
	if r.opt.Timeout > 0 {
		return []string{"--timeout", fmt.Sprint(int(r.opt.Timeout.Seconds()))}
	}
	return nil
}

// lbRig is the load-balanced path: two hosts behind HAProxy.
type lbRig struct {
	r     *rollout
	name  string
	hosts []*host
	lb    *haproxy
}

func (r *rollout) lbPath(ctx context.Context, name, image string) (*lbRig, error) {
	rig := &lbRig{r: r, name: name}
	servers := map[string]string{}
	for _, n := range []string{"app-1", "app-2"} {
		h, err := r.newHost(n, false, r.opt.Drain)
		if err != nil {
			return nil, err
		}
		rig.hosts = append(rig.hosts, h)
		servers[n] = fmt.Sprintf("127.0.0.1:%d", h.Ports["blue"])
	}
	lb, err := startHAProxy(ctx, r.opt.Work, servers)
	if err != nil {
		return nil, err
	}
	rig.lb = lb
	r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("HAProxy %s → app-1 %s, app-2 %s; checks GET /readyz from %s, inter %s rise %d fall %d timeout %s, no retries; app drain %s", lb.url, servers["app-1"], servers["app-2"], lbSource, lbInter, lbRise, lbFall, lbCheckTimeout, r.opt.Drain))
	// The first deploy, one host after the other (the first seeds the
	// store); then HAProxy takes both in together.
	for _, h := range rig.hosts {
		s := r.deploy(ctx, h, rig.args(image, 0)...)
		if s.Err != nil {
			return nil, fmt.Errorf("first deploy: %w\n%s", s.Err, s.Out)
		}
		r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("%s: first deploy of %s in %.1f s", h.Name, image, s.Took.Seconds()))
	}
	if err := lb.waitUp(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	return rig, nil
}

func (rig *lbRig) args(image string, probes int) []string {
	a := []string{"--mode", "inplace"}
	if probes > 0 {
		a = append(a, "--lb-probes", fmt.Sprint(probes))
	}
	return append(append(a, rig.r.timeoutArgs(image)...), image)
}

// roll deploys each image in turn to each host in turn under the load,
// like the rolling deploy commands of `pulumi up`.
func (rig *lbRig) roll(ctx context.Context, images []string, probes int) (loadResult, error) {
	return rig.r.underLoad(ctx, rig.name, rig.lb.url, rig.watch, rig.final, func(ctx context.Context, t0 time.Time) []step {
		var steps []step
		for i, image := range images {
			if i > 0 {
				sleep(ctx, rig.r.opt.Hold/2)
			}
			for _, h := range rig.hosts {
				at := rig.r.now().Sub(t0)
				s := rig.r.deploy(ctx, h, rig.args(image, probes)...)
				s.At, s.WantFail = at, image == imageBroken
				steps = append(steps, s)
				if s.Err != nil {
					return steps // a rolling deploy stops at the first failed host
				}
			}
		}
		return steps
	})
}

func (rig *lbRig) close() {
	for _, h := range rig.hosts {
		h.kill("blue")
		h.kill("green")
	}
	rig.lb.p.stop()
}

// watch records HAProxy's view of the servers while the load runs.
func (rig *lbRig) watch(ctx context.Context, t0 time.Time) []step {
	var steps []step
	last := map[string]string{}
	for {
		if st, err := rig.lb.status(); err == nil {
			for _, n := range sortedKeys(st) {
				if st[n] != last[n] {
					steps = append(steps, step{Name: fmt.Sprintf("HAProxy: %s %s", n, st[n]), At: rig.r.now().Sub(t0)})
					last[n] = st[n]
				}
			}
		}
		select {
		case <-ctx.Done():
			return steps
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// bgRig is the single-host path: blue and green behind Caddy.
type bgRig struct {
	r    *rollout
	host *host
}

func (r *rollout) bgPath(ctx context.Context, image string) (*bgRig, error) {
	h, err := r.newHost("mvp-1", true, r.opt.BGDrain)
	if err != nil {
		return nil, err
	}
	c, err := startCaddy(ctx, r.opt.Work, h.Root)
	if err != nil {
		return nil, err
	}
	r.caddy, h.Caddy = c, c
	r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("Caddy %s (admin %s) → blue 127.0.0.1:%d or green 127.0.0.1:%d; app drain %s", c.url, c.admin, h.Ports["blue"], h.Ports["green"], r.opt.BGDrain))
	s := r.deploy(ctx, h, append(append([]string{"--mode", "bluegreen"}, r.timeoutArgs(image)...), image)...)
	if s.Err != nil {
		return nil, fmt.Errorf("first deploy: %w\n%s", s.Err, s.Out)
	}
	r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("%s: first deploy of %s in %.1f s (%s)", h.Name, image, s.Took.Seconds(), describeRunning(h)))
	return &bgRig{r: r, host: h}, nil
}

func (rig *bgRig) roll(ctx context.Context, images []string) (loadResult, error) {
	h := rig.host
	return rig.r.underLoad(ctx, "single host (Caddy), --mode bluegreen", rig.r.caddy.url, nil, rig.final, func(ctx context.Context, t0 time.Time) []step {
		var steps []step
		for i, image := range images {
			if i > 0 {
				sleep(ctx, rig.r.opt.Hold/2)
			}
			at := rig.r.now().Sub(t0)
			s := rig.r.deploy(ctx, h, append(append([]string{"--mode", "bluegreen"}, rig.r.timeoutArgs(image)...), image)...)
			s.At, s.WantFail = at, image == imageBroken
			s.Name += " (then " + describeRunning(h) + ")"
			steps = append(steps, s)
			if s.Err != nil {
				break
			}
		}
		return steps
	})
}

func (rig *lbRig) final() []string { return finalOf(rig.hosts...) }
func (rig *bgRig) final() []string { return finalOf(rig.host) }

// finalOf is what each unit of the hosts runs: "app-1 blue rehearse-v2".
func finalOf(hosts ...*host) []string {
	var out []string
	for _, h := range hosts {
		run := h.running()
		for _, c := range sortedKeys(run) {
			out = append(out, h.Name+" "+c+" "+run[c])
		}
	}
	return out
}

func describeRunning(h *host) string {
	run := h.running()
	var parts []string
	for _, c := range sortedKeys(run) {
		parts = append(parts, c+" runs "+run[c])
	}
	if len(parts) == 0 {
		return "nothing runs"
	}
	return strings.Join(parts, ", ")
}

// underLoad runs the steady load through base, does the deploys after
// Hold, keeps loading for Hold more, and returns the figures.
func (r *rollout) underLoad(ctx context.Context, name, base string, watch func(context.Context, time.Time) []step, final func() []string, do func(context.Context, time.Time) []step) (loadResult, error) {
	res, err := r.underLoads(ctx, []front{{name, base}}, watch, final, do)
	return res[0], err
}

// front is one way in for the load: a name for the report and its URL.
type front struct{ Name, Base string }

// underLoads is underLoad with a load through each front at once (the
// same rate each), counted apart; the steps go with the first result
// only (the report prints them once), the end state with every one.
func (r *rollout) underLoads(ctx context.Context, fronts []front, watch func(context.Context, time.Time) []step, final func() []string, do func(context.Context, time.Time) []step) ([]loadResult, error) {
	loads := make([]*steadyLoad, len(fronts))
	lctx, stopLoad := context.WithCancel(ctx)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	t0 := r.now()
	var wg sync.WaitGroup
	var watched []step
	for i, f := range fronts {
		l := newSteadyLoad(f.Base, r.opt.Rate, r.paths, r.opt.Now)
		loads[i] = l
		wg.Add(1)
		go func() { defer wg.Done(); l.run(lctx) }()
		r.logf("%s: load at %d requests/s through %s", f.Name, r.opt.Rate, f.Base)
	}
	if watch != nil {
		wg.Add(1)
		go func() { defer wg.Done(); watched = watch(wctx, t0) }()
	}
	sleep(ctx, r.opt.Hold)
	steps := do(ctx, t0)
	sleep(ctx, r.opt.Hold)
	stopLoad()
	stopWatch()
	wg.Wait()
	out := make([]loadResult, len(fronts))
	steps = mergeSteps(steps, watched)
	fin := final()
	for i, l := range loads {
		out[i] = l.result(fronts[i].Name)
		out[i].Final = fin
	}
	out[0].Steps = steps
	return out, ctx.Err()
}

func mergeSteps(a, b []step) []step {
	out := append(append([]step(nil), a...), b...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (r *rollout) cleanup() {
	if r.ctl != nil {
		// The load is over: no drain to wait for, one host after another.
		for _, h := range r.ctl.hosts {
			for _, c := range h.colours() {
				h.kill(c)
			}
		}
		r.ctl.close()
	}
	stopAll()
	if r.dbName != "" {
		if err := dropDatabase(r.opt.PGBase, r.dbName); err != nil {
			r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("dropping database %s: %v", r.dbName, err))
		}
	}
	_ = os.Remove(filepath.Join(r.opt.Work, "fmrehearse.json"))
}
