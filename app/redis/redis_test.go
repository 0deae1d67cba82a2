package redis_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/cache"
	"github.com/flavormonk/flavormonk/app/cachetest"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
	"github.com/flavormonk/flavormonk/app/redis"
)

func requireServices() bool { return os.Getenv("FLAVORMONK_TEST_REQUIRE_SERVICES") == "1" }

func skipOrFail(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if requireServices() {
		tb.Fatalf(format+" (FLAVORMONK_TEST_REQUIRE_SERVICES=1)", args...)
	}
	tb.Skipf(format, args...)
}

// optionsFromURL parses redis://[user]:password@host:port/db.
func optionsFromURL(tb testing.TB, url string) redis.Options {
	tb.Helper()
	o, err := goredis.ParseURL(url)
	if err != nil {
		tb.Fatalf("FLAVORMONK_TEST_REDIS_URL: %v", err)
	}
	return redis.Options{
		Mode:      redis.ModeSingle,
		Addrs:     []string{o.Addr},
		Username:  o.Username,
		Password:  o.Password,
		DB:        o.DB,
		TLS:       o.TLSConfig != nil,
		KeyPrefix: randomPrefix(tb),
	}
}

func randomPrefix(tb testing.TB) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return "fmtest:" + hex.EncodeToString(b[:]) + ":"
}

func testOptions(tb testing.TB) redis.Options {
	tb.Helper()
	url := os.Getenv("FLAVORMONK_TEST_REDIS_URL")
	if url == "" {
		skipOrFail(tb, "FLAVORMONK_TEST_REDIS_URL is not set (scripts/redis.sh start prints one)")
	}
	return optionsFromURL(tb, url)
}

func open(tb testing.TB, opts redis.Options) *redis.Cache {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := redis.Open(ctx, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return c
}

func TestConformance(t *testing.T) {
	base := testOptions(t)
	cachetest.Run(t, func(t *testing.T) flavormonk.Cache {
		opts := base
		opts.KeyPrefix = randomPrefix(t)
		c := open(t, opts)
		t.Cleanup(func() { deletePrefix(t, base, opts.KeyPrefix) })
		return c
	})
}

// deletePrefix removes every key under prefix, so tests leave nothing behind.
func deletePrefix(t testing.TB, opts redis.Options, prefix string) {
	opts.KeyPrefix = ""
	c, err := redis.New(opts)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl := c.Client()
	iter := cl.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Logf("cleanup scan: %v", err)
		return
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := cl.Del(ctx, keys[:n]...).Err(); err != nil {
			t.Logf("cleanup del: %v", err)
			return
		}
		keys = keys[n:]
	}
}

