package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
)

// TestMain lets the test binary be the shims too: deploy.sh runs the
// wrappers, which exec os.Executable() in shim mode.
func TestMain(m *testing.M) {
	if tool := os.Getenv(shimEnv); tool != "" {
		os.Exit(shimMain(tool))
	}
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildDir  string
	builds    map[string]build
	buildErr  error
)

// rolloutOpts is the short rehearsal `make test` runs: the real deploy
// script, real HAProxy and Caddy, two real builds, a short load.
func rolloutOpts(t *testing.T) rolloutOptions {
	t.Helper()
	if testing.Short() {
		t.Skip("the rollout rehearsal runs real HAProxy, Caddy and app processes")
	}
	pg := servicetest.PostgresURL(t)
	for _, tool := range []string{"haproxy", "caddy"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("FLAVORMONK_TEST_REQUIRE_SERVICES") == "1" {
				t.Fatalf("%s is not installed; scripts/deps.sh (make services) installs it", tool)
			}
			t.Skipf("%s is not installed (scripts/deps.sh installs it)", tool)
		}
	}
	root, err := workspaceRoot()
	if err != nil {
		t.Fatal(err)
	}
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "fmrehearse-test-builds-"); buildErr == nil {
			builds, buildErr = buildImages(context.Background(), root, buildDir, rolloutOptions{}.images(), t.Logf)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return rolloutOptions{
		Root: root, Work: t.TempDir(), PGBase: pg,
		Script: os.Getenv("FMREHEARSE_DEPLOY_SCRIPT"), // default: infra/cloudinit/files/deploy.sh
		Rate:   40, Hold: time.Second, Drain: lbDrain, LBProbes: 3,
		Timeout: 30 * time.Second, MaxGap: 2 * time.Second,
		Builds: builds, Now: flavormonk.SystemClock, Logf: t.Logf,
	}
}

func runAndLog(t *testing.T, o rolloutOptions) *RolloutReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := runRollout(ctx, o)
	var b bytes.Buffer
	rep.print(&b, o.Now.Now())
	t.Log(b.String())
	if err != nil {
		t.Fatalf("the rehearsal did not complete: %v", err)
	}
	return rep
}

// TestRolloutDropsNoRequest: with the drain and the wait for the load
// balancer, both rollouts (two hosts behind HAProxy, blue/green behind
// Caddy) serve every request, and the new version takes over.
func TestRolloutDropsNoRequest(t *testing.T) {
	o := rolloutOpts(t)
	o.Paths = []string{"lb", "bluegreen"}
	// Then an image that never gets ready: deploy.sh must refuse it (judge
	// checks why) and the version before it keeps serving.
	o.Broken = true
	rep := runAndLog(t, o)
	if len(rep.Paths) != 2 {
		t.Fatalf("%d paths rehearsed, want 2", len(rep.Paths))
	}
	for _, p := range rep.Paths {
		if p.Requests < 50 || p.Failed != 0 {
			t.Errorf("%s: %d requests, %d failed; want >= 50 and 0", p.Name, p.Requests, p.Failed)
		}
		if p.Gap.D > o.MaxGap {
			t.Errorf("%s: longest gap %s, limit %s", p.Name, p.Gap.D, o.MaxGap)
		}
		if len(p.Versions) < 2 || p.Versions[0].Version != "rehearse-v1" || p.Versions[len(p.Versions)-1].Version != "rehearse-v2" {
			t.Errorf("%s: versions answering %v, want rehearse-v1 then rehearse-v2", p.Name, p.Versions)
		}
	}
	if rep.failed() {
		t.Errorf("the report fails: %v", rep.Failures)
	}
}

