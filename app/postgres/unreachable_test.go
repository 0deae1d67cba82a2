package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/flavormonk/flavormonk/app/internal/servicetest"
)

// cutProxy forwards TCP connections to a Postgres server and can cut them
// all without a word, as a pooler, a failover or a broken network does.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestCutConnectionIsUnreachable: a connection the network closes without
// an error message from the server reads as the database being
// unreachable (503 in the app), not as an internal error.
func TestCutConnectionIsUnreachable(t *testing.T) {
	dsn := servicetest.PostgresDatabase(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("the test Postgres URL: %v", err)
	}
	p := newCutProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, u.String(), WithMaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CountRecipes(ctx); err != nil {
		t.Fatal(err)
	}
	p.cut()
	p.ln.Close() // no new connection either, so the pool cannot hide the cut
	_, err = s.CountRecipes(ctx)
	if err == nil {
		t.Fatal("a query on a cut connection succeeded")
	}
	if !Unreachable(err) {
		t.Fatalf("a cut connection is not read as unreachable: %v", err)
	}
	if Unreachable(io.EOF) || Unreachable(io.ErrUnexpectedEOF) || Unreachable(errors.New("redis: connection closed")) {
		t.Fatal("an end of stream from elsewhere reads as a database outage")
	}
}
