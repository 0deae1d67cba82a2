package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a rehearsal found.
type Report struct {
	Phase       string
	Setup       []string
	IndexRate   string
	Smoke       []check
	Load        string
	LoadSeconds float64
	Events      []eventResult
	Windows     []windowStats
	Total       *Stats
	Fallbacks   map[string]float64
	Cache       map[string]float64
	PerReplica  []string
	ProxyErrors int64
	Freshness   time.Duration
	FreshVia    string
	FreshDetail string
	Notes       []string
	Failures    []string
}

type windowStats struct {
	Name   string
	Stats  *Stats
	Ready  string
	Non200 int
}

func (r *Report) smokeOK() bool {
	if len(r.Smoke) == 0 {
		return false
	}
	for _, c := range r.Smoke {
		if !c.OK {
			return false
		}
	}
	return true
}

func (r *Report) failed() bool {
	return len(r.Failures) > 0 || !r.smokeOK() || r.Total == nil || r.Total.Class[5] > 0 || r.Total.Class[0] > 0
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/1e6) }

func (r *Report) print(w io.Writer) {
	fmt.Fprintf(w, "\nFlavor Monk rehearsal: phase %s, %s, %d CPUs, %s\n", r.Phase, time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), runtime.Version())
	for _, s := range r.Setup {
		fmt.Fprintf(w, "  %s\n", s)
	}
	if len(r.Smoke) > 0 {
		fmt.Fprintln(w, "\nsmoke test")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range r.Smoke {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", passFail(c.OK), c.Name, c.Detail)
		}
		tw.Flush()
	}
	if r.FreshDetail != "" {
		fmt.Fprintf(w, "\nfreshness: %s\n", r.FreshDetail)
	}
	if r.Total != nil {
		fmt.Fprintf(w, "\nload: %s\n", r.Load)
		for _, e := range r.Events {
			switch {
			case e.Skipped:
				fmt.Fprintf(w, "  %s: skipped (the load ended first)\n", e.Name)
			case e.Err != nil:
				fmt.Fprintf(w, "  t=%.1fs %s: FAILED: %v\n", e.At.Seconds(), e.Name, e.Err)
			default:
				fmt.Fprintf(w, "  t=%.1fs %s (the stop took %.2f s)\n", e.At.Seconds(), e.Name, e.Took.Seconds())
			}
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "window\tseconds\trequests\treq/s\t2xx\t3xx\t4xx\t5xx\tconn errors\tp50 ms\tp90 ms\tp99 ms\tmax ms\tdegraded\t")
		row := func(name string, s *Stats) {
			rps := 0.0
			if s.Seconds > 0 {
				rps = float64(s.Requests) / s.Seconds
			}
			fmt.Fprintf(tw, "%s\t%.1f\t%d\t%.0f\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t\n", name, s.Seconds, s.Requests, rps,
				s.Class[2], s.Class[3], s.Class[4], s.Class[5], s.Class[0], ms(s.pct(.5)), ms(s.pct(.9)), ms(s.pct(.99)), ms(s.pct(1)), s.Degraded)
		}
		for _, ws := range r.Windows {
			row(ws.Name, ws.Stats)
		}
		row("total", r.Total)
		tw.Flush()
		fmt.Fprintf(w, "\nfallbacks (flavormonk_fallbacks_total, increase over the load, all replicas): %s\n", formatLabels(r.Fallbacks))
		fmt.Fprintf(w, "cache lookups (flavormonk_cache_requests_total): %s\n", formatLabels(r.Cache))
		fmt.Fprintf(w, "requests served per replica (flavormonk_http_requests_total): %s", strings.Join(r.PerReplica, ", "))
		if len(r.PerReplica) > 1 {
			fmt.Fprintf(w, "; proxy errors %d", r.ProxyErrors)
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "readyz during the load (polled every 250 ms per replica):")
		for _, ws := range r.Windows {
			fmt.Fprintf(w, "  %s: %s\n", ws.Name, ws.Ready)
		}
		for _, ws := range r.Windows {
			for _, ex := range ws.Stats.Examples5 {
				fmt.Fprintf(w, "  not ok (%s): %s\n", ws.Name, ex)
			}
		}
	}

	// The one-line summary.
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "phase\trequests\t2xx\t4xx\t5xx\tp50/p90/p99 ms\tfallbacks\tdegraded\treadyz during outage\tfreshness\tindex rate\tsmoke")
	req, c2, c4, c5, lat, deg, outage := "-", "-", "-", "-", "-", "-", "-"
	if t := r.Total; t != nil {
		req, c2, c4 = fmt.Sprint(t.Requests), fmt.Sprint(t.Class[2]), fmt.Sprint(t.Class[4])
		c5 = fmt.Sprint(t.Class[5])
		if t.Class[0] > 0 {
			c5 += fmt.Sprintf(" (+%d conn errors)", t.Class[0])
		}
		lat = fmt.Sprintf("%s/%s/%s", ms(t.pct(.5)), ms(t.pct(.9)), ms(t.pct(.99)))
		deg = fmt.Sprint(t.Degraded)
		outage = r.outageReady()
	}
	fresh := "-"
	if r.FreshDetail != "" {
		if r.Freshness > 0 {
			fresh = fmt.Sprintf("%.2f s via %s", r.Freshness.Seconds(), r.FreshVia)
		} else {
			fresh = "NOT FOUND via " + r.FreshVia
		}
	}
	rate := r.IndexRate
	if rate == "" {
		rate = "-"
	}
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Phase, req, c2, c4, c5, lat, formatLabels(r.Fallbacks), deg, outage, fresh, rate, passFail(r.smokeOK()))
	tw.Flush()

	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if r.failed() {
		var why []string
		why = append(why, r.Failures...)
		if len(r.Smoke) > 0 && !r.smokeOK() {
			why = append(why, "the smoke test failed")
		}
		if r.Total != nil && r.Total.Class[5] > 0 {
			why = append(why, fmt.Sprintf("%d responses were 5xx", r.Total.Class[5]))
		}
		if r.Total != nil && r.Total.Class[0] > 0 {
			why = append(why, fmt.Sprintf("%d requests failed without a response", r.Total.Class[0]))
		}
		fmt.Fprintf(w, "\nFAIL: %s\n", strings.Join(why, "; "))
		return
	}
	fmt.Fprintln(w, "\nPASS: zero 5xx, smoke test passed")
}

// outageReady summarises /readyz while a backend was stopped.
func (r *Report) outageReady() string {
	var parts []string
	n := 0
	for _, ws := range r.Windows[1:] {
		parts = append(parts, ws.Ready)
		n += ws.Non200
	}
	if len(parts) == 0 {
		return "no outage in this phase"
	}
	states := map[string]bool{}
	var order []string
	for _, p := range parts {
		for _, s := range strings.Split(p, "; ") {
			if i := strings.LastIndex(s, " ×"); i >= 0 {
				s = s[:i]
			}
			if _, st, ok := strings.Cut(s, ": "); ok && !states[st] {
				states[st] = true
				order = append(order, st)
			}
		}
	}
	out := strings.Join(order, " | ")
	if n > 0 {
		out += fmt.Sprintf(" (%d polls not 200)", n)
	}
	return out
}

func passFail(ok bool) string {
	if ok {
		return "pass"
	}
	return "FAIL"
}
