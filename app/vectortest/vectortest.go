// Package vectortest is the conformance suite every flavormonk.VectorIndex
// passes. Each implementation's tests call Run with a function that opens a
// new, empty index:
//
//	func TestIndex(t *testing.T) {
//		vectortest.Run(t, func(t *testing.T) flavormonk.VectorIndex { return openEmpty(t) })
//	}
//
// The suite uses hand-made vectors only; it needs no embedder. Semantics it
// pins down, beyond the VectorIndex documentation:
//   - An empty index has a zero Meta, Count 0, no Hashes, and a Query on it
//     returns no hits and no error.
//   - Scores are cosine similarities in [-1, 1] whatever the vectors' lengths
//     (the index normalizes, or computes cosine itself); hits are best first.
//     The order of hits with equal scores is unspecified.
//   - Upsert of an id already present replaces its vector and hash.
//   - Meta with an empty model or a dimension <= 0, an item with an empty id,
//     and a vector whose length is not meta.Dimensions are EINVALID errors.
//   - Once meta is recorded, Upsert or Query with another model or dimension
//     is an EINVALID error whose message names both the recorded and the
//     requested model and dimension.
//   - Query with k <= 0 is EINVALID; k beyond Count returns every item.
//   - Delete of unknown ids, and of no ids, succeeds. An empty Upsert
//     succeeds.
//   - Every method may be called concurrently.
//   - After Close, methods return an error (any error; no panic). Run also
//     calls Close in a cleanup, so a second Close must not panic.
package vectortest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Dim is the dimension of the suite's vectors.
const Dim = 8

// Meta is the meta the suite builds its indexes with.
var Meta = flavormonk.IndexMeta{Model: "vectortest-model", Dimensions: Dim}

// Run runs the suite. open must return a new, empty index for each call;
// Run closes it when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) flavormonk.VectorIndex) {
	o := func(t *testing.T) flavormonk.VectorIndex {
		t.Helper()
		ix := open(t)
		t.Cleanup(func() { _ = ix.Close() })
		return ix
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, ix flavormonk.VectorIndex)
	}{
		{"Empty", testEmpty},
		{"QueryOrder", testQueryOrder},
		{"QueryUnnormalized", testQueryUnnormalized},
		{"UpsertReplaces", testUpsertReplaces},
		{"Hashes", testHashes},
		{"Delete", testDelete},
		{"KBeyondCount", testKBeyondCount},
		{"KInvalid", testKInvalid},
		{"ModelMismatch", testModelMismatch},
		{"DimensionMismatch", testDimensionMismatch},
		{"WrongVectorLength", testWrongVectorLength},
		{"InvalidInput", testInvalidInput},
		{"Batch500", testBatch500},
		{"HyphenatedIDs", testHyphenatedIDs},
		{"ConcurrentQueries", testConcurrentQueries},
		{"Ping", testPing},
		{"CloseThenUse", testCloseThenUse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, o(t)) })
	}
}

// Unit returns the i-th basis vector of dimension Dim.
func Unit(i int) []float32 {
	v := make([]float32, Dim)
	v[i] = 1
	return v
}

