package web

import (
	"context"
	"html"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/assistant"
	"github.com/flavormonk/flavormonk/app/inference/offline"
)

// Every page answers a bad query string as the API does (the classes of
// cmd/flavormonk TestBadInput): 400, or 413 for an oversized query string,
// with the page's form shown again and the message, never a 500.
func TestPagesRefuseBadQueries(t *testing.T) {
	env := newAccEnvWith(t, nil, func(o *Options) {
		useAssistant(t, o, assistant.Options{CacheTTL: time.Minute}, 100, 0, offline.Provider{})
	})
	admin := env.browser(t)
	admin.signup("admin@example.com")
	if err := env.st.SetRole(context.Background(), env.user(t, "admin@example.com").ID, flavormonk.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	recipe := "/recipes/" + env.recipes[0].ID

	type class struct {
		name, query string
		status      int
		message     string // part of the message the page must show
	}
	// Classes every page gets: the query string itself is refused.
	generic := []class{
		{"malformed query string", "x=%%%", 400, "malformed"},
		{"10 KB query string", "q=" + strings.Repeat("a", 10*1024), 413, "longer than"},
	}
	searchLike := []class{
		{"negative limit", "limit=-1", 400, "limit"},
		{"zero limit", "limit=0", 400, "limit"},
		{"huge limit", "limit=100000000000000000000", 400, "limit"},
		{"limit text", "limit=ten", 400, "limit"},
		{"garbage cursor", "cursor=bm90LWEtY3Vyc29y", 400, "cursor"},
		{"short garbage cursor", "cursor=garbage", 400, "cursor"},
		{"unknown diet", "diet=carnivore", 400, "carnivore"},
		{"max_minutes text", "max_minutes=abc", 400, "max_minutes"},
		{"max_minutes negative", "max_minutes=-5", 400, "max_minutes"},
	}
	pages := []struct {
		name, path, form string // form: a mark of the page's own form
		classes          []class
	}{
		{"search", "/?", `id="search-form"`, append(searchLike,
			class{"invalid utf-8", "q=%ff%fe", 400, "UTF-8"},
			class{"overlong q", "q=" + strings.Repeat("a", 600), 400, "longer than"})},
		{"pantry", "/pantry?have=egg&", `id="pantry-form"`, append(searchLike,
			class{"invalid utf-8", "have=%ff", 400, "UTF-8"},
			class{"max_missing text", "max_missing=x", 400, "max_missing"})},
		{"empty pantry", "/pantry?", `id="pantry-form"`, append(searchLike,
			class{"max_missing text", "max_missing=x", 400, "max_missing"})},
		{"recipe", recipe + "?", `class="servings"`, []class{
			{"servings zero", "servings=0", 400, "servings"},
			{"servings text", "servings=x", 400, "servings"},
			{"servings huge", "servings=100000000000000000000", 400, "servings"}}},
		{"ask", "/ask?", `id="ask-form"`, nil},
		{"account", "/account?", "", nil},
		{"admin", "/admin?", `action="/admin/invites"`, []class{
			{"after text", "after=x", 400, "after"},
			{"after negative", "after=-1", 400, "after"},
			{"after huge", "after=99999999999999999999", 400, "after"}}},
		{"admin usage", "/admin/usage?", `action="/admin/usage"`, []class{
			{"from text", "from=yesterday", 400, "from"},
			{"to before from", "from=2026-02-01&to=2026-01-01", 400, "to"},
			{"over a year", "from=2024-01-01&to=2026-01-01", 400, "to"}}},
		{"signup", "/signup?", `action="/signup"`, []class{
			{"invite invalid utf-8", "invite=%ff", 400, "invite"},
			{"overlong invite", "invite=" + strings.Repeat("a", 200), 400, "invite"}}},
	}
	for _, p := range pages {
		for _, tc := range append(p.classes, generic...) {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) {
				r := admin.do("GET", p.path+tc.query, nil, nil)
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
				}
				msg := errorMessage(r.body)
				if !strings.Contains(msg, tc.message) {
					t.Fatalf("message %q does not mention %q: %s", msg, tc.message, r.body)
				}
				// The form comes back wherever the handler sees the error;
				// a query string refused outright still shows the search,
				// pantry and ask forms.
				if slices.Contains(generic, tc) && !slices.Contains([]string{"/", "/pantry", "/ask"}, strings.SplitN(p.path, "?", 2)[0]) {
					return
				}
				if !strings.Contains(r.body, p.form) {
					t.Fatalf("the page's form (%s) is not shown again: %s", p.form, r.body)
				}
				if cc := r.header.Get("Cache-Control"); strings.Contains(cc, "public") {
					t.Errorf("an error page is publicly cacheable: %s", cc)
				}
			})
		}
	}
	// The pages still work with good parameters.
	for _, path := range []string{"/?q=soup&limit=5&diet=vegan", "/pantry?have=egg,rice&max_missing=3", recipe + "?servings=4",
		"/ask", "/admin?after=0", "/admin/usage?from=2026-01-01&to=2026-02-01", "/signup?invite=inv_x"} {
		if r := admin.do("GET", path, nil, nil); r.status != http.StatusOK {
			t.Errorf("%s: %d", path, r.status)
		}
	}
}

// errorMessage is the text of a page's error paragraph, unescaped.
func errorMessage(body string) string {
	i := strings.Index(body, `class="error"`)
	if i < 0 {
		return ""
	}
	s := body[i:]
	s = s[strings.Index(s, ">")+1:]
	if j := strings.Index(s, "</p>"); j >= 0 {
		s = s[:j]
	}
	return html.UnescapeString(s)
}
