package chroma_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/chroma"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
	"github.com/flavormonk/flavormonk/app/vectortest"
)

func serverURL(tb testing.TB) string {
	return servicetest.URL(tb, "FLAVORMONK_TEST_CHROMA_URL", "scripts/chroma.sh start")
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// openFresh opens an index on a new collection, dropped when the test ends.
func openFresh(tb testing.TB, url string) *chroma.Index {
	tb.Helper()
	ctx := context.Background()
	opts := chroma.Options{URL: url, Collection: randomName("test")}
	ix, err := chroma.Open(ctx, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		// A separate handle: the test may have closed ix.
		dropper, err := chroma.Open(ctx, opts)
		if err != nil {
			tb.Logf("cleanup: %v", err)
			return
		}
		defer dropper.Close()
		if err := dropper.Drop(ctx); err != nil {
			tb.Logf("cleanup: drop %s: %v", opts.Collection, err)
		}
	})
	return ix
}

func TestConformance(t *testing.T) {
	url := serverURL(t)
	vectortest.Run(t, func(t *testing.T) flavormonk.VectorIndex { return openFresh(t, url) })
}

var meta = flavormonk.IndexMeta{Model: "test-model", Dimensions: 4}

func TestMetaRecordedOnServer(t *testing.T) {
	url := serverURL(t)
	ctx := context.Background()
	ix := openFresh(t, url)
	if err := ix.Upsert(ctx, meta, []flavormonk.VectorItem{{ID: "a", Vector: []float32{1, 0, 0, 0}, Hash: "h"}}); err != nil {
		t.Fatal(err)
	}
	// Another handle (another replica) sees the recorded meta and refuses
	// another model before sending anything.
	other, err := chroma.Open(ctx, chroma.Options{URL: url, Collection: collectionOf(t, ix)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if m, err := other.Meta(ctx); err != nil || m != meta {
		t.Fatalf("Meta from another handle = %+v, %v; want %+v", m, err, meta)
	}
	_, err = other.Query(ctx, flavormonk.IndexMeta{Model: "openai/text-embedding-3-small", Dimensions: 4}, []float32{1, 0, 0, 0}, 1)
	if flavormonk.ErrorCode(err) != flavormonk.EINVALID || !strings.Contains(err.Error(), "test-model") || !strings.Contains(err.Error(), "openai/text-embedding-3-small") {
		t.Fatalf("query with another model: %v", err)
	}
	// Drop lets the next upsert record another model.
	if err := other.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	m2 := flavormonk.IndexMeta{Model: "m2", Dimensions: 2}
	if err := ix.Upsert(ctx, m2, []flavormonk.VectorItem{{ID: "a", Vector: []float32{1, 0}, Hash: "h"}}); err != nil {
		t.Fatalf("upsert after drop: %v", err)
	}
	if m, _ := other.Meta(ctx); m != m2 {
		t.Fatalf("Meta after drop and re-index = %+v, want %+v", m, m2)
	}
}

// collectionOf recovers the collection name from the index (test helper).
func collectionOf(t *testing.T, ix *chroma.Index) string {
	t.Helper()
	return ix.Collection()
}

func TestOpenUnavailable(t *testing.T) {
	port := servicetest.FreePort(t)
	start := time.Now()
	_, err := chroma.Open(context.Background(), chroma.Options{URL: "http://127.0.0.1:" + strconv.Itoa(port)})
	if flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
		t.Fatalf("Open with nothing listening: %v (code %s), want unavailable", err, flavormonk.ErrorCode(err))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Open took %s to fail", d)
	}
	_, err = chroma.Open(context.Background(), chroma.Options{URL: "ftp://x"})
	if flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Fatalf("Open with a bad URL: %v", err)
	}
}

func script(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	s := filepath.Join(filepath.Dir(file), "..", "..", "scripts", "chroma.sh")
	if _, err := os.Stat(s); err != nil {
		t.Fatalf("no %s: %v", s, err)
	}
	return s
}

