package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/config"
)

// testConfig is the local tier on a fresh SQLite file, on ephemeral ports.
func testConfig(t *testing.T, env map[string]string) *config.Config {
	t.Helper()
	m := map[string]string{
		"FLAVORMONK_ADDR":         "127.0.0.1:0",
		"FLAVORMONK_METRICS_ADDR": "127.0.0.1:0",
		"FLAVORMONK_SQLITE_PATH":  filepath.Join(t.TempDir(), "fm.db"),
		"FLAVORMONK_INDEX_POLL":   "100ms",
	}
	for k, v := range env {
		m[k] = v
	}
	cfg, err := config.Parse(func(k string) (string, bool) { v, ok := m[k]; return v, ok }, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startMain runs the real Main, changed by opts (a fixed Clock), until the
// test ends.
func startMain(t *testing.T, cfg *config.Config, opts ...func(*Main)) *Main {
	t.Helper()
	var logs bytes.Buffer
	m := NewMain(cfg, slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil)))
	for _, o := range opts {
		o(m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not stop after its context ended")
		}
		m.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	waitReady(t, m.URL())
	return m
}

type syncWriter struct {
	w  io.Writer
	mu chanMutex
}

type chanMutex struct{ c chan struct{} }

func (s *syncWriter) Write(p []byte) (int, error) {
	if s.mu.c == nil {
		s.mu.c = make(chan struct{}, 1)
	}
	s.mu.c <- struct{}{}
	defer func() { <-s.mu.c }()
	return s.w.Write(p)
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("server never became ready")
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, u string, body io.Reader, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, b}
}

func get(t *testing.T, u string) response { return do(t, "GET", u, nil, nil) }

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return v
}

type apiError struct {
	Error struct {
		Code, Message, Field string
	}
}

type searchResult struct {
	Hits []struct {
		ID           string
		Name         string
		TotalMinutes int `json:"total_minutes"`
		Diets        []string
	}
	Total      int
	NextCursor string `json:"next_cursor"`
	Facets     map[string][]struct {
		Value string
		Count int
	}
	Corrections map[string]string
}

