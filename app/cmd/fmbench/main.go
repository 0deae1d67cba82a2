// Command fmbench is Flavor Monk's load test. It builds the real flavormonk
// binary, seeds fresh stores (SQLite, and Postgres when
// FLAVORMONK_BENCH_POSTGRES_URL is set) with synthetic and bundled
// recipes, starts `flavormonk serve` against each, and measures start to
// ready, idle RSS, and search over HTTP with wrk, next to a trivial Echo
// handler loaded the same way in the same run. Everything listens on
// 127.0.0.1; every subprocess is ended on exit.
//
//	fmbench [flags]            the whole benchmark (see -h)
//	fmbench trivial-server     the baseline: an Echo v4 handler answering a small constant JSON
//	fmbench profile [flags]    the app's handler stack in-process under wrk, with a CPU profile
//	fmbench ask [flags]        the assistant: time to first token over the provider's, concurrent streams, answer cache
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

type options struct {
	bin         string
	recipes     int
	seed        uint64
	queries     int
	duration    time.Duration
	warmup      time.Duration
	connections int
	threads     int
	starts      int
	settle      time.Duration
	out         string
	load        string // wrk | go
	pgURL       string
	noPostgres  bool
	strict      bool
	keep        bool
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "trivial-server":
			if err := trivialServer(os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, "fmbench trivial-server:", err)
				os.Exit(1)
			}
			return
		case "ask":
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			err := askBench(ctx, os.Args[2:])
			cancel()
			stop()
			if err != nil {
				fmt.Fprintln(os.Stderr, "fmbench ask:", err)
				os.Exit(1)
			}
			return
		case "profile":
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			err := profile(ctx, os.Args[2:])
			stop()
			if err != nil {
				fmt.Fprintln(os.Stderr, "fmbench profile:", err)
				os.Exit(1)
			}
			return
		}
	}
	var o options
	fs := flag.NewFlagSet("fmbench", flag.ExitOnError)
	fs.StringVar(&o.bin, "bin", "", "flavormonk binary to test (default: build ./cmd/flavormonk)")
	fs.IntVar(&o.recipes, "recipes", 10000, "synthetic recipes (the bundled ones are added)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the synthetic recipes and queries")
	fs.IntVar(&o.queries, "queries", 4000, "queries drawn for the load (repeats allowed; at least 1,000 must be distinct)")
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "measured load per run")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured warm-up before each run")
	fs.IntVar(&o.connections, "c", 64, "concurrent connections")
	fs.IntVar(&o.threads, "t", 2, "load generator threads")
	fs.IntVar(&o.starts, "starts", 5, "starts of the SQLite app for the start-to-ready median")
	fs.DurationVar(&o.settle, "settle", 5*time.Second, "idle time after ready before reading RSS")
	fs.StringVar(&o.out, "out", "", "JSON results file (default: <workspace>/bench-results/latest.json)")
	fs.StringVar(&o.load, "load", "wrk", "load generator: wrk, or go (built-in; used when wrk is missing)")
	fs.BoolVar(&o.noPostgres, "no-postgres", false, "skip Postgres even when FLAVORMONK_BENCH_POSTGRES_URL is set")
	fs.BoolVar(&o.strict, "strict", false, "exit 1 when a target is missed (not only on errors)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (databases, query file, logs)")
	_ = fs.Parse(os.Args[1:])
	o.pgURL = os.Getenv("FLAVORMONK_BENCH_POSTGRES_URL")
	if o.noPostgres {
		o.pgURL = ""
	}
	if o.out == "" {
		o.out = filepath.Join(workspaceRoot(), "bench-results", "latest.json")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The whole run is bounded: a hung subprocess cannot keep it going.
	budget := 6*time.Minute + 4*(o.duration+o.warmup)
	ctx, cancel := context.WithTimeout(ctx, budget)
	b := &bench{opt: o}
	res, err := b.run(ctx)
	b.cleanup()
	cancel()
	stop()
	if res != nil {
		if werr := writeJSON(o.out, res); werr != nil {
			fmt.Fprintln(os.Stderr, "fmbench:", werr)
		} else {
			fmt.Printf("\nresults written to %s\n", o.out)
		}
	}
	switch {
	case err != nil:
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (the run is bounded to %s)", err, budget)
		}
		fmt.Fprintln(os.Stderr, "fmbench:", err)
		os.Exit(1)
	case res.Failed && o.strict:
		os.Exit(1)
	case res.Errors:
		os.Exit(1)
	}
}
