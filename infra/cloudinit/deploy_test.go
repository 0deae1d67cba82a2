package cloudinit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests below run the real flavormonk-deploy with bash against a fake
// host: FM_ROOT is a temporary folder, FM_SYSTEMCTL a shim that starts and
// stops this test binary as the app (fakeApp: /readyz on the unit's port)
// and records every call, FM_DOCKER and FM_JOURNALCTL shims that record.

func TestMain(m *testing.M) {
	if os.Getenv("FM_FAKE_UNIT") != "" {
		fakeApp()
		return
	}
	os.Exit(m.Run())
}

// fakeApp stands in for a unit's container: it serves /readyz on
// FM_FAKE_PORT (503 for an image named "broken") and / with its image, and
// logs its first ready answer to FM_LOG, until SIGTERM.
func fakeApp() {
	unit, image := os.Getenv("FM_FAKE_UNIT"), os.Getenv("FM_FAKE_IMAGE")
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("FM_FAKE_PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake app:", err)
		os.Exit(1)
	}
	var once sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if strings.Contains(image, "broken") {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		once.Do(func() { appendLine(os.Getenv("FM_LOG"), "ready "+unit+" "+image) })
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, image) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM)
		<-ch
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		os.Exit(1)
	}
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString(line + "\n")
}

// systemctlShim starts a unit as the fake app (legacy flavormonk.service and
// blue on FLAVORMONK_APP_PORT, green on FLAVORMONK_GREEN_PORT), with the
// image the deploy wrote for it; reload caddy records the upstream and the
// units running at that moment. A call equal to FM_FAIL exits 5.
const systemctlShim = `#!/bin/bash
set -u
echo "systemctl $*" >>"$FM_LOG"
[[ "$*" != "${FM_FAIL:-}" ]] || exit 5
. "$FM_ROOT/etc/flavormonk/host.env"
pids=$FM_ROOT/fake
mkdir -p "$pids"
alive() {
	local pid
	pid=$(cat "$pids/$1" 2>/dev/null) || return 1
	[[ -e /proc/$pid && $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]
}
stop() {
	local pid
	if alive "$1"; then
		pid=$(cat "$pids/$1")
		kill "$pid"
		while alive "$1"; do sleep 0.02; done
	fi
	rm -f "$pids/$1"
}
running() { local u; for u in flavormonk.service flavormonk@blue.service flavormonk@green.service; do if alive "$u"; then echo -n "$u "; fi; done; }
unit=${2:-}
case $1 in
start | restart)
	stop "$unit"
	case $unit in
	flavormonk@blue.service) port=$FLAVORMONK_APP_PORT image=$(cat "$FM_ROOT/etc/flavormonk/image-blue") ;;
	flavormonk@green.service) port=$FLAVORMONK_GREEN_PORT image=$(cat "$FM_ROOT/etc/flavormonk/image-green") ;;
	flavormonk.service) port=$FLAVORMONK_APP_PORT image=$(cat "$FM_ROOT/etc/flavormonk/image") ;;
	*) exit 0 ;;
	esac
	FM_FAKE_UNIT=$unit FM_FAKE_PORT=$port FM_FAKE_IMAGE=$image "$FM_TESTBIN" >>"$FM_ROOT/fake.log" 2>&1 </dev/null &
	echo $! >"$pids/$unit"
	;;
stop) stop "$unit" ;;
is-active) alive "$unit" ;;
reload)
	echo "reloaded $unit: $(cat "$FM_ROOT/etc/caddy/flavormonk-upstream"); running: $(running)" >>"$FM_LOG"
	exit "${FM_RELOAD_RC:-0}"
	;;
esac
exit 0
`

const dockerShim = `#!/bin/bash
echo "docker $*" >>"$FM_LOG"
[[ $* != *nopull* ]]
`

const journalShim = `#!/bin/bash
echo "journalctl $*" >>"$FM_LOG"
`

