package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// readyState is one /readyz answer, summarised: "200 ok" or
// "200 cache=degraded vector_index=degraded", "503 ...", "error: ...".
func readyState(base string) (string, int, map[string]string) {
	resp, err := probe.Get(base + "/readyz")
	if err != nil {
		return "error: " + truncate(err.Error(), 80), 0, nil
	}
	defer resp.Body.Close()
	var body struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(b, &body); err != nil {
		return fmt.Sprintf("%d (not JSON)", resp.StatusCode), resp.StatusCode, nil
	}
	var bad []string
	for k, v := range body.Checks {
		if v != "ok" {
			bad = append(bad, k+"="+v)
		}
	}
	sort.Strings(bad)
	s := strconv.Itoa(resp.StatusCode)
	if len(bad) == 0 {
		s += " ok"
	} else {
		s += " " + strings.Join(bad, " ")
	}
	return s, resp.StatusCode, body.Checks
}

// readyWatch polls each replica's /readyz during the load and counts the
// states seen in each window.
type readyWatch struct {
	mu     sync.Mutex
	counts [nWindows]map[string]int // "A: 200 cache=degraded" → polls
}

func watchReady(ctx context.Context, reps []*proc, cur func() window, every time.Duration) *readyWatch {
	rw := &readyWatch{}
	for i := range rw.counts {
		rw.counts[i] = map[string]int{}
	}
	for _, r := range reps {
		go func() {
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				s, _, _ := readyState("http://" + r.addr)
				w := cur()
				rw.mu.Lock()
				rw.counts[w][r.Name+": "+s]++
				rw.mu.Unlock()
			}
		}()
	}
	return rw
}

func (rw *readyWatch) summary(w window) string {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	var keys []string
	for k := range rw.counts[w] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, rw.counts[w][k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, "; ")
}

// non200 counts polls in window w that were not 200.
func (rw *readyWatch) non200(w window) int {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	n := 0
	for k, c := range rw.counts[w] {
		if _, s, ok := strings.Cut(k, ": "); ok && !strings.HasPrefix(s, "200 ") {
			n += c
		}
	}
	return n
}

// scrape reads the named metric families from a /metrics endpoint:
// family → label set (as written, e.g. `backend="vector"`) → value.
func scrape(metricsAddr string, names ...string) (map[string]map[string]float64, error) {
	resp, err := probe.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics answered %d", resp.StatusCode)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		series, val := line[:i], line[i+1:]
		name, labels := series, ""
		if j := strings.IndexByte(series, '{'); j >= 0 {
			name, labels = series[:j], strings.TrimSuffix(series[j+1:], "}")
		}
		if !want[name] {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		if out[name] == nil {
			out[name] = map[string]float64{}
		}
		out[name][labels] += v
	}
	return out, sc.Err()
}

// counterDelta sums after-before over replicas for one family, by label set.
func counterDelta(before, after []map[string]map[string]float64, family string) map[string]float64 {
	d := map[string]float64{}
	for i := range after {
		for l, v := range after[i][family] {
			var b float64
			if i < len(before) && before[i] != nil {
				b = before[i][family][l]
			}
			if v-b != 0 {
				d[l] += v - b
			}
		}
	}
	return d
}

func formatLabels(m map[string]float64) string {
	if len(m) == 0 {
		return "none"
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		name := k
		if _, v, ok := strings.Cut(k, "="); ok {
			name = strings.Trim(v, `"`)
		}
		if name == "" {
			name = "total"
		}
		parts = append(parts, fmt.Sprintf("%s %.0f", name, m[k]))
	}
	return strings.Join(parts, ", ")
}
