package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a subprocess: a flavormonk replica or a one-shot command.
type proc struct {
	name        string
	cmd         *exec.Cmd
	addr        string // public 127.0.0.1:port (replicas)
	metricsAddr string // private 127.0.0.1:port (replicas)
	log         *tailBuffer
	done        chan struct{}
	err         error
}

// tailBuffer keeps the last bytes written to it, for error reports.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 32<<10 {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-16<<10:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// last returns the last n lines.
func (t *tailBuffer) last(n int) string {
	lines := strings.Split(t.String(), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var (
	procsMu sync.Mutex
	procs   = map[*proc]bool{}
)

// start runs cmd; its output goes to a tail buffer and, when logFile is
// set, to that file too.
func start(name string, cmd *exec.Cmd, logFile string) (*proc, error) {
	p := &proc{name: name, cmd: cmd, log: &tailBuffer{}, done: make(chan struct{})}
	var w io.Writer = p.log
	var f *os.File
	if logFile != "" {
		var err error
		if f, err = os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
			return nil, err
		}
		w = io.MultiWriter(p.log, f)
	}
	if cmd.Stdout == nil {
		cmd.Stdout = w
	}
	if cmd.Stderr == nil {
		cmd.Stderr = w
	}
	// The child dies with fmrehearse, even on SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		if f != nil {
			f.Close()
		}
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	procsMu.Lock()
	procs[p] = true
	procsMu.Unlock()
	go func() {
		p.err = cmd.Wait()
		if f != nil {
			f.Close()
		}
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process: SIGTERM, then SIGKILL after a grace period.
func (p *proc) stop() {
	procsMu.Lock()
	delete(procs, p)
	procsMu.Unlock()
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func stopAll() {
	procsMu.Lock()
	var ps []*proc
	for p := range procs {
		ps = append(ps, p)
	}
	procsMu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop() }()
	}
	wg.Wait()
}

// runCmd runs a one-shot command to completion within d and returns its
// stdout; stderr is kept for errors (and appended to logFile when set).
func runCmd(ctx context.Context, d time.Duration, name string, cmd *exec.Cmd, logFile string) (string, error) {
	var out strings.Builder
	cmd.Stdout = &out
	p, err := start(name, cmd, logFile)
	if err != nil {
		return "", err
	}
	defer p.stop()
	select {
	case <-p.done:
	case <-time.After(d):
		return out.String(), fmt.Errorf("%s did not finish within %s: %s", name, d, p.log.last(20))
	case <-ctx.Done():
		return out.String(), ctx.Err()
	}
	if p.err != nil {
		return out.String(), fmt.Errorf("%s: %v: %s", name, p.err, strings.TrimSpace(out.String()+"\n"+p.log.last(20)))
	}
	return out.String(), nil
}

// freePort picks a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// cleanEnv is the caller's environment less any FLAVORMONK_ setting, plus extra.
func cleanEnv(extra map[string]string) []string {
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

var probe = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// waitReady waits for url to answer 200 while p lives, at most d.
func waitReady(ctx context.Context, p *proc, url string, d time.Duration) (time.Duration, error) {
	t0 := time.Now()
	for {
		if p.exited() {
			return 0, fmt.Errorf("%s exited before it was ready (%v):\n%s", p.name, p.err, p.log.last(30))
		}
		resp, err := probe.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(t0), nil
			}
		}
		if time.Since(t0) > d {
			return 0, fmt.Errorf("%s not ready after %s:\n%s", p.name, d, p.log.last(30))
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
