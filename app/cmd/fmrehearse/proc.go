package main

import (
	"context"
	"fmt"
	"github.com/flavormonk/flavormonk/app/internal/subproc"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

// proc is a subprocess: a flavormonk replica or a one-shot command.
type proc struct {
	*subproc.Proc
	addr        string // public 127.0.0.1:port (replicas)
	metricsAddr string // private 127.0.0.1:port (replicas)
}

// start runs cmd; its output goes to a tail buffer and, when logFile is
// set, to that file too.
func start(name string, cmd *exec.Cmd, logFile string) (*proc, error) {
	p, err := subproc.Start(name, cmd, logFile)
	if err != nil {
		return nil, err
	}
	return &proc{Proc: p}, nil
}

func (p *proc) exited() bool { return p.Exited() }

// stop ends the process: SIGTERM, then SIGKILL after a grace period.
func (p *proc) stop() { p.Stop(5 * time.Second) }

func stopAll() { subproc.StopAll(5 * time.Second) }

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
	case <-p.Done():
	case <-time.After(d):
		return out.String(), fmt.Errorf("%s did not finish within %s: %s", name, d, p.Log.Last(20))
	case <-ctx.Done():
		return out.String(), ctx.Err()
	}
	if p.Err != nil {
		return out.String(), fmt.Errorf("%s: %v: %s", name, p.Err, strings.TrimSpace(out.String()+"\n"+p.Log.Last(20)))
	}
	return out.String(), nil
}

func freePort() (int, error) { return subproc.FreePort() }

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
			return 0, fmt.Errorf("%s exited before it was ready (%v):\n%s", p.Name, p.Err, p.Log.Last(30))
		}
		resp, err := probe.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(t0), nil
			}
		}
		if time.Since(t0) > d {
			return 0, fmt.Errorf("%s not ready after %s:\n%s", p.Name, d, p.Log.Last(30))
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
