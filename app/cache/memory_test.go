package cache_test

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/cache"
	"github.com/flavormonk/flavormonk/app/cachetest"
)

func TestMemoryConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) flavormonk.Cache { return cache.NewMemory(10_000) })
}

func TestMemoryLRU(t *testing.T) {
	ctx := context.Background()
	m := cache.NewMemory(3)
	for _, k := range []string{"a", "b", "c"} {
		if err := m.Set(ctx, k, []byte(k), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	// Touch a: b is now the least recently used.
	if _, ok, _ := m.Get(ctx, "a"); !ok {
		t.Fatal("a missing")
	}
	if err := m.Set(ctx, "d", []byte("d"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if m.Len() != 3 {
		t.Fatalf("Len = %d, want 3", m.Len())
	}
	if _, ok, _ := m.Get(ctx, "b"); ok {
		t.Fatal("b (least recently used) was not evicted")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok, _ := m.Get(ctx, k); !ok {
			t.Fatalf("%s was evicted", k)
		}
	}
	// Incr counts as a use and as an entry.
	if _, err := m.Incr(ctx, "n", time.Minute); err != nil {
		t.Fatal(err)
	}
	if m.Len() != 3 {
		t.Fatalf("Len after Incr = %d, want 3", m.Len())
	}
}

func TestMemoryBoundedBytes(t *testing.T) {
	ctx := context.Background()
	m := cache.NewMemory(1_000_000)
	v := bytes.Repeat([]byte("x"), cache.MaxValueBytes)
	n := cache.DefaultMaxBytes/cache.MaxValueBytes + 10
	for i := 0; i < n; i++ {
		if err := m.Set(ctx, strconv.Itoa(i), v, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.Len(); got >= n || got*cache.MaxValueBytes > cache.DefaultMaxBytes {
		t.Fatalf("Len = %d after %d MiB-sized sets: not bounded by %d bytes", got, n, cache.DefaultMaxBytes)
	}
	if _, ok, _ := m.Get(ctx, strconv.Itoa(n-1)); !ok {
		t.Fatal("the newest entry was evicted")
	}
	if _, ok, _ := m.Get(ctx, "0"); ok {
		t.Fatal("the oldest entry was kept")
	}
}

func TestMemoryValueTooLarge(t *testing.T) {
	ctx := context.Background()
	m := cache.NewMemory(10)
	err := m.Set(ctx, "big", make([]byte, cache.MaxValueBytes+1), time.Minute)
	if flavormonk.ErrorCode(err) != flavormonk.ETOOLARGE {
		t.Fatalf("Set of MaxValueBytes+1: %v, want ETOOLARGE", err)
	}
	if _, ok, _ := m.Get(ctx, "big"); ok {
		t.Fatal("a refused value is cached")
	}
	if err := m.Set(ctx, "max", make([]byte, cache.MaxValueBytes), time.Minute); err != nil {
		t.Fatalf("Set of MaxValueBytes: %v", err)
	}
}

func TestMemoryExpiredDroppedOnRead(t *testing.T) {
	ctx := context.Background()
	m := cache.NewMemory(10)
	if err := m.Set(ctx, "k", []byte("v"), 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if _, ok, _ := m.Get(ctx, "k"); ok {
		t.Fatal("an expired entry was served")
	}
	if m.Len() != 0 {
		t.Fatalf("Len = %d: the expired entry was not dropped on read", m.Len())
	}
	// An expired counter starts a new window.
	if _, err := m.Incr(ctx, "c", 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if n, _ := m.Incr(ctx, "c", time.Minute); n != 1 {
		t.Fatalf("Incr after expiry = %d, want 1", n)
	}
}

func TestMemoryOff(t *testing.T) {
	ctx := context.Background()
	m := cache.NewMemory(0)
	if err := m.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := m.Get(ctx, "k"); ok || err != nil {
		t.Fatalf("Get on an off cache = %v, %v; want a miss", ok, err)
	}
	if _, err := m.Incr(ctx, "n", time.Minute); flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
		t.Fatalf("Incr on an off cache: %v, want EUNAVAILABLE", err)
	}
	if err := m.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestMemoryCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := cache.NewMemory(10)
	if _, _, err := m.Get(ctx, "k"); err == nil {
		t.Fatal("Get with a canceled context succeeded")
	}
}

func BenchmarkMemoryGet(b *testing.B) {
	ctx := context.Background()
	m := cache.NewMemory(100_000)
	v := bytes.Repeat([]byte("v"), 1024)
	const keys = 10_000
	for i := 0; i < keys; i++ {
		_ = m.Set(ctx, "k"+strconv.Itoa(i), v, time.Hour)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok, _ := m.Get(ctx, "k"+strconv.Itoa(i%keys)); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
}

func BenchmarkMemorySet(b *testing.B) {
	ctx := context.Background()
	m := cache.NewMemory(100_000)
	v := bytes.Repeat([]byte("v"), 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	var mu sync.Mutex
	next := 0
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		base := next * 1_000_000
		next++
		mu.Unlock()
		i := 0
		for pb.Next() {
			if err := m.Set(ctx, "k"+strconv.Itoa(base+i%200_000), v, time.Hour); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
