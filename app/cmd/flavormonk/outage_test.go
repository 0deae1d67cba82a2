package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
)

var (
	csrfRE  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	tokenRE = regexp.MustCompile(`<code id="new-token">(fm_[^<]+)</code>`)
)

// lockedLog is a log the test reads while the server writes it.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// client is a browser-like client of the app: cookies, HTML, forms.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) do(method, path, ctype string, body io.Reader, hdr map[string]string) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, b}
}

func (c *client) csrf(path string) string {
	c.t.Helper()
	r := c.do("GET", path, "", nil, nil)
	m := csrfRE.FindSubmatch(r.body)
	if m == nil {
		c.t.Fatalf("GET %s: %d, no CSRF token", path, r.status)
	}
	return string(m[1])
}

func (c *client) post(path string, form url.Values) response {
	c.t.Helper()
	return c.do("POST", path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), nil)
}

// TestStoreOutage stops the app's Postgres under load: every route that
// needs the store answers 503 unavailable (a page for browsers), never 500
// and never cacheable; the outage is logged once, not per request; and the
// app recovers when the database is back, without a restart.
func TestStoreOutage(t *testing.T) {
	pg := servicetest.StartOwnPostgres(t)
	cfg := testConfig(t, map[string]string{"FLAVORMONK_STORE": "postgres", "FLAVORMONK_POSTGRES_URL": pg.URL, "FLAVORMONK_RATE_LIMIT": "0"})
	logs := &lockedLog{}
	m := NewMain(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-ran
		m.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	waitReady(t, m.URL())
	id := anyID(t, m.URL())

	// A user with a session, an API token, and a visitor on the log-in form.
	user := newClient(t, m.URL())
	if r := user.post("/signup", url.Values{"email": {"cook@example.com"}, "password": {"correct horse battery"}, "csrf": {user.csrf("/signup")}}); r.status >= 400 {
		t.Fatalf("signup: %d %s", r.status, r.body)
	}
	accountCSRF := user.csrf("/account")
	r := user.post("/account/tokens", url.Values{"name": {"t"}, "scope": {"read"}, "csrf": {accountCSRF}})
	tm := tokenRE.FindSubmatch(r.body)
	if tm == nil {
		t.Fatalf("create token: %d %s", r.status, r.body)
	}
	bearer := map[string]string{"Authorization": "Bearer " + string(tm[1])}
	visitor := newClient(t, m.URL())
	loginCSRF := visitor.csrf("/login")

	// Light concurrent load through the outage: any 500 fails the test.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	var fivehundreds []string
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := []string{"/api/v1/recipes/" + id, "/recipes/" + id, "/api/v1/recipes?q=chicken", "/readyz"}[i]
			for !stop.Load() {
				res, err := http.Get(m.URL() + path)
				if err != nil {
					continue
				}
				res.Body.Close()
				if res.StatusCode >= 500 && res.StatusCode != http.StatusServiceUnavailable {
					mu.Lock()
					fivehundreds = append(fivehundreds, path+": "+res.Status)
					mu.Unlock()
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	pg.Stop(t)
	time.Sleep(300 * time.Millisecond)

	type check struct {
		name, method, path, ctype, body string
		c                               *client
		hdr                             map[string]string
		html                            bool
	}
	anon := newClient(t, m.URL())
	for _, ck := range []check{
		{name: "recipe page", method: "GET", path: "/recipes/" + id, c: anon, html: true},
		{name: "recipe API", method: "GET", path: "/api/v1/recipes/" + id, c: anon},
		{name: "account page", method: "GET", path: "/account", c: user, html: true},
		{name: "token creation", method: "POST", path: "/account/tokens", c: user, html: true, ctype: "application/x-www-form-urlencoded",
			body: url.Values{"name": {"t2"}, "scope": {"read"}, "csrf": {accountCSRF}}.Encode()},
		{name: "favourites API", method: "GET", path: "/api/v1/favourites", c: anon, hdr: bearer},
		{name: "favourite toggle", method: "POST", path: "/recipes/" + id + "/favourite", c: user, html: true, ctype: "application/x-www-form-urlencoded",
			body: url.Values{"csrf": {accountCSRF}}.Encode()},
		{name: "log-in", method: "POST", path: "/login", c: visitor, html: true, ctype: "application/x-www-form-urlencoded",
			body: url.Values{"email": {"cook@example.com"}, "password": {"correct horse battery"}, "csrf": {loginCSRF}}.Encode()},
		{name: "ask", method: "POST", path: "/api/v1/ask", c: anon, ctype: "application/json", body: `{"question":"How do I make red lentil dal?"}`},
		{name: "readiness", method: "GET", path: "/readyz", c: anon},
	} {
		r := ck.c.do(ck.method, ck.path, ck.ctype, strings.NewReader(ck.body), ck.hdr)
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("%s with the database down: %d %.300s", ck.name, r.status, r.body)
			continue
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", ck.name, cc)
		}
		switch {
		case ck.path == "/readyz":
		case ck.html:
			if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.body), "try again") {
				t.Errorf("%s: not a readable error page: %s %.300s", ck.name, r.header.Get("Content-Type"), r.body)
			}
		default:
			var e apiError
			if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code != flavormonk.EUNAVAILABLE {
				t.Errorf("%s: %s, want code %s", ck.name, r.body, flavormonk.EUNAVAILABLE)
			}
		}
	}
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if len(fivehundreds) > 0 {
		t.Errorf("%d server errors under load during the outage, e.g. %v", len(fivehundreds), fivehundreds[0])
	}
	// The outage is logged where it is noticed, once: by the web server
	// (requests) and by the search index's poll; nothing per request.
	var storeLines, loud []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
			loud = append(loud, l)
			if strings.Contains(l, "store unreachable") {
				storeLines = append(storeLines, l)
			}
		}
	}
	if len(storeLines) != 1 || len(loud) > 3 {
		t.Errorf("%d warnings and errors, %d about the store being unreachable; want a couple, one of them that:\n%s",
			len(loud), len(storeLines), strings.Join(loud, "\n"))
	}

	pg.Start(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		// Load balancers keep probing /readyz, which notices the recovery.
		a, p := get(t, m.URL()+"/api/v1/recipes/"+id), get(t, m.URL()+"/readyz")
		logged := strings.Contains(logs.String(), "store reachable again")
		if a.status == 200 && p.status == 200 && logged {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not recovered 15s after the database came back: recipe %d, readyz %d %s, recovery logged: %v", a.status, p.status, p.body, logged)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := user.do("GET", "/account", "", nil, nil); r.status != 200 {
		t.Fatalf("account after recovery: %d", r.status)
	}
}