type fakeHost struct {
	t                   *testing.T
	root, log, bin      string
	bluePort, greenPort int
	env                 []string
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newFakeHost lays out an app host under a temporary FM_ROOT: the env
// file, host.env (with caddy as given) and the shims.
func newFakeHost(t *testing.T, caddy string) *fakeHost {
	t.Helper()
	dir := t.TempDir()
	h := &fakeHost{t: t, root: filepath.Join(dir, "root"), log: filepath.Join(dir, "calls.log"), bin: filepath.Join(dir, "bin"),
		bluePort: freePort(t), greenPort: freePort(t)}
	for _, d := range []string{"etc/flavormonk", "run/flavormonk", "etc/caddy", "etc/systemd/system"} {
		h.mkdir(d)
	}
	h.mkdir("../bin")
	h.write("etc/flavormonk/env", "FLAVORMONK_TIER=mvp\n")
	h.write("etc/flavormonk/host.env", fmt.Sprintf("FLAVORMONK_ROLE=app\nFLAVORMONK_APP_PORT=%d\nFLAVORMONK_GREEN_PORT=%d\nFLAVORMONK_CADDY=%s\n", h.bluePort, h.greenPort, caddy))
	for name, body := range map[string]string{"systemctl": systemctlShim, "docker": dockerShim, "journalctl": journalShim, "flavormonk-deploy": deploySh} {
		if err := os.WriteFile(filepath.Join(h.bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h.env = append(os.Environ(), "FM_ROOT="+h.root, "FM_LOG="+h.log, "FM_TESTBIN="+exe, "FM_POLL=0.1",
		"FM_SYSTEMCTL="+filepath.Join(h.bin, "systemctl"), "FM_DOCKER="+filepath.Join(h.bin, "docker"), "FM_JOURNALCTL="+filepath.Join(h.bin, "journalctl"))
	t.Cleanup(func() {
		pids, _ := filepath.Glob(filepath.Join(h.root, "fake", "*"))
		for _, p := range pids {
			if b, err := os.ReadFile(p); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	})
	return h
}

func (h *fakeHost) mkdir(rel string) {
	if err := os.MkdirAll(filepath.Join(h.root, rel), 0o755); err != nil {
		h.t.Fatal(err)
	}
}

func (h *fakeHost) write(rel, content string) {
	if err := os.WriteFile(filepath.Join(h.root, rel), []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *fakeHost) read(rel string) string {
	b, _ := os.ReadFile(filepath.Join(h.root, rel))
	return strings.TrimSpace(string(b))
}

// run runs one of the host's commands and returns its output and exit code.
func (h *fakeHost) run(name string, args ...string) (string, int) {
	h.t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join(h.bin, name)}, args...)...)
	cmd.Env = h.env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	h.t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	return "", -1
}

func (h *fakeHost) deploy(args ...string) (string, int) { return h.run("flavormonk-deploy", args...) }

// calls returns the recorded calls and events since the last reset.
func (h *fakeHost) calls() []string {
	b, _ := os.ReadFile(h.log)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func (h *fakeHost) reset() { _ = os.Remove(h.log) }

// serving returns what the app on port answers at /, "" when nothing does.
func serving(port int) string {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 256)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	return b.String()
}

// index returns the position of the first call with prefix, -1 if none.
func index(calls []string, prefix string) int {
	return slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

// inOrder fails unless each prefix is found, each after the one before.
func inOrder(t *testing.T, calls []string, prefixes ...string) {
	t.Helper()
	last := -1
	for _, p := range prefixes {
		i := index(calls[last+1:], p)
		if i < 0 {
			t.Errorf("no %q after call %d in:\n%s", p, last, strings.Join(calls, "\n"))
			return
		}
		last += 1 + i
	}
}

// Blue/green on one host: the new colour starts and answers /readyz before
// Caddy is pointed at it and reloaded, and only then does the old colour
// stop; the old one was still running when Caddy switched.
func TestDeployBlueGreen(t *testing.T) {
	h := newFakeHost(t, "yes")
	out, code := h.deploy("--mode", "bluegreen", "app:v1")
	if code != 0 {
		t.Fatalf("first deploy: exit %d\n%s", code, out)
	}
	calls := h.calls()
	inOrder(t, calls, "docker pull --quiet app:v1", "systemctl restart flavormonk@blue.service", "ready flavormonk@blue.service app:v1",
		fmt.Sprintf("reloaded caddy: reverse_proxy 127.0.0.1:%d;", h.bluePort), "systemctl enable flavormonk@blue.service")
	if i := index(calls, "systemctl stop"); i >= 0 {
		t.Errorf("the first deploy stopped something: %s", calls[i])
	}
	if h.read("etc/flavormonk/active") != "blue" || h.read("etc/flavormonk/image") != "app:v1" || serving(h.bluePort) != "app:v1" {
		t.Errorf("after the first deploy: active %q image %q, blue serves %q", h.read("etc/flavormonk/active"), h.read("etc/flavormonk/image"), serving(h.bluePort))
	}

	h.reset()
	out, code = h.deploy("--mode", "bluegreen", "app:v2")
	if code != 0 {
		t.Fatalf("second deploy: exit %d\n%s", code, out)
	}
	calls = h.calls()
	inOrder(t, calls, "docker pull --quiet app:v2", "systemctl restart flavormonk@green.service", "ready flavormonk@green.service app:v2",
		fmt.Sprintf("reloaded caddy: reverse_proxy 127.0.0.1:%d; running: flavormonk@blue.service flavormonk@green.service", h.greenPort),
		"systemctl enable flavormonk@green.service", "systemctl stop flavormonk@blue.service", "systemctl disable flavormonk@blue.service")
	if got := h.read("etc/caddy/flavormonk-upstream"); got != fmt.Sprintf("reverse_proxy 127.0.0.1:%d", h.greenPort) {
		t.Errorf("upstream %q", got)
	}
	if h.read("etc/flavormonk/active") != "green" || h.read("etc/flavormonk/image") != "app:v2" || serving(h.greenPort) != "app:v2" || serving(h.bluePort) != "" {
		t.Errorf("after the switch: active %q image %q, green serves %q, blue %q", h.read("etc/flavormonk/active"), h.read("etc/flavormonk/image"), serving(h.greenPort), serving(h.bluePort))
	}

	// And back to blue.
	h.reset()
	if out, code = h.deploy("--mode", "bluegreen", "app:v3"); code != 0 {
		t.Fatalf("third deploy: exit %d\n%s", code, out)
	}
	inOrder(t, h.calls(), "systemctl restart flavormonk@blue.service", "ready flavormonk@blue.service app:v3", "reloaded caddy", "systemctl stop flavormonk@green.service")
	if h.read("etc/flavormonk/active") != "blue" || serving(h.bluePort) != "app:v3" || serving(h.greenPort) != "" {
		t.Errorf("after the switch back: active %q, blue serves %q, green %q", h.read("etc/flavormonk/active"), serving(h.bluePort), serving(h.greenPort))
	}
}

// A new colour that never gets ready is stopped; the old one serves on,
// Caddy is neither touched nor reloaded, and the deploy exits 1. The same
// when Caddy refuses the reload: the upstream is put back.
func TestDeployBlueGreenFailure(t *testing.T) {
	h := newFakeHost(t, "yes")
	if out, code := h.deploy("--mode", "bluegreen", "app:v1"); code != 0 {
		t.Fatalf("first deploy: exit %d\n%s", code, out)
	}
	upstream := h.read("etc/caddy/flavormonk-upstream")
	h.reset()
	start := time.Now()
	out, code := h.deploy("--mode", "bluegreen", "--timeout", "2", "app:broken")
	if code != 1 {
		t.Fatalf("broken image: exit %d, want 1\n%s", code, out)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("--timeout 2 took %s", time.Since(start))
	}
	calls := h.calls()
	inOrder(t, calls, "systemctl restart flavormonk@green.service", "journalctl -u flavormonk@green.service", "systemctl stop flavormonk@green.service")
	for _, c := range []string{"reloaded caddy", "systemctl stop flavormonk@blue.service", "systemctl disable", "systemctl enable"} {
		if i := index(calls, c); i >= 0 {
			t.Errorf("a failed deploy ran %q", calls[i])
		}
	}
	if got := h.read("etc/caddy/flavormonk-upstream"); got != upstream {
		t.Errorf("upstream %q, was %q", got, upstream)
	}
	if h.read("etc/flavormonk/active") != "blue" || h.read("etc/flavormonk/image") != "app:v1" || serving(h.bluePort) != "app:v1" || serving(h.greenPort) != "" {
		t.Errorf("after the failure: active %q image %q, blue serves %q, green %q", h.read("etc/flavormonk/active"), h.read("etc/flavormonk/image"), serving(h.bluePort), serving(h.greenPort))
	}
	if !strings.Contains(out, "FAILED") {
		t.Errorf("no FAILED in the output:\n%s", out)
	}

	h.reset()
	h.env = append(h.env, "FM_RELOAD_RC=1")
	if out, code := h.deploy("--mode", "bluegreen", "app:v2"); code != 1 {
		t.Fatalf("failed reload: exit %d, want 1\n%s", code, out)
	}
	calls = h.calls()
	inOrder(t, calls, "ready flavormonk@green.service app:v2", "reloaded caddy: reverse_proxy 127.0.0.1:"+strconv.Itoa(h.greenPort),
		"reloaded caddy: "+upstream, "systemctl stop flavormonk@green.service")
	if got := h.read("etc/caddy/flavormonk-upstream"); got != upstream || h.read("etc/flavormonk/active") != "blue" || serving(h.bluePort) != "app:v1" {
		t.Errorf("after a failed reload: upstream %q active %q, blue serves %q", got, h.read("etc/flavormonk/active"), serving(h.bluePort))
	}
	if i := index(calls, "systemctl stop flavormonk@blue.service"); i >= 0 {
		t.Errorf("a failed reload stopped blue")
	}

	h.reset()
	if out, code := h.deploy("--mode", "bluegreen", "app:nopull"); code != 1 || index(h.calls(), "systemctl") >= 0 {
		t.Errorf("an image that cannot be pulled: exit %d, calls %v\n%s", code, h.calls(), out)
	}
}

// A host made before the colours runs flavormonk.service on the blue port.
// bluegreen starts green beside it, switches Caddy, then stops and disables
// it; inplace stops it first (it holds the port), then starts blue, and
// starts it again when blue fails.
func TestDeployLegacyUnit(t *testing.T) {
	t.Run("bluegreen", func(t *testing.T) {
		h := legacyHost(t, "yes")
		out, code := h.deploy("--mode", "bluegreen", "app:v1")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		inOrder(t, h.calls(), "systemctl is-active --quiet flavormonk.service", "systemctl restart flavormonk@green.service", "ready flavormonk@green.service app:v1",
			fmt.Sprintf("reloaded caddy: reverse_proxy 127.0.0.1:%d; running: flavormonk.service flavormonk@green.service", h.greenPort),
			"systemctl stop flavormonk.service", "systemctl disable flavormonk.service")
		if h.read("etc/flavormonk/active") != "green" || serving(h.greenPort) != "app:v1" || serving(h.bluePort) != "" {
			t.Errorf("active %q, green serves %q, blue %q", h.read("etc/flavormonk/active"), serving(h.greenPort), serving(h.bluePort))
		}
		// From now on the colours alone; the legacy unit stays disabled.
		h.reset()
		if out, code := h.deploy("--mode", "bluegreen", "app:v2"); code != 0 {
			t.Fatalf("next deploy: exit %d\n%s", code, out)
		}
		inOrder(t, h.calls(), "systemctl restart flavormonk@blue.service", "reloaded caddy", "systemctl stop flavormonk@green.service", "systemctl disable flavormonk.service")
	})
	t.Run("inplace", func(t *testing.T) {
		h := legacyHost(t, "no")
		out, code := h.deploy("--mode", "inplace", "app:v1")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		inOrder(t, h.calls(), "systemctl stop flavormonk.service", "systemctl restart flavormonk@blue.service", "ready flavormonk@blue.service app:v1",
			"systemctl enable flavormonk@blue.service", "systemctl disable flavormonk.service")
		if i := index(h.calls(), "reloaded caddy"); i >= 0 {
			t.Error("inplace without Caddy reloaded Caddy")
		}
		if h.read("etc/flavormonk/active") != "blue" || serving(h.bluePort) != "app:v1" {
			t.Errorf("active %q, blue serves %q", h.read("etc/flavormonk/active"), serving(h.bluePort))
		}
	})
	t.Run("inplace failure", func(t *testing.T) {
		h := legacyHost(t, "no")
		out, code := h.deploy("--mode", "inplace", "--timeout", "5", "app:broken")
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s", code, out)
		}
		inOrder(t, h.calls(), "systemctl stop flavormonk.service", "systemctl restart flavormonk@blue.service", "systemctl stop flavormonk@blue.service",
			"systemctl start flavormonk.service", "ready flavormonk.service app:v0")
		if i := index(h.calls(), "systemctl disable"); i >= 0 {
			t.Errorf("a failed deploy disabled a unit: %s", h.calls()[i])
		}
		if serving(h.bluePort) != "app:v0" {
			t.Errorf("the legacy unit does not serve again: %q", serving(h.bluePort))
		}
	})
}

// legacyHost is a host made before the colours: flavormonk.service serves
// app:v0 on the blue port, Caddy (when caddy is "yes") in front of it.
func legacyHost(t *testing.T, caddy string) *fakeHost {
	t.Helper()
	h := newFakeHost(t, caddy)
	h.write("etc/systemd/system/flavormonk.service", "[Service]\n")
	h.write("etc/flavormonk/image", "app:v0\n")
	h.write("etc/caddy/flavormonk-upstream", fmt.Sprintf("reverse_proxy 127.0.0.1:%d\n", h.bluePort))
	if out, code := h.run("systemctl", "start", "flavormonk.service"); code != 0 {
		t.Fatalf("starting the legacy unit: %s", out)
	}
	waitServing(t, h.bluePort, "app:v0")
	h.reset()
	return h
}

func waitServing(t *testing.T, port int, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if serving(port) == want {
			return
		}
	}
	t.Fatalf("port %d does not serve %s", port, want)
}

// probeMetrics serves the app's /metrics as a load balancer's probes make
// it grow: each scrape, every source has answered one probe more, up to
// its cap (a source capped below N never gets there).
func probeMetrics(t *testing.T, h *fakeHost, caps map[string]int) *int {
	var mu sync.Mutex
	scrapes := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		scrapes++
		n := scrapes
		mu.Unlock()
		fmt.Fprintln(w, "# HELP flavormonk_lb_probe_consecutive_ok Consecutive 200 answers to /readyz per probe source.")
		fmt.Fprintln(w, "# TYPE flavormonk_lb_probe_consecutive_ok gauge")
		for src, c := range caps {
			fmt.Fprintf(w, "flavormonk_lb_probe_consecutive_ok{source=%q} %d\n", src, min(n, c))
		}
		fmt.Fprintln(w, "flavormonk_http_requests_total 12")
	}))
	t.Cleanup(srv.Close)
	h.write("run/flavormonk/metrics-addr-blue", strings.TrimPrefix(srv.URL, "http://")+"\n")
	return &scrapes
}

