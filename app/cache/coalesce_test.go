package cache_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flavormonk/flavormonk/app/cache"
	"github.com/flavormonk/flavormonk/app/cachetest"
)

// gate starts n goroutines that call fn at (almost) the same moment.
func gate(n int, fn func(i int)) {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
}

func TestCoalescerFillOnce(t *testing.T) {
	ctx := context.Background()
	co := cache.NewCoalescer(cache.NewMemory(100), nil)
	var fills atomic.Int64
	release := make(chan struct{})
	fill := func(context.Context) ([]byte, error) {
		fills.Add(1)
		<-release // hold the flight open until every caller is waiting
		return []byte("result"), nil
	}
	const callers = 50
	vals := make([][]byte, callers)
	errs := make([]error, callers)
	go func() {
		// Release once all callers have missed.
		deadline := time.Now().Add(5 * time.Second)
		for co.Stats().Misses < callers && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		close(release)
	}()
	gate(callers, func(i int) {
		vals[i], _, errs[i] = co.Do(ctx, "q:chicken", time.Minute, fill)
	})
	if n := fills.Load(); n != 1 {
		t.Fatalf("fill ran %d times for %d concurrent callers, want 1", n, callers)
	}
	for i := range vals {
		if errs[i] != nil || string(vals[i]) != "result" {
			t.Fatalf("caller %d: %q, %v", i, vals[i], errs[i])
		}
	}
	// Each caller got its own copy.
	vals[0][0] = 'X'
	if string(vals[1]) != "result" {
		t.Fatal("callers share one slice")
	}
	st := co.Stats()
	if st.Fills != 1 || st.Misses != callers || st.Coalesced != callers-1 || st.Hits != 0 || st.Errors != 0 {
		t.Fatalf("stats = %+v, want 1 fill, %d misses, %d coalesced", st, callers, callers-1)
	}
	// Now it is cached.
	v, hit, err := co.Do(ctx, "q:chicken", time.Minute, func(context.Context) ([]byte, error) {
		t.Fatal("fill ran on a cached key")
		return nil, nil
	})
	if err != nil || !hit || string(v) != "result" {
		t.Fatalf("cached Do = %q, %v, %v", v, hit, err)
	}
	if co.Stats().Hits != 1 {
		t.Fatalf("hits = %d, want 1", co.Stats().Hits)
	}
}

// Without any synchronisation in fill, callers that arrive after a flight
// ended find the value through the flight's re-check: fill still runs once.
func TestCoalescerFillOnceFastFill(t *testing.T) {
	for round := 0; round < 20; round++ {
		co := cache.NewCoalescer(cache.NewMemory(100), nil)
		var fills atomic.Int64
		gate(50, func(int) {
			v, _, err := co.Do(context.Background(), "k", time.Minute, func(context.Context) ([]byte, error) {
				fills.Add(1)
				return []byte("v"), nil
			})
			if err != nil || string(v) != "v" {
				t.Errorf("Do = %q, %v", v, err)
			}
		})
		if n := fills.Load(); n != 1 {
			t.Fatalf("round %d: fill ran %d times, want 1", round, n)
		}
	}
}

func TestCoalescerFillErrorNotCached(t *testing.T) {
	ctx := context.Background()
	mem := cache.NewMemory(100)
	co := cache.NewCoalescer(mem, nil)
	boom := errors.New("store down")
	var fills atomic.Int64
	release := make(chan struct{})
	go func() {
		for co.Stats().Misses < 10 {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(10 * time.Millisecond)
		close(release)
	}()
	gate(10, func(int) {
		_, _, err := co.Do(ctx, "k", time.Minute, func(context.Context) ([]byte, error) {
			fills.Add(1)
			<-release
			return nil, boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("Do error = %v, want the fill's error", err)
		}
	})
	if fills.Load() != 1 {
		t.Fatalf("failing fill ran %d times, want 1", fills.Load())
	}
	if _, ok, _ := mem.Get(ctx, "k"); ok {
		t.Fatal("a failed fill was cached")
	}
	// The next call fills again and succeeds.
	v, hit, err := co.Do(ctx, "k", time.Minute, func(context.Context) ([]byte, error) { return []byte("ok"), nil })
	if err != nil || hit || string(v) != "ok" {
		t.Fatalf("Do after a failed fill = %q, %v, %v", v, hit, err)
	}
	if st := co.Stats(); st.FillErrors != 1 || st.Fills != 2 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestCoalescerCacheDown(t *testing.T) {
	down := &cachetest.Down{}
	var logs bytes.Buffer
	co := cache.NewCoalescer(down, slog.New(slog.NewTextHandler(&logs, nil)))
	var fills atomic.Int64
	const callers = 50
	var served atomic.Int64
	gate(callers, func(int) {
		v, hit, err := co.Do(context.Background(), "k", time.Minute, func(context.Context) ([]byte, error) {
			fills.Add(1)
			time.Sleep(5 * time.Millisecond)
			return []byte("from the store"), nil
		})
		if err != nil || hit || string(v) != "from the store" {
			t.Errorf("Do with the cache down = %q, %v, %v; want the fill's value", v, hit, err)
			return
		}
		served.Add(1)
	})
	if served.Load() != callers {
		t.Fatalf("%d of %d callers served", served.Load(), callers)
	}
	if fills.Load() < 1 || fills.Load() > callers {
		t.Fatalf("fills = %d", fills.Load())
	}
	st := co.Stats()
	if st.Errors == 0 || st.Errors != down.Calls.Load() {
		t.Fatalf("errors counted = %d, cache calls = %d: every failed cache call must count", st.Errors, down.Calls.Load())
	}
	if st.Hits != 0 || st.Misses != callers {
		t.Fatalf("stats = %+v", st)
	}
	// Logged, but not once per error.
	if n := bytes.Count(logs.Bytes(), []byte("cache error")); n != 1 {
		t.Fatalf("logged %d cache errors, want 1 (rate-limited):\n%s", n, logs.String())
	}
}

func TestCoalescerCallerCancel(t *testing.T) {
	co := cache.NewCoalescer(cache.NewMemory(100), nil)
	release := make(chan struct{})
	started := make(chan struct{})
	var fillCtxErr atomic.Value
	fill := func(ctx context.Context) ([]byte, error) {
		close(started)
		<-release
		if err := ctx.Err(); err != nil {
			fillCtxErr.Store(err)
		}
		return []byte("v"), nil
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	res1 := make(chan error, 1)
	go func() {
		_, _, err := co.Do(ctx1, "k", time.Minute, fill)
		res1 <- err
	}()
	<-started
	res2 := make(chan []byte, 1)
	go func() {
		v, _, _ := co.Do(context.Background(), "k", time.Minute, fill)
		res2 <- v
	}()
	for co.Stats().Misses < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel1() // the caller that started the fill goes away
	if err := <-res1; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled caller: %v", err)
	}
	close(release)
	if v := <-res2; string(v) != "v" {
		t.Fatalf("the waiting caller got %q: the first caller's cancellation failed its fill", v)
	}
	if e := fillCtxErr.Load(); e != nil {
		t.Fatalf("fill's context was canceled: %v", e)
	}
}

func TestCoalescerFillPanic(t *testing.T) {
	co := cache.NewCoalescer(cache.NewMemory(100), nil)
	_, _, err := co.Do(context.Background(), "k", time.Minute, func(context.Context) ([]byte, error) { panic("bug") })
	if err == nil {
		t.Fatal("a panicking fill returned no error")
	}
}
