package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/account"
	"github.com/flavormonk/flavormonk/app/auth"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/internal/redistest"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
	"github.com/flavormonk/flavormonk/app/search"
	"github.com/flavormonk/flavormonk/app/sqlite"
	"github.com/flavormonk/flavormonk/app/synth"
)

type accEnv struct {
	srv     *httptest.Server
	st      *sqlite.Store
	recipes []*flavormonk.Recipe
	server  *Server
	acc     *testAccounts
	cfg     *config.Config
}

func newAccEnv(t *testing.T, opts ...func(*config.Config)) *accEnv {
	t.Helper()
	return newAccEnvAt(t, nil, opts...)
}

// newAccEnvAt is newAccEnv with the store and the server on clk (nil: the
// system clock).
func newAccEnvAt(t *testing.T, clk flavormonk.Clock, opts ...func(*config.Config)) *accEnv {
	t.Helper()
	return newAccEnvFull(t, clk, nil, nil, opts...)
}

// newAccEnvWith is newAccEnvAt with with applied to the server's Options
// (nil: none) before accounts are added.
func newAccEnvWith(t *testing.T, clk flavormonk.Clock, with func(*Options), opts ...func(*config.Config)) *accEnv {
	return newAccEnvFull(t, clk, nil, with, opts...)
}

// newAccEnvCache is newAccEnvAt with c as the tier's cache (nil: none):
// the API's answers are cached there and the limits count there.
func newAccEnvCache(t *testing.T, clk flavormonk.Clock, c flavormonk.Cache, opts ...func(*config.Config)) *accEnv {
	return newAccEnvFull(t, clk, c, nil, opts...)
}

func newAccEnvFull(t *testing.T, clk flavormonk.Clock, c flavormonk.Cache, with func(*Options), opts ...func(*config.Config)) *accEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fm.db"), sqlite.WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	recipes := synth.Generate(5, 1)
	if _, err := st.UpsertRecipes(ctx, recipes); err != nil {
		t.Fatal(err)
	}
	ix := search.New()
	if err := ix.Load(ctx, st); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(func(string) (string, bool) { return "", false }, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RateLimit, cfg.SecureCookies = 0, false
	for _, o := range opts {
		o(cfg)
	}
	o := testOptions(t, cfg, st, ix)
	o.Clock = clk
	if c != nil {
		useCache(t, &o, c, time.Minute)
	}
	if with != nil {
		with(&o)
	}
	ta := withTestAccounts(&o, cfg, st, st, c)
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	s.SetReady(true)
	srv := httptest.NewServer(s.Echo)
	t.Cleanup(srv.Close)
	return &accEnv{srv: srv, st: st, recipes: recipes, server: s, acc: ta, cfg: cfg}
}

type browser struct {
	t   *testing.T
	env *accEnv
	c   *http.Client
}

func (e *accEnv) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, env: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type resp struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, body io.Reader, hdr map[string]string) resp {
	b.t.Helper()
	req, err := http.NewRequest(method, b.env.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	bs, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, string(bs)}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) csrf(path string) string {
	b.t.Helper()
	r := b.do("GET", path, nil, nil)
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		b.t.Fatalf("GET %s: %d, no csrf token in %s", path, r.status, r.body)
	}
	return m[1]
}

// post submits a form; csrf "" fetches one from page first.
func (b *browser) post(path, page string, form url.Values, hdr map[string]string) resp {
	b.t.Helper()
	if form.Get("csrf") == "" && page != "" {
		form.Set("csrf", b.csrf(page))
	}
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for k, v := range hdr {
		h[k] = v
	}
	return b.do("POST", path, strings.NewReader(form.Encode()), h)
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.env.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

const pw = "correct horse battery"

func (b *browser) signup(email string) resp {
	b.t.Helper()
	return b.post("/signup", "/signup", url.Values{"email": {email}, "password": {pw}}, nil)
}

func (b *browser) login(email, password string) resp {
	b.t.Helper()
	return b.post("/login", "/login", url.Values{"email": {email}, "password": {password}}, nil)
}

func (e *accEnv) users(t *testing.T) int {
	n, err := e.st.CountUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAccountsFlow(t *testing.T) {
	env := newAccEnv(t)
	b := env.browser(t)
	if r := b.signup("Cook@Example.com"); r.status != http.StatusSeeOther {
		t.Fatalf("signup: %d %s", r.status, r.body)
	}
	s1 := b.cookie(sessionCookie)
	if s1 == "" {
		t.Fatal("no session after signup")
	}
	id := env.recipes[0].ID
	// The recipe page links to a confirm form carrying the CSRF token.
	if r := b.do("GET", "/recipes/"+id, nil, nil); !strings.Contains(r.body, "/recipes/"+id+"/favourite") {
		t.Fatalf("recipe page lacks the favourite button: %d", r.status)
	}
	if r := b.post("/recipes/"+id+"/favourite", "/recipes/"+id+"/favourite", url.Values{}, nil); r.status != http.StatusSeeOther {
		t.Fatalf("favourite: %d %s", r.status, r.body)
	}
	if r := b.post("/logout", "/account", url.Values{}, nil); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if r := b.do("GET", "/account", nil, nil); r.status != http.StatusSeeOther {
		t.Fatalf("account after logout: %d", r.status)
	}
	// The old session is gone from the store, even replayed by hand.
	old := env.browser(t)
	u, _ := url.Parse(env.srv.URL)
	old.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: s1}})
	if r := old.do("GET", "/account", nil, nil); r.status != http.StatusSeeOther {
		t.Fatalf("replayed logged-out session: %d", r.status)
	}
	if r := b.login("cook@example.com", pw); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	r := b.do("GET", "/account", nil, nil)
	if r.status != 200 || !strings.Contains(r.body, "/recipes/"+id) {
		t.Fatalf("account after login lacks the favourite: %d %s", r.status, r.body)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("account page Cache-Control %q", cc)
	}
}