// inplace with --lb-probes waits, after /readyz, until every source that
// probes the app has N answers in a row; when one never does, the deploy
// times out and goes back to the previous image the same way.
func TestDeployInplaceLBProbes(t *testing.T) {
	h := newFakeHost(t, "no")
	if out, code := h.deploy("--mode", "inplace", "app:v1"); code != 0 {
		t.Fatalf("first deploy: exit %d\n%s", code, out)
	}
	scrapes := probeMetrics(t, h, map[string]int{"10.10.0.2": 99, "10.10.0.3": 99})
	h.reset()
	out, code := h.deploy("--mode", "inplace", "--lb-probes", "3", "app:v2")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if *scrapes < 3 {
		t.Errorf("the deploy ended after %d scrapes; the sources reach 3 only at the third", *scrapes)
	}
	calls := h.calls()
	inOrder(t, calls, "systemctl restart flavormonk@blue.service", "ready flavormonk@blue.service app:v2", "systemctl enable flavormonk@blue.service")
	if i := index(calls, "systemctl stop"); i >= 0 {
		t.Errorf("in place, nothing is stopped beside the restart: %s", calls[i])
	}
	if h.read("etc/flavormonk/image") != "app:v2" || serving(h.bluePort) != "app:v2" {
		t.Errorf("image %q, blue serves %q", h.read("etc/flavormonk/image"), serving(h.bluePort))
	}

	// One source stays at 1: time out, roll back to app:v2.
	probeMetrics(t, h, map[string]int{"10.10.0.2": 99, "10.10.0.3": 1})
	h.reset()
	out, code = h.deploy("--mode", "inplace", "--lb-probes", "3", "--timeout", "4", "app:v3")
	if code != 1 {
		t.Fatalf("stuck probes: exit %d, want 1\n%s", code, out)
	}
	inOrder(t, h.calls(), "systemctl restart flavormonk@blue.service", "ready flavormonk@blue.service app:v3", "journalctl -u flavormonk@blue.service",
		"systemctl restart flavormonk@blue.service", "ready flavormonk@blue.service app:v2")
	if !strings.Contains(out, `flavormonk_lb_probe_consecutive_ok{source="10.10.0.3"} 1`) || !strings.Contains(out, "rolling back to app:v2") {
		t.Errorf("the output does not say which source lagged or that it rolled back:\n%s", out)
	}
	if h.read("etc/flavormonk/image") != "app:v2" || h.read("etc/flavormonk/image-blue") != "app:v2" || serving(h.bluePort) != "app:v2" {
		t.Errorf("after the rollback: image %q, image-blue %q, blue serves %q", h.read("etc/flavormonk/image"), h.read("etc/flavormonk/image-blue"), serving(h.bluePort))
	}

	// No source at all is not "every source is healthy".
	probeMetrics(t, h, map[string]int{})
	if out, code := h.deploy("--mode", "inplace", "--lb-probes", "3", "--timeout", "1", "app:v4"); code != 1 {
		t.Errorf("no probe source: exit %d, want 1\n%s", code, out)
	}
}