func chromaSh(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("bash", append([]string{script(t)}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chroma.sh %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// TestOutage runs a disposable server, stops it under an open index and
// starts it again.
func TestOutage(t *testing.T) {
	serverURL(t) // the same switch as the other server tests
	ctx := context.Background()
	port := strconv.Itoa(servicetest.FreePort(t))
	dir := t.TempDir()
	args := []string{"--port", port, "--dir", dir}
	url := chromaSh(t, append([]string{"start"}, args...)...)
	t.Cleanup(func() { chromaSh(t, append([]string{"stop"}, args...)...) })

	ix, err := chroma.Open(ctx, chroma.Options{URL: url, Collection: "outage"})
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	items := []flavormonk.VectorItem{
		{ID: "a", Vector: []float32{1, 0, 0, 0}, Hash: "ha"},
		{ID: "b", Vector: []float32{0, 1, 0, 0}, Hash: "hb"},
	}
	if err := ix.Upsert(ctx, meta, items); err != nil {
		t.Fatal(err)
	}
	if hits, err := ix.Query(ctx, meta, []float32{1, 0, 0, 0}, 1); err != nil || len(hits) != 1 || hits[0].ID != "a" {
		t.Fatalf("query before the outage: %v, %v", hits, err)
	}

	chromaSh(t, append([]string{"stop"}, args...)...)
	start := time.Now()
	_, err = ix.Query(ctx, meta, []float32{1, 0, 0, 0}, 1)
	took := time.Since(start)
	if flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
		t.Fatalf("query with the server stopped: %v (code %s), want unavailable", err, flavormonk.ErrorCode(err))
	}
	if took > time.Second {
		t.Errorf("query took %s to fail, want under 1s", took)
	}
	t.Logf("query failed in %s: %v", took, err)
	if err := ix.Ping(ctx); flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
		t.Errorf("Ping with the server stopped: %v", err)
	}
	if _, err := ix.Count(ctx); flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
		t.Errorf("Count with the server stopped: %v", err)
	}
	if err := ix.Upsert(ctx, meta, items); flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
		t.Errorf("Upsert with the server stopped: %v", err)
	}

	if u := chromaSh(t, append([]string{"start"}, args...)...); u != url {
		t.Fatalf("restarted on %s, want %s", u, url)
	}
	hits, err := ix.Query(ctx, meta, []float32{0, 1, 0, 0}, 1)
	if err != nil || len(hits) != 1 || hits[0].ID != "b" {
		t.Fatalf("query after restarting: %v, %v", hits, err)
	}
	h, err := ix.Hashes(ctx)
	if err != nil || len(h) != 2 || h["a"] != "ha" || h["b"] != "hb" {
		t.Fatalf("hashes after restarting: %v, %v (data lost?)", h, err)
	}
	if m, err := ix.Meta(ctx); err != nil || m != meta {
		t.Fatalf("meta after restarting: %+v, %v", m, err)
	}
}

// BenchmarkQuery10k measures Query latency on 10,000 items of dimension 384
// (p50/p99 reported as metrics), and the upsert rate loading them.
func BenchmarkQuery10k(b *testing.B) {
	url := serverURL(b)
	ctx := context.Background()
	const n, dim = 10000, 384
	m := flavormonk.IndexMeta{Model: "bench-model", Dimensions: dim}
	ix := openFresh(b, url)
	defer ix.Close()
	rng := mrand.New(mrand.NewPCG(1, 2))
	randVec := func() []float32 {
		v := make([]float32, dim)
		var norm float64
		for i := range v {
			v[i] = float32(rng.NormFloat64())
			norm += float64(v[i]) * float64(v[i])
		}
		for i := range v {
			v[i] /= float32(math.Sqrt(norm))
		}
		return v
	}
	items := make([]flavormonk.VectorItem, n)
	for i := range items {
		items[i] = flavormonk.VectorItem{ID: fmt.Sprintf("recipe-%05d", i), Vector: randVec(), Hash: fmt.Sprintf("h%d", i)}
	}
	start := time.Now()
	for i := 0; i < n; i += 500 {
		if err := ix.Upsert(ctx, m, items[i:i+500]); err != nil {
			b.Fatal(err)
		}
	}
	upsertRate := float64(n) / time.Since(start).Seconds()
	if c, err := ix.Count(ctx); err != nil || c != n {
		b.Fatalf("Count = %d, %v", c, err)
	}
	queries := make([][]float32, 256)
	for i := range queries {
		queries[i] = randVec()
	}
	// Warm up (the server may still be indexing the log).
	for i := 0; i < 300; i++ {
		if _, err := ix.Query(ctx, m, queries[i%len(queries)], 10); err != nil {
			b.Fatal(err)
		}
	}
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		hits, err := ix.Query(ctx, m, queries[i%len(queries)], 10)
		d := time.Since(t0)
		if err != nil || len(hits) != 10 {
			b.Fatalf("query: %d hits, %v", len(hits), err)
		}
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(upsertRate, "upserts/s")
}
