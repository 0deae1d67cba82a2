package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// steadyLoad sends requests at a constant rate (open loop: a slow answer
// does not slow the next request down) to base until stopped, and records
// every answer: a failure is any non-2xx or a request without an answer.
// Every other request is /healthz, whose body names the version that
// answered; the rest are real work from the rehearsal's request mix.
type steadyLoad struct {
	base  string
	rate  int
	paths []string
	now   flavormonk.Clock

	mu       sync.Mutex
	start    time.Time
	end      time.Time
	requests int
	failed   int
	okTimes  []time.Time
	versions map[string]int
	order    []string // versions in the order they first answered
	examples []string
	lat      []time.Duration
}

type gap struct {
	D        time.Duration
	From, To time.Duration // offsets from the start of the load
}

func newSteadyLoad(base string, rate int, paths []string, now flavormonk.Clock) *steadyLoad {
	return &steadyLoad{base: base, rate: rate, paths: paths, now: now, versions: map[string]int{}}
}

// run sends until ctx ends, then waits for the answers still due.
func (l *steadyLoad) run(ctx context.Context) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	every := time.Second / time.Duration(l.rate)
	tick := time.NewTicker(every)
	defer tick.Stop()
	var wg sync.WaitGroup
	l.mu.Lock()
	l.start = l.now.Now()
	l.mu.Unlock()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			l.mu.Lock()
			l.end = l.now.Now()
			l.mu.Unlock()
			return
		case <-tick.C:
		}
		path := "/healthz"
		if i%2 == 1 {
			path = l.paths[(i/2)%len(l.paths)]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.one(client, path)
		}()
	}
}

func (l *steadyLoad) one(client *http.Client, path string) {
	t0 := l.now.Now()
	// Not the run's context: a request sent is always answered or failed.
	req, _ := http.NewRequest(http.MethodGet, l.base+path, nil)
	resp, err := client.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	t1 := l.now.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests++
	l.lat = append(l.lat, t1.Sub(t0))
	switch {
	case err != nil:
		l.failed++
		l.example(fmt.Sprintf("t=%.2fs GET %s: %v", t0.Sub(l.start).Seconds(), path, err))
		return
	case resp.StatusCode/100 != 2:
		l.failed++
		l.example(fmt.Sprintf("t=%.2fs GET %s: %d %s", t0.Sub(l.start).Seconds(), path, resp.StatusCode, truncate(string(body), 120)))
		return
	}
	l.okTimes = append(l.okTimes, t1)
	if path == "/healthz" {
		var h struct {
			Version string `json:"version"`
		}
		if json.Unmarshal(body, &h) == nil {
			if _, seen := l.versions[h.Version]; !seen {
				l.order = append(l.order, h.Version)
			}
			l.versions[h.Version]++
		}
	}
}

func (l *steadyLoad) example(s string) {
	if len(l.examples) < 8 {
		l.examples = append(l.examples, s)
	}
}

// longestGap is the longest time without a successful answer, counting
// from the start of the load to the first one and from the last one to
// the end.
func (l *steadyLoad) longestGap() gap {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := append([]time.Time(nil), l.okTimes...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	ts = append(append([]time.Time{l.start}, ts...), l.end)
	var g gap
	for i := 1; i < len(ts); i++ {
		if d := ts[i].Sub(ts[i-1]); d > g.D {
			g = gap{D: d, From: ts[i-1].Sub(l.start), To: ts[i].Sub(l.start)}
		}
	}
	return g
}

// result is the load's figures.
func (l *steadyLoad) result(name string) loadResult {
	g := l.longestGap()
	l.mu.Lock()
	defer l.mu.Unlock()
	r := loadResult{Name: name, Base: l.base, Rate: l.rate, Requests: l.requests, Failed: l.failed, Gap: g,
		Seconds: l.end.Sub(l.start).Seconds(), Examples: append([]string(nil), l.examples...)}
	for _, v := range l.order {
		r.Versions = append(r.Versions, versionCount{Version: v, Answers: l.versions[v]})
	}
	s := &Stats{Lat: append([]time.Duration(nil), l.lat...)}
	r.P50, r.P99, r.Max = s.pct(.5), s.pct(.99), s.pct(1)
	return r
}

type versionCount struct {
	Version string
	Answers int
}

type loadResult struct {
	Name          string
	Base          string
	Rate          int
	Seconds       float64
	Requests      int
	Failed        int
	Gap           gap
	Versions      []versionCount
	P50, P99, Max time.Duration
	Examples      []string
	Steps         []step
	Final         []string // what each unit runs at the end: "app-1 blue rehearse-v2"
}

// step is one thing the rehearsal did during the load.
type step struct {
	Name string
	At   time.Duration
	Took time.Duration
	Err  error
	Out  string
	// WantFail: the deploy of a broken image, which must fail.
	WantFail bool
}