// vec builds a Dim vector from its leading components.
func vec(xs ...float32) []float32 {
	v := make([]float32, Dim)
	copy(v, xs)
	return v
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

// tol is the score tolerance: indexes store float32 and some report a
// distance that is converted back.
const tol = 1e-3

func upsert(t *testing.T, ix flavormonk.VectorIndex, items ...flavormonk.VectorItem) {
	t.Helper()
	if err := ix.Upsert(context.Background(), Meta, items); err != nil {
		t.Fatalf("Upsert(%d items): %v", len(items), err)
	}
}

func query(t *testing.T, ix flavormonk.VectorIndex, v []float32, k int) []flavormonk.VectorHit {
	t.Helper()
	hits, err := ix.Query(context.Background(), Meta, v, k)
	if err != nil {
		t.Fatalf("Query(k=%d): %v", k, err)
	}
	checkScores(t, hits)
	return hits
}

func checkScores(t *testing.T, hits []flavormonk.VectorHit) {
	t.Helper()
	for i, h := range hits {
		if math.IsNaN(h.Score) || h.Score < -1-tol || h.Score > 1+tol {
			t.Errorf("hit %d (%s) has score %v outside [-1, 1]", i, h.ID, h.Score)
		}
		if i > 0 && h.Score > hits[i-1].Score+1e-6 {
			t.Errorf("hits not best first: %s %.4f after %s %.4f", h.ID, h.Score, hits[i-1].ID, hits[i-1].Score)
		}
	}
}

func ids(hits []flavormonk.VectorHit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

func count(t *testing.T, ix flavormonk.VectorIndex) int {
	t.Helper()
	n, err := ix.Count(context.Background())
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	return n
}

func hashes(t *testing.T, ix flavormonk.VectorIndex) map[string]string {
	t.Helper()
	h, err := ix.Hashes(context.Background())
	if err != nil {
		t.Fatalf("Hashes: %v", err)
	}
	return h
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %s", what, code)
		return
	}
	if got := flavormonk.ErrorCode(err); got != code {
		t.Errorf("%s: error %q has code %s, want %s", what, err, got, code)
	}
}

// fixture: cosine to Unit(0) is known for each item.
var fixture = []struct {
	id     string
	v      []float32
	cosine float64
}{
	{"same", vec(1), 1},
	{"near", vec(1, 1), 1 / math.Sqrt2},
	{"mid", vec(1, 2), 1 / math.Sqrt(5)},
	{"orthogonal", vec(0, 1), 0},
	{"away", vec(-1, 0, 1), -1 / math.Sqrt2},
	{"opposite", vec(-1), -1},
}

func loadFixture(t *testing.T, ix flavormonk.VectorIndex) {
	t.Helper()
	var items []flavormonk.VectorItem
	// Insert in reverse so that insertion order cannot fake the ranking.
	for i := len(fixture) - 1; i >= 0; i-- {
		f := fixture[i]
		items = append(items, flavormonk.VectorItem{ID: f.id, Vector: f.v, Hash: "h-" + f.id})
	}
	upsert(t, ix, items...)
}

func testEmpty(t *testing.T, ix flavormonk.VectorIndex) {
	ctx := context.Background()
	m, err := ix.Meta(ctx)
	if err != nil {
		t.Fatalf("Meta: %v", err)
	}
	if m != (flavormonk.IndexMeta{}) {
		t.Errorf("Meta of an empty index = %+v, want zero", m)
	}
	if n := count(t, ix); n != 0 {
		t.Errorf("Count = %d, want 0", n)
	}
	if h := hashes(t, ix); len(h) != 0 {
		t.Errorf("Hashes = %v, want none", h)
	}
	if hits := query(t, ix, Unit(0), 5); len(hits) != 0 {
		t.Errorf("Query on an empty index = %v, want no hits", hits)
	}
	if err := ix.Upsert(ctx, Meta, nil); err != nil {
		t.Errorf("empty Upsert: %v", err)
	}
	if err := ix.Delete(ctx, nil); err != nil {
		t.Errorf("empty Delete: %v", err)
	}
}

func testQueryOrder(t *testing.T, ix flavormonk.VectorIndex) {
	loadFixture(t, ix)
	m, err := ix.Meta(context.Background())
	if err != nil {
		t.Fatalf("Meta: %v", err)
	}
	if m != Meta {
		t.Errorf("Meta = %+v, want %+v", m, Meta)
	}
	if n := count(t, ix); n != len(fixture) {
		t.Errorf("Count = %d, want %d", n, len(fixture))
	}
	hits := query(t, ix, Unit(0), len(fixture))
	if len(hits) != len(fixture) {
		t.Fatalf("Query returned %d hits, want %d: %v", len(hits), len(fixture), hits)
	}
	for i, f := range fixture {
		if hits[i].ID != f.id {
			t.Errorf("hit %d = %s, want %s (all: %v)", i, hits[i].ID, f.id, ids(hits))
			continue
		}
		if math.Abs(hits[i].Score-f.cosine) > tol {
			t.Errorf("hit %s score = %.5f, want cosine %.5f", f.id, hits[i].Score, f.cosine)
		}
	}
	top := query(t, ix, Unit(0), 3)
	if got := strings.Join(ids(top), ","); got != "same,near,mid" {
		t.Errorf("top 3 = %s, want same,near,mid", got)
	}
	// Another direction: the ranking follows the query.
	top = query(t, ix, Unit(1), 2)
	if got := strings.Join(ids(top), ","); got != "orthogonal,mid" {
		t.Errorf("top 2 for e1 = %s, want orthogonal,mid", got)
	}
}

func testQueryUnnormalized(t *testing.T, ix flavormonk.VectorIndex) {
	upsert(t, ix,
		flavormonk.VectorItem{ID: "long", Vector: vec(100, 100), Hash: "x"},     // cos 0.707 to e0
		flavormonk.VectorItem{ID: "short", Vector: vec(0.01, 0.001), Hash: "y"}, // cos 0.995
		flavormonk.VectorItem{ID: "tiny", Vector: vec(0.001, 0.01), Hash: "z"},  // cos 0.0995
	)
	hits := query(t, ix, vec(7), 3)
	if got := strings.Join(ids(hits), ","); got != "short,long,tiny" {
		t.Fatalf("order = %s, want short,long,tiny (cosine ignores length)", got)
	}
	want := []float64{cosine(vec(7), vec(0.01, 0.001)), cosine(vec(7), vec(100, 100)), cosine(vec(7), vec(0.001, 0.01))}
	for i, h := range hits {
		if math.Abs(h.Score-want[i]) > tol {
			t.Errorf("%s score = %.5f, want %.5f", h.ID, h.Score, want[i])
		}
	}
}

func testUpsertReplaces(t *testing.T, ix flavormonk.VectorIndex) {
	loadFixture(t, ix)
	// Move "opposite" onto the query direction, with a new hash.
	upsert(t, ix, flavormonk.VectorItem{ID: "opposite", Vector: vec(1, 0, 0, 0.01), Hash: "h-new"})
	if n := count(t, ix); n != len(fixture) {
		t.Errorf("Count after replacing = %d, want %d (no duplicate)", n, len(fixture))
	}
	if h := hashes(t, ix)["opposite"]; h != "h-new" {
		t.Errorf("hash after replacing = %q, want h-new", h)
	}
	hits := query(t, ix, Unit(0), len(fixture)+5)
	if len(hits) != len(fixture) {
		t.Fatalf("Query returned %d hits, want %d: %v", len(hits), len(fixture), ids(hits))
	}
	seen := map[string]int{}
	for _, h := range hits {
		seen[h.ID]++
	}
	if seen["opposite"] != 1 {
		t.Errorf("opposite appears %d times in %v", seen["opposite"], ids(hits))
	}
	if top := ids(hits[:2]); !(top[0] == "same" && top[1] == "opposite" || top[0] == "opposite" && top[1] == "same") {
		t.Errorf("top 2 after replacing = %v, want same and opposite", top)
	}
	if last := hits[len(hits)-1].ID; last != "away" {
		t.Errorf("last hit = %s, want away", last)
	}
}

func testHashes(t *testing.T, ix flavormonk.VectorIndex) {
	loadFixture(t, ix)
	h := hashes(t, ix)
	if len(h) != len(fixture) {
		t.Errorf("Hashes has %d entries, want %d: %v", len(h), len(fixture), h)
	}
	for _, f := range fixture {
		if h[f.id] != "h-"+f.id {
			t.Errorf("hash of %s = %q, want %q", f.id, h[f.id], "h-"+f.id)
		}
	}
}

func testDelete(t *testing.T, ix flavormonk.VectorIndex) {
	ctx := context.Background()
	loadFixture(t, ix)
	if err := ix.Delete(ctx, []string{"same", "no-such-id", "mid"}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if n := count(t, ix); n != len(fixture)-2 {
		t.Errorf("Count after deleting 2 = %d, want %d", n, len(fixture)-2)
	}
	h := hashes(t, ix)
	if _, ok := h["same"]; ok {
		t.Errorf("Hashes still has a deleted id: %v", h)
	}
	if _, ok := h["mid"]; ok {
		t.Errorf("Hashes still has a deleted id: %v", h)
	}
	hits := query(t, ix, Unit(0), 10)
	if got := strings.Join(ids(hits), ","); got != "near,orthogonal,away,opposite" {
		t.Errorf("hits after delete = %s, want near,orthogonal,away,opposite", got)
	}
	if err := ix.Delete(ctx, []string{"only-unknown"}); err != nil {
		t.Errorf("Delete of an unknown id: %v", err)
	}
	if err := ix.Delete(ctx, []string{}); err != nil {
		t.Errorf("Delete of no ids: %v", err)
	}
	// Deleted ids can come back.
	upsert(t, ix, flavormonk.VectorItem{ID: "same", Vector: vec(1), Hash: "again"})
	if hits := query(t, ix, Unit(0), 1); len(hits) != 1 || hits[0].ID != "same" {
		t.Errorf("re-added id not found: %v", hits)
	}
}

func testKBeyondCount(t *testing.T, ix flavormonk.VectorIndex) {
	loadFixture(t, ix)
	hits := query(t, ix, Unit(0), 1000)
	if len(hits) != len(fixture) {
		t.Errorf("k=1000 over %d items returned %d hits", len(fixture), len(hits))
	}
	if hits := query(t, ix, Unit(0), 1); len(hits) != 1 || hits[0].ID != "same" {
		t.Errorf("k=1 = %v, want [same]", hits)
	}
}

func testKInvalid(t *testing.T, ix flavormonk.VectorIndex) {
	loadFixture(t, ix)
	for _, k := range []int{0, -1} {
		_, err := ix.Query(context.Background(), Meta, Unit(0), k)
		wantCode(t, fmt.Sprintf("Query with k=%d", k), err, flavormonk.EINVALID)
	}
}

func testModelMismatch(t *testing.T, ix flavormonk.VectorIndex) {
	ctx := context.Background()
	loadFixture(t, ix)
	other := flavormonk.IndexMeta{Model: "other-model", Dimensions: Dim}
	_, err := ix.Query(ctx, other, Unit(0), 3)
	wantCode(t, "Query with another model", err, flavormonk.EINVALID)
	mentions(t, err, Meta.Model, other.Model)
	err = ix.Upsert(ctx, other, []flavormonk.VectorItem{{ID: "x", Vector: Unit(0), Hash: "x"}})
	wantCode(t, "Upsert with another model", err, flavormonk.EINVALID)
	mentions(t, err, Meta.Model, other.Model)
	if n := count(t, ix); n != len(fixture) {
		t.Errorf("Count after a refused upsert = %d, want %d", n, len(fixture))
	}
	if m, _ := ix.Meta(ctx); m != Meta {
		t.Errorf("Meta after a refused upsert = %+v, want %+v", m, Meta)
	}
}

func testDimensionMismatch(t *testing.T, ix flavormonk.VectorIndex) {
	ctx := context.Background()
	loadFixture(t, ix)
	other := flavormonk.IndexMeta{Model: Meta.Model, Dimensions: 16}
	v := make([]float32, 16)
	v[0] = 1
	_, err := ix.Query(ctx, other, v, 3)
	wantCode(t, "Query with another dimension", err, flavormonk.EINVALID)
	mentions(t, err, strconv.Itoa(Dim), "16")
	err = ix.Upsert(ctx, other, []flavormonk.VectorItem{{ID: "x", Vector: v, Hash: "x"}})
	wantCode(t, "Upsert with another dimension", err, flavormonk.EINVALID)
	mentions(t, err, strconv.Itoa(Dim), "16")
	if n := count(t, ix); n != len(fixture) {
		t.Errorf("Count after a refused upsert = %d, want %d", n, len(fixture))
	}
}

func mentions(t *testing.T, err error, words ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func testWrongVectorLength(t *testing.T, ix flavormonk.VectorIndex) {
	ctx := context.Background()
	// Before anything is recorded...
	err := ix.Upsert(ctx, Meta, []flavormonk.VectorItem{{ID: "short", Vector: make([]float32, Dim-1), Hash: "x"}})
	wantCode(t, "Upsert of a vector shorter than meta.Dimensions", err, flavormonk.EINVALID)
	if n := count(t, ix); n != 0 {
		t.Errorf("Count after a refused upsert = %d, want 0", n)
	}
	// ...and after.
	loadFixture(t, ix)
	err = ix.Upsert(ctx, Meta, []flavormonk.VectorItem{
		{ID: "fine", Vector: Unit(0), Hash: "x"},
		{ID: "long", Vector: make([]float32, Dim+1), Hash: "x"},
	})
	wantCode(t, "Upsert of a vector longer than meta.Dimensions", err, flavormonk.EINVALID)
	_, err = ix.Query(ctx, Meta, make([]float32, Dim+2), 3)
	wantCode(t, "Query with a vector longer than meta.Dimensions", err, flavormonk.EINVALID)
	_, err = ix.Query(ctx, Meta, []float32{1}, 3)
	wantCode(t, "Query with a vector shorter than meta.Dimensions", err, flavormonk.EINVALID)
}

func testInvalidInput(t *testing.T, ix flavormonk.VectorIndex) {
	ctx := context.Background()
	item := []flavormonk.VectorItem{{ID: "a", Vector: Unit(0), Hash: "a"}}
	wantCode(t, "Upsert with an empty model", ix.Upsert(ctx, flavormonk.IndexMeta{Dimensions: Dim}, item), flavormonk.EINVALID)
	wantCode(t, "Upsert with dimension 0", ix.Upsert(ctx, flavormonk.IndexMeta{Model: Meta.Model}, item), flavormonk.EINVALID)
	wantCode(t, "Upsert of an empty id", ix.Upsert(ctx, Meta, []flavormonk.VectorItem{{ID: "", Vector: Unit(0), Hash: "a"}}), flavormonk.EINVALID)
	if n := count(t, ix); n != 0 {
		t.Errorf("Count after refused upserts = %d, want 0", n)
	}
	if m, err := ix.Meta(ctx); err != nil || m != (flavormonk.IndexMeta{}) {
		t.Errorf("Meta after refused upserts = %+v, %v; want zero", m, err)
	}
}

// randomItems returns n items with random Dim vectors, seeded.
func randomItems(n int, seed uint64, prefix string) []flavormonk.VectorItem {
	rng := rand.New(rand.NewPCG(seed, 1))
	items := make([]flavormonk.VectorItem, n)
	for i := range items {
		v := make([]float32, Dim)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		id := fmt.Sprintf("%s-%04d", prefix, i)
		items[i] = flavormonk.VectorItem{ID: id, Vector: v, Hash: "hash-" + id}
	}
	return items
}

// bruteForce returns the ids of items ranked by cosine to q.
func bruteForce(items []flavormonk.VectorItem, q []float32, k int) []flavormonk.VectorHit {
	hits := make([]flavormonk.VectorHit, len(items))
	for i, it := range items {
		hits[i] = flavormonk.VectorHit{ID: it.ID, Score: cosine(q, it.Vector)}
	}
	for i := 1; i < len(hits); i++ { // insertion sort: small n
		for j := i; j > 0 && hits[j].Score > hits[j-1].Score; j-- {
			hits[j], hits[j-1] = hits[j-1], hits[j]
		}
	}
	if k < len(hits) {
		hits = hits[:k]
	}
	return hits
}

func testBatch500(t *testing.T, ix flavormonk.VectorIndex) {
	items := randomItems(500, 42, "recipe")
	upsert(t, ix, items...)
	if n := count(t, ix); n != 500 {
		t.Fatalf("Count = %d, want 500", n)
	}
	h := hashes(t, ix)
	if len(h) != 500 {
		t.Errorf("Hashes has %d entries, want 500", len(h))
	}
	for _, it := range items {
		if h[it.ID] != it.Hash {
			t.Errorf("hash of %s = %q, want %q", it.ID, h[it.ID], it.Hash)
			break
		}
	}
	for _, qi := range []int{0, 123, 499} {
		q := items[qi].Vector
		hits := query(t, ix, q, 10)
		want := bruteForce(items, q, 10)
		if len(hits) != 10 {
			t.Fatalf("Query returned %d hits, want 10", len(hits))
		}
		if hits[0].ID != items[qi].ID || math.Abs(hits[0].Score-1) > tol {
			t.Errorf("query with %s's own vector: top hit %s %.4f", items[qi].ID, hits[0].ID, hits[0].Score)
		}
		for i := range want {
			// Exact search: every implementation under test is exhaustive or
			// accurate enough at 500 items; compare scores, not ids, so that
			// near ties cannot fail the test.
			if math.Abs(hits[i].Score-want[i].Score) > tol {
				t.Errorf("query %d hit %d: %s %.4f, brute force %s %.4f", qi, i, hits[i].ID, hits[i].Score, want[i].ID, want[i].Score)
			}
		}
	}
}

func testHyphenatedIDs(t *testing.T, ix flavormonk.VectorIndex) {
	long := strings.Repeat("a-", 59) + "zz" // 120 bytes, the longest recipe id
	items := []flavormonk.VectorItem{
		{ID: "chicken-tikka-masala", Vector: vec(1), Hash: "a"},
		{ID: "pad-thai-3f9a2c1b", Vector: vec(0, 1), Hash: "b"},
		{ID: long, Vector: vec(0, 0, 1), Hash: "c"},
		{ID: "0-1", Vector: vec(0, 0, 0, 1), Hash: "d"},
	}
	upsert(t, ix, items...)
	for _, it := range items {
		hits := query(t, ix, it.Vector, 1)
		if len(hits) != 1 || hits[0].ID != it.ID {
			t.Errorf("query for %q = %v", it.ID, hits)
		}
	}
	h := hashes(t, ix)
	for _, it := range items {
		if h[it.ID] != it.Hash {
			t.Errorf("hash of %q = %q, want %q", it.ID, h[it.ID], it.Hash)
		}
	}
	if err := ix.Delete(context.Background(), []string{"pad-thai-3f9a2c1b", long}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if n := count(t, ix); n != 2 {
		t.Errorf("Count after delete = %d, want 2", n)
	}
}

func testConcurrentQueries(t *testing.T, ix flavormonk.VectorIndex) {
	items := randomItems(200, 7, "c")
	upsert(t, ix, items...)
	const workers, each = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				it := items[(w*each+i)%len(items)]
				hits, err := ix.Query(context.Background(), Meta, it.Vector, 5)
				switch {
				case err != nil:
					errs <- err
				case len(hits) != 5 || hits[0].ID != it.ID:
					errs <- fmt.Errorf("query for %s: %v", it.ID, hits)
				}
			}
		}(w)
	}
	// A writer alongside the readers.
	wg.Add(1)
	go func() {
		defer wg.Done()
		extra := randomItems(20, 8, "w")
		for _, it := range extra {
			if err := ix.Upsert(context.Background(), Meta, []flavormonk.VectorItem{it}); err != nil {
				errs <- err
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := count(t, ix); n != 220 {
		t.Errorf("Count = %d, want 220", n)
	}
}

func testPing(t *testing.T, ix flavormonk.VectorIndex) {
	if err := ix.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func testCloseThenUse(t *testing.T, ix flavormonk.VectorIndex) {
	ctx := context.Background()
	loadFixture(t, ix)
	if err := ix.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := ix.Query(ctx, Meta, Unit(0), 3); err == nil {
		t.Error("Query after Close: no error")
	}
	if err := ix.Upsert(ctx, Meta, []flavormonk.VectorItem{{ID: "x", Vector: Unit(0), Hash: "x"}}); err == nil {
		t.Error("Upsert after Close: no error")
	}
	if _, err := ix.Count(ctx); err == nil {
		t.Error("Count after Close: no error")
	}
	if err := ix.Ping(ctx); err == nil {
		t.Error("Ping after Close: no error")
	}
}
