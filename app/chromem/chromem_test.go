package chromem

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/vectortest"
)

func TestConformance(t *testing.T) {
	vectortest.Run(t, func(t *testing.T) flavormonk.VectorIndex {
		ix, err := Open(filepath.Join(t.TempDir(), "flavormonk.vectors"))
		if err != nil {
			t.Fatal(err)
		}
		return ix
	})
}

func TestConformanceNoFlushDelay(t *testing.T) {
	vectortest.Run(t, func(t *testing.T) flavormonk.VectorIndex {
		ix, err := Open(filepath.Join(t.TempDir(), "flavormonk.vectors"))
		if err != nil {
			t.Fatal(err)
		}
		ix.SetFlushDelay(0)
		return ix
	})
}

func TestConformanceInMemory(t *testing.T) {
	vectortest.Run(t, func(t *testing.T) flavormonk.VectorIndex {
		ix, err := Open("")
		if err != nil {
			t.Fatal(err)
		}
		return ix
	})
}

var meta = flavormonk.IndexMeta{Model: "test-model", Dimensions: 4}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v.db")
	ix, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(ctx, meta, []flavormonk.VectorItem{
		{ID: "a-b", Vector: []float32{1, 0, 0, 0}, Hash: "h1"},
		{ID: "c", Vector: []float32{0, 1, 0, 0}, Hash: "h2"},
		{ID: "d", Vector: []float32{0, 0, 1, 0}, Hash: "h3"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := ix.Delete(ctx, []string{"d"}); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the index file (no temporaries)", len(entries))
	}

	ix, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	m, err := ix.Meta(ctx)
	if err != nil || m != meta {
		t.Fatalf("Meta after reopen = %+v, %v; want %+v", m, err, meta)
	}
	h, err := ix.Hashes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h["a-b"] != "h1" || h["c"] != "h2" {
		t.Errorf("Hashes after reopen = %v", h)
	}
	hits, err := ix.Query(ctx, meta, []float32{0.1, 1, 0, 0}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 || hits[0].ID != "c" || hits[1].ID != "a-b" {
		t.Errorf("Query after reopen = %v", hits)
	}
	// The recorded meta survives too.
	_, err = ix.Query(ctx, flavormonk.IndexMeta{Model: "other", Dimensions: 4}, []float32{1, 0, 0, 0}, 1)
	if flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Errorf("Query with another model after reopen: %v", err)
	}
}

func TestTimedFlush(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v.db")
	ix, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ix.SetFlushDelay(20 * time.Millisecond)
	defer ix.Close()
	if err := ix.Upsert(ctx, meta, []flavormonk.VectorItem{{ID: "a", Vector: []float32{1, 0, 0, 0}, Hash: "h"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the file was not written after the flush delay")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A second process (simulated: a second Open) sees the data without Close.
	other, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := other.Count(ctx); n != 1 {
		t.Errorf("Count in the flushed file = %d, want 1", n)
	}
	other.SetFlushDelay(0)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Errorf("Open(a directory) = %v, want EINVALID", err)
	}
	if _, err := Open(filepath.Join(dir, "missing", "v.db")); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Errorf("Open in a missing directory = %v, want EINVALID", err)
	}
	bad := filepath.Join(dir, "garbage")
	os.WriteFile(bad, []byte("not a gob"), 0o600)
	if _, err := Open(bad); err == nil {
		t.Error("Open(garbage) succeeded")
	}
}

func TestRefusesToEmbed(t *testing.T) {
	if _, err := refuseToEmbed(context.Background(), "x"); err == nil {
		t.Error("the collection's embedding function must fail")
	}
}

// BenchmarkQuery10k measures a k=10 query over 10,000 vectors of dimension
// 384 and reports p50/p99 latencies.
func BenchmarkQuery10k(b *testing.B) {
	const n, dim = 10000, 384
	ctx := context.Background()
	ix, err := Open("")
	if err != nil {
		b.Fatal(err)
	}
	defer ix.Close()
	m := flavormonk.IndexMeta{Model: "bench", Dimensions: dim}
	rng := rand.New(rand.NewPCG(1, 2))
	randVec := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	items := make([]flavormonk.VectorItem, 0, 500)
	for i := 0; i < n; i++ {
		items = append(items, flavormonk.VectorItem{ID: fmt.Sprintf("recipe-%05d", i), Vector: randVec(), Hash: "h"})
		if len(items) == cap(items) {
			if err := ix.Upsert(ctx, m, items); err != nil {
				b.Fatal(err)
			}
			items = items[:0]
		}
	}
	queries := make([][]float32, 256)
	for i := range queries {
		queries[i] = randVec()
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		hits, err := ix.Query(ctx, m, queries[i%len(queries)], 10)
		lat = append(lat, time.Since(start))
		if err != nil || len(hits) != 10 {
			b.Fatalf("Query: %d hits, %v", len(hits), err)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
