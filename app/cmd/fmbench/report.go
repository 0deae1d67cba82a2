package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}

func report(w io.Writer, r *Results) {
	fmt.Fprintf(w, "\nFlavor Monk bench, %s, %d CPUs, %s\n", r.Time.Format("2006-01-02 15:04 UTC"), r.CPUs, r.GoVersion)
	fmt.Fprintf(w, "collection: %d recipes (%d synthetic + %d bundled)\n", r.Recipes, r.Synthetic, r.Bundled)
	q := r.Queries
	fmt.Fprintf(w, "queries:    %d drawn Zipf-like from the vocabulary, %d distinct; %.0f%% with filters (%.0f%% filters only), %.0f%% match nothing, %.0f matches on average\n",
		q.Drawn, q.Distinct, 100*q.Filtered, 100*q.NoText, 100*q.ZeroHits, q.MeanHits)
	threads := ""
	if r.Load.Threads > 0 {
		threads = fmt.Sprintf(", %d threads", r.Load.Threads)
	}
	fmt.Fprintf(w, "load:       %s, %d connections%s, %gs per run after %gs warm-up; every result cache off\n\n",
		r.Load.Tool, r.Load.Connections, threads, r.Load.Seconds, r.Load.Warmup)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "store\tserver\treq/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\tserver CPU\tratio\tp99≤50ms\t≥10%\t≥25% goal\terrors\t")
	for _, run := range r.Runs {
		row := func(name string, l *LoadResult, extra string) {
			fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.2f\t%.2f\t%.2f\t%.1f\t%.2f cores\t%s\t%d\t\n",
				run.Store, name, l.RPS, l.P50ms, l.P90ms, l.P99ms, l.MaxMs, l.ServerCPU, extra, l.Errors+l.BadStatus)
		}
		row("trivial Echo", run.Trivial, "1\t\t\t")
		row("flavormonk", run.App, fmt.Sprintf("%.1f%%\t%s\t%s\t%s", 100*run.Ratio, passFail(run.P99Pass), passFail(run.RatioPass), yesNo(run.Goal)))
	}
	tw.Flush()
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, m := range r.IdleRSS {
		after := ""
		if m.AfterLoad > 0 {
			after = fmt.Sprintf(" (after the load: %.1f MB)", mb(m.AfterLoad))
		}
		fmt.Fprintf(tw, "idle RSS, %s:\t%.1f MB\t≤ 60 MB\t%s\tpeak %.1f MB%s\n", m.Store, mb(m.RSS), passFail(m.Pass), mb(m.HWM), after)
	}
	samples := make([]string, len(r.StartToReady.SamplesMs))
	for i, s := range r.StartToReady.SamplesMs {
		samples[i] = fmt.Sprintf("%.0f", s)
	}
	fmt.Fprintf(tw, "start to ready, SQLite:\t%.0f ms\t≤ 1000 ms\t%s\tmedian of %d: %s ms\n",
		r.StartToReady.MedianMs, passFail(r.StartToReady.Pass), len(samples), strings.Join(samples, ", "))
	if r.StartToReady.Postgres > 0 {
		fmt.Fprintf(tw, "start to ready, Postgres:\t%.0f ms\t\t\tone start, for information\n", r.StartToReady.Postgres)
	}
	tw.Flush()
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	verdict := "every target met"
	if r.Failed {
		verdict = "some targets MISSED"
	}
	if r.Errors {
		verdict += "; a run had errors"
	}
	fmt.Fprintf(w, "\n%s\n", verdict)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