func TestKeyPrefixIsolates(t *testing.T) {
	base := testOptions(t)
	ctx := context.Background()
	a, b := base, base
	a.KeyPrefix, b.KeyPrefix = randomPrefix(t), randomPrefix(t)
	ca, cb := open(t, a), open(t, b)
	defer ca.Close()
	defer cb.Close()
	defer deletePrefix(t, base, a.KeyPrefix)
	if err := ca.Set(ctx, "k", []byte("a"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := cb.Get(ctx, "k"); ok || err != nil {
		t.Fatalf("another prefix sees the key: %v, %v", ok, err)
	}
	// The key is stored under the prefix.
	if v, err := ca.Client().Get(ctx, a.KeyPrefix+"k").Result(); err != nil || v != "a" {
		t.Fatalf("raw GET %sk = %q, %v", a.KeyPrefix, v, err)
	}
}

func TestIncrSetsTTLOnce(t *testing.T) {
	base := testOptions(t)
	ctx := context.Background()
	c := open(t, base)
	defer c.Close()
	defer deletePrefix(t, base, base.KeyPrefix)
	if _, err := c.Incr(ctx, "w", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Incr(ctx, "w", time.Hour); err != nil {
		t.Fatal(err)
	}
	ttl, err := c.Client().PTTL(ctx, base.KeyPrefix+"w").Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("PTTL after Incr(1m), Incr(1h) = %v, %v; want the first ttl", ttl, err)
	}
	if _, err := c.Incr(ctx, "none", 0); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := c.Client().PTTL(ctx, base.KeyPrefix+"none").Result(); ttl != -1 {
		t.Fatalf("PTTL of a counter without ttl = %v, want -1 (none)", ttl)
	}
	// A value without expiry that Incr then finds keeps none only when asked:
	// Incr with a ttl gives it one (like EXPIRE NX).
	if err := c.Set(ctx, "preset", []byte("5"), 0); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Incr(ctx, "preset", time.Minute); err != nil || n != 6 {
		t.Fatalf("Incr(preset) = %d, %v", n, err)
	}
	if ttl, _ := c.Client().PTTL(ctx, base.KeyPrefix+"preset").Result(); ttl <= 0 {
		t.Fatalf("PTTL of preset after Incr(1m) = %v, want a ttl", ttl)
	}
}

func TestValueTooLarge(t *testing.T) {
	base := testOptions(t)
	c := open(t, base)
	defer c.Close()
	defer deletePrefix(t, base, base.KeyPrefix)
	ctx := context.Background()
	err := c.Set(ctx, "big", make([]byte, cache.MaxValueBytes+1), time.Minute)
	if flavormonk.ErrorCode(err) != flavormonk.ETOOLARGE {
		t.Fatalf("Set over the limit: %v, want ETOOLARGE", err)
	}
	if err := c.Set(ctx, "max", make([]byte, cache.MaxValueBytes), time.Minute); err != nil {
		t.Fatalf("Set at the limit: %v", err)
	}
	if v, ok, err := c.Get(ctx, "max"); err != nil || !ok || len(v) != cache.MaxValueBytes {
		t.Fatalf("Get at the limit: %d bytes, %v, %v", len(v), ok, err)
	}
}

func TestWrongPassword(t *testing.T) {
	opts := testOptions(t)
	opts.Password = "wrong-" + opts.Password
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := redis.Open(ctx, opts)
	if err == nil {
		t.Fatal("Open with a wrong password succeeded")
	}
	if flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE || !strings.Contains(flavormonk.ErrorMessage(err), "authentication") {
		t.Fatalf("Open with a wrong password: %v (code %s, message %q)", err, flavormonk.ErrorCode(err), flavormonk.ErrorMessage(err))
	}
	if strings.Contains(flavormonk.ErrorMessage(err), opts.Password) {
		t.Fatal("the error message shows the password")
	}
}

func TestOpenUnreachable(t *testing.T) {
	port := servicetest.FreePort(t)
	start := time.Now()
	_, err := redis.Open(context.Background(), redis.Options{Addrs: []string{"127.0.0.1:" + strconv.Itoa(port)}})
	if flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
		t.Fatalf("Open on a closed port: %v, want EUNAVAILABLE", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("Open on a closed port took %v", el)
	}
}

// A server that accepts connections but never answers (hung, or a
// half-dead network path) costs a call the read timeout, not more.
func TestHungServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // hold it open, say nothing
			mu.Unlock()
		}
	}()
	c, err := redis.New(redis.Options{Addrs: []string{ln.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, op := range []string{"get", "set", "incr"} {
		start := time.Now()
		switch op {
		case "get":
			_, _, err = c.Get(context.Background(), "k")
		case "set":
			err = c.Set(context.Background(), "k", []byte("v"), time.Minute)
		case "incr":
			_, err = c.Incr(context.Background(), "k", time.Minute)
		}
		el := time.Since(start)
		if flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
			t.Fatalf("%s on a hung server: %v, want EUNAVAILABLE", op, err)
		}
		if el > time.Second {
			t.Fatalf("%s on a hung server took %v, want < 1s", op, el)
		}
		t.Logf("%s on a hung server: %v after %v", op, err, el)
	}
}

// TestOutage runs a disposable Redis, stops it mid-test and checks that
// the cache fails fast with EUNAVAILABLE, the Coalescer keeps serving, and
// that the same client works again once Redis is back.
func TestOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis server")
	}
	if _, err := os.Stat(filepath.Join("..", "..", "scripts", "redis.sh")); err != nil {
		skipOrFail(t, "scripts/redis.sh not found: %v", err)
	}
	if _, err := exec.LookPath("redis-server"); err != nil && os.Geteuid() != 0 {
		skipOrFail(t, "redis-server is not installed and installing it needs root")
	}
	own := servicetest.StartOwnRedis(t)
	url := own.URL

	opts := optionsFromURL(t, url)
	c := open(t, opts)
	defer c.Close()
	ctx := context.Background()
	co := cache.NewCoalescer(c, nil)
	var fills atomic.Int64
	fill := func(context.Context) ([]byte, error) {
		fills.Add(1)
		return []byte("from the store"), nil
	}
	if v, hit, err := co.Do(ctx, "page", time.Minute, fill); err != nil || hit || string(v) != "from the store" {
		t.Fatalf("Do while up = %q, %v, %v", v, hit, err)
	}
	if v, hit, err := co.Do(ctx, "page", time.Minute, fill); err != nil || !hit || string(v) != "from the store" {
		t.Fatalf("second Do while up = %q, %v, %v; want a hit", v, hit, err)
	}
	if _, err := c.Incr(ctx, "rate", time.Minute); err != nil {
		t.Fatal(err)
	}

	// Outage.
	own.Stop(t)
	fast := func(op string, f func() error) {
		t.Helper()
		start := time.Now()
		err := f()
		el := time.Since(start)
		if err == nil {
			t.Fatalf("%s with Redis stopped succeeded", op)
		}
		if code := flavormonk.ErrorCode(err); code != flavormonk.EUNAVAILABLE {
			t.Fatalf("%s with Redis stopped: code %q (%v), want %q", op, code, err, flavormonk.EUNAVAILABLE)
		}
		if el > time.Second {
			t.Fatalf("%s with Redis stopped took %v, want < 1s", op, el)
		}
		t.Logf("%s with Redis stopped: %v after %v", op, err, el)
	}
	for round := 0; round < 3; round++ { // the first call and the ones after
		fast("Get", func() error { _, _, err := c.Get(ctx, "page"); return err })
		fast("Set", func() error { return c.Set(ctx, "page", []byte("x"), time.Minute) })
		fast("Incr", func() error { _, err := c.Incr(ctx, "rate", time.Minute); return err })
		fast("Delete", func() error { return c.Delete(ctx, "page") })
		fast("Ping", func() error { return c.Ping(ctx) })
	}
	before := fills.Load()
	errsBefore := co.Stats().Errors
	for i := 0; i < 5; i++ {
		start := time.Now()
		v, hit, err := co.Do(ctx, "page", time.Minute, fill)
		if err != nil || hit || string(v) != "from the store" {
			t.Fatalf("Do with Redis stopped = %q, %v, %v; want the fill's value", v, hit, err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Fatalf("Do with Redis stopped took %v", el)
		}
	}
	if fills.Load() != before+5 {
		t.Fatalf("fills = %d, want %d (every Do served by fill)", fills.Load(), before+5)
	}
	if co.Stats().Errors <= errsBefore {
		t.Fatal("cache errors during the outage were not counted")
	}

	// Recovery: the same client reconnects by itself.
	own.Start(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := c.Ping(ctx)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ping after Redis came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := c.Set(ctx, "after", []byte("ok"), time.Minute); err != nil {
		t.Fatalf("Set after recovery: %v", err)
	}
	if v, ok, err := c.Get(ctx, "after"); err != nil || !ok || string(v) != "ok" {
		t.Fatalf("Get after recovery = %q, %v, %v", v, ok, err)
	}
	if n, err := c.Incr(ctx, "rate", time.Minute); err != nil || n != 1 {
		t.Fatalf("Incr after recovery = %d, %v; want 1 (Redis keeps nothing)", n, err)
	}
	before = fills.Load()
	if _, _, err := co.Do(ctx, "page", time.Minute, fill); err != nil {
		t.Fatal(err)
	}
	if v, hit, err := co.Do(ctx, "page", time.Minute, fill); err != nil || !hit || string(v) != "from the store" {
		t.Fatalf("Do after recovery = %q, %v, %v; want a hit", v, hit, err)
	}
	if fills.Load() != before+1 {
		t.Fatalf("fills after recovery = %d, want %d", fills.Load(), before+1)
	}
}

func BenchmarkRedisGet(b *testing.B) {
	opts := testOptions(b)
	c := open(b, opts)
	defer c.Close()
	defer deletePrefix(b, opts, opts.KeyPrefix)
	ctx := context.Background()
	v := bytes.Repeat([]byte("v"), 1024)
	const keys = 1000
	for i := 0; i < keys; i++ {
		if err := c.Set(ctx, "k"+strconv.Itoa(i), v, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	b.SetParallelism(8) // many requests in flight, as in the app: a network round trip each
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok, err := c.Get(ctx, "k"+strconv.Itoa(i%keys)); err != nil || !ok {
				b.Fatalf("Get: %v, %v", ok, err)
			}
			i++
		}
	})
}

func BenchmarkRedisSet(b *testing.B) {
	opts := testOptions(b)
	c := open(b, opts)
	defer c.Close()
	defer deletePrefix(b, opts, opts.KeyPrefix)
	ctx := context.Background()
	v := bytes.Repeat([]byte("v"), 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := c.Set(ctx, "k"+strconv.Itoa(i%1000), v, time.Minute); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
