package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	rpprof "runtime/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/recipes"
	"github.com/flavormonk/flavormonk/app/search"
	"github.com/flavormonk/flavormonk/app/sqlite"
	"github.com/flavormonk/flavormonk/app/synth"
	"github.com/flavormonk/flavormonk/app/web"
)

// profile serves the app's real handler stack (web.New over a SQLite store
// and the search index, wired as `flavormonk serve` wires them) inside this
// process, loads it with the same query mix, and writes a CPU profile of
// the server side: `go tool pprof -top fmbench.cpu.pprof`. With -pprof it
// also serves net/http/pprof on that loopback address while it runs.
func profile(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("profile", flag.ContinueOnError)
	n := fs.Int("recipes", 10000, "synthetic recipes (the bundled ones are added)")
	seed := fs.Uint64("seed", 1, "seed")
	nq := fs.Int("queries", 4000, "queries drawn")
	d := fs.Duration("duration", 15*time.Second, "load duration while profiling")
	conns := fs.Int("c", 64, "connections")
	threads := fs.Int("t", 2, "wrk threads")
	load := fs.String("load", "wrk", "load generator: wrk or go")
	out := fs.String("o", "fmbench.cpu.pprof", "CPU profile file")
	memOut := fs.String("mem", "", "heap profile file written after the load (optional)")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this loopback address too (e.g. 127.0.0.1:6060)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "fmbench-profile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	all := synth.Generate(*n, *seed)
	bundled, err := recipes.Bundled()
	if err != nil {
		return err
	}
	all = append(all, bundled...)
	dbPath := filepath.Join(dir, "bench.db")
	if err := seedSQLite(ctx, dbPath, all); err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer st.Close()
	ix := search.New()
	if err := ix.Load(ctx, st); err != nil {
		return err
	}
	cfg, err := config.Default(config.TierLocal)
	if err != nil {
		return err
	}
	cfg.RateLimit, cfg.LogLevel, cfg.SeedRecipes, cfg.CacheMaxEntries = 0, "warn", false, 0
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := web.New(web.Options{
		Store: st, Searcher: search.Lexical(ix), Index: ix, Log: log, Registerer: prometheus.NewRegistry(),
		BaseURL: cfg.BaseURL, RequestTimeout: cfg.RequestTimeout, MaxBodyBytes: cfg.MaxBodyBytes,
		MaxQueryBytes: cfg.MaxQueryBytes, SearchMaxResults: cfg.SearchMaxResults,
		SecureCookies: cfg.SecureCookies, TrustedProxies: cfg.TrustedPrefixes(),
	})
	if err != nil {
		return err
	}
	srv.SetReady(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Echo, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	if *pprofAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		pl, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			return err
		}
		if host, _, _ := net.SplitHostPort(pl.Addr().String()); !net.ParseIP(host).IsLoopback() {
			pl.Close()
			return fmt.Errorf("-pprof must be a loopback address")
		}
		ps := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go ps.Serve(pl)
		defer ps.Close()
		fmt.Fprintf(os.Stderr, "fmbench: pprof on http://%s/debug/pprof/\n", pl.Addr())
	}

	qs := synth.Queries(all, *nq, *seed)
	var b []byte
	for _, q := range qs {
		b = append(b, "/api/v1/recipes?"+q+"\n"...)
	}
	pathsFile := filepath.Join(dir, "queries.txt")
	if err := os.WriteFile(pathsFile, b, 0o644); err != nil {
		return err
	}
	l := &loader{kind: *load, dir: dir, connections: *conns, threads: *threads}
	base := "http://" + ln.Addr().String()
	if _, err := l.once(ctx, base, pathsFile, 2*time.Second); err != nil { // warm-up
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := rpprof.StartCPUProfile(f); err != nil {
		return err
	}
	r, err := l.once(ctx, base, pathsFile, *d)
	rpprof.StopCPUProfile()
	if err != nil {
		return err
	}
	fmt.Printf("in-process app: %.0f req/s, p50 %.2f ms, p99 %.2f ms, %d errors, %d non-2xx; CPU profile in %s\n",
		r.RPS, r.P50ms, r.P99ms, r.Errors, r.BadStatus, *out)
	if *memOut != "" {
		mf, err := os.Create(*memOut)
		if err != nil {
			return err
		}
		defer mf.Close()
		if err := rpprof.Lookup("heap").WriteTo(mf, 0); err != nil {
			return err
		}
	}
	return nil
}
