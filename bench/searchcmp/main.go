// Command searchcmp compares Flavor Monk's own search index (app/search)
// with bleve over the same synthetic recipes and queries (app/synth): build
// time, memory, disk, per-query latency, throughput, and whether the two
// return comparable results. It lives in its own module so that bleve never
// enters the app's dependency graph. Run it with GOWORK=off:
//
//	cd bench/searchcmp && GOWORK=off go run . -n 10000 -queries 2000 -dur 10s
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/search"
	"github.com/flavormonk/flavormonk/app/synth"
)

// outcome is what one query returned: the top 10 ids and the match count.
type outcome struct {
	top     []string
	total   int
	relaxed bool
}

// engine runs query i of the list.
type engine func(i int) (outcome, error)

// report is one engine's figures.
type report struct {
	name       string
	build      time.Duration
	searchable time.Duration // scorch: until the last batch is searchable (build waits until it is on disk)
	heap       int64         // HeapInuse delta after GC
	live       int64         // HeapAlloc delta after GC
	rss        int64         // VmRSS delta after returning freed memory
	disk       int64
	p50, p99   time.Duration
	mean       time.Duration
	qps1, qps2 float64
	results    []outcome
}

func main() {
	n := flag.Int("n", 10000, "synthetic recipes")
	nq := flag.Int("queries", 2000, "synthetic queries")
	dur := flag.Duration("dur", 10*time.Second, "duration of each throughput run")
	seed := flag.Uint64("seed", 1, "synth seed")
	flag.BoolVar(&fuzzy, "fuzzy", true, "bleve: allow one typo in words of 4+ letters (false: exact words only, for comparison)")
	flag.Parse()
	log.SetFlags(0)

	recipes := synth.Generate(*n, *seed)
	raw := synth.Queries(recipes, *nq, *seed)
	ours := make([]search.Query, len(raw))
	for i, r := range raw {
		ours[i] = parseQuery(r)
	}
	distinct := map[string]bool{}
	for _, r := range raw {
		distinct[r] = true
	}
	log.Printf("%d recipes, %d queries (%d distinct), %d CPUs, GOMAXPROCS %d, %s",
		len(recipes), len(raw), len(distinct), runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version())

	// Each engine is built, measured and released in turn, so that none
	// pays for another's live heap in its GC work. bleve's mem-only index
	// keeps part of its heap after Close, so it goes last.
	var reps []*report
	reps = append(reps, measure("ours", *dur, raw, func() (engine, func(), error) {
		ix := search.New()
		ix.Apply(recipes, nil, 1)
		return func(i int) (outcome, error) {
			res, err := ix.Search(ours[i])
			if err != nil {
				return outcome{}, err
			}
			o := outcome{total: res.Total, relaxed: res.Relaxed}
			for _, h := range res.Hits[:min(10, len(res.Hits))] {
				o.top = append(o.top, h.ID)
			}
			return o, nil
		}, func() {}, nil
	}))
	dir, err := os.MkdirTemp("", "searchcmp-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	var searchable time.Duration
	reps = append(reps, measure("bleve-scorch", *dur, raw, func() (engine, func(), error) {
		im, err := newMapping()
		if err != nil {
			return nil, nil, err
		}
		ix, err := bleve.NewUsing(filepath.Join(dir, "idx"), im, scorch.Name, scorch.Name, nil)
		if err != nil {
			return nil, nil, err
		}
		start := time.Now()
		if err := buildBleve(ix, recipes); err != nil {
			return nil, nil, err
		}
		searchable = time.Since(start)
		if err := waitPersisted(ix, 60*time.Second); err != nil {
			return nil, nil, err
		}
		e, err := bleveEngine(ix, im, raw)
		return e, func() { ix.Close() }, err
	}))
	reps[1].searchable = searchable
	reps[1].disk = dirSize(dir)
	reps = append(reps, measure("bleve-mem", *dur, raw, func() (engine, func(), error) {
		im, err := newMapping()
		if err != nil {
			return nil, nil, err
		}
		ix, err := bleve.NewMemOnly(im)
		if err != nil {
			return nil, nil, err
		}
		if err := buildBleve(ix, recipes); err != nil {
			return nil, nil, err
		}
		e, err := bleveEngine(ix, im, raw)
		return e, func() { ix.Close() }, err
	}))

	printTable(reps, raw)
}

// parseQuery reads a synth query string the way the API does.
func parseQuery(raw string) search.Query {
	v, _ := url.ParseQuery(raw)
	q := search.Query{Text: v.Get("q"), Include: v["include"], Exclude: v["exclude"], Tags: v["tag"], Limit: 20}
	for _, d := range v["diet"] {
		q.Diets = append(q.Diets, flavormonk.Diet(d))
	}
	q.MaxMinutes, _ = strconv.Atoi(v.Get("max_minutes"))
	return q
}

// bleveEngine translates the queries once (as ours are parsed once) and
// runs each as a fresh search request.
func bleveEngine(ix bleve.Index, im mapping.IndexMapping, raw []string) (engine, error) {
	qs := make([]query.Query, len(raw))
	for i, r := range raw {
		q, err := bleveQuery(im, r)
		if err != nil {
			return nil, err
		}
		qs[i] = q
	}
	return func(i int) (outcome, error) {
		res, err := ix.Search(bleveRequest(qs[i]))
		if err != nil {
			return outcome{}, err
		}
		o := outcome{total: int(res.Total)}
		for _, h := range res.Hits[:min(10, len(res.Hits))] {
			o.top = append(o.top, h.ID)
		}
		return o, nil
	}, nil
}

// measure builds an engine and takes its figures: build time, memory, then
// one warm-up pass over the queries (which also records the results), one
// timed pass for latencies, and a throughput run on 1 and 2 goroutines.
func measure(name string, dur time.Duration, raw []string, build func() (engine, func(), error)) *report {
	rep := &report{name: name}
	nq := len(raw)
	m0, rss0 := heapStats(), rss()
	start := time.Now()
	run, closeFn, err := build()
	if err != nil {
		log.Fatalf("%s: build: %v", name, err)
	}
	rep.build = time.Since(start)
	m1 := heapStats()
	rep.heap, rep.live = int64(m1.HeapInuse)-int64(m0.HeapInuse), int64(m1.HeapAlloc)-int64(m0.HeapAlloc)
	rep.rss = rss() - rss0
	log.Printf("%s: built in %v, heap +%s", name, rep.build.Round(time.Millisecond), mb(rep.heap))

	// Warm up on the first twentieth of the list (at most 100 queries), then
	// one timed pass over all of it, which also records the results.
	for i := range min(nq/20, 100) {
		if _, err := run(i); err != nil {
			log.Fatalf("%s: query %d: %v", name, i, err)
		}
	}
	rep.results = make([]outcome, nq)
	lat := make([]time.Duration, nq)
	var sum time.Duration
	for i := range nq {
		t := time.Now()
		if rep.results[i], err = run(i); err != nil {
			log.Fatalf("%s: query %d: %v", name, i, err)
		}
		lat[i] = time.Since(t)
		sum += lat[i]
	}
	slowest := make([]int, nq)
	for i := range slowest {
		slowest[i] = i
	}
	slices.SortFunc(slowest, func(a, b int) int { return int(lat[b] - lat[a]) })
	for _, i := range slowest[:min(3, nq)] {
		log.Printf("%s: slow: %v %q (%d matches)", name, lat[i].Round(time.Microsecond), raw[i], rep.results[i].total)
	}
	slices.Sort(lat)
	rep.p50, rep.p99 = lat[nq*50/100], lat[min(nq-1, nq*99/100)]
	rep.mean = sum / time.Duration(nq)
	rep.qps1 = throughput(run, nq, 1, dur)
	rep.qps2 = throughput(run, nq, 2, dur)
	log.Printf("%s: p50 %v p99 %v, %.0f q/s on 1 goroutine, %.0f on 2", name,
		rep.p50.Round(time.Microsecond), rep.p99.Round(time.Microsecond), rep.qps1, rep.qps2)
	closeFn()
	return rep
}

// throughput runs the query list round robin on g goroutines for dur and
// returns queries per second.
func throughput(run engine, nq, g int, dur time.Duration) float64 {
	var done atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	for w := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * nq / g; !stop.Load(); i++ {
				if _, err := run(i % nq); err != nil {
					log.Fatal(err)
				}
				done.Add(1)
			}
		}()
	}
	time.Sleep(dur)
	stop.Store(true)
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds()
}

