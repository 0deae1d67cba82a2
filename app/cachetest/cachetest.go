// Package cachetest is the conformance suite every flavormonk.Cache passes.
// Each implementation's tests call Run with a function that opens a fresh,
// empty cache (for a shared server: one isolated by a key prefix):
//
//	func TestCache(t *testing.T) {
//		cachetest.Run(t, func(t *testing.T) flavormonk.Cache { return cache.NewMemory(1000) })
//	}
//
// Semantics the suite pins down, beyond the Cache documentation:
//   - Get of a missing key is (nil, false, nil); values round-trip byte for
//     byte (any binary content, the empty value too), and a caller may
//     modify a slice it passed to Set or got from Get.
//   - A ttl <= 0 means no expiry.
//   - Incr on an absent key starts at 1 and sets the ttl; later increments
//     keep the first expiry; concurrent increments are atomic. A counter is
//     readable by Get as decimal text. Incr on a non-integer value fails with EINVALID.
//   - Delete of absent keys is not an error.
//   - After Close every method fails, with EUNAVAILABLE; Close twice is fine.
//
// The suite needs a cache that holds at least 2,000 entries and values of
// 256 KiB.
package cachetest

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Run runs the suite. open must return a new, empty cache for each call;
// Run closes it when the subtest ends (so Close must tolerate a second
// call if open also registers one).
func Run(t *testing.T, open func(t *testing.T) flavormonk.Cache) {
	o := func(t *testing.T) flavormonk.Cache {
		t.Helper()
		c := open(t)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, c flavormonk.Cache)
	}{
		{"GetMissing", testGetMissing},
		{"SetGetBinary", testSetGetBinary},
		{"EmptyValue", testEmptyValue},
		{"ValuesAreCopies", testValuesAreCopies},
		{"Overwrite", testOverwrite},
		{"OverwriteChangesTTL", testOverwriteChangesTTL},
		{"Delete", testDelete},
		{"TTLExpiry", testTTLExpiry},
		{"NoTTL", testNoTTL},
		{"IncrFromAbsent", testIncrFromAbsent},
		{"IncrTTL", testIncrTTL},
		{"IncrKeepsFirstTTL", testIncrKeepsFirstTTL},
		{"IncrNotInteger", testIncrNotInteger},
		{"IncrConcurrent", testIncrConcurrent},
		{"AddIfAbsent", testAdd},
		{"LargeValue", testLargeValue},
		{"KeysUnicodeColons", testKeys},
		{"ConcurrentSetGet", testConcurrentSetGet},
		{"ManyKeys", testManyKeys},
		{"Ping", testPing},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, o(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustSet(t *testing.T, c flavormonk.Cache, key string, v []byte, ttl time.Duration) {
	t.Helper()
	if err := c.Set(ctx(t), key, v, ttl); err != nil {
		t.Fatalf("Set(%q, %d bytes, %v): %v", key, len(v), ttl, err)
	}
}

func mustGet(t *testing.T, c flavormonk.Cache, key string) ([]byte, bool) {
	t.Helper()
	v, ok, err := c.Get(ctx(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !ok && v != nil {
		t.Fatalf("Get(%q) missed but returned a value %q", key, v)
	}
	return v, ok
}

func wantValue(t *testing.T, c flavormonk.Cache, key string, want []byte) {
	t.Helper()
	v, ok := mustGet(t, c, key)
	if !ok {
		t.Fatalf("Get(%q): missing, want %d bytes", key, len(want))
	}
	if !bytes.Equal(v, want) {
		t.Fatalf("Get(%q) = %q (%d bytes), want %q (%d bytes)", key, abbrev(v), len(v), abbrev(want), len(want))
	}
}

func wantMissing(t *testing.T, c flavormonk.Cache, key string) {
	t.Helper()
	if v, ok := mustGet(t, c, key); ok {
		t.Fatalf("Get(%q) = %q, want a miss", key, abbrev(v))
	}
}

func abbrev(b []byte) []byte {
	if len(b) > 40 {
		return append(append([]byte{}, b[:40]...), "…"...)
	}
	return b
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testGetMissing(t *testing.T, c flavormonk.Cache) {
	wantMissing(t, c, "nope")
	wantMissing(t, c, "")
}

func testSetGetBinary(t *testing.T, c flavormonk.Cache) {
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	vals := map[string][]byte{
		"text":    []byte("hello, soup"),
		"binary":  bin,
		"nul":     {0, 0, 0},
		"crlf":    []byte("a\r\nb\r\n"),
		"invalid": {0xff, 0xfe, 0xc3, 0x28},
		"json":    []byte(`{"q":"chicken","hits":[1,2,3]}`),
	}
	for k, v := range vals {
		mustSet(t, c, k, v, time.Minute)
	}
	for k, v := range vals {
		wantValue(t, c, k, v)
	}
}

func testEmptyValue(t *testing.T, c flavormonk.Cache) {
	mustSet(t, c, "empty", []byte{}, time.Minute)
	v, ok := mustGet(t, c, "empty")
	if !ok || len(v) != 0 {
		t.Fatalf("Get(empty) = %q, %v; want an empty value that is there", v, ok)
	}
	mustSet(t, c, "nil", nil, time.Minute)
	if v, ok := mustGet(t, c, "nil"); !ok || len(v) != 0 {
		t.Fatalf("Get(nil) = %q, %v; want an empty value that is there", v, ok)
	}
}

func testValuesAreCopies(t *testing.T, c flavormonk.Cache) {
	in := []byte("original")
	mustSet(t, c, "k", in, time.Minute)
	copy(in, "XXXXXXXX")
	out, _ := mustGet(t, c, "k")
	if string(out) != "original" {
		t.Fatalf("changing the slice passed to Set changed the cached value: %q", out)
	}
	copy(out, "YYYYYYYY")
	wantValue(t, c, "k", []byte("original"))
}

func testOverwrite(t *testing.T, c flavormonk.Cache) {
	mustSet(t, c, "k", []byte("one"), time.Minute)
	mustSet(t, c, "k", []byte("two, longer"), time.Minute)
	wantValue(t, c, "k", []byte("two, longer"))
	mustSet(t, c, "k", []byte("3"), time.Minute)
	wantValue(t, c, "k", []byte("3"))
}

func testOverwriteChangesTTL(t *testing.T, c flavormonk.Cache) {
	mustSet(t, c, "short-then-long", []byte("a"), time.Second)
	mustSet(t, c, "short-then-long", []byte("b"), time.Hour)
	mustSet(t, c, "long-then-short", []byte("a"), time.Hour)
	mustSet(t, c, "long-then-short", []byte("b"), time.Second)
	eventually(t, 5*time.Second, "long-then-short did not expire", func() bool {
		_, ok := mustGet(t, c, "long-then-short")
		return !ok
	})
	wantValue(t, c, "short-then-long", []byte("b"))
}

func testDelete(t *testing.T, c flavormonk.Cache) {
	for _, k := range []string{"a", "b", "c", "d"} {
		mustSet(t, c, k, []byte(k), time.Minute)
	}
	if err := c.Delete(ctx(t), "a", "c", "absent"); err != nil {
		t.Fatalf("Delete(a, c, absent): %v", err)
	}
	wantMissing(t, c, "a")
	wantMissing(t, c, "c")
	wantValue(t, c, "b", []byte("b"))
	wantValue(t, c, "d", []byte("d"))
	if err := c.Delete(ctx(t)); err != nil {
		t.Fatalf("Delete(): %v", err)
	}
	if err := c.Delete(ctx(t), "absent"); err != nil {
		t.Fatalf("Delete(absent): %v", err)
	}
	if err := c.Delete(ctx(t), "b"); err != nil {
		t.Fatalf("Delete(b): %v", err)
	}
	wantMissing(t, c, "b")
	// A deleted key can be set again.
	mustSet(t, c, "a", []byte("again"), time.Minute)
	wantValue(t, c, "a", []byte("again"))
}

func testTTLExpiry(t *testing.T, c flavormonk.Cache) {
	start := time.Now()
	mustSet(t, c, "short", []byte("v"), time.Second)
	mustSet(t, c, "long", []byte("v"), time.Hour)
	// Still there right after (the Set took well under the TTL).
	if v, ok := mustGet(t, c, "short"); !ok && time.Since(start) < 500*time.Millisecond {
		t.Fatalf("a 1s entry is gone after %v", time.Since(start))
	} else if ok && string(v) != "v" {
		t.Fatalf("Get(short) = %q", v)
	}
	eventually(t, 5*time.Second, "a 1s entry is still there", func() bool {
		_, ok := mustGet(t, c, "short")
		return !ok
	})
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Fatalf("a 1s entry expired after %v", el)
	}
	wantValue(t, c, "long", []byte("v"))
}

func testNoTTL(t *testing.T, c flavormonk.Cache) {
	mustSet(t, c, "forever", []byte("v"), 0)
	mustSet(t, c, "forever-neg", []byte("w"), -time.Second)
	time.Sleep(20 * time.Millisecond)
	wantValue(t, c, "forever", []byte("v"))
	wantValue(t, c, "forever-neg", []byte("w"))
}

func mustIncr(t *testing.T, c flavormonk.Cache, key string, ttl time.Duration) int64 {
	t.Helper()
	n, err := c.Incr(ctx(t), key, ttl)
	if err != nil {
		t.Fatalf("Incr(%q, %v): %v", key, ttl, err)
	}
	return n
}

func testIncrFromAbsent(t *testing.T, c flavormonk.Cache) {
	for i := int64(1); i <= 5; i++ {
		if n := mustIncr(t, c, "ctr", time.Minute); n != i {
			t.Fatalf("Incr #%d = %d, want %d", i, n, i)
		}
	}
	wantValue(t, c, "ctr", []byte("5"))
	if n := mustIncr(t, c, "other", time.Minute); n != 1 {
		t.Fatalf("Incr(other) = %d, want 1 (counters are per key)", n)
	}
	// A counter set by Set continues from its value.
	mustSet(t, c, "preset", []byte("41"), time.Minute)
	if n := mustIncr(t, c, "preset", time.Minute); n != 42 {
		t.Fatalf("Incr after Set(41) = %d, want 42", n)
	}
	// After Delete it starts over.
	if err := c.Delete(ctx(t), "ctr"); err != nil {
		t.Fatal(err)
	}
	if n := mustIncr(t, c, "ctr", time.Minute); n != 1 {
		t.Fatalf("Incr after Delete = %d, want 1", n)
	}
	// No ttl: a counter that stays.
	if n := mustIncr(t, c, "no-ttl", 0); n != 1 {
		t.Fatalf("Incr(no-ttl) = %d", n)
	}
	time.Sleep(20 * time.Millisecond)
	if n := mustIncr(t, c, "no-ttl", 0); n != 2 {
		t.Fatalf("Incr(no-ttl) again = %d, want 2", n)
	}
}

func testIncrTTL(t *testing.T, c flavormonk.Cache) {
	start := time.Now()
	mustIncr(t, c, "window", time.Second)
	mustIncr(t, c, "window", time.Second)
	eventually(t, 5*time.Second, "a counter with a 1s ttl is still there", func() bool {
		_, ok := mustGet(t, c, "window")
		return !ok
	})
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Fatalf("a 1s counter expired after %v", el)
	}
	if n := mustIncr(t, c, "window", time.Second); n != 1 {
		t.Fatalf("Incr after expiry = %d, want 1 (a new window)", n)
	}
}

// Later increments must not push the expiry out, or a rate-limit window
// under steady traffic would never end.
func testIncrKeepsFirstTTL(t *testing.T, c flavormonk.Cache) {
	start := time.Now()
	mustIncr(t, c, "fixed", 1500*time.Millisecond)
	expired := false
	for time.Since(start) < 6*time.Second {
		if _, ok := mustGet(t, c, "fixed"); !ok {
			expired = true
			break
		}
		// Keep incrementing with a long ttl: it must not apply.
		mustIncr(t, c, "fixed", time.Hour)
		time.Sleep(100 * time.Millisecond)
	}
	if !expired {
		t.Fatalf("a counter kept being extended by later Incr calls: still there after %v", time.Since(start))
	}
}

func testIncrNotInteger(t *testing.T, c flavormonk.Cache) {
	mustSet(t, c, "text", []byte("soup"), time.Minute)
	n, err := c.Incr(ctx(t), "text", time.Minute)
	if err == nil {
		t.Fatalf("Incr on a non-integer value = %d, want an error", n)
	}
	if code := flavormonk.ErrorCode(err); code != flavormonk.EINVALID {
		t.Fatalf("Incr on a non-integer value: code %q (%v), want %q", code, err, flavormonk.EINVALID)
	}
	wantValue(t, c, "text", []byte("soup"))
}

func testIncrConcurrent(t *testing.T, c flavormonk.Cache) {
	const workers, each = 32, 50
	var wg sync.WaitGroup
	seen := make([][]int64, workers)
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				n, err := c.Incr(context.Background(), "hot", time.Minute)
				if err != nil {
					errs <- err
					return
				}
				seen[w] = append(seen[w], n)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Incr: %v", err)
	}
	// Every value 1..N was returned exactly once.
	got := make(map[int64]int)
	for _, s := range seen {
		for _, n := range s {
			got[n]++
		}
	}
	for n := int64(1); n <= workers*each; n++ {
		if got[n] != 1 {
			t.Fatalf("Incr returned %d %d times, want once (values must be unique and dense)", n, got[n])
		}
	}
	wantValue(t, c, "hot", []byte(strconv.Itoa(workers*each)))
}

func testLargeValue(t *testing.T, c flavormonk.Cache) {
	big := make([]byte, 256<<10)
	for i := range big {
		big[i] = byte(i*7 + i>>8)
	}
	mustSet(t, c, "big", big, time.Minute)
	wantValue(t, c, "big", big)
}

func testKeys(t *testing.T, c flavormonk.Cache) {
	keys := []string{
		"search:v1:q=chicken&tags=quick",
		"recipe:crème-brûlée",
		"answer:寿司の作り方",
		"emoji:🍜:ramen",
		"spaces in key",
		"a:b:c:d:e:f:",
		":leading",
		"{braces}:hashtag",
		"*?[glob]",
	}
	for i, k := range keys {
		mustSet(t, c, k, []byte(strconv.Itoa(i)), time.Minute)
	}
	for i, k := range keys {
		wantValue(t, c, k, []byte(strconv.Itoa(i)))
	}
	// Keys are exact: a prefix or a neighbour is another key.
	wantMissing(t, c, "search:v1")
	wantMissing(t, c, "a:b:c:d:e:f")
	if err := c.Delete(ctx(t), keys[1], keys[3]); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantMissing(t, c, keys[1])
	wantMissing(t, c, keys[3])
	wantValue(t, c, keys[2], []byte("2"))
	if n := mustIncr(t, c, "rate:ip:2001:db8::1", time.Minute); n != 1 {
		t.Fatalf("Incr on a key with colons = %d", n)
	}
}

func testConcurrentSetGet(t *testing.T, c flavormonk.Cache) {
	const workers, rounds, keys = 16, 100, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				k := fmt.Sprintf("k%d", (w+i)%keys)
				// Each key's value is self-describing, so a torn or
				// misplaced value is detected.
				v := []byte(k + "=" + strconv.Itoa(w*rounds+i))
				if err := c.Set(context.Background(), k, v, time.Minute); err != nil {
					errs <- fmt.Errorf("Set: %w", err)
					return
				}
				got, ok, err := c.Get(context.Background(), fmt.Sprintf("k%d", (w+i+7)%keys))
				if err != nil {
					errs <- fmt.Errorf("Get: %w", err)
					return
				}
				if ok && !bytes.HasPrefix(got, []byte(fmt.Sprintf("k%d=", (w+i+7)%keys))) {
					errs <- fmt.Errorf("Get(k%d) = %q: another key's value", (w+i+7)%keys, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := 0; i < keys; i++ {
		k := fmt.Sprintf("k%d", i)
		v, ok := mustGet(t, c, k)
		if !ok || !bytes.HasPrefix(v, []byte(k+"=")) {
			t.Fatalf("after concurrent writes Get(%s) = %q, %v", k, v, ok)
		}
	}
}

func testManyKeys(t *testing.T, c flavormonk.Cache) {
	const n = 2000
	for i := 0; i < n; i++ {
		mustSet(t, c, "many:"+strconv.Itoa(i), []byte(strconv.Itoa(i*i)), time.Minute)
	}
	for i := 0; i < n; i += 97 {
		wantValue(t, c, "many:"+strconv.Itoa(i), []byte(strconv.Itoa(i*i)))
	}
}

func testPing(t *testing.T, c flavormonk.Cache) {
	if err := c.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testClosed(t *testing.T, c flavormonk.Cache) {
	mustSet(t, c, "k", []byte("v"), time.Minute)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	check := func(op string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s on a closed cache succeeded", op)
		}
		if code := flavormonk.ErrorCode(err); code != flavormonk.EUNAVAILABLE {
			t.Fatalf("%s on a closed cache: code %q (%v), want %q", op, code, err, flavormonk.EUNAVAILABLE)
		}
	}
	start := time.Now()
	_, ok, err := c.Get(ctx(t), "k")
	if ok {
		t.Fatal("Get on a closed cache found the value")
	}
	check("Get", err)
	check("Set", c.Set(ctx(t), "k", []byte("v"), time.Minute))
	check("Delete", c.Delete(ctx(t), "k"))
	_, err = c.Incr(ctx(t), "n", time.Minute)
	check("Incr", err)
	check("Ping", c.Ping(ctx(t)))
	if el := time.Since(start); el > time.Second {
		t.Fatalf("calls on a closed cache took %v, want them to fail at once", el)
	}
}

// Add (flavormonk.CacheAdder) stores only where the key is absent: never
// over a value, even under concurrent adds (exactly one wins).
func testAdd(t *testing.T, c flavormonk.Cache) {
	a, ok := c.(flavormonk.CacheAdder)
	if !ok {
		t.Skip("the cache has no Add")
	}
	if err := c.Set(ctx(t), "marker", []byte("tomb"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if stored, err := a.Add(ctx(t), "marker", []byte("stale"), time.Minute); err != nil || stored {
		t.Fatalf("Add over a value = %v, %v; want false", stored, err)
	}
	if v, _ := mustGet(t, c, "marker"); string(v) != "tomb" {
		t.Fatalf("Add overwrote: %q", v)
	}
	var wins atomic.Int64
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if stored, err := a.Add(ctx(t), "fresh", []byte{byte(i)}, time.Minute); err == nil && stored {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent adds stored, want 1", wins.Load())
	}
}