// A host leaving mvp (green serves behind Caddy) while Caddy still serves
// the web ports: blue starts beside green, Caddy follows it to the blue
// port, then green stops.
func TestDeployInplaceFromGreen(t *testing.T) {
	h := newFakeHost(t, "yes")
	for _, v := range []string{"app:v1", "app:v2"} {
		if out, code := h.deploy("--mode", "bluegreen", v); code != 0 {
			t.Fatalf("bluegreen %s: exit %d\n%s", v, code, out)
		}
	}
	h.reset()
	out, code := h.deploy("--mode", "inplace", "app:v3")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	caddyNeverOnStopped(t, h, h.calls(), h.greenPort, "flavormonk@green.service")
	inOrder(t, h.calls(), "systemctl restart flavormonk@blue.service", "ready flavormonk@blue.service app:v3",
		fmt.Sprintf("reloaded caddy: reverse_proxy 127.0.0.1:%d; running: flavormonk@blue.service flavormonk@green.service", h.bluePort),
		"systemctl stop flavormonk@green.service")
	if h.read("etc/flavormonk/active") != "blue" || serving(h.bluePort) != "app:v3" || serving(h.greenPort) != "" {
		t.Errorf("active %q, blue serves %q, green %q", h.read("etc/flavormonk/active"), serving(h.bluePort), serving(h.greenPort))
	}
}

