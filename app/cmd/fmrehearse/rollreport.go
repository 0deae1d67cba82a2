package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

func (r *RolloutReport) print(w io.Writer, when time.Time) {
	fmt.Fprintf(w, "\nFlavor Monk rehearsal: phase rollout, %s, %d CPUs, %s\n", when.UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), runtime.Version())
	for _, s := range r.Setup {
		fmt.Fprintf(w, "  %s\n", s)
	}
	for _, p := range r.Paths {
		fmt.Fprintf(w, "\n%s: %d requests/s through %s for %.1f s (every other one /healthz, which names the version)\n", p.Name, p.Rate, p.Base, p.Seconds)
		for _, s := range p.Steps {
			switch {
			case s.WantFail && s.Err != nil:
				fmt.Fprintf(w, "  t=%5.2fs %s: failed as it must, after %.1f s: %s\n", s.At.Seconds(), s.Name, s.Took.Seconds(), failedLines(s.Err))
			case s.WantFail:
				fmt.Fprintf(w, "  t=%5.2fs %s: SUCCEEDED in %.1f s; it must fail\n", s.At.Seconds(), s.Name, s.Took.Seconds())
			case s.Err != nil:
				fmt.Fprintf(w, "  t=%5.2fs %s: FAILED after %.1f s: %v\n", s.At.Seconds(), s.Name, s.Took.Seconds(), s.Err)
			case s.Took > 0:
				fmt.Fprintf(w, "  t=%5.2fs %s: ok in %.1f s\n", s.At.Seconds(), s.Name, s.Took.Seconds())
			default:
				fmt.Fprintf(w, "  t=%5.2fs %s\n", s.At.Seconds(), s.Name)
			}
		}
		if len(p.Final) > 0 {
			fmt.Fprintf(w, "  at the end: %s\n", strings.Join(p.Final, ", "))
		}
		for _, ex := range p.Examples {
			fmt.Fprintf(w, "  failed: %s\n", ex)
		}
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "path\trequests\terrors\tlongest gap\tp50/p99/max ms\tversions answering (/healthz, in order)")
	for _, p := range r.Paths {
		var vs []string
		for _, v := range p.Versions {
			vs = append(vs, fmt.Sprintf("%s ×%d", v.Version, v.Answers))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s ms (t=%.2f–%.2fs)\t%s/%s/%s\t%s\n", p.Name, p.Requests, p.Failed,
			ms(p.Gap.D), p.Gap.From.Seconds(), p.Gap.To.Seconds(), ms(p.P50), ms(p.P99), ms(p.Max), strings.Join(vs, " → "))
	}
	tw.Flush()
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if r.failed() {
		why := r.Failures
		if len(r.Paths) == 0 && len(why) == 0 {
			why = []string{"no rollout ran"}
		}
		fmt.Fprintf(w, "\nFAIL: %s\n", strings.Join(why, "; "))
		return
	}
	fmt.Fprintln(w, "\nPASS: every rollout served every request; every version answered, in the order deployed")
}

// failedLines picks deploy.sh's own verdict out of a failed run's output.
func failedLines(err error) string {
	var keep []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if strings.Contains(l, "FAILED") || strings.Contains(l, "rolled back") || strings.Contains(l, "left as they were") {
			keep = append(keep, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "flavormonk-deploy:")))
		}
	}
	if len(keep) == 0 {
		return truncate(err.Error(), 200)
	}
	return strings.Join(keep, "; ")
}