// TestRolloutHandOver: between mvp and upgrade (keepVmEntry) app-1 is
// behind its Caddy and the load balancer at once; its inplace deploy hops
// Caddy to green and back while HAProxy takes blue out and in again. The
// load through either front sees no failed request, and at the end Caddy
// proxies to blue, which runs the new version, with green stopped (judge
// and checkEnd).
func TestRolloutHandOver(t *testing.T) {
	o := rolloutOpts(t)
	o.Paths = []string{"handover"}
	rep := runAndLog(t, o)
	if len(rep.Paths) != 2 || rep.Paths[0].Name != hoViaCaddy || rep.Paths[1].Name != hoViaLB {
		t.Fatalf("%d rows, want %q and %q: %+v", len(rep.Paths), hoViaCaddy, hoViaLB, rep.Paths)
	}
	for _, p := range rep.Paths {
		if p.Requests < 50 || p.Failed != 0 {
			t.Errorf("%s: %d requests, %d failed; want >= 50 and 0", p.Name, p.Requests, p.Failed)
		}
		if len(p.Versions) != 2 || p.Versions[0].Version != "rehearse-v1" || p.Versions[1].Version != "rehearse-v2" {
			t.Errorf("%s: versions answering %v, want rehearse-v1 then rehearse-v2", p.Name, p.Versions)
		}
	}
	// The hop happened: Caddy went to green and came back to blue.
	var caddy []string
	for _, s := range rep.Paths[0].Steps {
		if strings.HasPrefix(s.Name, "Caddy → ") {
			caddy = append(caddy, strings.Fields(strings.TrimPrefix(s.Name, "Caddy → "))[0])
		}
	}
	if strings.Join(caddy, " ") != "blue green blue" {
		t.Errorf("Caddy's upstream went %v; want blue green blue", caddy)
	}
	if rep.failed() {
		t.Errorf("the report fails: %v", rep.Failures)
	}
}

// TestRolloutCanFail: the same harness sees requests fail where they do.
// So the zeros above are measured, not assumed.
func TestRolloutCanFail(t *testing.T) {
	// Moving to the next host as soon as the restarted one answers its
	// local /readyz, without waiting for the load balancer to take it back
	// (the rollout before issue 13): for a while HAProxy has no server in
	// rotation.
	t.Run("no load balancer wait", func(t *testing.T) {
		o := rolloutOpts(t)
		o.Paths = []string{"lb"}
		o.LBProbes = 0
		// Three rollouts: each one's window is a second or so, but the
		// random phase of the checks can make one very short.
		o.Rounds = 3
		rep := runAndLog(t, o)
		// The window with no server lasts about a second (the restarted
		// host needs 3 passing checks, the next one is out after 2
		// failures); it is never empty, but may be short.
		if len(rep.Paths) != 1 || rep.Paths[0].Failed == 0 {
			t.Fatalf("no request failed without the load-balancer wait: %+v", rep.Paths)
		}
		if !rep.failed() {
			t.Error("the report passes although requests failed")
		}
	})
	// The serving colour behind Caddy killed (SIGKILL, no drain) mid-load.
	t.Run("serving colour killed", func(t *testing.T) {
		o := rolloutOpts(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		r := &rollout{opt: o, rep: &RolloutReport{}}
		defer r.cleanup()
		if err := r.prepare(ctx); err != nil {
			t.Fatal(err)
		}
		rig, err := r.bgPath(ctx, imageRef(1))
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.underLoad(ctx, "Caddy, blue killed", r.caddy.url, nil, rig.final, func(context.Context, time.Time) []step {
			rig.host.kill("blue")
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		r.judge(res, o.images()[:1])
		r.rep.Paths = append(r.rep.Paths, res)
		var b bytes.Buffer
		r.rep.print(&b, o.Now.Now())
		t.Log(b.String())
		if res.Failed < 5 || res.Gap.D < o.Hold/2 {
			t.Errorf("%d requests failed, longest gap %s; want >= 5 and >= %s", res.Failed, res.Gap.D, o.Hold/2)
		}
		if !r.rep.failed() {
			t.Error("the report passes although requests failed")
		}
	})
}