func TestSessionFixation(t *testing.T) {
	env := newAccEnv(t)
	env.browser(t).signup("a@example.com")
	b := env.browser(t)
	u, _ := url.Parse(env.srv.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: "s_planted-by-attacker"}})
	if r := b.login("a@example.com", pw); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	s1 := b.cookie(sessionCookie)
	if s1 == "" || s1 == "s_planted-by-attacker" {
		t.Fatalf("session not rotated: %q", s1)
	}
	if r := b.login("a@example.com", pw); r.status != http.StatusSeeOther {
		t.Fatalf("login again: %d", r.status)
	}
	s2 := b.cookie(sessionCookie)
	if s2 == s1 {
		t.Fatal("second login reused the session")
	}
	// The session from before the second login is deleted.
	old := env.browser(t)
	old.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: s1}})
	if r := old.do("GET", "/account", nil, nil); r.status != http.StatusSeeOther {
		t.Fatalf("pre-login session still works: %d", r.status)
	}
}

func TestCSRF(t *testing.T) {
	env := newAccEnv(t)
	b := env.browser(t)
	before := env.users(t)
	r := b.post("/signup", "", url.Values{"email": {"x@example.com"}, "password": {pw}}, nil)
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "forbidden") && !strings.Contains(r.body, "did not come from this site") {
		t.Fatalf("signup without csrf: %d %s", r.status, r.body)
	}
	tok := b.csrf("/signup")
	r = b.post("/signup", "", url.Values{"csrf": {tok}, "email": {"x@example.com"}, "password": {pw}}, map[string]string{"Origin": "https://evil.example"})
	if r.status != http.StatusForbidden {
		t.Fatalf("cross-origin signup: %d", r.status)
	}
	if env.users(t) != before {
		t.Fatal("a refused sign-up stored a user")
	}
	// A token from another browser's secret is refused too.
	other := env.browser(t)
	r = other.post("/signup", "", url.Values{"csrf": {tok}, "email": {"x@example.com"}, "password": {pw}}, nil)
	if r.status != http.StatusForbidden {
		t.Fatalf("foreign csrf token: %d", r.status)
	}
	// Logged in: log-out and favourites need the session's token.
	if r := b.signup("y@example.com"); r.status != http.StatusSeeOther {
		t.Fatalf("signup: %d %s", r.status, r.body)
	}
	r = b.post("/logout", "", url.Values{}, nil)
	if r.status != http.StatusForbidden {
		t.Fatalf("logout without csrf: %d", r.status)
	}
	r = b.post("/recipes/"+env.recipes[0].ID+"/favourite", "", url.Values{"csrf": {tok}}, nil)
	if r.status != http.StatusForbidden {
		t.Fatalf("favourite with the anonymous token: %d", r.status)
	}
	// The token is taken from the form body or the X-CSRF-Token header,
	// never from the URL (logs, history and Referer would carry it).
	fav := "/recipes/" + env.recipes[0].ID + "/favourite"
	tok = b.csrf(fav)
	form := strings.NewReader(url.Values{}.Encode())
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	if r := b.do("POST", fav+"?csrf="+url.QueryEscape(tok), form, hdr); r.status != http.StatusForbidden {
		t.Fatalf("csrf token in the URL: %d", r.status)
	}
	if r := b.do("POST", fav, nil, map[string]string{"X-CSRF-Token": tok}); r.status != http.StatusSeeOther {
		t.Fatalf("csrf token in the header: %d %s", r.status, r.body)
	}
	// JSON errors for a non-HTML client.
	req, _ := http.NewRequest("POST", env.srv.URL+"/logout", nil)
	res, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var eb ErrorBody
	_ = json.NewDecoder(res.Body).Decode(&eb)
	res.Body.Close()
	if res.StatusCode != 403 || eb.Error.Code != flavormonk.EFORBIDDEN {
		t.Fatalf("JSON csrf error: %d %+v", res.StatusCode, eb)
	}
}

func TestLoginThrottle(t *testing.T) {
	env := newAccEnv(t)
	env.browser(t).signup("victim@example.com")
	b := env.browser(t)
	for i := 0; i < 5; i++ {
		r := b.login("victim@example.com", "wrong password!")
		if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "email or password is wrong") {
			t.Fatalf("attempt %d: %d %s", i, r.status, r.body)
		}
	}
	r := b.login("victim@example.com", pw)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures: %d retry-after %q", r.status, r.header.Get("Retry-After"))
	}
	// Unknown accounts answer the same as wrong passwords.
	r = b.login("nobody@example.com", "wrong password!")
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "email or password is wrong") {
		t.Fatalf("unknown email: %d", r.status)
	}
	// 20 failures from one IP across accounts lock the IP (6 so far).
	for i := 0; i < 14; i++ {
		r = b.login(fmt.Sprintf("u%d@example.com", i), "wrong password!")
		if r.status != http.StatusUnauthorized {
			t.Fatalf("ip attempt %d: %d", i, r.status)
		}
	}
	r = b.login("fresh@example.com", "wrong password!")
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("after 20 failures from the IP: %d", r.status)
	}
	// A spoofed X-Forwarded-For (no trusted proxies) does not escape it.
	r = b.post("/login", "/login", url.Values{"email": {"fresh2@example.com"}, "password": {"wrong password!"}},
		map[string]string{"X-Forwarded-For": "203.0.113.9"})
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("spoofed X-Forwarded-For: %d", r.status)
	}
}

// Parallel log-ins with wrong passwords: at most the limit (5) reach the
// password verifier, however many wait for a hash slot at once.
func TestParallelLoginsThrottled(t *testing.T) {
	env := newAccEnv(t)
	env.browser(t).signup("victim@example.com")
	b := env.browser(t)
	token := b.csrf("/login")
	before := env.acc.hasher.Computed()
	const n = 60
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			form := url.Values{"email": {"victim@example.com"}, "password": {"wrong password!"}, "csrf": {token}}
			req, _ := http.NewRequest("POST", env.srv.URL+"/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := b.c.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			statuses <- res.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for st := range statuses {
		count[st]++
	}
	if v := env.acc.hasher.Computed() - before; v > 5 {
		t.Fatalf("%d parallel log-ins ran %d password verifications, want at most 5 (statuses %v)", n, v, count)
	}
	if count[http.StatusUnauthorized] > 5 || count[http.StatusUnauthorized]+count[http.StatusTooManyRequests] != n {
		t.Fatalf("statuses %v", count)
	}
}

