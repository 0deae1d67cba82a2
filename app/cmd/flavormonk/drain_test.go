package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// conn is one kept-alive HTTP/1.1 connection, so a test can tell an
// already-open connection from a new one.
type conn struct {
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &conn{c: c, r: bufio.NewReader(c)}
}

// get sends GET path on the connection and returns the status.
func (c *conn) get(t *testing.T, path string) int {
	t.Helper()
	_ = c.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.c, "GET "+path+" HTTP/1.1\r\nHost: test\r\nAccept: text/html\r\n\r\n"); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	res, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.Close {
		t.Fatalf("GET %s: the server closes the connection", path)
	}
	return res.StatusCode
}

// startDraining runs m with a drain delay of delay whose wait the test
// controls: asked receives the delay Run waits for, and the drain ends when
// release is closed.
func startDraining(t *testing.T, delay string) (m *Main, cancel context.CancelFunc, ran chan error, asked chan time.Duration, release chan time.Time, logs *lockedLog) {
	t.Helper()
	cfg := testConfig(t, map[string]string{"FLAVORMONK_DRAIN_DELAY": delay})
	logs = &lockedLog{}
	m = NewMain(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	asked, release = make(chan time.Duration, 1), make(chan time.Time)
	m.After = func(d time.Duration) <-chan time.Time { asked <- d; return release }
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ran = make(chan error, 1)
	go func() { ran <- m.Run(ctx) }()
	waitReady(t, m.URL())
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return m, cancel, ran, asked, release, logs
}

func waitRun(t *testing.T, ran chan error, within time.Duration) {
	t.Helper()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(within):
		t.Fatalf("Run did not return within %s", within)
	}
}

// TestDrainKeepsServing: on shutdown /readyz answers 503 at once, while
// pages and the API keep answering on open and new connections for the
// drain delay; then the listener closes.
func TestDrainKeepsServing(t *testing.T) {
	m, cancel, ran, asked, release, logs := startDraining(t, "30s")
	open := dial(t, m.Addr())
	if code := open.get(t, "/"); code != 200 {
		t.Fatalf("GET / before shutdown: %d", code)
	}

	cancel()
	select {
	case d := <-asked:
		if d != 30*time.Second {
			t.Fatalf("drain waits %s, want the configured 30s", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run never started draining")
	}
	for name, c := range map[string]*conn{"open": open, "new": dial(t, m.Addr())} {
		if code := c.get(t, "/readyz"); code != 503 {
			t.Errorf("%s connection: /readyz %d while draining, want 503", name, code)
		}
		for _, path := range []string{"/", "/api/v1/recipes?q=lentil", "/healthz"} {
			if code := c.get(t, path); code != 200 {
				t.Errorf("%s connection: %s %d while draining, want 200", name, path, code)
			}
		}
	}
	if !strings.Contains(logs.String(), "draining") || !strings.Contains(logs.String(), "delay=30s") {
		t.Errorf("no draining line with its delay in the log")
	}

	close(release)
	waitRun(t, ran, 10*time.Second)
	if c, err := net.DialTimeout("tcp", m.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("the listener still accepts after the drain")
	}
	// The open connection was idle: shutdown closed it.
	_ = open.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := open.r.ReadByte(); err != io.EOF {
		t.Fatalf("the idle connection after shutdown: %v, want EOF", err)
	}
}

// TestDrainZeroStopsAtOnce: with no delay the listener closes as soon as
// the context ends, and nothing waits.
func TestDrainZeroStopsAtOnce(t *testing.T) {
	m, cancel, ran, asked, _, logs := startDraining(t, "0s")
	start := time.Now()
	cancel()
	waitRun(t, ran, 5*time.Second)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("shutdown took %s without a drain", took)
	}
	select {
	case d := <-asked:
		t.Fatalf("waited %s with a zero drain delay", d)
	default:
	}
	if strings.Contains(logs.String(), "draining") {
		t.Error("logged draining with a zero delay")
	}
	if c, err := net.DialTimeout("tcp", m.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("the listener still accepts")
	}
}

// TestDrainInterrupted: a second signal (Interrupt) ends the drain early.
func TestDrainInterrupted(t *testing.T) {
	cfg := testConfig(t, map[string]string{"FLAVORMONK_DRAIN_DELAY": "10m"})
	m := NewMain(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	asked := make(chan time.Duration, 1)
	m.After = func(d time.Duration) <-chan time.Time { asked <- d; return nil } // never
	interrupt := make(chan struct{})
	m.Interrupt = interrupt
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ran := make(chan error, 1)
	go func() { ran <- m.Run(ctx) }()
	waitReady(t, m.URL())
	cancel()
	select {
	case <-asked:
	case <-time.After(10 * time.Second):
		t.Fatal("Run never started draining")
	}
	close(interrupt)
	waitRun(t, ran, 10*time.Second)
}

// TestSecondSignal: signals close the channel that cuts the drain short.
// Signals sent back to back may merge into one, so the test keeps sending
// until it sees the channel closed.
func TestSecondSignal(t *testing.T) {
	second, stop := secondSignal()
	defer stop()
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-second:
			return
		case <-deadline:
			t.Fatal("signals did not close the channel")
		case <-tick.C:
		}
	}
}