// caddyNeverOnStopped fails when, in the calls, a running unit is stopped
// or restarted while Caddy's upstream is its port (at first upstream, with
// the unit running there), or Caddy is switched to a port no running unit
// holds: each is a window in which Caddy has nothing to proxy to.
func caddyNeverOnStopped(t *testing.T, h *fakeHost, calls []string, upstream int, running string) {
	t.Helper()
	port := map[string]int{"flavormonk.service": h.bluePort, "flavormonk@blue.service": h.bluePort, "flavormonk@green.service": h.greenPort}
	up := map[string]bool{running: true}
	for _, c := range calls {
		if rest, ok := strings.CutPrefix(c, "reloaded caddy: reverse_proxy 127.0.0.1:"); ok {
			p, running, _ := strings.Cut(rest, "; running: ")
			upstream, _ = strconv.Atoi(p)
			if !slices.ContainsFunc(strings.Fields(running), func(u string) bool { return port[u] == upstream }) {
				t.Errorf("Caddy was switched to %d, where nothing runs: %s", upstream, c)
			}
			continue
		}
		f := strings.Fields(c)
		if len(f) != 3 || f[0] != "systemctl" {
			continue
		}
		switch f[1] {
		case "stop", "restart":
			if up[f[2]] && port[f[2]] == upstream {
				t.Errorf("%q while it is Caddy's upstream (%d), in:\n%s", c, upstream, strings.Join(calls, "\n"))
			}
			up[f[2]] = f[1] == "restart"
		case "start":
			up[f[2]] = true
		}
	}
}

