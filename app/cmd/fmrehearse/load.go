package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// workload is the request mix: search queries drawn from the bundled
// recipes' words (some with filters, some misspelt), search pages, recipe
// pages and API, and pantry queries.
func workload(rs []*flavormonk.Recipe, n int, seed uint64) []string {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	stop := map[string]bool{"and": true, "with": true, "the": true, "for": true, "of": true, "in": true, "a": true, "or": true}
	var words, items []string
	seen := map[string]bool{}
	add := func(list *[]string, s string) {
		for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) }) {
			if len(w) >= 3 && !stop[w] && !seen[w] {
				seen[w] = true
				*list = append(*list, w)
			}
		}
	}
	for _, r := range rs {
		add(&words, r.Name)
		add(&words, r.Cuisine)
		for _, t := range r.Tags {
			add(&words, t)
		}
		for _, in := range r.Ingredients {
			if in.Item != "" {
				it := strings.ToLower(in.Item)
				if !seen["item:"+it] {
					seen["item:"+it] = true
					items = append(items, it)
				}
				add(&words, in.Item)
			}
		}
	}
	if len(words) == 0 || len(items) == 0 || len(rs) == 0 {
		return []string{"/api/v1/recipes?q=chicken"}
	}
	typo := func(w string) string {
		b := []rune(w)
		if len(b) < 5 {
			return w
		}
		i := 1 + rng.IntN(len(b)-2)
		b[i], b[i+1] = b[i+1], b[i]
		return string(b)
	}
	// Zipf-like: earlier words (names, cuisines) are drawn more often.
	word := func() string {
		i := int(float64(len(words)) * rng.Float64() * rng.Float64())
		return words[i]
	}
	diets := []string{"vegetarian", "vegan", "gluten-free", "dairy-free"}
	query := func() url.Values {
		v := url.Values{}
		switch k := rng.IntN(10); {
		case k < 5:
			v.Set("q", word())
		case k < 8:
			v.Set("q", word()+" "+word())
		case k < 9:
			v.Set("q", strings.ToLower(rs[rng.IntN(len(rs))].Name))
		default:
			v.Set("q", typo(word()))
		}
		switch rng.IntN(9) {
		case 0:
			v.Set("diet", diets[rng.IntN(len(diets))])
		case 1:
			v.Set("max_minutes", fmt.Sprint([]int{20, 30, 45, 60}[rng.IntN(4)]))
		case 2:
			v.Set("exclude", items[rng.IntN(len(items))])
		}
		return v
	}
	out := make([]string, 0, n)
	for len(out) < n {
		switch k := rng.IntN(20); {
		case k < 14: // search API
			out = append(out, "/api/v1/recipes?"+query().Encode())
		case k < 16: // search page
			out = append(out, "/?"+query().Encode())
		case k < 17:
			out = append(out, "/recipes/"+rs[rng.IntN(len(rs))].ID)
		case k < 18:
			out = append(out, "/api/v1/recipes/"+rs[rng.IntN(len(rs))].ID)
		default: // pantry
			have := make([]string, 2+rng.IntN(4))
			for i := range have {
				have[i] = items[rng.IntN(len(items))]
			}
			out = append(out, "/api/v1/pantry?"+url.Values{"have": {strings.Join(have, ",")}}.Encode())
		}
	}
	return out
}

// window is a stretch of the load: all backends up, Redis stopped, Redis
// and Chroma stopped.
type window int32

const (
	winAllUp window = iota
	winNoRedis
	winNoChroma
	nWindows
)

func (w window) String() string {
	return [...]string{"all backends up", "Redis stopped", "Redis + Chroma stopped"}[w]
}

// Stats are the responses of one window (or all).
type Stats struct {
	Requests  int
	Class     [6]int // 1xx..5xx by first digit; [0] transport errors
	Degraded  int    // search API responses marked "degraded":true
	Lat       []time.Duration
	Seconds   float64
	Examples5 []string // a few 4xx/5xx or failed requests, for the report
}

