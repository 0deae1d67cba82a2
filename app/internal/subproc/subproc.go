// Package subproc runs the subprocesses of the project's own tools (the
// load test and the rehearsal): a server binary or a one-shot command, its
// output kept in a bounded tail for error reports, killed with the tool.
package subproc

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// TailBuffer keeps the last bytes written to it.
type TailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (t *TailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 32<<10 {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-16<<10:]...)
	}
	return len(p), nil
}

func (t *TailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// Last returns the last n lines.
func (t *TailBuffer) Last(n int) string {
	lines := strings.Split(t.String(), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Proc is a running subprocess.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Log  *TailBuffer
	Err  error // the exit error, once Done is closed
	done chan struct{}
}

var (
	mu    sync.Mutex
	procs = map[*Proc]bool{}
)

// Start runs cmd; its output goes to the tail buffer and, when logFile is
// set, to that file too. The child is killed when the tool dies, even by
// SIGKILL.
func Start(name string, cmd *exec.Cmd, logFile string) (*Proc, error) {
	p := &Proc{Name: name, Cmd: cmd, Log: &TailBuffer{}, done: make(chan struct{})}
	var w io.Writer = p.Log
	var f *os.File
	if logFile != "" {
		var err error
		if f, err = os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
			return nil, err
		}
		w = io.MultiWriter(p.Log, f)
	}
	if cmd.Stdout == nil {
		cmd.Stdout = w
	}
	if cmd.Stderr == nil {
		cmd.Stderr = w
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		if f != nil {
			f.Close()
		}
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	mu.Lock()
	procs[p] = true
	mu.Unlock()
	go func() {
		p.Err = cmd.Wait()
		if f != nil {
			f.Close()
		}
		close(p.done)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Pid is the process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the process: SIGTERM, then SIGKILL after grace.
func (p *Proc) Stop(grace time.Duration) {
	mu.Lock()
	delete(procs, p)
	mu.Unlock()
	if p.Exited() {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// StopAll stops every process started and not yet stopped.
func StopAll(grace time.Duration) {
	mu.Lock()
	var ps []*Proc
	for p := range procs {
		ps = append(ps, p)
	}
	mu.Unlock()
	for _, p := range ps {
		p.Stop(grace)
	}
}

// handedOut are the ports FreePort has returned in this process.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort picks a free loopback port, never one it has returned before in
// this process: the port is closed again before the caller binds it, and
// the kernel may offer the same one to the next call (a rehearsal once
// gave Caddy's site and its admin endpoint the same port).
func FreePort() (int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("subproc: no loopback port that was not handed out already")
}