// The hand-over's first in-place deploy on app-1, where Caddy still serves
// the web ports and proxies to the blue port, with blue or a legacy unit
// serving there: Caddy first hops to green on the new image (started
// beside, ready, then Caddy reloaded), the old unit stops, blue starts on
// the new image for the load balancer, Caddy follows it, green stops. At
// no point is the unit Caddy proxies to stopped or restarted.
func TestDeployInplaceHandOver(t *testing.T) {
	check := func(t *testing.T, h *fakeHost, old string) {
		t.Helper()
		out, code := h.deploy("--mode", "inplace", "app:v2")
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, out)
		}
		calls := h.calls()
		caddyNeverOnStopped(t, h, calls, h.bluePort, old)
		inOrder(t, calls, "systemctl restart flavormonk@green.service", "ready flavormonk@green.service app:v2",
			fmt.Sprintf("reloaded caddy: reverse_proxy 127.0.0.1:%d; running: %s flavormonk@green.service", h.greenPort, old),
			"systemctl stop "+old, "systemctl restart flavormonk@blue.service", "ready flavormonk@blue.service app:v2",
			fmt.Sprintf("reloaded caddy: reverse_proxy 127.0.0.1:%d; running: flavormonk@blue.service flavormonk@green.service", h.bluePort),
			"systemctl enable flavormonk@blue.service", "systemctl stop flavormonk@green.service", "systemctl disable flavormonk@green.service")
		if got := h.read("etc/caddy/flavormonk-upstream"); got != fmt.Sprintf("reverse_proxy 127.0.0.1:%d", h.bluePort) {
			t.Errorf("upstream %q", got)
		}
		if h.read("etc/flavormonk/active") != "blue" || h.read("etc/flavormonk/image") != "app:v2" || serving(h.bluePort) != "app:v2" || serving(h.greenPort) != "" {
			t.Errorf("active %q image %q, blue serves %q, green %q", h.read("etc/flavormonk/active"), h.read("etc/flavormonk/image"), serving(h.bluePort), serving(h.greenPort))
		}
	}
	fromBlue := func(t *testing.T) *fakeHost {
		h := newFakeHost(t, "yes")
		if out, code := h.deploy("--mode", "bluegreen", "app:v1"); code != 0 {
			t.Fatalf("bluegreen: exit %d\n%s", code, out)
		}
		h.reset()
		return h
	}
	t.Run("blue active", func(t *testing.T) { check(t, fromBlue(t), "flavormonk@blue.service") })
	t.Run("legacy active", func(t *testing.T) {
		h := legacyHost(t, "yes")
		check(t, h, "flavormonk.service")
		if i := index(h.calls(), "systemctl disable flavormonk.service"); i < 0 {
			t.Error("the legacy unit was not disabled")
		}
	})
	// Green never gets ready: it stops again, blue and Caddy are untouched.
	t.Run("green not ready", func(t *testing.T) {
		h := fromBlue(t)
		out, code := h.deploy("--mode", "inplace", "--timeout", "2", "app:broken")
		if code != 1 || !strings.Contains(out, "FAILED") {
			t.Fatalf("exit %d, want 1 with FAILED\n%s", code, out)
		}
		calls := h.calls()
		caddyNeverOnStopped(t, h, calls, h.bluePort, "flavormonk@blue.service")
		inOrder(t, calls, "systemctl restart flavormonk@green.service", "journalctl -u flavormonk@green.service", "systemctl stop flavormonk@green.service")
		if i := index(calls, "reloaded caddy"); i >= 0 {
			t.Errorf("a failed hop reloaded Caddy: %s", calls[i])
		}
		if h.read("etc/caddy/flavormonk-upstream") != fmt.Sprintf("reverse_proxy 127.0.0.1:%d", h.bluePort) || h.read("etc/flavormonk/active") != "blue" ||
			h.read("etc/flavormonk/image") != "app:v1" || serving(h.bluePort) != "app:v1" || serving(h.greenPort) != "" {
			t.Errorf("after the failure: upstream %q active %q image %q, blue serves %q, green %q", h.read("etc/caddy/flavormonk-upstream"),
				h.read("etc/flavormonk/active"), h.read("etc/flavormonk/image"), serving(h.bluePort), serving(h.greenPort))
		}
	})
}