func TestEndToEnd(t *testing.T) {
	m := startMain(t, testConfig(t, nil))
	base := m.URL()

	t.Run("healthz", func(t *testing.T) {
		r := get(t, base+"/healthz")
		h := decode[map[string]string](t, r)
		if r.status != 200 || h["version"] != flavormonk.BuildVersion() {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("readyz", func(t *testing.T) {
		r := get(t, base+"/readyz")
		var v struct {
			Status string
			Checks map[string]string
		}
		v = decode[struct {
			Status string
			Checks map[string]string
		}](t, r)
		if r.status != 200 || v.Checks["store"] != "ok" || v.Checks["search_index"] != "ok" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("bundled recipes are searchable", func(t *testing.T) {
		r := get(t, base+"/api/v1/recipes?q=chicken")
		res := decode[searchResult](t, r)
		if r.status != 200 || res.Total < 3 {
			t.Fatalf("chicken: %d total %d", r.status, res.Total)
		}
		typo := decode[searchResult](t, get(t, base+"/api/v1/recipes?q=chiken"))
		if typo.Total != res.Total || typo.Corrections["chiken"] != "chicken" {
			t.Fatalf("chiken: total %d (want %d), corrections %v", typo.Total, res.Total, typo.Corrections)
		}
	})
	t.Run("filters", func(t *testing.T) {
		res := decode[searchResult](t, get(t, base+"/api/v1/recipes?max_minutes=20&diet=vegetarian&limit=100"))
		if res.Total == 0 {
			t.Fatal("no quick vegetarian recipes")
		}
		for _, h := range res.Hits {
			if h.TotalMinutes > 20 || h.TotalMinutes == 0 {
				t.Fatalf("%s takes %d minutes", h.ID, h.TotalMinutes)
			}
			if !contains(h.Diets, "vegetarian") && !contains(h.Diets, "vegan") {
				t.Fatalf("%s is not vegetarian: %v", h.ID, h.Diets)
			}
		}
		if len(res.Facets["tag"]) == 0 || len(res.Facets["diet"]) == 0 {
			t.Fatalf("facets missing: %v", res.Facets)
		}
		inc := decode[searchResult](t, get(t, base+"/api/v1/recipes?include=egg&exclude=cheese&limit=100"))
		if inc.Total == 0 {
			t.Fatal("no recipe with eggs and without cheese")
		}
		for _, h := range inc.Hits {
			rec := decode[flavormonk.Recipe](t, get(t, base+"/api/v1/recipes/"+h.ID))
			hasEgg, hasCheese := false, false
			for _, i := range rec.Ingredients {
				l := strings.ToLower(i.Item)
				hasEgg = hasEgg || strings.Contains(l, "egg")
				hasCheese = hasCheese || strings.Contains(l, "cheese")
			}
			if !hasEgg || hasCheese {
				t.Fatalf("%s: egg=%v cheese=%v", h.ID, hasEgg, hasCheese)
			}
		}
	})
	t.Run("cursor pagination", func(t *testing.T) {
		seen := map[string]bool{}
		u := base + "/api/v1/recipes?limit=7"
		total := 0
		for i := 0; ; i++ {
			res := decode[searchResult](t, get(t, u))
			total = res.Total
			for _, h := range res.Hits {
				if seen[h.ID] {
					t.Fatalf("%s on two pages", h.ID)
				}
				seen[h.ID] = true
			}
			if res.NextCursor == "" {
				break
			}
			if i > 50 {
				t.Fatal("endless pages")
			}
			u = base + "/api/v1/recipes?limit=7&cursor=" + url.QueryEscape(res.NextCursor)
		}
		if len(seen) != total || total < 60 {
			t.Fatalf("paged %d of %d", len(seen), total)
		}
	})
	t.Run("recipe with etag and scaling", func(t *testing.T) {
		res := decode[searchResult](t, get(t, base+"/api/v1/recipes?q=pancake"))
		if len(res.Hits) == 0 {
			t.Skip("no pancakes bundled")
		}
		id := res.Hits[0].ID
		r := get(t, base+"/api/v1/recipes/"+id)
		if r.status != 200 || r.header.Get("ETag") == "" || !strings.Contains(r.header.Get("Cache-Control"), "max-age") {
			t.Fatalf("%d etag=%q cc=%q", r.status, r.header.Get("ETag"), r.header.Get("Cache-Control"))
		}
		r304 := do(t, "GET", base+"/api/v1/recipes/"+id, nil, map[string]string{"If-None-Match": r.header.Get("ETag")})
		if r304.status != 304 || len(r304.body) != 0 {
			t.Fatalf("conditional GET: %d", r304.status)
		}
		rec := decode[flavormonk.Recipe](t, r)
		if rec.Servings > 0 {
			scaled := decode[flavormonk.Recipe](t, get(t, fmt.Sprintf("%s/api/v1/recipes/%s?servings=%d", base, id, rec.Servings*2)))
			for i, ing := range rec.Ingredients {
				if ing.Quantity > 0 && scaled.Ingredients[i].Quantity != ing.Quantity*2 {
					t.Fatalf("%s scaled to %v", ing.Text, scaled.Ingredients[i].Quantity)
				}
			}
		}
	})
	t.Run("pantry", func(t *testing.T) {
		r := get(t, base+"/api/v1/pantry?have=eggs,rice,onion,garlic")
		var res struct {
			Hits []struct {
				ID       string
				Coverage float64
				Missing  []string
			}
			Total int
		}
		res = decode[struct {
			Hits []struct {
				ID       string
				Coverage float64
				Missing  []string
			}
			Total int
		}](t, r)
		if r.status != 200 || res.Total == 0 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		for i := 1; i < len(res.Hits); i++ {
			if res.Hits[i].Coverage > res.Hits[i-1].Coverage {
				t.Fatal("pantry hits not ranked by coverage")
			}
		}
		post := do(t, "POST", base+"/api/v1/pantry", strings.NewReader(`{"have":["eggs","rice"],"max_missing":5}`), map[string]string{"Content-Type": "application/json"})
		if post.status != 200 {
			t.Fatalf("POST pantry: %d %s", post.status, post.body)
		}
	})
	t.Run("gzip and security headers", func(t *testing.T) {
		r := do(t, "GET", base+"/api/v1/recipes?limit=50", nil, map[string]string{"Accept-Encoding": "gzip"})
		if r.header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("no gzip: %v", r.header)
		}
		zr, err := gzip.NewReader(bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "Referrer-Policy", "X-Request-Id"} {
			if r.header.Get(h) == "" {
				t.Errorf("missing %s", h)
			}
		}
	})
	t.Run("html pages", func(t *testing.T) {
		r := do(t, "GET", base+"/?q=curry&max_minutes=60", nil, map[string]string{"Accept": "text/html"})
		if r.status != 200 || !bytes.Contains(r.body, []byte(`class="hit"`)) {
			t.Fatalf("search page: %d", r.status)
		}
		ck := r.header.Get("Set-Cookie")
		if !strings.Contains(ck, visitorCookieName+"=") || !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Lax") {
			t.Fatalf("visitor cookie: %q", ck)
		}
		for _, p := range []string{"/pantry?have=eggs", "/about", "/pantry"} {
			if r := get(t, base+p); r.status != 200 {
				t.Errorf("%s: %d", p, r.status)
			}
		}
		nf := do(t, "GET", base+"/recipes/no-such-recipe", nil, map[string]string{"Accept": "text/html"})
		if nf.status != 404 || !bytes.Contains(nf.body, []byte("<html")) {
			t.Fatalf("missing recipe page: %d", nf.status)
		}
	})
	t.Run("metrics only on the private listener", func(t *testing.T) {
		if r := get(t, base+"/metrics"); r.status != 404 {
			t.Fatalf("public /metrics: %d", r.status)
		}
		r := get(t, "http://"+m.MetricsAddr()+"/metrics")
		if r.status != 200 || !bytes.Contains(r.body, []byte("flavormonk_http_requests_total")) || !bytes.Contains(r.body, []byte("flavormonk_search_index_recipes")) {
			t.Fatalf("metrics: %d", r.status)
		}
	})
	t.Run("index follows the store", func(t *testing.T) {
		r := &flavormonk.Recipe{ID: "zanzibar-pilau", Name: "Zanzibar Pilau", Servings: 4,
			Ingredients: []flavormonk.Ingredient{{Text: "2 cups basmati rice", Quantity: 2, Unit: "cup", Item: "basmati rice"}},
			Steps:       []flavormonk.Step{{Text: "Cook the rice with the spices."}}}
		if _, err := m.Store.UpsertRecipes(context.Background(), []*flavormonk.Recipe{r}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			res := decode[searchResult](t, get(t, base+"/api/v1/recipes?q=zanzibar"))
			if res.Total == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("new recipe not searchable within 5s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err := m.Store.DeleteRecipe(context.Background(), "zanzibar-pilau"); err != nil {
			t.Fatal(err)
		}
		for {
			if res := decode[searchResult](t, get(t, base+"/api/v1/recipes?q=zanzibar")); res.Total == 0 {
				break
			}
			if time.Now().After(deadline.Add(5 * time.Second)) {
				t.Fatal("deleted recipe still found")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

const visitorCookieName = "fm_visitor"

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Every bad input gets a 4xx with a stable code, and nothing stored changes.
func TestBadInput(t *testing.T) {
	m := startMain(t, testConfig(t, nil))
	base := m.URL()
	ctx := context.Background()
	revBefore, _ := m.Store.Revision(ctx)
	countBefore, _ := m.Store.CountRecipes(ctx)
	long := strings.Repeat("a", 10*1024)
	cases := []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"negative limit", "GET", "/api/v1/recipes?limit=-1", "", 400, "invalid", "limit"},
		{"zero limit", "GET", "/api/v1/recipes?limit=0", "", 400, "invalid", "limit"},
		{"huge limit", "GET", "/api/v1/recipes?limit=100000000000000000000", "", 400, "invalid", "limit"},
		{"limit text", "GET", "/api/v1/recipes?limit=ten", "", 400, "invalid", "limit"},
		{"malformed cursor", "GET", "/api/v1/recipes?cursor=%%%", "", 400, "invalid", ""},
		{"garbage cursor", "GET", "/api/v1/recipes?cursor=bm90LWEtY3Vyc29y", "", 400, "invalid", "cursor"},
		{"unknown diet", "GET", "/api/v1/recipes?diet=carnivore", "", 400, "invalid", "diet"},
		{"max_minutes text", "GET", "/api/v1/recipes?max_minutes=abc", "", 400, "invalid", "max_minutes"},
		{"max_minutes negative", "GET", "/api/v1/recipes?max_minutes=-5", "", 400, "invalid", "max_minutes"},
		{"10 KB query string", "GET", "/api/v1/recipes?q=" + long, "", 413, "too_large", ""},
		{"invalid utf-8", "GET", "/api/v1/recipes?q=%ff%fe", "", 400, "invalid", "q"},
		{"unknown recipe", "GET", "/api/v1/recipes/no-such-recipe", "", 404, "not_found", ""},
		{"recipe id with syntax", "GET", "/api/v1/recipes/%27%3B%20DROP%20TABLE%20recipes", "", 404, "not_found", "id"},
		{"unknown endpoint", "GET", "/api/v1/nope", "", 404, "not_found", ""},
		{"wrong method", "DELETE", "/api/v1/recipes", "", 405, "method_not_allowed", ""},
		{"pantry without have", "GET", "/api/v1/pantry", "", 400, "invalid", "have"},
		{"pantry malformed json", "POST", "/api/v1/pantry", `{"have": [`, 400, "invalid", ""},
		{"pantry unknown member", "POST", "/api/v1/pantry", `{"have":["egg"],"drop":1}`, 400, "invalid", ""},
		{"pantry wrong type", "POST", "/api/v1/pantry", `{"have":"egg"}`, 400, "invalid", ""},
		{"pantry two objects", "POST", "/api/v1/pantry", `{"have":["egg"]}{}`, 400, "invalid", ""},
		{"pantry huge body", "POST", "/api/v1/pantry", `{"have":["` + strings.Repeat("x", 2<<20) + `"]}`, 413, "too_large", ""},
		{"servings zero", "GET", "/api/v1/recipes/" + anyID(t, base) + "?servings=0", "", 400, "invalid", "servings"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			hdr := map[string]string{}
			if tc.body != "" {
				body = strings.NewReader(tc.body)
				hdr["Content-Type"] = "application/json"
			}
			r := do(t, tc.method, base+tc.path, body, hdr)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			e := decode[apiError](t, r)
			if e.Error.Code != tc.code || e.Error.Message == "" || (tc.field != "" && e.Error.Field != tc.field) {
				t.Fatalf("error %+v, want code %s field %s", e.Error, tc.code, tc.field)
			}
		})
	}
	for _, q := range []string{`"chicken`, "chick*", "chicken NEAR rice", "'; DROP TABLE recipes; --", "%00", "()"} {
		if r := get(t, base+"/api/v1/recipes?q="+url.QueryEscape(q)); r.status != 200 {
			t.Errorf("%q: %d %s", q, r.status, r.body)
		}
	}
	revAfter, _ := m.Store.Revision(ctx)
	countAfter, _ := m.Store.CountRecipes(ctx)
	if revAfter != revBefore || countAfter != countBefore {
		t.Fatalf("bad input changed the store: revision %d→%d, recipes %d→%d", revBefore, revAfter, countBefore, countAfter)
	}
}

func anyID(t *testing.T, base string) string {
	res := decode[searchResult](t, get(t, base+"/api/v1/recipes?limit=1"))
	return res.Hits[0].ID
}

// X-Forwarded-For counts only from a trusted proxy: a client cannot dodge
// the rate limit by inventing addresses.
func TestClientIPAndRateLimit(t *testing.T) {
	t.Run("untrusted peer", func(t *testing.T) {
		m := startMain(t, testConfig(t, map[string]string{"FLAVORMONK_RATE_LIMIT": "12"}))
		limited := 0
		for i := 0; i < 40; i++ {
			r := do(t, "GET", m.URL()+"/api/v1/recipes?limit=1", nil, map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i)})
			if r.status == 429 {
				limited++
				if e := decode[apiError](t, r); e.Error.Code != "rate_limited" || r.header.Get("Retry-After") == "" {
					t.Fatalf("429 body %s", r.body)
				}
			}
		}
		if limited == 0 {
			t.Fatal("spoofed X-Forwarded-For escaped the rate limit")
		}
	})
	t.Run("trusted proxy", func(t *testing.T) {
		m := startMain(t, testConfig(t, map[string]string{"FLAVORMONK_RATE_LIMIT": "12", "FLAVORMONK_TRUSTED_PROXIES": "127.0.0.1/32"}))
		for i := 0; i < 40; i++ {
			r := do(t, "GET", m.URL()+"/api/v1/recipes?limit=1", nil, map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i)})
			if r.status != 200 {
				t.Fatalf("request %d from distinct client behind a trusted proxy: %d", i, r.status)
			}
		}
	})
}

func TestUnknownInferenceProviderIsRefused(t *testing.T) {
	_, err := config.Parse(func(k string) (string, bool) {
		if k == "FLAVORMONK_INFERENCE" {
			return "openai,gpt-5", true
		}
		return "", false
	}, os.ReadFile)
	if flavormonk.ErrorCode(err) != flavormonk.EINVALID || !strings.Contains(err.Error(), "FLAVORMONK_INFERENCE") || !strings.Contains(err.Error(), "replicate") {
		t.Fatalf("err = %v: want EINVALID naming the variable and the allowed providers", err)
	}
}

func TestCLI(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &errb); err != nil || !strings.Contains(out.String(), flavormonk.BuildVersion()) {
		t.Fatalf("version: %v %q", err, out.String())
	}
	out.Reset()
	t.Setenv("FLAVORMONK_POSTGRES_URL", "postgres://u:hunter2@db/fm")
	if err := run(context.Background(), []string{"config"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "hunter2") || !strings.Contains(out.String(), "FLAVORMONK_POSTGRES_URL=[redacted]") {
		t.Fatalf("config output leaks or lacks the secret marker:\n%s", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"config", "-vars"}, &out, &errb); err != nil || !strings.Contains(out.String(), "allowed: sqlite, postgres") {
		t.Fatalf("config -vars: %v", err)
	}
	if err := run(context.Background(), []string{"frobnicate"}, &out, &errb); err == nil {
		t.Fatal("unknown command accepted")
	}
	t.Setenv("FLAVORMONK_STORE", "mysql")
	err := run(context.Background(), []string{"config"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "FLAVORMONK_STORE") || !strings.Contains(err.Error(), "allowed: sqlite, postgres") {
		t.Fatalf("bad store: %v", err)
	}
}

func TestImportCLI(t *testing.T) {
	t.Setenv("FLAVORMONK_SQLITE_PATH", filepath.Join(t.TempDir(), "import.db"))
	ctx := context.Background()
	var out, errb bytes.Buffer
	file := filepath.Join("..", "..", "jsonld", "testdata", "array.json")
	if err := run(ctx, []string{"import", file}, &out, &errb); err != nil {
		t.Fatalf("import: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "created") {
		t.Fatalf("first import report:\n%s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"import", file}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "0 created, 0 updated, 2 unchanged") {
		t.Fatalf("re-import is not idempotent:\n%s", out.String())
	}
	for _, u := range []string{"http://127.0.0.1/recipe", "http://169.254.169.254/latest/meta-data/", "http://[::1]/x", "http://localhost:8080/"} {
		out.Reset()
		err := run(ctx, []string{"import", u}, &out, &errb)
		// One refused URL is one item not imported, not two.
		if err == nil || !strings.Contains(out.String(), "forbidden") || err.Error() != "1 item not imported; see the report above" {
			t.Fatalf("%s: err=%v report:\n%s", u, err, out.String())
		}
	}
	out.Reset()
	err := run(ctx, []string{"import", filepath.Join("..", "..", "jsonld", "testdata", "malformed.json")}, &out, &errb)
	if err == nil || !strings.Contains(out.String(), "malformed.json") {
		t.Fatalf("malformed file: err=%v report:\n%s", err, out.String())
	}
	if err := run(ctx, []string{"import"}, &out, &errb); err == nil {
		t.Fatal("import without arguments accepted")
	}
}