func TestBadSignups(t *testing.T) {
	env := newAccEnv(t)
	b := env.browser(t)
	if r := b.signup("Dup@Example.com"); r.status != http.StatusSeeOther {
		t.Fatalf("signup: %d", r.status)
	}
	before := env.users(t)
	for name, tc := range map[string]struct {
		email, password string
		status          int
	}{
		"overlong email": {strings.Repeat("a", 10<<10) + "@example.com", pw, 400},
		"invalid utf-8":  {"bad\xff@example.com", pw, 400},
		"bad password":   {"ok@example.com", "bad\xffpassword-long", 400},
		"short password": {"ok@example.com", "short", 400},
		"duplicate case": {"  dUP@example.COM ", pw, 409},
		"not an email":   {"not-an-email", pw, 400},
	} {
		r := env.browser(t).post("/signup", "/signup", url.Values{"email": {tc.email}, "password": {tc.password}}, nil)
		if r.status != tc.status || !strings.Contains(r.body, `class="error"`) {
			t.Errorf("%s: %d, want %d", name, r.status, tc.status)
		}
	}
	if r := env.browser(t).post("/signup", "/signup", url.Values{"email": {"inv@example.com"}, "password": {pw}, "invite": {"inv_nope"}}, nil); r.status != 400 {
		t.Errorf("unknown invite: %d", r.status)
	}
	if n := env.users(t); n != before {
		t.Fatalf("users %d → %d", before, n)
	}
}

var tokenRE = regexp.MustCompile(`<code id="new-token">(fm_[^<]+)</code>`)

func (b *browser) newToken(name string, scopes ...string) string {
	b.t.Helper()
	r := b.post("/account/tokens", "/account", url.Values{"name": {name}, "scope": scopes}, nil)
	m := tokenRE.FindStringSubmatch(r.body)
	if r.status != http.StatusCreated || m == nil {
		b.t.Fatalf("create token: %d %s", r.status, r.body)
	}
	return m[1]
}

func api(t *testing.T, env *accEnv, method, path, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, env.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	bs, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(bs)
}

