package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// The production host scripts (infra/cloudinit/files/deploy.sh) reach the
// host through FM_SYSTEMCTL, FM_DOCKER and FM_JOURNALCTL. The rehearsal
// points them at small wrappers that exec this very binary in shim mode
// (FMREHEARSE_SHIM=<tool>); the shim forwards its arguments over a unix
// socket to the running rehearsal, which plays systemd and docker for the
// host whose FM_ROOT the script runs under: `start flavormonk@blue` runs
// the real flavormonk binary the "image" names, as a local process.
// Keeping the processes in the rehearsal (not in the short-lived shim)
// means they die with it and stop exactly like systemd stops them.

const (
	shimEnv    = "FMREHEARSE_SHIM"
	controlEnv = "FMREHEARSE_CONTROL"
)

type shimRequest struct {
	Tool string   `json:"tool"`
	Root string   `json:"root"`
	Args []string `json:"args"`
}

type shimResponse struct {
	Code   int    `json:"code"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
}

// shimMain is the whole of shim mode: forward, print, exit with the code.
func shimMain(tool string) int {
	sock := os.Getenv(controlEnv)
	if sock == "" {
		fmt.Fprintf(os.Stderr, "fmrehearse %s shim: %s is not set\n", tool, controlEnv)
		return 1
	}
	body, _ := json.Marshal(shimRequest{Tool: tool, Root: os.Getenv("FM_ROOT"), Args: os.Args[1:]})
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := client.Post("http://shim/"+tool, "application/json", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(os.Stderr, "fmrehearse %s shim: %v\n", tool, err)
		return 1
	}
	defer resp.Body.Close()
	var out shimResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		fmt.Fprintf(os.Stderr, "fmrehearse %s shim: %v\n", tool, err)
		return 1
	}
	fmt.Fprint(os.Stdout, out.Stdout)
	fmt.Fprint(os.Stderr, out.Stderr)
	return out.Code
}

// writeShims writes the wrappers FM_SYSTEMCTL, FM_DOCKER and FM_JOURNALCTL
// name, in dir.
func writeShims(dir, self string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	paths := map[string]string{}
	for _, tool := range []string{"systemctl", "docker", "journalctl"} {
		p := filepath.Join(dir, tool)
		script := fmt.Sprintf("#!/bin/sh\n%s=%s exec %s \"$@\"\n", shimEnv, tool, shellQuote(self))
		if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
			return nil, err
		}
		paths[tool] = p
	}
	return paths, nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// host is one simulated machine: its FM_ROOT, the ports its units listen
// on, and its running units.
type host struct {
	Name      string
	Root      string
	Ports     map[string]int // unit colour → app port
	Metrics   map[string]int // unit colour → metrics port
	Caddy     *caddy         // nil on a host behind the load balancer
	StopGrace time.Duration  // like TimeoutStopSec: SIGKILL after it

	ctl *control
	mu  sync.Mutex
	run map[string]*unitProc // colour → running (or exited) process
	log []string             // every shim call, for the report
}

type unitProc struct {
	p       *proc
	image   string
	version string
	addr    string
}

// control is the rehearsal's side of the shims: systemd and docker for
// every host, keyed by FM_ROOT.
type control struct {
	sock   string
	work   string
	appEnv string           // infra/cloudinit/files/app-env.sh
	images map[string]build // image reference → binary and its version
	hosts  map[string]*host // FM_ROOT → host
	env    func(extra map[string]string) []string
	srv    *http.Server
}

func newControl(work, appEnv string, images map[string]build, env func(map[string]string) []string) (*control, error) {
	c := &control{sock: filepath.Join(work, "control.sock"), work: work, appEnv: appEnv, images: images, hosts: map[string]*host{}, env: env}
	ln, err := net.Listen("unix", c.sock)
	if err != nil {
		return nil, err
	}
	c.srv = &http.Server{Handler: http.HandlerFunc(c.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

func (c *control) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.srv.Shutdown(ctx)
}

func (c *control) add(h *host) {
	h.ctl = c
	h.run = map[string]*unitProc{}
	c.hosts[h.Root] = h
}

func (c *control) serve(w http.ResponseWriter, r *http.Request) {
	var req shimRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var out shimResponse
	h := c.hosts[req.Root]
	if h == nil {
		out = shimResponse{Code: 1, Stderr: fmt.Sprintf("fmrehearse shim: no rehearsal host has FM_ROOT=%q\n", req.Root)}
	} else {
		out = h.handle(r.Context(), req.Tool, req.Args)
		h.note(fmt.Sprintf("%s %s → %d", req.Tool, strings.Join(req.Args, " "), out.Code))
	}
	_ = json.NewEncoder(w).Encode(out)
}

func (h *host) note(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.log = append(h.log, s)
}

// calls is every shim call so far.
func (h *host) calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.log...)
}

func (h *host) handle(ctx context.Context, tool string, args []string) shimResponse {
	switch tool {
	case "systemctl":
		return h.systemctl(ctx, args)
	case "docker":
		return h.docker(args)
	case "journalctl":
		return h.journalctl(args)
	}
	return shimResponse{Code: 1, Stderr: "fmrehearse shim: unknown tool " + tool + "\n"}
}

var colourUnit = regexp.MustCompile(`^flavormonk@([a-z0-9-]+)$`)

func unitName(u string) string { return strings.TrimSuffix(u, ".service") }

// systemctl plays systemd for the units the scripts touch: the app's
// template unit flavormonk@<colour>, the legacy flavormonk.service (never
// present here), and caddy (reload = caddy reload through its admin API).
func (h *host) systemctl(ctx context.Context, args []string) shimResponse {
	var verb string
	var units []string
	now, quiet := false, false
	for _, a := range args {
		switch {
		case a == "--now":
			now = true
		case a == "-q" || a == "--quiet":
			quiet = true
		case strings.HasPrefix(a, "-"):
		case verb == "":
			verb = a
		default:
			units = append(units, unitName(a))
		}
	}
	var res shimResponse
	for _, u := range units {
		r := h.unitVerb(ctx, verb, u, now)
		res.Stdout += r.Stdout
		res.Stderr += r.Stderr
		if r.Code != 0 && res.Code == 0 {
			res.Code = r.Code
		}
	}
	if len(units) == 0 && verb != "daemon-reload" {
		res = shimResponse{Code: 1, Stderr: fmt.Sprintf("fmrehearse systemctl shim: %q needs a unit\n", verb)}
	}
	if quiet {
		res.Stdout = ""
	}
	return res
}

func (h *host) unitVerb(ctx context.Context, verb, u string, now bool) shimResponse {
	ok := shimResponse{}
	if m := colourUnit.FindStringSubmatch(u); m != nil {
		colour := m[1]
		if _, known := h.Ports[colour]; !known {
			return shimResponse{Code: 5, Stderr: fmt.Sprintf("Unit %s.service not found (this rehearsal host has colours %s).\n", u, strings.Join(h.colours(), ", "))}
		}
		switch verb {
		case "start":
			return h.start(ctx, colour)
		case "stop":
			return h.stop(colour)
		case "restart":
			if r := h.stop(colour); r.Code != 0 {
				return r
			}
			return h.start(ctx, colour)
		case "is-active", "status":
			if h.active(colour) {
				return shimResponse{Stdout: "active\n"}
			}
			return shimResponse{Code: 3, Stdout: "inactive\n"}
		case "enable", "disable", "is-enabled", "reset-failed":
			if now && verb == "enable" {
				return h.start(ctx, colour)
			}
			if now && verb == "disable" {
				return h.stop(colour)
			}
			return ok
		case "kill":
			return h.stop(colour)
		}
	}
	switch {
	case u == "flavormonk": // a legacy flavormonk.service: none on a rehearsal host
		switch verb {
		case "is-active", "status":
			return shimResponse{Code: 3, Stdout: "inactive\n"}
		case "is-enabled":
			return shimResponse{Code: 1, Stdout: "disabled\n"}
		case "start", "restart":
			return shimResponse{Code: 5, Stderr: "Unit flavormonk.service not found.\n"}
		}
		return ok
	case u == "caddy" && h.Caddy != nil:
		switch verb {
		case "reload", "reload-or-restart", "restart", "try-reload-or-restart":
			if err := h.Caddy.reload(ctx); err != nil {
				return shimResponse{Code: 1, Stderr: "caddy reload: " + err.Error() + "\n"}
			}
			return ok
		case "is-active", "status":
			if h.Caddy.p != nil && !h.Caddy.p.exited() {
				return shimResponse{Stdout: "active\n"}
			}
			return shimResponse{Code: 3, Stdout: "inactive\n"}
		}
		return ok
	case verb == "daemon-reload":
		return ok
	}
	return shimResponse{Code: 1, Stderr: fmt.Sprintf("fmrehearse systemctl shim: %s %s is not rehearsed here\n", verb, u)}
}

func (h *host) colours() []string {
	var cs []string
	for c := range h.Ports {
		cs = append(cs, c)
	}
	sort.Strings(cs)
	return cs
}

func (h *host) active(colour string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := h.run[colour]
	return u != nil && !u.p.exited()
}

// running is the version each live unit runs.
func (h *host) running() map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]string{}
	for c, u := range h.run {
		if !u.p.exited() {
			out[c] = u.version
		}
	}
	return out
}

func (h *host) path(p string) string { return filepath.Join(h.Root, p) }

// imageFor is the image the unit runs: like the unit's ExecStart
// (flavormonk-app-run) it reads the file deploy.sh wrote for the colour.
func (h *host) imageFor(colour string) (string, error) {
	b, err := os.ReadFile(h.path("etc/flavormonk/image-" + colour))
	if err != nil {
		return "", err
	}
	line := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	if line == "" {
		return "", fmt.Errorf("/etc/flavormonk/image-%s is empty", colour)
	}
	return line, nil
}

// start is the unit's ExecStartPre, the production flavormonk-app-env
// (infra/cloudinit/files/app-env.sh, under FM_ROOT: it derives the
// environment and the listen addresses from /etc/flavormonk/env and
// host.env), and its ExecStart: the image's binary with that environment.
func (h *host) start(ctx context.Context, colour string) shimResponse {
	if h.active(colour) {
		return shimResponse{}
	}
	fail := func(err error) shimResponse {
		return shimResponse{Code: 1, Stderr: fmt.Sprintf("Job for flavormonk@%s.service failed: %v\n", colour, err)}
	}
	image, err := h.imageFor(colour)
	if err != nil {
		return fail(err)
	}
	b, ok := h.ctl.images[image]
	if !ok {
		return fail(fmt.Errorf("image %q is not one the rehearsal built", image))
	}
	pre := exec.CommandContext(ctx, "bash", h.ctl.appEnv, colour)
	pre.Env = append(os.Environ(), "FM_ROOT="+h.Root)
	if out, err := pre.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("flavormonk-app-env %s: %v: %s", colour, err, strings.TrimSpace(string(out))))
	}
	env, err := readEnvFile(h.path("run/flavormonk/env-" + colour))
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command(b.Bin, "serve")
	cmd.Env = h.ctl.env(env)
	p, err := start(h.Name+"/"+colour, cmd, filepath.Join(h.ctl.work, h.Name+"-"+colour+".log"))
	if err != nil {
		return fail(err)
	}
	p.addr, p.metricsAddr = env["FLAVORMONK_ADDR"], env["FLAVORMONK_METRICS_ADDR"]
	h.mu.Lock()
	h.run[colour] = &unitProc{p: p, image: image, version: b.Version, addr: p.addr}
	h.mu.Unlock()
	return shimResponse{}
}

// stop is systemd's stop: SIGTERM, wait for the exit (the app drains),
// SIGKILL after the unit's stop timeout.
func (h *host) stop(colour string) shimResponse {
	h.mu.Lock()
	u := h.run[colour]
	h.mu.Unlock()
	if u != nil {
		u.p.Stop(h.StopGrace)
	}
	return shimResponse{}
}

// kill ends a unit with SIGKILL, as a crash would (the negative rehearsal).
func (h *host) kill(colour string) {
	h.mu.Lock()
	u := h.run[colour]
	h.mu.Unlock()
	if u != nil {
		_ = u.p.Cmd.Process.Kill()
		<-u.p.Done()
	}
}

// docker: pull checks that the image is one the rehearsal built (a local
// binary), the rest of what deploy.sh may ask is a no-op.
func (h *host) docker(args []string) shimResponse {
	var verb string
	var rest []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if verb == "" {
			verb = a
			continue
		}
		rest = append(rest, a)
	}
	switch verb {
	case "pull":
		if len(rest) == 0 {
			return shimResponse{Code: 1, Stderr: "docker pull: no image\n"}
		}
		if _, ok := h.ctl.images[rest[len(rest)-1]]; !ok {
			return shimResponse{Code: 1, Stderr: fmt.Sprintf("Error response from daemon: manifest for %s not found (the rehearsal built %s)\n", rest[len(rest)-1], strings.Join(h.ctl.imageNames(), ", "))}
		}
		return shimResponse{Stdout: rest[len(rest)-1] + "\n"}
	case "image", "inspect":
		for _, a := range rest {
			if _, ok := h.ctl.images[a]; ok {
				return shimResponse{Stdout: "[]\n"}
			}
		}
		return shimResponse{Code: 1, Stderr: "Error: No such image\n"}
	}
	return shimResponse{}
}

func (c *control) imageNames() []string {
	var out []string
	for k := range c.images {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// journalctl prints the tail of the unit's log.
func (h *host) journalctl(args []string) shimResponse {
	var out strings.Builder
	for i, a := range args {
		if (a == "-u" || a == "--unit") && i+1 < len(args) {
			if m := colourUnit.FindStringSubmatch(unitName(args[i+1])); m != nil {
				h.mu.Lock()
				u := h.run[m[1]]
				h.mu.Unlock()
				if u != nil {
					out.WriteString(u.p.Log.Last(40) + "\n")
				}
			}
		}
	}
	return shimResponse{Stdout: out.String()}
}

// readEnvFile reads KEY=VALUE lines (systemd's EnvironmentFile, docker's
// --env-file).
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not KEY=VALUE", path, line)
		}
		env[k] = v
	}
	return env, sc.Err()
}
