package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// check is one smoke-test result.
type check struct {
	Name   string
	OK     bool
	Detail string
}

var smokeClient = &http.Client{Timeout: 10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(u string) (int, string, []byte, error) {
	resp, err := smokeClient.Get(u)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, resp.Header.Get("Content-Type"), b, err
}

type searchResult struct {
	Hits []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"hits"`
	Total    int    `json:"total"`
	Mode     string `json:"mode"`
	Degraded bool   `json:"degraded"`
}

func (r *searchResult) has(name string) bool {
	for _, h := range r.Hits {
		if h.Name == name {
			return true
		}
	}
	return false
}

func search(base, q string) (*searchResult, int, error) {
	code, _, b, err := get(base + "/api/v1/recipes?" + url.Values{"q": {q}}.Encode())
	if err != nil {
		return nil, 0, err
	}
	if code != http.StatusOK {
		return nil, code, fmt.Errorf("search %q: %d %s", q, code, truncate(string(b), 200))
	}
	var r searchResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, code, fmt.Errorf("search %q: %v", q, err)
	}
	return &r, code, nil
}

// smoke checks each replica's readiness and metrics, and the site through
// base (the proxy, or the one replica).
func smoke(base string, reps []*proc, hybrid bool) []check {
	var out []check
	add := func(name string, ok bool, format string, args ...any) {
		out = append(out, check{name, ok, fmt.Sprintf(format, args...)})
	}
	for _, r := range reps {
		s, code, checks := readyState("http://" + r.addr)
		want := []string{"store", "search_index"}
		if hybrid {
			want = append(want, "vector_index", "cache")
		}
		ok := code == http.StatusOK && strings.HasSuffix(s, " ok")
		for _, k := range want {
			if checks[k] != "ok" {
				ok = false
			}
		}
		add("readyz "+r.Name, ok, "%s (checks %v)", s, checks)

		code, _, b, err := get("http://" + r.metricsAddr + "/metrics")
		n := strings.Count(string(b), "\nflavormonk_")
		add("metrics "+r.Name, err == nil && code == 200 && n > 0, "private %s/metrics: %d, %d flavormonk_ samples%s", r.metricsAddr, code, n, errText(err))
		code, _, _, err = get("http://" + r.addr + "/metrics")
		add("no public metrics "+r.Name, err == nil && code != 200, "public /metrics: %d%s", code, errText(err))
	}

	res, code, err := search(base, "chicken")
	switch {
	case err != nil:
		add("search", false, "%v", err)
	default:
		ok := len(res.Hits) > 0 && !res.Degraded && (!hybrid || res.Mode == "hybrid")
		add("search", ok, "q=chicken: %d, %d hits, mode %q, degraded %v", code, res.Total, res.Mode, res.Degraded)
	}
	code, ct, b, err := get(base + "/?q=lentil")
	add("search page", err == nil && code == 200 && strings.HasPrefix(ct, "text/html"), "/?q=lentil: %d %s, %d bytes%s", code, ct, len(b), errText(err))

	if res != nil && len(res.Hits) > 0 {
		h := res.Hits[0]
		code, ct, b, err := get(base + "/recipes/" + url.PathEscape(h.ID))
		add("recipe page", err == nil && code == 200 && strings.HasPrefix(ct, "text/html") && strings.Contains(string(b), htmlEscape(h.Name)),
			"/recipes/%s: %d %s%s", h.ID, code, ct, errText(err))
		code, _, b, err = get(base + "/api/v1/recipes/" + url.PathEscape(h.ID))
		var rec struct {
			ID          string            `json:"id"`
			Ingredients []json.RawMessage `json:"ingredients"`
		}
		_ = json.Unmarshal(b, &rec)
		add("recipe API", err == nil && code == 200 && rec.ID == h.ID && len(rec.Ingredients) > 0,
			"/api/v1/recipes/%s: %d, %d ingredients%s", h.ID, code, len(rec.Ingredients), errText(err))
	} else {
		add("recipe page", false, "no search hit to open")
	}

	var pr struct {
		Hits  []json.RawMessage `json:"hits"`
		Total int               `json:"total"`
	}
	code, _, b, err = get(base + "/api/v1/pantry?have=egg,rice,onion,garlic")
	_ = json.Unmarshal(b, &pr)
	add("pantry API (GET)", err == nil && code == 200 && len(pr.Hits) > 0, "have=egg,rice,onion,garlic: %d, %d hits%s", code, pr.Total, errText(err))
	resp, err := smokeClient.Post(base+"/api/v1/pantry", "application/json", strings.NewReader(`{"have":["tomato","egg","onion"]}`))
	if err == nil {
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		pr.Hits = nil
		_ = json.Unmarshal(b, &pr)
		add("pantry API (POST)", resp.StatusCode == 200 && len(pr.Hits) > 0, "have tomato, egg, onion: %d, %d hits", resp.StatusCode, pr.Total)
	} else {
		add("pantry API (POST)", false, "%v", err)
	}
	return out
}

func errText(err error) string {
	if err != nil {
		return ": " + err.Error()
	}
	return ""
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// proxy is the scale phase's load balancer: round robin over the replicas,
// setting X-Forwarded-For as a real one does.
type proxy struct {
	srv    *http.Server
	url    string
	errors atomic.Int64
	served []atomic.Int64
}

func startProxy(reps []*proc) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{served: make([]atomic.Int64, len(reps))}
	targets := make([]*url.URL, len(reps))
	for i, r := range reps {
		targets[i] = &url.URL{Scheme: "http", Host: r.addr}
	}
	var next atomic.Uint64
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := int(next.Add(1) % uint64(len(targets)))
			p.served[i].Add(1)
			pr.SetURL(targets[i])
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		Transport: &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second,
			ResponseHeaderTimeout: 15 * time.Second},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.errors.Add(1)
			http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	p.url = "http://" + ln.Addr().String()
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}