func TestAPITokensAndFavourites(t *testing.T) {
	env := newAccEnv(t)
	alice, bob := env.browser(t), env.browser(t)
	alice.signup("alice@example.com")
	bob.signup("bob@example.com")
	aTok := alice.newToken("laptop", "read")
	askOnly := alice.newToken("bot", "ask")
	bTok := bob.newToken("bob", "read", "ask")
	id := env.recipes[1].ID

	if st, body := api(t, env, "PUT", "/api/v1/favourites/"+id, aTok, `{"note":"double the garlic"}`); st != 200 || !strings.Contains(body, "double the garlic") {
		t.Fatalf("put favourite: %d %s", st, body)
	}
	if st, body := api(t, env, "GET", "/api/v1/favourites", aTok, ""); st != 200 || !strings.Contains(body, id) {
		t.Fatalf("list: %d %s", st, body)
	}
	// Bob sees none of Alice's favourites and cannot delete hers.
	if st, body := api(t, env, "GET", "/api/v1/favourites", bTok, ""); st != 200 || strings.Contains(body, id) {
		t.Fatalf("bob's list: %d %s", st, body)
	}
	if st, _ := api(t, env, "DELETE", "/api/v1/favourites/"+id, bTok, ""); st != 404 {
		t.Fatalf("bob deleting alice's favourite: %d", st)
	}
	if st, body := api(t, env, "GET", "/api/v1/favourites", aTok, ""); st != 200 || !strings.Contains(body, id) {
		t.Fatalf("alice lost her favourite: %d %s", st, body)
	}
	// Unknown recipe.
	if st, _ := api(t, env, "PUT", "/api/v1/favourites/no-such-recipe", aTok, `{}`); st != 404 {
		t.Fatalf("unknown recipe: %d", st)
	}
	// Out of scope, anonymous, malformed, unknown.
	for name, tc := range map[string]struct {
		method, path, token string
		status              int
	}{
		"ask-only token":      {"GET", "/api/v1/favourites", askOnly, 403},
		"anonymous":           {"GET", "/api/v1/favourites", "", 401},
		"malformed":           {"GET", "/api/v1/recipes", "nonsense", 401},
		"unknown":             {"GET", "/api/v1/recipes", "fm_" + strings.Repeat("A", 43), 401},
		"anonymous search ok": {"GET", "/api/v1/recipes", "", 200},
		"token search ok":     {"GET", "/api/v1/recipes", askOnly, 200},
	} {
		if st, body := api(t, env, tc.method, tc.path, tc.token, ""); st != tc.status {
			t.Errorf("%s: %d, want %d: %s", name, st, tc.status, body)
		}
	}
	// Revoke: the token is refused everywhere, never served anonymously.
	r := alice.do("GET", "/account", nil, nil)
	m := regexp.MustCompile(`/account/tokens/(\d+)/revoke`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no revoke form: %s", r.body)
	}
	// Bob cannot revoke Alice's token.
	if r := bob.post("/account/tokens/"+m[1]+"/revoke", "/account", url.Values{}, nil); r.status != 404 {
		t.Fatalf("bob revoking alice's token: %d", r.status)
	}
	revoked := 0
	for _, tid := range regexp.MustCompile(`/account/tokens/(\d+)/revoke`).FindAllStringSubmatch(r.body, -1) {
		if r := alice.post("/account/tokens/"+tid[1]+"/revoke", "/account", url.Values{}, nil); r.status != http.StatusSeeOther {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		revoked++
	}
	if revoked != 2 {
		t.Fatalf("revoked %d tokens", revoked)
	}
	for _, p := range []string{"/api/v1/favourites", "/api/v1/recipes"} {
		if st, _ := api(t, env, "GET", p, aTok, ""); st != 401 {
			t.Errorf("revoked token on %s: %d", p, st)
		}
	}
	if st, _ := api(t, env, "DELETE", "/api/v1/favourites/"+id, bTok, ""); st != 404 {
		t.Fatal("bob still cannot delete")
	}
}

func TestSessionExpiryAndRehash(t *testing.T) {
	env := newAccEnv(t)
	ctx := context.Background()
	weak := auth.NewHasher(auth.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, 1)
	h, err := weak.Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	u := &flavormonk.User{Email: "old@example.com", PasswordHash: h, Role: flavormonk.RoleCustomer, Plan: flavormonk.PlanFree}
	if err := env.st.CreateUser(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	b := env.browser(t)
	if r := b.login("old@example.com", pw); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	got, err := env.st.User(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash == h || !strings.Contains(got.PasswordHash, "m=19456,t=2,p=1") {
		t.Fatalf("not rehashed: %s", got.PasswordHash)
	}
	// Idle and absolute expiry.
	now := time.Now()
	for name, ss := range map[string]*flavormonk.Session{
		"idle":     {UserID: u.ID, CSRF: "x", CreatedAt: now.Add(-8 * 24 * time.Hour), SeenAt: now.Add(-8 * 24 * time.Hour), ExpiresAt: now.Add(time.Hour)},
		"absolute": {UserID: u.ID, CSRF: "x", CreatedAt: now.Add(-31 * 24 * time.Hour), SeenAt: now, ExpiresAt: now.Add(-time.Minute)},
		"fresh":    {UserID: u.ID, CSRF: "x", CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(time.Hour)},
	} {
		tok, hash := auth.NewToken("s_")
		ss.TokenHash = hash
		if err := env.st.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
		c := env.browser(t)
		base, _ := url.Parse(env.srv.URL)
		c.c.Jar.SetCookies(base, []*http.Cookie{{Name: sessionCookie, Value: tok}})
		want := http.StatusSeeOther
		if name == "fresh" {
			want = http.StatusOK
		}
		if r := c.do("GET", "/account", nil, nil); r.status != want {
			t.Errorf("%s session: %d, want %d", name, r.status, want)
		}
	}
}

const (
	gumProduct = "prod_flavormonk_chef"
	gumGoodKey = "ABCD1234-EF567890-12345678-9ABCDEF0"
)

// fakeGumroad speaks Gumroad's licence verification protocol (shapes as in
// app/gumroad's tests); down makes it answer 503.
type fakeGumroad struct {
	mu       sync.Mutex
	requests int
	down     bool
	licences map[string]string
}

func (f *fakeGumroad) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if f.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v2/licenses/verify" || r.ParseForm() != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	p, ok := f.licences[r.PostForm.Get("license_key")]
	if !ok || r.PostForm.Get("product_id") != gumProduct {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"success":false,"message":"That license does not exist for the provided product."}`)
		return
	}
	fmt.Fprintf(w, `{"success":true,"uses":0,"purchase":%s}`, p)
}

func gumPurchase(refunded, disputed, chargebacked bool) string {
	return fmt.Sprintf(`{"seller_id":"s1","product_id":"%s","product_name":"Flavor Monk Chef",
		"permalink":"flavormonk","email":"buyer@example.com","price":900,"currency":"usd",
		"quantity":1,"sale_id":"sale_123","sale_timestamp":"2026-01-01T00:00:00Z",
		"variants":"(Monthly)","refunded":%t,"disputed":%t,"dispute_won":false,
		"chargebacked":%t,"subscription_id":"sub_1","subscription_cancelled_at":null,
		"subscription_ended_at":null,"subscription_failed_at":null,"test":false}`, gumProduct, refunded, disputed, chargebacked)
}

func (e *accEnv) user(t *testing.T, email string) *flavormonk.User {
	t.Helper()
	u, err := e.st.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *accEnv) grants(t *testing.T, email string) []*flavormonk.Grant {
	t.Helper()
	g, err := e.st.Grants(context.Background(), e.user(t, email).ID)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestInviteOnly(t *testing.T) {
	env := newAccEnv(t, func(c *config.Config) { c.InviteOnly = true })
	if r := env.browser(t).do("GET", "/signup", nil, nil); !strings.Contains(r.body, `name="invite" value="" required`) {
		t.Errorf("invite field not required on the form: %s", r.body)
	}
	for name, invite := range map[string]string{"none": "", "unknown": "inv_nope", "too long": strings.Repeat("x", 300)} {
		r := env.browser(t).post("/signup", "/signup", url.Values{"email": {"a@example.com"}, "password": {pw}, "invite": {invite}}, nil)
		if r.status != 400 || !strings.Contains(r.body, `class="error"`) {
			t.Errorf("%s: %d", name, r.status)
		}
		if name == "none" && !strings.Contains(r.body, "invitation only") {
			t.Errorf("no clear message: %s", r.body)
		}
	}
	if n := env.users(t); n != 0 {
		t.Fatalf("%d users stored", n)
	}
	if err := env.st.CreateInvite(context.Background(), auth.HashToken("inv_good"), 0); err != nil {
		t.Fatal(err)
	}
	r := env.browser(t).post("/signup", "/signup", url.Values{"email": {"a@example.com"}, "password": {pw}, "invite": {"inv_good"}}, nil)
	if r.status != http.StatusSeeOther || env.users(t) != 1 {
		t.Fatalf("signup with invite: %d %s", r.status, r.body)
	}
	// The invite is used up.
	r = env.browser(t).post("/signup", "/signup", url.Values{"email": {"b@example.com"}, "password": {pw}, "invite": {"inv_good"}}, nil)
	if r.status != 400 || env.users(t) != 1 {
		t.Fatalf("reused invite: %d", r.status)
	}
}

func TestSignupRateLimit(t *testing.T) {
	env := newAccEnv(t)
	for i := range signupsPerHour {
		if r := env.browser(t).signup(fmt.Sprintf("u%d@example.com", i)); r.status != http.StatusSeeOther {
			t.Fatalf("signup %d: %d", i, r.status)
		}
	}
	r := env.browser(t).signup("over@example.com")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "too many sign-ups") {
		t.Fatalf("11th signup: %d %v", r.status, r.header)
	}
	if n := env.users(t); n != signupsPerHour {
		t.Fatalf("%d users", n)
	}
	// The limiter's own tests are in package limit.
}

// Parallel sign-ups from one IP, on two replicas sharing Redis and on one
// without a cache: at most the limit are created.
func TestParallelSignups(t *testing.T) {
	for _, tc := range []struct {
		name string
		envs func(t *testing.T) []*accEnv
	}{
		{"memory", func(t *testing.T) []*accEnv { return []*accEnv{newAccEnv(t)} }},
		{"redis", func(t *testing.T) []*accEnv { return replicas(t, 2, redistest.Cache(t, servicetest.RedisURL(t))) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			envs := tc.envs(t)
			ip := freshIP()
			type client struct {
				b     *browser
				token string
			}
			const n = 50
			cs := make([]client, n)
			for i := range cs {
				b := envs[i%len(envs)].browser(t)
				cs[i] = client{b, b.csrf("/signup")}
			}
			var wg sync.WaitGroup
			for i, cl := range cs {
				wg.Go(func() {
					form := url.Values{"email": {fmt.Sprintf("p%d@example.com", i)}, "password": {pw}, "csrf": {cl.token}}
					req, _ := http.NewRequest("POST", cl.b.env.srv.URL+"/signup", strings.NewReader(form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("X-Forwarded-For", ip)
					if res, err := cl.b.c.Do(req); err == nil {
						_, _ = io.Copy(io.Discard, res.Body)
						res.Body.Close()
					}
				})
			}
			wg.Wait()
			if got := envs[0].users(t); got > signupsPerHour || got == 0 {
				t.Fatalf("%d parallel sign-ups from one IP created %d accounts, want at most %d", n, got, signupsPerHour)
			}
		})
	}
}

func TestLicenseUnlock(t *testing.T) {
	fake := &fakeGumroad{licences: map[string]string{
		gumGoodKey:   gumPurchase(false, false, false),
		"REFUNDED-1": gumPurchase(true, false, false),
		"DISPUTED-1": gumPurchase(false, true, false),
		"CHARGEBACK": gumPurchase(false, false, true),
	}}
	gs := httptest.NewServer(fake)
	t.Cleanup(gs.Close)
	env := newAccEnv(t, func(c *config.Config) { c.GumroadProductID, c.GumroadURL = gumProduct, gs.URL })
	b := env.browser(t)
	b.signup("buyer@example.com")
	if r := b.do("GET", "/account", nil, nil); !strings.Contains(r.body, `action="/account/license"`) {
		t.Fatal("no licence form")
	}
	unlock := func(key string) resp {
		return b.post("/account/license", "/account", url.Values{"license_key": {key}}, nil)
	}
	// Without CSRF.
	if r := b.post("/account/license", "", url.Values{"license_key": {gumGoodKey}}, nil); r.status != 403 {
		t.Errorf("no csrf: %d", r.status)
	}
	// A 10 KB key: 400, Gumroad not asked.
	if r := unlock(strings.Repeat("K", 10<<10)); r.status != 400 || fake.requests != 0 {
		t.Errorf("10 KB key: %d, %d requests", r.status, fake.requests)
	}
	if r := unlock("NOPE-NOPE"); r.status != 400 || !strings.Contains(r.body, "the licence key is not valid") {
		t.Errorf("invalid key: %d %s", r.status, r.body)
	}
	fake.down = true
	if r := unlock(gumGoodKey); r.status != 503 || !strings.Contains(r.body, "try again") {
		t.Errorf("gumroad down: %d %s", r.status, r.body)
	}
	fake.down = false
	if g := env.grants(t, "buyer@example.com"); len(g) != 0 || env.user(t, "buyer@example.com").Plan != flavormonk.PlanFree {
		t.Fatalf("stored after failures: %+v", g)
	}
	for _, key := range []string{"REFUNDED-1", "DISPUTED-1", "CHARGEBACK"} {
		if r := unlock(key); r.status != 403 || !strings.Contains(r.body, "no longer active") {
			t.Errorf("%s: %d %s", key, r.status, r.body)
		}
	}
	g := env.grants(t, "buyer@example.com")
	if len(g) != 3 || env.user(t, "buyer@example.com").Plan != flavormonk.PlanFree {
		t.Fatalf("inactive grants: %d, plan %s", len(g), env.user(t, "buyer@example.com").Plan)
	}
	for _, x := range g {
		if x.Active || x.Source != "gumroad" {
			t.Errorf("grant %+v", x)
		}
	}
	if r := unlock("  " + gumGoodKey + " "); r.status != 200 || !strings.Contains(r.body, "unlocked") {
		t.Fatalf("valid key: %d %s", r.status, r.body)
	}
	if p := env.user(t, "buyer@example.com").Plan; p != flavormonk.PlanChef {
		t.Fatalf("plan %s", p)
	}
	sum := sha256.Sum256([]byte(gumGoodKey))
	var found bool
	for _, x := range env.grants(t, "buyer@example.com") {
		if x.LicenseKey == hex.EncodeToString(sum[:]) {
			found = true
			if !x.Active || x.Plan != flavormonk.PlanChef || time.Since(x.CheckedAt) > time.Minute {
				t.Errorf("grant %+v", x)
			}
		}
	}
	if !found {
		t.Fatal("no grant for the key's hash")
	}
	// The same key cannot unlock a second account.
	other := env.browser(t)
	other.signup("friend@example.com")
	r := other.post("/account/license", "/account", url.Values{"license_key": {gumGoodKey}}, nil)
	if r.status != http.StatusConflict || !strings.Contains(r.body, "already unlocks another account") {
		t.Fatalf("a key granted to another user: %d %s", r.status, r.body)
	}
	if p := env.user(t, "friend@example.com").Plan; p != flavormonk.PlanFree || len(env.grants(t, "friend@example.com")) != 0 {
		t.Fatalf("second account: plan %s, grants %v", p, env.grants(t, "friend@example.com"))
	}
	// Its owner can enter it again.
	if r := unlock(gumGoodKey); r.status != 200 {
		t.Fatalf("owner re-entering the key: %d", r.status)
	}
}

func TestLicensesOff(t *testing.T) {
	env := newAccEnv(t)
	b := env.browser(t)
	b.signup("a@example.com")
	if r := b.do("GET", "/account", nil, nil); strings.Contains(r.body, "/account/license") {
		t.Error("licence form shown with licences off")
	}
	if r := b.post("/account/license", "/account", url.Values{"license_key": {gumGoodKey}}, nil); r.status != 404 {
		t.Errorf("route: %d", r.status)
	}
}

func TestPasswordChange(t *testing.T) {
	env := newAccEnv(t)
	b := env.browser(t)
	b.signup("pw@example.com")
	tok := b.newToken("script", "read")
	if st, _ := api(t, env, "GET", "/api/v1/favourites", tok, ""); st != 200 {
		t.Fatalf("token before the change: %d", st)
	}
	other := env.browser(t)
	if r := other.login("pw@example.com", pw); r.status != http.StatusSeeOther {
		t.Fatal(r.status)
	}
	change := func(cur, next string) resp {
		return b.post("/account/password", "/account", url.Values{"current_password": {cur}, "new_password": {next}}, nil)
	}
	if r := change("wrong password!!", "a brand new password"); r.status != 400 || !strings.Contains(r.body, "current password is wrong") {
		t.Errorf("wrong current: %d", r.status)
	}
	if r := change(pw, "short"); r.status != 400 {
		t.Errorf("short new: %d", r.status)
	}
	if r := b.post("/account/password", "", url.Values{"csrf": {"x"}, "current_password": {pw}, "new_password": {"a brand new password"}}, nil); r.status != 403 {
		t.Errorf("bad csrf: %d", r.status)
	}
	if r := change(pw, "a brand new password"); r.status != 200 || !strings.Contains(r.body, "password was changed") {
		t.Fatalf("change: %d %s", r.status, r.body)
	}
	// The API tokens made with the old password are revoked.
	if st, body := api(t, env, "GET", "/api/v1/favourites", tok, ""); st != http.StatusUnauthorized || !strings.Contains(body, "revoked") {
		t.Errorf("an API token survived the password change: %d %s", st, body)
	}
	if r := b.do("GET", "/account", nil, nil); r.status != 200 || !strings.Contains(r.body, "pw@example.com") {
		t.Errorf("current session lost: %d", r.status)
	}
	if r := other.do("GET", "/account", nil, nil); r.status != http.StatusSeeOther {
		t.Errorf("other session kept: %d", r.status)
	}
	if r := env.browser(t).login("pw@example.com", pw); r.status == http.StatusSeeOther {
		t.Error("old password still works")
	}
	if r := env.browser(t).login("pw@example.com", "a brand new password"); r.status != http.StatusSeeOther {
		t.Errorf("new password: %d", r.status)
	}
}

func TestDeleteAndExport(t *testing.T) {
	env := newAccEnv(t, func(c *config.Config) { c.GumroadProductID = gumProduct })
	b := env.browser(t)
	b.signup("del@example.com")
	keep := env.browser(t)
	keep.signup("keep@example.com")
	rid := env.recipes[0].ID
	if r := b.post("/recipes/"+rid+"/favourite", "/recipes/"+rid+"/favourite", url.Values{}, nil); r.status != http.StatusSeeOther {
		t.Fatalf("favourite: %d", r.status)
	}
	b.newToken("laptop", "read")
	u := env.user(t, "del@example.com")
	ctx := context.Background()
	if err := env.st.SetGrant(ctx, &flavormonk.Grant{UserID: u.ID, Plan: flavormonk.PlanChef, Source: "gumroad", LicenseKey: "deadbeefkeyhash", Active: true, CheckedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	if r := env.browser(t).do("GET", "/account/export", nil, nil); r.status != http.StatusSeeOther {
		t.Errorf("anonymous export: %d", r.status)
	}
	r := b.do("GET", "/account/export", nil, nil)
	if r.status != 200 || !strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", r.status, r.header)
	}
	var x struct {
		User       map[string]any   `json:"user"`
		Favourites []map[string]any `json:"favourites"`
		APITokens  []map[string]any `json:"api_tokens"`
		Grants     []map[string]any `json:"grants"`
	}
	if err := json.Unmarshal([]byte(r.body), &x); err != nil {
		t.Fatal(err)
	}
	if x.User["email"] != "del@example.com" || len(x.Favourites) != 1 || len(x.APITokens) != 1 || len(x.Grants) != 1 {
		t.Fatalf("export: %s", r.body)
	}
	for _, secret := range []string{u.PasswordHash, "argon2id", "deadbeefkeyhash", `"hash"`, "password"} {
		if strings.Contains(r.body, secret) {
			t.Errorf("export leaks %q", secret)
		}
	}

	del := func(password string) resp {
		return b.post("/account/delete", "/account", url.Values{"password": {password}}, nil)
	}
	if r := del("wrong password!!"); r.status != 400 {
		t.Errorf("wrong password: %d", r.status)
	}
	if r := b.post("/account/delete", "", url.Values{"password": {pw}}, nil); r.status != 403 {
		t.Errorf("no csrf: %d", r.status)
	}
	if env.users(t) != 2 {
		t.Fatal("deleted without confirmation")
	}
	r = del(pw)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" || b.cookie(sessionCookie) != "" {
		t.Fatalf("delete: %d %v", r.status, r.header)
	}
	if env.users(t) != 1 {
		t.Fatal("user not deleted")
	}
	if _, err := env.st.UserByEmail(ctx, "del@example.com"); flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
		t.Fatalf("user: %v", err)
	}
	for _, f := range []func() (int, error){
		func() (int, error) { v, err := env.st.Favourites(ctx, u.ID); return len(v), err },
		func() (int, error) { v, err := env.st.APITokens(ctx, u.ID); return len(v), err },
		func() (int, error) { v, err := env.st.Grants(ctx, u.ID); return len(v), err },
	} {
		if n, err := f(); err != nil || n != 0 {
			t.Errorf("left behind: %d %v", n, err)
		}
	}
	if r := keep.do("GET", "/account", nil, nil); r.status != 200 {
		t.Errorf("other user affected: %d", r.status)
	}
}

// With FLAVORMONK_LICENSE_SECRET the key is stored sealed, and a re-check
// after a refund takes the plan back.
func TestLicenseSealedAndRechecked(t *testing.T) {
	fake := &fakeGumroad{licences: map[string]string{gumGoodKey: gumPurchase(false, false, false)}}
	gs := httptest.NewServer(fake)
	t.Cleanup(gs.Close)
	env := newAccEnv(t, func(c *config.Config) {
		c.GumroadProductID, c.GumroadURL, c.LicenseSecret = gumProduct, gs.URL, "web-test-licence-secret-0123456789abcdef"
	})
	b := env.browser(t)
	b.signup("buyer@example.com")
	if r := b.post("/account/license", "/account", url.Values{"license_key": {gumGoodKey}}, nil); r.status != 200 {
		t.Fatalf("unlock: %d", r.status)
	}
	g := env.grants(t, "buyer@example.com")
	if len(g) != 1 || len(g[0].Sealed) == 0 || strings.Contains(string(g[0].Sealed), gumGoodKey[:8]) {
		t.Fatalf("grant not sealed: %+v", g)
	}
	rc := env.acc.rechecker
	if rc == nil {
		t.Fatal("no rechecker with a secret and a product")
	}
	fake.mu.Lock()
	fake.licences[gumGoodKey] = gumPurchase(true, false, false)
	fake.mu.Unlock()
	rep, err := rc.Recheck(context.Background(), time.Now().Add(time.Second))
	if err != nil || rep.Revoked != 1 {
		t.Fatalf("recheck: %+v %v", rep, err)
	}
	if p := env.user(t, "buyer@example.com").Plan; p != flavormonk.PlanFree {
		t.Fatalf("plan after a refund: %s", p)
	}
	// Without a secret there is no rechecker (and a warning at start-up).
	if newAccEnv(t, func(c *config.Config) { c.GumroadProductID, c.GumroadURL = gumProduct, gs.URL }).acc.rechecker != nil {
		t.Fatal("a rechecker without a secret")
	}
}

// The anonymous visitor session carries over on sign-up and log-in: it is
// linked to the user (what is keyed to it becomes theirs); logging out
// starts a new, unlinked one for whoever browses next.
func TestVisitorCarriesOver(t *testing.T) {
	env := newAccEnv(t)
	ctx := context.Background()
	b := env.browser(t)
	b.do("GET", "/", nil, nil)
	anon := b.cookie(visitorCookie)
	if anon == "" {
		t.Fatal("no visitor cookie")
	}
	if r := b.signup("visitor@example.com"); r.status != http.StatusSeeOther {
		t.Fatalf("signup: %d", r.status)
	}
	u := env.user(t, "visitor@example.com")
	vs, err := env.st.UserVisitors(ctx, u.ID)
	if err != nil || len(vs) != 1 || vs[0] != anon || b.cookie(visitorCookie) != anon {
		t.Fatalf("visitor sessions of the new user = %v, %v; want [%s] and the same cookie", vs, err, anon)
	}
	// Logging out forgets the visitor; the next anonymous one is new and unlinked.
	b.post("/logout", "/account", url.Values{}, nil)
	if b.cookie(visitorCookie) != "" {
		t.Fatal("the visitor cookie survived logout")
	}
	b.do("GET", "/", nil, nil)
	next := b.cookie(visitorCookie)
	if next == "" || next == anon {
		t.Fatalf("after logout: visitor %q", next)
	}
	// Another user logging in from a visitor linked to someone else gets a
	// fresh visitor session, not the other user's.
	other := env.browser(t)
	other.signup("other@example.com")
	othersVisitor := other.cookie(visitorCookie)
	if othersVisitor == "" {
		t.Fatal("a sign-up without a visitor session did not get one")
	}
	b.login("visitor@example.com", pw) // links next
	vs, _ = env.st.UserVisitors(ctx, u.ID)
	if len(vs) != 2 {
		t.Fatalf("after logging in again: %v", vs)
	}
	jar := other.c.Jar
	su, _ := url.Parse(env.srv.URL)
	jar.SetCookies(su, []*http.Cookie{{Name: sessionCookie, Value: "", MaxAge: -1}})
	other.login("visitor@example.com", pw)
	if v := other.cookie(visitorCookie); v == othersVisitor || v == "" {
		t.Fatalf("logged in from another user's visitor session and kept it (%q)", v)
	}
	if ovs, _ := env.st.UserVisitors(ctx, env.user(t, "other@example.com").ID); len(ovs) != 1 || ovs[0] != othersVisitor {
		t.Fatalf("the other user's visitor sessions changed: %v", ovs)
	}
	// The export lists them by a hash, never by the cookie value that
	// would let whoever reads the file browse as them; deleting the
	// account deletes them.
	r := b.do("GET", "/account/export", nil, nil)
	if !strings.Contains(r.body, `"visitor_sessions"`) || !strings.Contains(r.body, account.VisitorRef(anon)) {
		t.Fatalf("export: %s", r.body)
	}
	for _, live := range []string{anon, b.cookie(visitorCookie)} {
		if live == "" || strings.Contains(r.body, live) {
			t.Fatalf("the export holds a live visitor cookie value %q: %s", live, r.body)
		}
	}
	b.post("/account/delete", "/account", url.Values{"password": {pw}}, nil)
	if _, err := env.st.Visitor(ctx, anon); flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
		t.Fatalf("a deleted user's visitor session remains: %v", err)
	}
}

// Asking whether an address has an account costs a sign-up: the first
// signupsPerHour conflicts from one client network are answered, then
// 429 with Retry-After, also for addresses rotated within an IPv6 /64;
// another network is not affected.
func TestSignupConflictsCountAgainstTheLimit(t *testing.T) {
	env := replicas(t, 1, nil)[0]
	if r := env.browser(t).signup("taken@example.com"); r.status != http.StatusSeeOther {
		t.Fatalf("first signup: %d", r.status)
	}
	attempt := func(ip, email string) resp {
		return env.browser(t).post("/signup", "/signup", url.Values{"email": {email}, "password": {pw}},
			map[string]string{"X-Forwarded-For": ip})
	}
	for i := range signupsPerHour {
		ip := fmt.Sprintf("2001:db8:5:7::%x", i+1)
		if r := attempt(ip, "taken@example.com"); r.status != http.StatusConflict {
			t.Fatalf("conflict %d: %d", i+1, r.status)
		}
	}
	for _, email := range []string{"taken@example.com", "new@example.com"} {
		r := attempt("2001:db8:5:7::ffff", email)
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "too many sign-ups") {
			t.Fatalf("%s after %d conflicts: %d %v", email, signupsPerHour, r.status, r.header)
		}
	}
	if r := attempt("2001:db8:5:8::1", "taken@example.com"); r.status != http.StatusConflict {
		t.Fatalf("another network: %d", r.status)
	}
	// Input errors still give their slot back.
	for range signupsPerHour + 1 {
		if r := env.browser(t).post("/signup", "/signup", url.Values{"email": {"not-an-address"}, "password": {pw}},
			map[string]string{"X-Forwarded-For": "192.0.2.9"}); r.status != http.StatusBadRequest {
			t.Fatalf("bad email: %d", r.status)
		}
	}
}

// The note of a favourite is set from JSON only: an XML or form body was
// bound by Echo, found no note and wiped the stored one.
func TestFavouriteNoteOnlyFromJSON(t *testing.T) {
	env := newAccEnv(t)
	b := env.browser(t)
	b.signup("cook@example.com")
	tok := b.newToken("laptop", "read")
	id := env.recipes[1].ID
	put := func(ctype, body string) (int, ErrorBody) {
		req, _ := http.NewRequest("PUT", env.srv.URL+"/api/v1/favourites/"+id, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var e ErrorBody
		_ = json.NewDecoder(res.Body).Decode(&e)
		return res.StatusCode, e
	}
	if st, _ := put("application/json; charset=utf-8", `{"note":"double the garlic"}`); st != 200 {
		t.Fatalf("JSON note: %d", st)
	}
	for _, tc := range []struct{ ctype, body string }{
		{"application/xml", `<note></note>`},
		{"text/xml", `<favourite><note>x</note></favourite>`},
		{"application/x-www-form-urlencoded", "note="},
		{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n\r\n--x--\r\n"},
		{"text/plain", `{"note":""}`},
		{"", `{"note":""}`},
	} {
		if st, e := put(tc.ctype, tc.body); st != http.StatusUnsupportedMediaType || e.Error.Code != flavormonk.EUNSUPPORTED || !strings.Contains(e.Error.Message, "application/json") {
			t.Errorf("%q: %d %+v", tc.ctype, st, e.Error)
		}
	}
	for _, body := range []string{`{"note":`, `{"note":5}`, `{"note":"x","extra":1}`, `{"note":"x"} {}`, `{"note":"x"}]`, `{"note":"x"}}`} {
		if st, e := put("application/json", body); st != http.StatusBadRequest || e.Error.Code != flavormonk.EINVALID {
			t.Errorf("%s: %d %+v", body, st, e.Error)
		}
	}
	favs, err := env.st.Favourites(context.Background(), env.user(t, "cook@example.com").ID)
	if err != nil || len(favs) != 1 || favs[0].Note != "double the garlic" {
		t.Fatalf("the note was changed: %+v %v", favs, err)
	}
}

// TestFormFieldsOnlyFromTheBody: a password, e-mail or licence key in the
// URL's query string is never used (it would sit in access logs, history
// and Referer headers, and a link could submit the form).
func TestFormFieldsOnlyFromTheBody(t *testing.T) {
	env := newAccEnv(t)
	b := env.browser(t)
	before := env.users(t)
	q := "?" + url.Values{"email": {"url@example.com"}, "password": {pw}}.Encode()
	if r := b.post("/signup"+q, "/signup", url.Values{}, nil); r.status != http.StatusBadRequest {
		t.Fatalf("sign-up with its fields in the URL: %d, want 400", r.status)
	}
	if env.users(t) != before {
		t.Fatal("a sign-up took its fields from the URL")
	}
	if r := b.signup("body@example.com"); r.status != http.StatusSeeOther {
		t.Fatalf("signup: %d %s", r.status, r.body)
	}
	if r := b.post("/logout", "/account", url.Values{}, nil); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	q = "?" + url.Values{"email": {"body@example.com"}, "password": {pw}}.Encode()
	if r := b.post("/login"+q, "/login", url.Values{}, nil); r.status == http.StatusSeeOther || b.cookie(sessionCookie) != "" {
		t.Fatalf("log-in took its fields from the URL: %d", r.status)
	}
}

// errRefused is the driver error downStore fails with, classified as the
// store being unreachable.
var errRefused = errors.New("connection refused")

// downStore fails account lookups as an unreachable database does.
type downStore struct {
	flavormonk.AppStore
	down atomic.Bool
}

func (d *downStore) UserByEmail(ctx context.Context, email string) (*flavormonk.User, error) {
	if d.down.Load() {
		return nil, fmt.Errorf("postgres: user by email: %w", errRefused)
	}
	return d.AppStore.UserByEmail(ctx, email)
}

// TestLoginDuringOutageCostsNoAttempt: log-ins while the store is
// unreachable answer 503 and count nothing, so whoever retried through the
// outage can log in when it is over.
func TestLoginDuringOutageCostsNoAttempt(t *testing.T) {
	env := newAccEnvWith(t, nil, func(o *Options) { o.StoreUnreachable = func(err error) bool { return errors.Is(err, errRefused) } })
	b := env.browser(t)
	if r := b.signup("cook@example.com"); r.status != http.StatusSeeOther {
		t.Fatalf("signup: %d %s", r.status, r.body)
	}
	b.post("/logout", "/account", url.Values{}, nil)
	ds := &downStore{AppStore: env.st}
	env.server.acc = newTestAccounts(env.server.cfg, env.cfg, ds, ds, nil).svc
	ds.down.Store(true)
	for i := range 8 {
		if r := b.login("cook@example.com", pw); r.status != http.StatusServiceUnavailable {
			t.Fatalf("log-in %d during the outage: %d, want 503", i+1, r.status)
		}
	}
	ds.down.Store(false)
	if r := b.login("cook@example.com", pw); r.status != http.StatusSeeOther {
		t.Fatalf("log-in after the outage: %d, want 303 (locked out by attempts the outage refused?)", r.status)
	}
}
