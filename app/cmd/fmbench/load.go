package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LoadResult is one measured run of the load generator.
type LoadResult struct {
	Requests      int64   `json:"requests"`
	Seconds       float64 `json:"seconds"`
	RPS           float64 `json:"rps"`
	P50ms         float64 `json:"p50_ms"`
	P90ms         float64 `json:"p90_ms"`
	P99ms         float64 `json:"p99_ms"`
	MaxMs         float64 `json:"max_ms"`
	Errors        int64   `json:"errors"`     // connect/read/write errors and timeouts
	BadStatus     int64   `json:"bad_status"` // responses that were not 2xx
	ServerCPU     float64 `json:"server_cpu_cores"`
	BytesPerReply float64 `json:"bytes_per_reply"`
}

// The wrk script cycles through a file of request paths, each thread from
// its own offset, and prints the summary as one JSON line in done().
const wrkScript = `
local file = %q
local nextid = 1
function setup(thread)
  thread:set("id", nextid)
  nextid = nextid + 1
end
function init(args)
  paths = {}
  for line in io.lines(file) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  i = ((id or 1) - 1) * math.floor(#paths / 7)
end
function request()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('FMBENCH {"requests":%%d,"duration_us":%%d,"bytes":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d,"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
`

type loader struct {
	kind        string // "wrk" or "go"
	dir         string
	connections int
	threads     int
}

// run loads base+paths for d, after an unmeasured warm-up. pid is the
// server's, for its CPU use.
func (l *loader) run(ctx context.Context, base, pathsFile string, pid int, warmup, d time.Duration) (*LoadResult, error) {
	if warmup > 0 {
		if _, err := l.once(ctx, base, pathsFile, warmup); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	c0 := cpuTime(pid)
	t0 := time.Now()
	r, err := l.once(ctx, base, pathsFile, d)
	if err != nil {
		return nil, err
	}
	r.ServerCPU = (cpuTime(pid) - c0).Seconds() / time.Since(t0).Seconds()
	return r, nil
}

func (l *loader) once(ctx context.Context, base, pathsFile string, d time.Duration) (*LoadResult, error) {
	if l.kind == "go" {
		return goLoad(ctx, base, pathsFile, l.connections, d)
	}
	script := filepath.Join(l.dir, "fmbench.lua")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(wrkScript, pathsFile)), 0o644); err != nil {
		return nil, err
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, "wrk", "-t", strconv.Itoa(l.threads), "-c", strconv.Itoa(l.connections),
		"-d", fmt.Sprintf("%ds", secs), "--timeout", "5s", "--latency", "-s", script, base)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("wrk: %v: %s", err, out)
	}
	var line string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "FMBENCH ") {
			line = strings.TrimPrefix(l, "FMBENCH ")
		}
	}
	if line == "" {
		return nil, fmt.Errorf("wrk printed no summary: %s", out)
	}
	raw := map[string]int64{}
	if err := json.Unmarshal([]byte(line), &raw); err != nil {
		return nil, fmt.Errorf("wrk summary %q: %v", line, err)
	}
	r := &LoadResult{
		Requests:  raw["requests"],
		Seconds:   float64(raw["duration_us"]) / 1e6,
		P50ms:     float64(raw["p50_us"]) / 1e3,
		P90ms:     float64(raw["p90_us"]) / 1e3,
		P99ms:     float64(raw["p99_us"]) / 1e3,
		MaxMs:     float64(raw["max_us"]) / 1e3,
		Errors:    raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
		BadStatus: raw["status"],
	}
	// wrk counts HTTP statuses above 399 as status errors; "Non-2xx or 3xx
	// responses" in its text output says the same.
	if i := strings.Index(string(out), "Non-2xx or 3xx responses:"); i >= 0 {
		f := strings.Fields(string(out)[i+len("Non-2xx or 3xx responses:"):])
		if len(f) > 0 {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil && n > r.BadStatus {
				r.BadStatus = n
			}
		}
	}
	if r.Seconds > 0 {
		r.RPS = float64(r.Requests) / r.Seconds
	}
	if r.Requests > 0 {
		r.BytesPerReply = float64(raw["bytes"]) / float64(r.Requests)
	}
	return r, nil
}

// goLoad is the fallback load generator: one goroutine per connection,
// keep-alive, each cycling through the paths.
func goLoad(ctx context.Context, base, pathsFile string, conns int, d time.Duration) (*LoadResult, error) {
	b, err := os.ReadFile(pathsFile)
	if err != nil {
		return nil, err
	}
	paths := strings.Fields(string(b))
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu        sync.Mutex
		lat       []time.Duration
		errs, bad int64
		nbytes    int64
		wg        sync.WaitGroup
	)
	t0 := time.Now()
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var my []time.Duration
			var myErr, myBad, myBytes int64
			for i := w * len(paths) / conns; ctx.Err() == nil; i++ {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+paths[i%len(paths)], nil)
				s := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						myErr++
					}
					continue
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				my = append(my, time.Since(s))
				myBytes += n
				if resp.StatusCode < 200 || resp.StatusCode > 299 {
					myBad++
				}
			}
			mu.Lock()
			lat = append(lat, my...)
			errs, bad, nbytes = errs+myErr, bad+myBad, nbytes+myBytes
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	el := time.Since(t0).Seconds()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / 1e6
	}
	r := &LoadResult{Requests: int64(len(lat)), Seconds: el, RPS: float64(len(lat)) / el,
		P50ms: pct(0.50), P90ms: pct(0.90), P99ms: pct(0.99), MaxMs: pct(1), Errors: errs, BadStatus: bad}
	if len(lat) > 0 {
		r.BytesPerReply = float64(nbytes) / float64(len(lat))
	}
	return r, nil
}
