package search_test

// Benchmarks of the in-process index over 10,000 synthetic recipes (see
// package synth). Run: go test -run '^$' -bench . -benchmem ./search/

import (
	"context"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/search"
	"github.com/flavormonk/flavormonk/app/sqlite"
	"github.com/flavormonk/flavormonk/app/synth"
)

const benchRecipes = 10000

var bench struct {
	once    sync.Once
	recipes []*flavormonk.Recipe
	ix      *search.Index
	queries []search.Query // the load test's mix, parsed
}

func benchIndex(b *testing.B) {
	b.Helper()
	bench.once.Do(func() {
		bench.recipes = synth.Generate(benchRecipes, 1)
		bench.ix = search.New()
		bench.ix.Apply(bench.recipes, nil, 1)
		for _, raw := range synth.Queries(bench.recipes, 4000, 1) {
			bench.queries = append(bench.queries, parseQuery(raw))
		}
	})
}

// parseQuery reads a synth query string the way the API does (web.parseSearch).
func parseQuery(raw string) search.Query {
	v, _ := url.ParseQuery(raw)
	q := search.Query{Text: v.Get("q"), Include: v["include"], Exclude: v["exclude"], Tags: v["tag"]}
	for _, d := range v["diet"] {
		q.Diets = append(q.Diets, flavormonk.Diet(d))
	}
	q.MaxMinutes, _ = strconv.Atoi(v.Get("max_minutes"))
	return q
}

func filtered(q search.Query) bool {
	return len(q.Include)+len(q.Exclude)+len(q.Tags)+len(q.Diets) > 0 || q.MaxMinutes > 0
}

// typo misspells every word of a query by dropping a letter ("chicken" →
// "chiken"), which sends it through the fuzzy expansion.
func typo(text string) string {
	ws := strings.Fields(text)
	for i, w := range ws {
		if len(w) >= 5 {
			k := len(w) / 2
			ws[i] = w[:k] + w[k+1:]
		}
	}
	return strings.Join(ws, " ")
}

func runQueries(b *testing.B, qs []search.Query) {
	b.Helper()
	if len(qs) == 0 {
		b.Fatal("no queries")
	}
	b.ReportAllocs()
	b.ResetTimer()
	hits := 0
	for i := 0; i < b.N; i++ {
		res, err := bench.ix.Search(qs[i%len(qs)])
		if err != nil {
			b.Fatal(err)
		}
		hits += res.Total
	}
	b.ReportMetric(float64(hits)/float64(b.N), "matches/op")
}

func BenchmarkSearch(b *testing.B) {
	benchIndex(b)
	var text, textFiltered, facets, typos []search.Query
	for _, q := range bench.queries {
		switch {
		case q.Text == "":
			facets = append(facets, q)
		case filtered(q):
			textFiltered = append(textFiltered, q)
		default:
			text = append(text, q)
			if t := typo(q.Text); t != q.Text {
				typos = append(typos, search.Query{Text: t})
			}
		}
	}
	b.Run("mix", func(b *testing.B) { runQueries(b, bench.queries) })
	b.Run("text", func(b *testing.B) { runQueries(b, text) })
	b.Run("text+filters", func(b *testing.B) { runQueries(b, textFiltered) })
	b.Run("filters-only-facets", func(b *testing.B) { runQueries(b, facets) })
	b.Run("match-all", func(b *testing.B) { runQueries(b, []search.Query{{}}) })
	b.Run("typo", func(b *testing.B) { runQueries(b, typos) })
	b.Run("mix-parallel", func(b *testing.B) {
		b.ReportAllocs()
		var next sync.Mutex
		i := 0
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				next.Lock()
				q := bench.queries[i%len(bench.queries)]
				i++
				next.Unlock()
				if _, err := bench.ix.Search(q); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkPantry(b *testing.B) {
	benchIndex(b)
	vocab := map[string]int{}
	for _, r := range bench.recipes {
		for _, in := range r.Ingredients {
			vocab[in.Item]++
		}
	}
	var items []string
	for it := range vocab {
		items = append(items, it)
	}
	// Deterministic pantries of 3-8 items, common and rare ones mixed.
	var qs []search.PantryQuery
	for i := 0; i < 200; i++ {
		var have []string
		for k := 0; k < 3+i%6; k++ {
			have = append(have, items[(i*31+k*17)%len(items)])
		}
		q := search.PantryQuery{Have: have}
		if i%3 == 0 {
			q.Diets = []flavormonk.Diet{flavormonk.DietVegetarian}
			q.MaxMissing = 3
		}
		qs = append(qs, q)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := bench.ix.Pantry(qs[i%len(qs)]); err != nil {
			b.Fatal(err)
		}
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkApply10k builds an index of 10,000 recipes from scratch, and
// reports the heap it keeps per indexed recipe.
func BenchmarkApply10k(b *testing.B) {
	benchIndex(b)
	recipes := bench.recipes
	b.ReportAllocs()
	b.ResetTimer()
	var perRecipe float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		before := heapInUse()
		b.StartTimer()
		ix := search.New()
		ix.Apply(recipes, nil, 1)
		b.StopTimer()
		perRecipe = float64(heapInUse()-before) / float64(len(recipes))
		runtime.KeepAlive(ix)
		b.StartTimer()
	}
	b.ReportMetric(perRecipe, "heapB/recipe")
}

// BenchmarkLoad10k fills an index from a store of 10,000 recipes, as a
// starting app instance does (SQLite in memory: decoding included).
func BenchmarkLoad10k(b *testing.B) {
	benchIndex(b)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, ":memory:")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for i := 0; i < len(bench.recipes); i += 1000 {
		if _, err := st.UpsertRecipes(ctx, bench.recipes[i:min(i+1000, len(bench.recipes))]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ix := search.New()
		if err := ix.Load(ctx, st); err != nil {
			b.Fatal(err)
		}
		if ix.Len() != len(bench.recipes) {
			b.Fatalf("loaded %d recipes", ix.Len())
		}
	}
}