// heapStats reads the memory statistics after a few collections (objects
// with finalizers take more than one cycle to go).
func heapStats() runtime.MemStats {
	var m runtime.MemStats
	for range 4 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	runtime.ReadMemStats(&m)
	return m
}

// rss is the process's resident set (bytes) after returning freed memory
// to the OS, or 0 where /proc is not available.
func rss() int64 {
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// waitPersisted waits until scorch has written every segment introduced so
// far and the files on disk stop changing (merges settle).
func waitPersisted(ix bleve.Index, timeout time.Duration) error {
	adv, err := ix.Advanced()
	if err != nil {
		return err
	}
	s, ok := adv.(*scorch.Scorch)
	if !ok {
		return errors.New("not a scorch index")
	}
	deadline := time.Now().Add(timeout)
	var last uint64
	stable := 0
	for time.Now().Before(deadline) {
		m := s.StatsMap()
		cur, _ := m["CurRootEpoch"].(uint64)
		done, _ := m["LastPersistedEpoch"].(uint64)
		bytes, _ := m["CurOnDiskBytes"].(uint64)
		if done >= cur && bytes == last {
			if stable++; stable >= 5 {
				return nil
			}
		} else {
			stable = 0
		}
		last = bytes
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("scorch did not persist in time")
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }

// printTable prints the figures side by side with the ratios ours / bleve,
// then how far the engines agree.
func printTable(reps []*report, raw []string) {
	ours, sc, mem := reps[0], reps[1], reps[2]
	ratio := func(a, b float64) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.3g", a/b)
	}
	row := func(label string, f func(*report) string, v func(*report) float64) {
		r1, r2 := "-", "-"
		if v != nil {
			r1, r2 = ratio(v(ours), v(mem)), ratio(v(ours), v(sc))
		}
		fmt.Printf("| %-28s | %12s | %12s | %12s | %10s | %12s |\n", label, f(ours), f(mem), f(sc), r1, r2)
	}
	fmt.Println()
	fmt.Printf("| %-28s | %12s | %12s | %12s | %10s | %12s |\n", "", "ours", "bleve mem", "bleve scorch", "ours/mem", "ours/scorch")
	fmt.Printf("|%s|%s:|%s:|%s:|%s:|%s:|\n", strings.Repeat("-", 30), strings.Repeat("-", 13), strings.Repeat("-", 13),
		strings.Repeat("-", 13), strings.Repeat("-", 11), strings.Repeat("-", 13))
	dur := func(f func(*report) time.Duration) (func(*report) string, func(*report) float64) {
		return func(r *report) string { return ms(f(r)) }, func(r *report) float64 { return float64(f(r)) }
	}
	s, v := dur(func(r *report) time.Duration { return r.build })
	row("index build", s, v)
	row("heap in use after build", func(r *report) string { return mb(r.heap) }, func(r *report) float64 { return float64(r.heap) })
	row("live heap after build", func(r *report) string { return mb(r.live) }, func(r *report) float64 { return float64(r.live) })
	row("RSS growth after build", func(r *report) string { return mb(r.rss) }, func(r *report) float64 { return float64(r.rss) })
	row("on disk", func(r *report) string {
		if r.disk == 0 {
			return "-"
		}
		return mb(r.disk)
	}, nil)
	s, v = dur(func(r *report) time.Duration { return r.p50 })
	row("latency p50", s, v)
	s, v = dur(func(r *report) time.Duration { return r.p99 })
	row("latency p99", s, v)
	s, v = dur(func(r *report) time.Duration { return r.mean })
	row("latency mean", s, v)
	qps := func(f func(*report) float64) (func(*report) string, func(*report) float64) {
		return func(r *report) string { return fmt.Sprintf("%.0f q/s", f(r)) }, f
	}
	s, v = qps(func(r *report) float64 { return r.qps1 })
	row("throughput, 1 goroutine", s, v)
	s, v = qps(func(r *report) float64 { return r.qps2 })
	row("throughput, 2 goroutines", s, v)
	nonEmpty := func(r *report) float64 {
		k := 0
		for _, o := range r.results {
			if o.total > 0 {
				k++
			}
		}
		return float64(k) / float64(len(raw))
	}
	row("queries with >=1 result", func(r *report) string { return pct(nonEmpty(r)) }, nil)
	meanTotal := func(r *report) float64 {
		t := 0
		for _, o := range r.results {
			t += o.total
		}
		return float64(t) / float64(len(raw))
	}
	row("mean matches per query", func(r *report) string { return fmt.Sprintf("%.0f", meanTotal(r)) }, meanTotal)
	fmt.Printf("\n(scorch's build time runs until every segment is on disk and merges settle; it was searchable after %v)\n", ms(sc.searchable))

	relaxed := 0
	for _, o := range ours.results {
		if o.relaxed {
			relaxed++
		}
	}
	fmt.Printf("\nagreement over %d queries (overlap@10 = shared ids in both top 10s / the larger top 10, mean over queries where both found something):\n", len(raw))
	for _, b := range []*report{mem, sc} {
		both, ov, sameTotal := agree(ours, b)
		fmt.Printf("  ours vs %-12s both >=1 result %s, overlap@10 %.2f, same match count %s\n", b.name+":", pct(both), ov, pct(sameTotal))
	}
	both, ov, sameTotal := agree(mem, sc)
	fmt.Printf("  bleve mem vs scorch: both >=1 result %s, overlap@10 %.2f, same match count %s\n", pct(both), ov, pct(sameTotal))
	fmt.Printf("  ours relaxed %d queries (no recipe had every word: ranked on some of them); bleve has no such fallback\n\n", relaxed)
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

// agree returns the share of queries both engines answer, their mean
// overlap@10 over those, and the share where they count as many matches.
func agree(a, b *report) (both, overlap, sameTotal float64) {
	n, sum, same := 0, 0.0, 0
	for i := range a.results {
		x, y := a.results[i], b.results[i]
		if x.total == y.total {
			same++
		}
		if x.total == 0 || y.total == 0 {
			continue
		}
		n++
		shared := 0
		for _, id := range x.top {
			if slices.Contains(y.top, id) {
				shared++
			}
		}
		sum += float64(shared) / float64(max(len(x.top), len(y.top)))
	}
	q := float64(len(a.results))
	if n == 0 {
		return 0, 0, float64(same) / q
	}
	return float64(n) / q, sum / float64(n), float64(same) / q
}