// A systemctl that fails around the legacy unit (inplace, no Caddy) ends
// the deploy with exit 1 and says what happened, not with systemctl's
// status half way through.
func TestDeployLegacySystemctlFails(t *testing.T) {
	for name, tc := range map[string]struct{ fail, image, want string }{
		"stop":        {"stop flavormonk.service", "app:v1", "flavormonk.service did not stop"},
		"start again": {"start flavormonk.service", "app:broken", "flavormonk.service did not start again"},
	} {
		t.Run(name, func(t *testing.T) {
			h := legacyHost(t, "no")
			h.env = append(h.env, "FM_FAIL="+tc.fail)
			out, code := h.deploy("--mode", "inplace", "--timeout", "2", tc.image)
			if code != 1 || !strings.Contains(out, "FAILED: "+tc.want) {
				t.Errorf("exit %d, want 1 saying %q\n%s", code, tc.want, out)
			}
			if i := index(h.calls(), "systemctl disable"); i >= 0 {
				t.Errorf("a failed deploy disabled a unit: %s", h.calls()[i])
			}
		})
	}
}

// A second run waits for the first's lock, for up to --timeout, and fails
// clearly without touching anything when it does not get it.
func TestDeployLock(t *testing.T) {
	h := newFakeHost(t, "no")
	f, err := os.OpenFile(filepath.Join(h.root, "run/flavormonk/deploy.lock"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	out, code := h.deploy("--mode", "inplace", "--timeout", "1", "app:v1")
	if code != 1 || !strings.Contains(out, "FAILED: another flavormonk-deploy still holds") {
		t.Errorf("locked: exit %d, want 1 naming the lock\n%s", code, out)
	}
	if b, err := os.ReadFile(h.log); err == nil {
		t.Errorf("a run without the lock ran:\n%s", b)
	}

	const hold = 1500 * time.Millisecond
	time.AfterFunc(hold, func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) })
	start := time.Now()
	if out, code := h.deploy("--mode", "inplace", "--timeout", "20", "app:v1"); code != 0 {
		t.Fatalf("after the lock is released: exit %d\n%s", code, out)
	}
	if time.Since(start) < hold {
		t.Errorf("the run did not wait for the lock: %s", time.Since(start))
	}
	// The unit it started does not hold the lock: the next run goes at once.
	start = time.Now()
	if out, code := h.deploy("--mode", "inplace", "--timeout", "20", "app:v2"); code != 0 || time.Since(start) > 10*time.Second {
		t.Errorf("next run: exit %d after %s\n%s", code, time.Since(start), out)
	}
}