func (s *Stats) add(o *Stats) {
	s.Requests += o.Requests
	for i := range s.Class {
		s.Class[i] += o.Class[i]
	}
	s.Degraded += o.Degraded
	s.Lat = append(s.Lat, o.Lat...)
	if len(s.Examples5) < 5 {
		s.Examples5 = append(s.Examples5, o.Examples5...)
	}
}

func (s *Stats) pct(p float64) time.Duration {
	if len(s.Lat) == 0 {
		return 0
	}
	sort.Slice(s.Lat, func(i, j int) bool { return s.Lat[i] < s.Lat[j] })
	return s.Lat[min(len(s.Lat)-1, int(p*float64(len(s.Lat))))]
}

// load runs conns workers against base for d, cycling through paths. Each
// response is recorded in the window that was current when it was sent;
// events run at their offsets and advance the window.
type event struct {
	at   time.Duration
	win  window
	name string
	do   func() (time.Duration, error)
}

type eventResult struct {
	Name    string
	At      time.Duration
	Took    time.Duration
	Err     error
	Skipped bool
}

func runLoad(ctx context.Context, base string, paths []string, conns int, d time.Duration, events []event, cur *atomic.Int32) ([nWindows]*Stats, []eventResult, time.Duration) {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	lctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()

	var stats [nWindows]*Stats
	for i := range stats {
		stats[i] = &Stats{}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	t0 := time.Now()
	winStart := [nWindows]time.Time{t0}
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var mine [nWindows]Stats
			buf := bytes.Buffer{}
			for i := w * len(paths) / conns; lctx.Err() == nil; i++ {
				path := paths[i%len(paths)]
				win := window(cur.Load())
				st := &mine[win]
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
				req.Header.Set("Accept-Encoding", "identity")
				s := time.Now()
				resp, err := client.Do(req)
				if err != nil && ctx.Err() != nil {
					break // interrupted: not the app's failure
				}
				if err != nil {
					st.Requests++
					st.Class[0]++
					st.Lat = append(st.Lat, time.Since(s))
					if len(st.Examples5) < 3 {
						st.Examples5 = append(st.Examples5, fmt.Sprintf("GET %s: %v", path, err))
					}
					continue
				}
				buf.Reset()
				_, _ = io.Copy(&buf, resp.Body)
				resp.Body.Close()
				st.Lat = append(st.Lat, time.Since(s))
				st.Requests++
				c := resp.StatusCode / 100
				if c < 1 || c > 5 {
					c = 5
				}
				st.Class[c]++
				if c >= 4 && len(st.Examples5) < 3 {
					st.Examples5 = append(st.Examples5, fmt.Sprintf("GET %s: %d %s", path, resp.StatusCode, truncate(buf.String(), 200)))
				}
				if strings.HasPrefix(path, "/api/v1/recipes?") && bytes.Contains(buf.Bytes(), []byte(`"degraded":true`)) {
					st.Degraded++
				}
			}
			mu.Lock()
			for i := range mine {
				stats[i].add(&mine[i])
			}
			mu.Unlock()
		}(w)
	}

	var results []eventResult
	for _, ev := range events {
		select {
		case <-lctx.Done():
			results = append(results, eventResult{Name: ev.name, At: ev.at, Skipped: true})
			continue
		case <-time.After(time.Until(t0.Add(ev.at))):
		}
		at := time.Since(t0)
		// Responses sent from the moment the service is being stopped
		// belong to the outage.
		cur.Store(int32(ev.win))
		winStart[ev.win] = time.Now()
		took, err := ev.do()
		results = append(results, eventResult{Name: ev.name, At: at, Took: took, Err: err})
	}
	wg.Wait()
	end := time.Now()
	for i := window(0); i < nWindows; i++ {
		if winStart[i].IsZero() {
			continue
		}
		next := end
		for j := i + 1; j < nWindows; j++ {
			if !winStart[j].IsZero() {
				next = winStart[j]
				break
			}
		}
		stats[i].Seconds = next.Sub(winStart[i]).Seconds()
	}
	return stats, results, end.Sub(t0)
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
