package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/auth"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/internal/clocktest"
)

var inviteRE = regexp.MustCompile(`<code id="new-invite">(inv_[^<]+)</code>`)

func TestAdminPages(t *testing.T) {
	env := newAccEnv(t, func(c *config.Config) { c.InviteOnly = true })
	ctx := context.Background()
	for i := range 55 {
		u := &flavormonk.User{Email: fmt.Sprintf("user%02d@example.com", i), PasswordHash: "x"}
		if err := env.st.CreateUser(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
	}
	// An admin and a customer, signed up with invites from the store.
	for _, code := range []string{"inv_admin", "inv_customer"} {
		if err := env.st.CreateInvite(ctx, auth.HashToken(code), 0); err != nil {
			t.Fatal(err)
		}
	}
	admin, customer, anon := env.browser(t), env.browser(t), env.browser(t)
	admin.post("/signup", "/signup", url.Values{"email": {"admin@example.com"}, "password": {pw}, "invite": {"inv_admin"}}, nil)
	customer.post("/signup", "/signup", url.Values{"email": {"customer@example.com"}, "password": {pw}, "invite": {"inv_customer"}}, nil)
	if err := env.st.SetRole(ctx, env.user(t, "admin@example.com").ID, flavormonk.RoleAdmin); err != nil {
		t.Fatal(err)
	}

	// Nobody but an admin gets in: GET and POST alike, CSRF token or not.
	for name, b := range map[string]*browser{"anonymous": anon, "customer": customer} {
		if r := b.do("GET", "/admin", nil, nil); r.status != http.StatusForbidden {
			t.Errorf("%s GET /admin: %d", name, r.status)
		}
		for _, path := range []string{"/admin/invites", "/admin/grants"} {
			r := b.post(path, "/login", url.Values{"email": {"customer@example.com"}, "plan": {"chef"}}, nil)
			if r.status != http.StatusForbidden {
				t.Errorf("%s POST %s: %d", name, path, r.status)
			}
		}
	}
	if p := env.user(t, "customer@example.com").Plan; p != flavormonk.PlanFree {
		t.Fatalf("a customer granted themselves %s", p)
	}
	if r := customer.do("GET", "/account", nil, nil); strings.Contains(r.body, `href="/admin"`) {
		t.Error("customers see the admin link")
	}
	if r := admin.do("GET", "/account", nil, nil); !strings.Contains(r.body, `href="/admin"`) {
		t.Error("admins do not see the admin link")
	}

	// The user list, 50 a page.
	r := admin.do("GET", "/admin", nil, nil)
	if r.status != 200 || !strings.Contains(r.body, "user00@example.com") || strings.Contains(r.body, "customer@example.com") {
		t.Fatalf("first page: %d", r.status)
	}
	next := regexp.MustCompile(`href="/admin\?after=(\d+)"`).FindStringSubmatch(r.body)
	if next == nil {
		t.Fatal("no next-page link")
	}
	r = admin.do("GET", "/admin?after="+next[1], nil, nil)
	if !strings.Contains(r.body, "customer@example.com") || strings.Contains(r.body, "user00@example.com") || strings.Contains(r.body, "?after=") {
		t.Fatalf("second page: %s", r.body)
	}
	for _, bad := range []string{"-1", "x", "99999999999999999999"} {
		if r := admin.do("GET", "/admin?after="+bad, nil, nil); r.status != http.StatusBadRequest {
			t.Errorf("after=%s: %d", bad, r.status)
		}
	}

	// Invites: CSRF needed; the code is shown once and lets someone sign up.
	if r := admin.post("/admin/invites", "", url.Values{}, nil); r.status != http.StatusForbidden {
		t.Errorf("invite without CSRF: %d", r.status)
	}
	if r := admin.post("/admin/invites", "/admin", url.Values{}, map[string]string{"Origin": "https://evil.example"}); r.status != http.StatusForbidden {
		t.Errorf("invite from another origin: %d", r.status)
	}
	r = admin.post("/admin/invites", "/admin", url.Values{}, nil)
	m := inviteRE.FindStringSubmatch(r.body)
	if r.status != http.StatusCreated || m == nil {
		t.Fatalf("invite: %d", r.status)
	}
	if r := env.browser(t).post("/signup", "/signup", url.Values{"email": {"invited@example.com"}, "password": {pw}, "invite": {m[1]}}, nil); r.status != http.StatusSeeOther {
		t.Fatalf("signup with the admin's invite: %d", r.status)
	}

	// Grants.
	grant := func(email, plan string) resp {
		return admin.post("/admin/grants", "/admin", url.Values{"email": {email}, "plan": {plan}}, nil)
	}
	if r := grant("Customer@Example.com", "chef"); r.status != 200 || !strings.Contains(r.body, "now has the chef plan") {
		t.Fatalf("grant: %d %s", r.status, r.body)
	}
	if p := env.user(t, "customer@example.com").Plan; p != flavormonk.PlanChef {
		t.Fatalf("plan after grant: %s", p)
	}
	if g := env.grants(t, "customer@example.com"); len(g) != 1 || g[0].Source != "admin" || !g[0].Active {
		t.Fatalf("grants: %+v", g)
	}
	for name, tc := range map[string]struct {
		email, plan string
		status      int
	}{
		"unknown plan":  {"customer@example.com", "platinum", 400},
		"unknown email": {"nobody@example.com", "chef", 404},
		"bad email":     {"not an email", "chef", 400},
		"overlong":      {strings.Repeat("a", 300) + "@example.com", "chef", 400},
	} {
		if r := grant(tc.email, tc.plan); r.status != tc.status || !strings.Contains(r.body, `class="error"`) {
			t.Errorf("%s: %d, want %d", name, r.status, tc.status)
		}
	}
}

func TestAdminUsagePage(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	env := newAccEnvAt(t, clocktest.New(now).Now)
	ctx := context.Background()
	// Two settled calls in the ledger: one priced, one a cache hit.
	hold := []flavormonk.Hold{{Scope: flavormonk.ScopeBudget, Period: flavormonk.UsagePeriod(now), Limit: flavormonk.NoLimit, Amount: 1000}}
	if err := env.st.Reserve(ctx, "r1", hold, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := env.st.Settle(ctx, "r1", []flavormonk.UsageEvent{
		{At: now, UserID: 7, Provider: "openai", Model: "gpt-4o-mini", InputTokens: 1200, OutputTokens: 80, CostMicros: 228},
		{At: now, UserID: 7, Provider: "openai", Model: "gpt-4o-mini", CacheHit: true},
	}); err != nil {
		t.Fatal(err)
	}
	admin, customer := env.browser(t), env.browser(t)
	admin.signup("boss@example.com")
	customer.signup("cook@example.com")
	if err := env.st.SetRole(ctx, env.user(t, "boss@example.com").ID, flavormonk.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if r := customer.do("GET", "/admin/usage", nil, nil); r.status != http.StatusForbidden {
		t.Fatalf("a customer got the usage report: %d", r.status)
	}
	r := admin.do("GET", "/admin/usage", nil, nil)
	if r.status != 200 || !strings.Contains(r.body, "openai / gpt-4o-mini") || !strings.Contains(r.body, "user 7") || !strings.Contains(r.body, "<td>2</td><td>1200</td><td>80</td><td>0.0002</td>") {
		t.Fatalf("usage page %d:\n%s", r.status, r.body)
	}
	for _, q := range []string{"from=yesterday", "from=2026-12-01&to=2026-11-01", "from=2020-01-01&to=2026-01-01"} {
		if r := admin.do("GET", "/admin/usage?"+q, nil, nil); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d", q, r.status)
		}
	}
}