// Bad arguments exit 2 with the usage line and touch nothing.
func TestDeployUsage(t *testing.T) {
	h := newFakeHost(t, "no")
	for name, args := range map[string][]string{
		"none":                 nil,
		"no mode":              {"app:v1"},
		"unknown mode":         {"--mode", "rolling", "app:v1"},
		"no image":             {"--mode", "inplace"},
		"two images":           {"--mode", "inplace", "app:v1", "app:v2"},
		"unknown option":       {"--mode", "inplace", "--fast", "app:v1"},
		"probes not a number":  {"--mode", "inplace", "--lb-probes", "three", "app:v1"},
		"probes in bluegreen":  {"--mode", "bluegreen", "--lb-probes", "3", "app:v1"},
		"timeout not a number": {"--mode", "inplace", "--timeout", "3m", "app:v1"},
		"missing value":        {"--mode", "inplace", "app:v1", "--timeout"},
		"not an image":         {"--mode", "inplace", "app:v1;reboot"},
	} {
		h.reset()
		out, code := h.deploy(args...)
		if code != 2 || !strings.Contains(out, "usage: flavormonk-deploy --mode bluegreen|inplace") {
			t.Errorf("%s %q: exit %d, want 2 with the usage\n%s", name, args, code, out)
		}
		if b, err := os.ReadFile(h.log); err == nil {
			t.Errorf("%s: it ran %s", name, b)
		}
	}
}

// The script is clean under shellcheck, when it is installed.
func TestDeployShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck is not installed (apt-get install -y shellcheck)")
	}
	dir := t.TempDir()
	for name, body := range map[string]string{"deploy.sh": deploySh, "app-env.sh": appEnvSh, "app-run.sh": appRunSh, "net.sh": netSh} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(sc, "-x", "deploy.sh", "app-env.sh", "app-run.sh")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}
