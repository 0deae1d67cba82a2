package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/flavormonk/flavormonk/app/internal/subproc"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// proc is a server subprocess.
type proc struct {
	*subproc.Proc
	addr string // 127.0.0.1:port
}

func start(name string, cmd *exec.Cmd) (*proc, error) {
	p, err := subproc.Start(name, cmd, "")
	if err != nil {
		return nil, err
	}
	return &proc{Proc: p}, nil
}

func (p *proc) pid() int     { return p.Pid() }
func (p *proc) exited() bool { return p.Exited() }

// stop ends the process: SIGTERM, then SIGKILL after a grace period.
func (p *proc) stop() { p.Stop(3 * time.Second) }

func stopAll() { subproc.StopAll(3 * time.Second) }

func freePort() (int, error) { return subproc.FreePort() }

// appEnv is the environment of a `flavormonk serve`: the caller's, less
// any FLAVORMONK_ setting, plus the bench's.
func appEnv(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLAVORMONK_") {
			env = append(env, kv)
		}
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// startApp starts `flavormonk serve` and waits for /readyz to answer 200.
// It returns the time from exec to ready.
func startApp(ctx context.Context, bin string, settings map[string]string) (*proc, time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	mport, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	env := map[string]string{
		"FLAVORMONK_TIER":         "local",
		"FLAVORMONK_ADDR":         fmt.Sprintf("127.0.0.1:%d", port),
		"FLAVORMONK_METRICS_ADDR": fmt.Sprintf("127.0.0.1:%d", mport),
		"FLAVORMONK_RATE_LIMIT":   "0",
		"FLAVORMONK_SEED":         "false",
		"FLAVORMONK_LOG_LEVEL":    "warn",
		"FLAVORMONK_CACHE":        "none", // no result cache (nor request coalescing)
	}
	for k, v := range settings {
		env[k] = v
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = appEnv(env)
	t0 := time.Now()
	p, err := start("flavormonk", cmd)
	if err != nil {
		return nil, 0, err
	}
	p.addr = fmt.Sprintf("127.0.0.1:%d", port)
	d, err := waitReady(ctx, p, "http://"+p.addr+"/readyz", t0)
	if err != nil {
		p.stop()
		return nil, 0, err
	}
	return p, d, nil
}

// startTrivial starts the baseline server (this binary in trivial-server mode).
func startTrivial(ctx context.Context) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "trivial-server", "-addr", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p, err := start("trivial-server", cmd)
	if err != nil {
		return nil, err
	}
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			line <- strings.TrimSpace(s.Text())
		}
		close(line)
		for s.Scan() {
		}
	}()
	select {
	case a, ok := <-line:
		if !ok || a == "" {
			p.stop()
			return nil, fmt.Errorf("the trivial server did not start: %s", p.Log)
		}
		p.addr = a
	case <-time.After(10 * time.Second):
		p.stop()
		return nil, fmt.Errorf("the trivial server did not start in 10s")
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	}
	if _, err := waitReady(ctx, p, "http://"+p.addr+"/readyz", time.Now()); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

var probe = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func waitReady(ctx context.Context, p *proc, url string, t0 time.Time) (time.Duration, error) {
	deadline := t0.Add(60 * time.Second)
	for {
		if p.exited() {
			return 0, fmt.Errorf("%s exited before it was ready (%v): %s", p.Name, p.Err, p.Log)
		}
		resp, err := probe.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(t0), nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s not ready after 60s: %s", p.Name, p.Log)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// memory reads a process's resident memory from /proc (kB → bytes).
func memory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = n * 1024
		case "VmHWM:":
			hwm = n * 1024
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return rss, hwm, nil
}

// cpuTime is a process's user+system CPU time so far.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+2:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}
