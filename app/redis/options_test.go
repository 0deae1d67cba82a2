package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// No server is contacted here: these pin down which client each mode makes
// and how it is tuned.

func TestClientPerMode(t *testing.T) {
	single, err := New(Options{Addrs: []string{"10.0.0.5:6379"}, Password: "pw", DB: 3, TLS: true, KeyPrefix: "fm:"})
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	cl, ok := single.Client().(*goredis.Client)
	if !ok {
		t.Fatalf("single: %T, want *redis.Client", single.Client())
	}
	o := cl.Options()
	if o.Addr != "10.0.0.5:6379" || o.Password != "pw" || o.DB != 3 || o.TLSConfig == nil || o.TLSConfig.MinVersion != 0x0303 {
		t.Fatalf("single options: addr %q db %d tls %v", o.Addr, o.DB, o.TLSConfig)
	}
	if o.ReadTimeout != DefaultReadTimeout || o.WriteTimeout != DefaultReadTimeout || o.DialTimeout != DefaultDialTimeout {
		t.Fatalf("timeouts: read %v write %v dial %v", o.ReadTimeout, o.WriteTimeout, o.DialTimeout)
	}
	if o.MaxRetries != 0 || o.DialerRetries != 1 || o.PoolTimeout > time.Second || !o.ContextTimeoutEnabled {
		t.Fatalf("outage tuning: retries %d, dialer retries %d, pool timeout %v, ctx timeouts %v",
			o.MaxRetries, o.DialerRetries, o.PoolTimeout, o.ContextTimeoutEnabled)
	}
	if single.Mode() != ModeSingle {
		t.Fatalf("Mode = %q", single.Mode())
	}

	cluster, err := New(Options{Mode: "cluster", Addrs: []string{"10.0.0.5:7000", "10.0.0.6:7000"}, Username: "app", Password: "pw", ReadTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	cc, ok := cluster.Client().(*goredis.ClusterClient)
	if !ok {
		t.Fatalf("cluster: %T, want *redis.ClusterClient", cluster.Client())
	}
	co := cc.Options()
	if len(co.Addrs) != 2 || co.Username != "app" || co.ReadTimeout != 300*time.Millisecond || co.MaxRetries > 0 {
		t.Fatalf("cluster options: %+v", co)
	}

	sentinel, err := New(Options{Mode: "sentinel", Addrs: []string{"10.0.0.5:26379", "10.0.0.6:26379", "10.0.0.7:26379"}, Password: "pw", DB: 1, SentinelMaster: "flavormonk"})
	if err != nil {
		t.Fatal(err)
	}
	defer sentinel.Close()
	sc, ok := sentinel.Client().(*goredis.Client)
	if !ok {
		t.Fatalf("sentinel: %T, want a failover *redis.Client", sentinel.Client())
	}
	// go-redis names a failover client's address this way; the master is
	// resolved through the Sentinels on each dial.
	if so := sc.Options(); so.Addr != "FailoverClient" || so.DB != 1 || so.Password != "pw" {
		t.Fatalf("sentinel options: addr %q db %d", so.Addr, so.DB)
	}
}

func TestOptionsInvalid(t *testing.T) {
	cases := []struct {
		name  string
		opts  Options
		field string
	}{
		{"no addrs", Options{}, "FLAVORMONK_REDIS_ADDRS"},
		{"bad addr", Options{Addrs: []string{"redis.internal"}}, "FLAVORMONK_REDIS_ADDRS"},
		{"single with two", Options{Addrs: []string{"a:1", "b:1"}}, "FLAVORMONK_REDIS_ADDRS"},
		{"unknown mode", Options{Mode: "ring", Addrs: []string{"a:1"}}, "FLAVORMONK_REDIS_MODE"},
		{"sentinel without master", Options{Mode: "sentinel", Addrs: []string{"a:26379"}}, "FLAVORMONK_REDIS_SENTINEL_MASTER"},
		{"cluster with db", Options{Mode: "cluster", Addrs: []string{"a:7000"}, DB: 2}, "FLAVORMONK_REDIS_DB"},
		{"db out of range", Options{Addrs: []string{"a:1"}, DB: 16}, "FLAVORMONK_REDIS_DB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.opts)
			if err == nil {
				c.Close()
				t.Fatal("accepted")
			}
			var fe *flavormonk.Error
			if !errors.As(err, &fe) || fe.Code != flavormonk.EINVALID || fe.Field != tc.field {
				t.Fatalf("error %v, want EINVALID on %s", err, tc.field)
			}
		})
	}
}

func TestWrapCodes(t *testing.T) {
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	cases := []struct {
		err  error
		code string
	}{
		{opErr, flavormonk.EUNAVAILABLE},
		{io.EOF, flavormonk.EUNAVAILABLE},
		{fmt.Errorf("x: %w", syscall.ECONNRESET), flavormonk.EUNAVAILABLE},
		{goredis.ErrClosed, flavormonk.EUNAVAILABLE},
		{goredis.ErrPoolTimeout, flavormonk.EUNAVAILABLE},
		{context.DeadlineExceeded, flavormonk.ETIMEOUT},
		{errors.New("redis: all sentinels specified in configuration are unreachable"), flavormonk.EUNAVAILABLE},
	}
	for _, tc := range cases {
		err := wrap("get", tc.err)
		if got := flavormonk.ErrorCode(err); got != tc.code {
			t.Errorf("wrap(%v) code %q, want %q", tc.err, got, tc.code)
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("wrap(%v) lost the cause", tc.err)
		}
	}
	if err := wrap("get", context.Canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	if wrap("get", nil) != nil {
		t.Error("wrap(nil) != nil")
	}
}

func TestClosedWithoutServer(t *testing.T) {
	c, err := New(Options{Addrs: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := c.Get(context.Background(), "k"); flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
		t.Fatalf("Get after Close: %v", err)
	}
}
