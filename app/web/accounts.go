package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/auth"
	"github.com/flavormonk/flavormonk/app/gumroad"
)

const (
	sessionCookie   = "fm_session"
	csrfCookie      = "fm_csrf"
	sessionAbsolute = 30 * 24 * time.Hour
	sessionIdle     = 7 * 24 * time.Hour
	maxNoteLen      = 2000
	maxTokenName    = 100
	signupsPerHour  = 10
)

type accounts struct {
	store    flavormonk.AccountStore
	hasher   *auth.Hasher
	throttle *auth.SharedThrottle
	signups  *signupLimiter
	gumroad  *gumroad.Client // nil: licences off
	plan     string          // the plan a valid licence grants
	recheck  *gumroad.Rechecker
}

// signupLimiter allows at most limit sign-ups per client network
// (auth.ClientNetwork: an IPv4 address, an IPv6 /64) per window.
// With a shared cache (Redis) the count is kept there, in fixed windows, so
// replicas count together; each replica also keeps a sliding window in
// memory, which decides alone when the cache is absent or failing.
type signupLimiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	now    flavormonk.Clock
	byIP   map[string][]time.Time
	swept  time.Time

	cache    func() flavormonk.Cache // nil or returning nil: memory only
	fallback func(err error)
}

func newSignupLimiter(limit int, window time.Duration, now flavormonk.Clock) *signupLimiter {
	return &signupLimiter{limit: limit, window: window, now: now, byIP: map[string][]time.Time{}}
}

// recent returns the ip's sign-ups inside the window; mu must be held.
func (l *signupLimiter) recent(ip string, now time.Time) []time.Time {
	ts := l.byIP[ip]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= l.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.byIP, ip)
	} else {
		l.byIP[ip] = ts
	}
	return ts
}

func (l *signupLimiter) sharedCache() flavormonk.Cache {
	if l.cache == nil {
		return nil
	}
	return l.cache()
}

// sharedKey is the ip's counter in the current fixed window, and when that
// window ends.
func (l *signupLimiter) sharedKey(ip string, now time.Time) (string, time.Time) {
	w := now.UnixMilli() / l.window.Milliseconds()
	end := time.UnixMilli((w + 1) * l.window.Milliseconds())
	return "signups:" + auth.HashKey(ip) + ":" + strconv.FormatInt(w, 10), end
}

func (l *signupLimiter) failed(err error) {
	if l.fallback != nil {
		l.fallback(err)
	}
}

func errTooManySignups(retry time.Duration) error {
	return flavormonk.Errorf(flavormonk.ERATELIMIT, "too many sign-ups from your network; try again in %s", retry)
}

// Take takes one of ip's sign-ups, atomically with the check (so parallel
// sign-ups cannot get past the limit), or returns ERATELIMIT and when to
// retry once ip has used them. The slot is given back with the returned
// function when the sign-up then fails.
func (l *signupLimiter) Take(ctx context.Context, ip string) (giveBack func(), retry time.Duration, err error) {
	l.mu.Lock()
	now := l.now.Now()
	if now.Sub(l.swept) > l.window {
		for k := range l.byIP {
			l.recent(k, now)
		}
		l.swept = now
	}
	ts := l.recent(ip, now)
	local := error(nil)
	if len(ts) >= l.limit {
		retry = max(l.window-now.Sub(ts[0]), time.Second).Round(time.Second)
		local = errTooManySignups(retry)
	} else {
		l.byIP[ip] = append(ts, now)
	}
	l.mu.Unlock()
	giveLocal := func() {
		if local != nil {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		ts := l.byIP[ip]
		if i := slices.Index(ts, now); i >= 0 {
			l.byIP[ip] = slices.Delete(ts, i, i+1)
		}
	}
	c := l.sharedCache()
	if c == nil {
		return giveLocal, retry, local
	}
	key, end := l.sharedKey(ip, now)
	cctx, cancel := context.WithTimeout(ctx, auth.CacheTimeout)
	defer cancel()
	n, err := c.Incr(cctx, key, end.Sub(now)+time.Minute)
	if err != nil {
		l.failed(err)
		return giveLocal, retry, local // the memory count decides
	}
	// The shared count decides. A slot is given back by counting the
	// failure under a second key (the cache cannot decrement).
	backKey := key + ":back"
	if n > int64(l.limit) {
		if v, ok, gerr := c.Get(cctx, backKey); gerr != nil || !ok {
			if gerr != nil {
				l.failed(gerr)
			}
		} else if b, perr := strconv.ParseInt(string(v), 10, 64); perr == nil && n-b <= int64(l.limit) {
			return l.giveBoth(giveLocal, c, backKey, end), 0, nil
		}
		giveLocal()
		retry = max(end.Sub(now), time.Second).Round(time.Second)
		return func() {}, retry, errTooManySignups(retry)
	}
	return l.giveBoth(giveLocal, c, backKey, end), 0, nil
}

// giveBoth gives a slot back in memory and in the cache.
func (l *signupLimiter) giveBoth(giveLocal func(), c flavormonk.Cache, backKey string, end time.Time) func() {
	return func() {
		giveLocal()
		ctx, cancel := context.WithTimeout(context.Background(), auth.CacheTimeout)
		defer cancel()
		if _, err := c.Incr(ctx, backKey, end.Sub(l.now.Now())+time.Minute); err != nil {
			l.failed(err)
		}
	}
}

// sharedCache is the cache replicas share for limits: the tier's cache
// (Redis, or memory on a single instance), nil without one.
func (s *Server) sharedCache() flavormonk.Cache {
	if s.cache == nil {
		return nil
	}
	return s.cache.c
}

// UseAccounts turns on sign-up, log-in, sessions, API tokens and
// favourites. Browsers authenticate with the fm_session cookie; the API
// only with `Authorization: Bearer fm_…` tokens.
func (s *Server) UseAccounts(acc flavormonk.AccountStore) {
	s.acc = &accounts{
		store:    acc,
		hasher:   auth.NewHasher(auth.DefaultParams, 2),
		throttle: auth.NewSharedThrottle(auth.NewThrottle(auth.DefaultLimits, s.now), s.sharedCache),
		signups:  newSignupLimiter(signupsPerHour, time.Hour, s.now),
		plan:     s.cfg.GumroadPlan,
	}
	s.acc.throttle.Fallback = func(op string, err error) { s.metrics.fallbacks.WithLabelValues("login_throttle").Inc() }
	s.acc.signups.cache = s.sharedCache
	s.acc.signups.fallback = func(error) { s.metrics.fallbacks.WithLabelValues("signup_limit").Inc() }
	if s.cfg.GumroadProductID != "" {
		s.acc.gumroad = &gumroad.Client{BaseURL: s.cfg.GumroadURL, ProductID: s.cfg.GumroadProductID}
		// The same options as cmd/flavormonk's recheckOptions, until the
		// Rechecker is built there and handed in.
		rc, why, err := gumroad.NewRechecker(gumroad.RecheckOptions{ProductID: s.cfg.GumroadProductID, BaseURL: s.cfg.GumroadURL,
			LicenseSecret: s.cfg.LicenseSecret, Interval: s.cfg.LicenseRecheck}, acc, s.log)
		switch {
		case err != nil:
			s.log.Error("licence re-checks are off", "err", err)
		case rc == nil:
			s.log.Warn("licence re-checks are off: " + why)
		default:
			rc.Now = s.now
		}
		s.acc.recheck = rc
	}
	// pages.go loads the public pages; the account pages are added here.
	for _, name := range []string{"signup", "login", "account", "admin", "admin_usage"} {
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
		s.pages.byName[name] = t
	}
	e := s.Echo
	e.Use(s.authenticate)
	html := []echo.MiddlewareFunc{noStore}
	post := []echo.MiddlewareFunc{noStore, s.checkCSRF}
	e.GET("/signup", s.signupPage, html...)
	e.POST("/signup", s.signup, post...)
	e.GET("/login", s.loginPage, html...)
	e.POST("/login", s.login, post...)
	e.POST("/logout", s.logout, post...)
	e.GET("/account", s.accountPage, html...)
	e.POST("/account/tokens", s.createToken, post...)
	e.POST("/account/tokens/:tid/revoke", s.revokeToken, post...)
	e.POST("/account/password", s.changePassword, post...)
	e.POST("/account/delete", s.deleteAccount, post...)
	e.GET("/account/export", s.exportAccount, html...)
	if s.acc.gumroad != nil {
		e.POST("/account/license", s.unlockLicense, post...)
	}
	s.useAdmin()
	e.GET("/recipes/:id/favourite", s.favouritePage, html...)
	e.POST("/recipes/:id/favourite", s.toggleFavourite, post...)
	// Favourites over the API need the "read" scope, for listing and for
	// changing them alike.
	e.GET("/api/v1/favourites", s.apiFavourites, noStore, needScope(flavormonk.ScopeRead))
	e.PUT("/api/v1/favourites/:id", s.apiSetFavourite, noStore, needScope(flavormonk.ScopeRead))
	e.DELETE("/api/v1/favourites/:id", s.apiDeleteFavourite, noStore, needScope(flavormonk.ScopeRead))
}

func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "no-store")
		return next(c)
	}
}

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func currentUser(c echo.Context) *flavormonk.User {
	u, _ := c.Get("user").(*flavormonk.User)
	return u
}

func currentSession(c echo.Context) *flavormonk.Session {
	ss, _ := c.Get("session").(*flavormonk.Session)
	return ss
}

func unauthorized(c echo.Context, format string, args ...any) error {
	c.Response().Header().Set("WWW-Authenticate", `Bearer realm="flavormonk"`)
	return flavormonk.Errorf(flavormonk.EUNAUTHORIZED, format, args...)
}

// authenticate loads the user: from a bearer token on the API (a bad token
// is refused, never served as anonymous), from the session cookie on pages.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		ctx := req.Context()
		if strings.HasPrefix(req.URL.Path, "/api/") {
			h := req.Header.Get("Authorization")
			if h == "" {
				return next(c)
			}
			scheme, tok, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				return unauthorized(c, "use Authorization: Bearer with an API token")
			}
			tok = strings.TrimSpace(tok)
			if !strings.HasPrefix(tok, auth.APITokenPrefix) || len(tok) > 128 {
				return unauthorized(c, "the API token is malformed")
			}
			t, err := s.acc.store.APIToken(ctx, auth.HashToken(tok))
			if err != nil {
				if flavormonk.ErrorCode(err) == flavormonk.ENOTFOUND {
					return unauthorized(c, "the API token is not valid")
				}
				return err
			}
			if t.RevokedAt != nil {
				return unauthorized(c, "the API token has been revoked")
			}
			u, err := s.acc.store.User(ctx, t.UserID)
			if err != nil {
				if flavormonk.ErrorCode(err) == flavormonk.ENOTFOUND {
					return unauthorized(c, "the API token is not valid")
				}
				return err
			}
			now := s.now()
			if t.LastUsed == nil || now.Sub(*t.LastUsed) > time.Minute {
				if err := s.acc.store.TouchAPIToken(ctx, t.ID, now); err != nil {
					s.log.WarnContext(ctx, "api token touch failed", "err", err)
				}
			}
			c.Set("user", u)
			c.Set("token", t)
			return next(c)
		}
		ck, err := c.Cookie(sessionCookie)
		if err != nil || ck.Value == "" || len(ck.Value) > 128 {
			return next(c)
		}
		hash := auth.HashToken(ck.Value)
		ss, err := s.loadSession(ctx, hash)
		if err != nil {
			if flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
				return err
			}
			s.clearCookie(c, sessionCookie)
			return next(c)
		}
		now := s.now()
		if !now.Before(ss.ExpiresAt) || now.Sub(ss.SeenAt) > sessionIdle {
			_ = s.deleteSession(ctx, hash)
			s.clearCookie(c, sessionCookie)
			return next(c)
		}
		u, err := s.acc.store.User(ctx, ss.UserID)
		if err != nil {
			if flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
				return err
			}
			s.clearCookie(c, sessionCookie)
			return next(c)
		}
		if now.Sub(ss.SeenAt) > time.Minute {
			if err := s.touchSession(ctx, ss, now); err != nil {
				s.log.WarnContext(ctx, "session touch failed", "err", err)
			}
		}
		c.Set("user", u)
		c.Set("session", ss)
		c.Set("session_hash", hash)
		return next(c)
	}
}

// needScope refuses a bearer token without the scope (403) and an
// anonymous caller (401).
func needScope(scope string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			t, _ := c.Get("token").(*flavormonk.APIToken)
			if t == nil {
				return unauthorized(c, "this endpoint needs an API token (Authorization: Bearer fm_…)")
			}
			if !slices.Contains(t.Scopes, scope) {
				return flavormonk.Errorf(flavormonk.EFORBIDDEN, "the API token lacks the %q scope", scope)
			}
			return next(c)
		}
	}
}

func (s *Server) clearCookie(c echo.Context, name string) {
	c.SetCookie(&http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.cfg.SecureCookies})
}

// csrfSecret is the logged-in session's secret, or for anonymous forms a
// random secret kept in the fm_csrf cookie (created when create is set).
func (s *Server) csrfSecret(c echo.Context, create bool) string {
	if ss := currentSession(c); ss != nil {
		return ss.CSRF
	}
	if ck, err := c.Cookie(csrfCookie); err == nil && len(ck.Value) >= 32 && len(ck.Value) <= 128 {
		return ck.Value
	}
	if !create {
		return ""
	}
	v := randomSecret()
	c.SetCookie(&http.Cookie{Name: csrfCookie, Value: v, Path: "/", MaxAge: 24 * 3600,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteStrictMode})
	// Later reads in this request see the new cookie.
	c.Request().AddCookie(&http.Cookie{Name: csrfCookie, Value: v})
	return v
}

func (s *Server) csrfToken(c echo.Context) string { return auth.CSRFToken(s.csrfSecret(c, true)) }

// checkCSRF guards state-changing forms: a same-origin Origin (when sent)
// and a valid csrf token.
func (s *Server) checkCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if o := req.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || o == "null" || !strings.EqualFold(u.Host, req.Host) {
				return flavormonk.Errorf(flavormonk.EFORBIDDEN, "cross-origin form posts are refused")
			}
		}
		secret := s.csrfSecret(c, false)
		if !auth.CheckCSRF(secret, csrfPresented(req)) {
			return flavormonk.Errorf(flavormonk.EFORBIDDEN, "the form expired or did not come from this site; reload the page and try again")
		}
		return next(c)
	}
}

// csrfPresented is the token a form post carries: from its body, or the
// X-CSRF-Token header of a script, never from the URL, where it would end
// up in logs, history and Referer headers.
func csrfPresented(req *http.Request) string {
	if v := req.PostFormValue("csrf"); v != "" {
		return v
	}
	return req.Header.Get("X-CSRF-Token")
}

// newSession always issues a fresh token: an earlier session cookie is
// deleted, never reused (no session fixation).
func (s *Server) newSession(c echo.Context, u *flavormonk.User) error {
	ctx := c.Request().Context()
	if ck, err := c.Cookie(sessionCookie); err == nil && ck.Value != "" && len(ck.Value) <= 128 {
		_ = s.deleteSession(ctx, auth.HashToken(ck.Value))
	}
	tok, hash := auth.NewToken("s_")
	now := s.now()
	ss := &flavormonk.Session{TokenHash: hash, UserID: u.ID, CSRF: randomSecret(), CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(sessionAbsolute)}
	if err := s.acc.store.CreateSession(ctx, ss); err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: tok, Path: "/", Expires: ss.ExpiresAt, MaxAge: int(sessionAbsolute / time.Second),
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
	s.clearCookie(c, csrfCookie)
	return nil
}

// formError re-renders a form with the error, under the error's status.
func (s *Server) formError(c echo.Context, page string, err error, data map[string]any) error {
	status, detail := resolve(err)
	if status >= 500 {
		return err
	}
	c.Set("error_code", detail.Code)
	var rl *auth.RateLimitError
	if errors.As(err, &rl) {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(rl.RetryAfter/time.Second)))
	}
	data["Error"] = detail.Message
	data["CSRF"] = s.csrfToken(c)
	return s.render(c, status, page, data)
}

func (s *Server) signupPage(c echo.Context) error {
	data := map[string]any{"Title": "Sign up", "InviteOnly": s.cfg.InviteOnly}
	invite := strings.TrimSpace(c.QueryParam("invite"))
	if err := checkInvite(invite); err != nil {
		return s.formError(c, "signup", err, data)
	}
	data["Invite"], data["CSRF"] = invite, s.csrfToken(c)
	return s.render(c, http.StatusOK, "signup", data)
}

func checkInvite(invite string) error {
	if len(invite) > 128 || !utf8.ValidString(invite) {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "invite", "the invite code is not valid")
	}
	return nil
}

func (s *Server) loginPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "login", map[string]any{"Title": "Log in", "CSRF": s.csrfToken(c)})
}

func (s *Server) signup(c echo.Context) error {
	data := map[string]any{"Title": "Sign up", "InviteOnly": s.cfg.InviteOnly}
	giveBack, retry, err := s.acc.signups.Take(c.Request().Context(), auth.ClientNetwork(c.RealIP()))
	if err != nil {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
		return s.formError(c, "signup", err, data)
	}
	// A sign-up that fails on its input gives its slot back; one that
	// creates an account, or finds the address taken, keeps it.
	keep := false
	defer func() {
		if !keep {
			giveBack()
		}
	}()
	email, err := auth.NormalizeEmail(formValue(c, "email"))
	if err != nil {
		return s.formError(c, "signup", err, data)
	}
	data["Email"] = email
	pw := formValue(c, "password")
	if err := auth.CheckPassword(pw); err != nil {
		return s.formError(c, "signup", err, data)
	}
	invite := strings.TrimSpace(formValue(c, "invite"))
	inviteHash := ""
	if invite != "" {
		if err := checkInvite(invite); err != nil {
			return s.formError(c, "signup", err, data)
		}
		inviteHash = auth.HashToken(invite)
		data["Invite"] = invite
	} else if s.cfg.InviteOnly {
		return s.formError(c, "signup", flavormonk.FieldErrorf(flavormonk.EINVALID, "invite",
			"sign-up is by invitation only for now; enter the invite code you were sent"), data)
	}
	ctx := c.Request().Context()
	hash, err := s.acc.hasher.Hash(ctx, pw)
	if err != nil {
		return s.formError(c, "signup", err, data)
	}
	u := &flavormonk.User{Email: email, PasswordHash: hash, Role: flavormonk.RoleCustomer, Plan: flavormonk.PlanFree}
	if err := s.acc.store.CreateUser(ctx, u, inviteHash); err != nil {
		if flavormonk.ErrorCode(err) == flavormonk.ECONFLICT {
			// Sign-up logs in at once, so it cannot answer "taken" and "created"
			// alike without a mail round trip; instead each answer that an
			// address is taken costs a sign-up from the client network's
			// hourly allowance, so testing which addresses have accounts is
			// as slow as creating accounts.
			keep = true
			err = flavormonk.FieldErrorf(flavormonk.ECONFLICT, "email", "an account with this email exists already; log in instead")
		}
		return s.formError(c, "signup", err, data)
	}
	keep = true
	if err := s.newSession(c, u); err != nil {
		return err
	}
	s.claimVisitor(c, u)
	return c.Redirect(http.StatusSeeOther, "/account")
}

var errBadCredentials = flavormonk.Errorf(flavormonk.EUNAUTHORIZED, "email or password is wrong")

func (s *Server) login(c echo.Context) error {
	data := map[string]any{"Title": "Log in"}
	ctx := c.Request().Context()
	raw := formValue(c, "email")
	pw := formValue(c, "password")
	ip := c.RealIP()
	key, nerr := auth.NormalizeEmail(raw)
	if nerr != nil {
		key = strings.ToLower(strings.TrimSpace(raw)) // throttled (hashed when long) all the same
	}
	data["Email"] = key
	// The account is looked up before an attempt is counted: with the
	// store unreachable the answer is 503 and costs no attempt, or people
	// retrying through an outage would find themselves locked out after it.
	var u *flavormonk.User
	var lerr error
	if nerr == nil {
		if u, lerr = s.acc.store.UserByEmail(ctx, key); lerr != nil && flavormonk.ErrorCode(lerr) != flavormonk.ENOTFOUND {
			return lerr
		}
	}
	// The attempt is taken before the password is verified, so parallel
	// attempts cannot get past the limit while they wait for a hash slot.
	if err := s.acc.throttle.Take(ctx, key, ip); err != nil {
		return s.formError(c, "login", err, data)
	}
	fail := func() error { return s.formError(c, "login", errBadCredentials, data) }
	if nerr != nil || len(pw) > 4*auth.MaxPasswordLen || !utf8.ValidString(pw) {
		return fail()
	}
	if lerr != nil {
		if err := s.acc.hasher.VerifyDummy(ctx, pw); err != nil {
			return s.formError(c, "login", err, data)
		}
		return fail()
	}
	ok, rehash, err := s.acc.hasher.Verify(ctx, pw, u.PasswordHash)
	if err != nil && !errors.Is(err, auth.ErrMalformedHash) {
		return s.formError(c, "login", err, data) // busy
	}
	if err != nil || !ok {
		return fail()
	}
	s.acc.throttle.Succeed(ctx, key, ip)
	if rehash {
		if h, err := s.acc.hasher.Hash(ctx, pw); err == nil {
			if err := s.acc.store.SetPasswordHash(ctx, u.ID, h); err != nil {
				s.log.WarnContext(ctx, "rehash failed", "err", err)
			}
		}
	}
	if err := s.newSession(c, u); err != nil {
		return err
	}
	s.claimVisitor(c, u)
	return c.Redirect(http.StatusSeeOther, "/account")
}

func (s *Server) logout(c echo.Context) error {
	if h, ok := c.Get("session_hash").(string); ok {
		if err := s.deleteSession(c.Request().Context(), h); err != nil && flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
			return err
		}
	}
	s.clearCookie(c, sessionCookie)
	// The visitor session was the user's: whoever browses next starts a
	// new one, and sees nothing keyed to it (assistant history).
	s.clearCookie(c, visitorCookie)
	return c.Redirect(http.StatusSeeOther, "/")
}

// claimVisitor links the browser's anonymous visitor session to the user
// who signed up or logged in from it, so what is keyed to the visitor id
// (assistant conversations and usage) is attributed to them. A browser
// without one, or with one that belongs to another user, gets a new one.
// Failures are logged: they never stop a sign-up or log-in.
func (s *Server) claimVisitor(c echo.Context, u *flavormonk.User) {
	ctx := c.Request().Context()
	if ck, err := c.Cookie(visitorCookie); err == nil && ck.Value != "" && len(ck.Value) <= 128 {
		err := s.acc.store.LinkVisitor(ctx, ck.Value, u.ID)
		switch code := flavormonk.ErrorCode(err); {
		case err == nil:
			return
		case code == flavormonk.ENOTFOUND || code == flavormonk.ECONFLICT:
			// expired, or another user's: start a new one below
		default:
			s.log.WarnContext(ctx, "linking the visitor session failed", "err", err)
			return
		}
	}
	v, err := s.store.CreateVisitor(ctx)
	if err == nil {
		err = s.acc.store.LinkVisitor(ctx, v.ID, u.ID)
	}
	if err != nil {
		s.log.WarnContext(ctx, "creating a visitor session for the user failed", "err", err)
		return
	}
	c.SetCookie(&http.Cookie{Name: visitorCookie, Value: v.ID, Path: "/", MaxAge: 180 * 24 * 3600,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
}

func (s *Server) accountData(c echo.Context, u *flavormonk.User) (map[string]any, error) {
	ctx := c.Request().Context()
	favs, err := s.acc.store.Favourites(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	type favView struct {
		*flavormonk.Favourite
		Name string
	}
	views := make([]favView, len(favs))
	for i, f := range favs {
		views[i] = favView{Favourite: f, Name: f.RecipeID}
		if r, err := s.store.Recipe(ctx, f.RecipeID); err == nil {
			views[i].Name = r.Name
		}
	}
	toks, err := s.acc.store.APITokens(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	grants, err := s.acc.store.Grants(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Title": "Your account", "User": u, "Favourites": views, "Tokens": toks, "Grants": grants,
		"Licenses": s.acc.gumroad != nil, "CSRF": s.csrfToken(c)}, nil
}

func (s *Server) accountPage(c echo.Context) error {
	u := currentUser(c)
	if u == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	data, err := s.accountData(c, u)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "account", data)
}

func (s *Server) createToken(c echo.Context) error {
	u := currentUser(c)
	if u == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	name := strings.TrimSpace(formValue(c, "name"))
	if name == "" || len(name) > maxTokenName || !utf8.ValidString(name) {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "name", "give the token a name of 1 to %d characters", maxTokenName)
	}
	// Multipart bodies too: ParseForm alone reads only URL-encoded ones.
	if err := c.Request().ParseMultipartForm(32 << 10); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return flavormonk.Errorf(flavormonk.EINVALID, "the form is malformed")
	}
	var scopes []string
	for _, sc := range c.Request().PostForm["scope"] {
		if sc != flavormonk.ScopeRead && sc != flavormonk.ScopeAsk {
			return flavormonk.FieldErrorf(flavormonk.EINVALID, "scope", "unknown scope %q; allowed: read, ask", sc)
		}
		if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	if len(scopes) == 0 {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "scope", "choose at least one scope")
	}
	tok, hash := auth.NewToken(auth.APITokenPrefix)
	t := &flavormonk.APIToken{UserID: u.ID, Name: name, Hash: hash, Prefix: tok[:len(auth.APITokenPrefix)+6], Scopes: scopes}
	if err := s.acc.store.CreateAPIToken(c.Request().Context(), t); err != nil {
		return err
	}
	data, err := s.accountData(c, u)
	if err != nil {
		return err
	}
	data["NewToken"] = tok
	return s.render(c, http.StatusCreated, "account", data)
}

func (s *Server) revokeToken(c echo.Context) error {
	u := currentUser(c)
	if u == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	id, err := strconv.ParseInt(c.Param("tid"), 10, 64)
	if err != nil || id <= 0 {
		return flavormonk.Errorf(flavormonk.ENOTFOUND, "no such token")
	}
	if err := s.acc.store.RevokeAPIToken(c.Request().Context(), u.ID, id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/account")
}

func (s *Server) isFavourite(c echo.Context, userID int64, recipeID string) (*flavormonk.Favourite, error) {
	favs, err := s.acc.store.Favourites(c.Request().Context(), userID)
	if err != nil {
		return nil, err
	}
	for _, f := range favs {
		if f.RecipeID == recipeID {
			return f, nil
		}
	}
	return nil, nil
}

// favouritePage confirms adding or removing a favourite (the recipe page
// links here; the form carries the CSRF token).
func (s *Server) favouritePage(c echo.Context) error {
	u := currentUser(c)
	if u == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	r, err := s.loadRecipe(c)
	if err != nil {
		return err
	}
	f, err := s.isFavourite(c, u.ID, r.ID)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "account", map[string]any{"Title": "Favourite", "User": u, "Confirm": r, "IsFavourite": f != nil, "CSRF": s.csrfToken(c)})
}

func (s *Server) toggleFavourite(c echo.Context) error {
	u := currentUser(c)
	if u == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	id := c.Param("id")
	if len(id) > 200 || !utf8.ValidString(id) {
		return flavormonk.Errorf(flavormonk.ENOTFOUND, "no such recipe")
	}
	ctx := c.Request().Context()
	f, err := s.isFavourite(c, u.ID, id)
	if err != nil {
		return err
	}
	if f != nil {
		err = s.acc.store.DeleteFavourite(ctx, u.ID, id)
	} else {
		err = s.acc.store.SetFavourite(ctx, u.ID, id, "")
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/recipes/"+url.PathEscape(id))
}

func (s *Server) apiFavourites(c echo.Context) error {
	favs, err := s.acc.store.Favourites(c.Request().Context(), currentUser(c).ID)
	if err != nil {
		return err
	}
	if favs == nil {
		favs = []*flavormonk.Favourite{}
	}
	return c.JSON(http.StatusOK, map[string]any{"favourites": favs})
}

func (s *Server) apiSetFavourite(c echo.Context) error {
	var body struct {
		Note string `json:"note"`
	}
	if req := c.Request(); req.ContentLength != 0 {
		// Only JSON: Echo's binder would also take XML or a form and, finding
		// no note in it, set an empty one over the user's.
		if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt != "application/json" {
			return flavormonk.Errorf(flavormonk.EUNSUPPORTED, "send the note as JSON with Content-Type: application/json, like {\"note\": \"…\"}")
		}
		dec := json.NewDecoder(req.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			return flavormonk.Errorf(flavormonk.EINVALID, "the body must be JSON like {\"note\": \"…\"}: %s", jsonProblem(err))
		}
		if trailingJSON(dec) {
			return flavormonk.Errorf(flavormonk.EINVALID, "the body has data after the JSON object")
		}
	}
	if !utf8.ValidString(body.Note) || utf8.RuneCountInString(body.Note) > maxNoteLen {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "note", "must be valid text of at most %d characters", maxNoteLen)
	}
	id := c.Param("id")
	u := currentUser(c)
	ctx := c.Request().Context()
	if err := s.acc.store.SetFavourite(ctx, u.ID, id, body.Note); err != nil {
		return err
	}
	f, err := s.isFavourite(c, u.ID, id)
	if err != nil || f == nil {
		return c.NoContent(http.StatusNoContent)
	}
	return c.JSON(http.StatusOK, f)
}

func (s *Server) apiDeleteFavourite(c echo.Context) error {
	if err := s.acc.store.DeleteFavourite(c.Request().Context(), currentUser(c).ID, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// accountError re-renders the account page with err.
func (s *Server) accountError(c echo.Context, u *flavormonk.User, err error) error {
	if status, _ := resolve(err); status >= 500 {
		return err
	}
	data, derr := s.accountData(c, u)
	if derr != nil {
		return derr
	}
	return s.formError(c, "account", err, data)
}

// accountNotice renders the account page with a notice.
func (s *Server) accountNotice(c echo.Context, u *flavormonk.User, notice string) error {
	data, err := s.accountData(c, u)
	if err != nil {
		return err
	}
	data["Notice"] = notice
	return s.render(c, http.StatusOK, "account", data)
}

// checkCurrentPassword verifies the logged-in user's password, throttled
// like log-in so a stolen session cannot guess it.
func (s *Server) checkCurrentPassword(c echo.Context, u *flavormonk.User, field, pw string) error {
	ip := c.RealIP()
	ctx := c.Request().Context()
	if err := s.acc.throttle.Take(ctx, u.Email, ip); err != nil {
		return err
	}
	wrong := flavormonk.FieldErrorf(flavormonk.EINVALID, field, "the current password is wrong")
	if pw == "" || len(pw) > 4*auth.MaxPasswordLen || !utf8.ValidString(pw) {
		return wrong
	}
	ok, _, err := s.acc.hasher.Verify(ctx, pw, u.PasswordHash)
	if err != nil && !errors.Is(err, auth.ErrMalformedHash) {
		return err // busy
	}
	if err != nil || !ok {
		return wrong
	}
	s.acc.throttle.Succeed(ctx, u.Email, ip)
	return nil
}

// changePassword sets a new password, logs out every other session of the
// user (the current one stays) and revokes their API tokens.
func (s *Server) changePassword(c echo.Context) error {
	u := currentUser(c)
	ss := currentSession(c)
	hash, _ := c.Get("session_hash").(string)
	if u == nil || ss == nil || hash == "" {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	if err := s.checkCurrentPassword(c, u, "current_password", formValue(c, "current_password")); err != nil {
		return s.accountError(c, u, err)
	}
	pw := formValue(c, "new_password")
	if err := auth.CheckPassword(pw); err != nil {
		return s.accountError(c, u, err)
	}
	ctx := c.Request().Context()
	h, err := s.acc.hasher.Hash(ctx, pw)
	if err != nil {
		return s.accountError(c, u, err)
	}
	if err := s.acc.store.SetPasswordHash(ctx, u.ID, h); err != nil {
		return err
	}
	u.PasswordHash = h
	hashes, err := s.userSessionHashes(ctx, u.ID)
	if err != nil {
		return err
	}
	if err := s.acc.store.DeleteUserSessions(ctx, u.ID); err != nil {
		return err
	}
	// The current session is stored again at once: its cached copy stays
	// (a tombstone would log it out).
	s.forgetSessions(ctx, slices.DeleteFunc(hashes, func(h string) bool { return h == hash })...)
	keep := *ss
	keep.TokenHash = hash
	if err := s.acc.store.CreateSession(ctx, &keep); err != nil {
		return err
	}
	// Whoever had the old password may have made API tokens: they go too.
	toks, err := s.acc.store.APITokens(ctx, u.ID)
	if err != nil {
		return err
	}
	revoked := 0
	for _, t := range toks {
		if t.RevokedAt == nil {
			if err := s.acc.store.RevokeAPIToken(ctx, u.ID, t.ID); err != nil {
				return err
			}
			revoked++
		}
	}
	notice := "Your password was changed; your other sessions were logged out."
	if revoked > 0 {
		notice += " Your API tokens were revoked: create new ones for your scripts."
	}
	return s.accountNotice(c, u, notice)
}

// deleteAccount removes the user and all their data after the password is
// confirmed.
func (s *Server) deleteAccount(c echo.Context) error {
	u := currentUser(c)
	if u == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	if err := s.checkCurrentPassword(c, u, "password", formValue(c, "password")); err != nil {
		return s.accountError(c, u, err)
	}
	ctx := c.Request().Context()
	hashes, err := s.userSessionHashes(ctx, u.ID)
	if err != nil {
		return err
	}
	if err := s.acc.store.DeleteUser(ctx, u.ID); err != nil {
		return err
	}
	s.forgetSessions(ctx, hashes...)
	s.clearCookie(c, sessionCookie)
	return c.Redirect(http.StatusSeeOther, "/")
}

// accountExport is the JSON download of a user's data. The types' JSON
// tags leave out password, token and licence key hashes.
type accountExport struct {
	ExportedAt time.Time               `json:"exported_at"`
	User       *flavormonk.User        `json:"user"`
	Favourites []*flavormonk.Favourite `json:"favourites"`
	APITokens  []*flavormonk.APIToken  `json:"api_tokens"`
	Grants     []*flavormonk.Grant     `json:"grants"`
	Visitors   []string                `json:"visitor_sessions"` // anonymous sessions linked to the account, by visitorRef
}

// visitorRef names a visitor session without its id, which is the live
// fm_visitor cookie value: a file that is downloaded, mailed or shared
// must not let its reader browse as the user.
func visitorRef(id string) string { return "sha256:" + auth.HashKey(id) }

func (s *Server) exportAccount(c echo.Context) error {
	u := currentUser(c)
	if u == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	ctx := c.Request().Context()
	x := accountExport{ExportedAt: s.now().UTC(), User: u,
		Favourites: []*flavormonk.Favourite{}, APITokens: []*flavormonk.APIToken{}, Grants: []*flavormonk.Grant{}}
	favs, err := s.acc.store.Favourites(ctx, u.ID)
	if err != nil {
		return err
	}
	toks, err := s.acc.store.APITokens(ctx, u.ID)
	if err != nil {
		return err
	}
	grants, err := s.acc.store.Grants(ctx, u.ID)
	if err != nil {
		return err
	}
	x.Favourites = append(x.Favourites, favs...)
	x.APITokens = append(x.APITokens, toks...)
	x.Grants = append(x.Grants, grants...)
	vs, err := s.acc.store.UserVisitors(ctx, u.ID)
	if err != nil {
		return err
	}
	x.Visitors = make([]string, len(vs))
	for i, v := range vs {
		x.Visitors[i] = visitorRef(v)
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="flavormonk-account.json"`)
	return c.JSONPretty(http.StatusOK, x, "  ")
}

// LicenseRechecker is what re-checks stored licences on a schedule (its
// Run), or nil when re-checks are off (no Gumroad product or no
// FLAVORMONK_LICENSE_SECRET).
func (s *Server) LicenseRechecker() *gumroad.Rechecker {
	if s.acc == nil || s.acc.recheck == nil {
		return nil
	}
	if s.acc.recheck.Lock == nil {
		s.acc.recheck.Lock = s.sharedCache()
	}
	return s.acc.recheck
}

// unlockLicense verifies a Gumroad licence key and records the grant; an
// active licence unlocks the plan it maps to. Registered only when a
// Gumroad product is configured.
func (s *Server) unlockLicense(c echo.Context) error {
	u := currentUser(c)
	if u == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	key, err := gumroad.CheckKey(formValue(c, "license_key"))
	if err != nil {
		return s.accountError(c, u, err)
	}
	ctx := c.Request().Context()
	lic, err := s.acc.gumroad.Verify(ctx, key)
	if err != nil {
		if flavormonk.ErrorCode(err) == flavormonk.EINVALID {
			err = flavormonk.FieldErrorf(flavormonk.EINVALID, "license_key", "the licence key is not valid for this product; check it against your Gumroad receipt")
		} else if flavormonk.ErrorCode(err) == flavormonk.EUNAVAILABLE {
			s.log.WarnContext(ctx, "licence verification failed", "err", err)
			c.Response().Header().Set("Retry-After", "60")
		}
		return s.accountError(c, u, err)
	}
	now := s.now().UTC()
	g := &flavormonk.Grant{UserID: u.ID, Plan: s.acc.plan, Source: "gumroad", LicenseKey: gumroad.KeyHash(key),
		Active: lic.Active(), CheckedAt: now}
	if s.acc.recheck != nil {
		g.Sealed = s.acc.recheck.Seal(key)
	}
	if err := s.acc.store.SetGrant(ctx, g); err != nil {
		return err
	}
	if !g.Active {
		return s.accountError(c, u, flavormonk.FieldErrorf(flavormonk.EFORBIDDEN, "license_key",
			"this licence is no longer active (refunded, disputed, charged back or cancelled), so it cannot unlock the %s plan", s.acc.plan))
	}
	if err := s.acc.store.SetPlan(ctx, u.ID, s.acc.plan); err != nil {
		return err
	}
	u.Plan = s.acc.plan
	return s.accountNotice(c, u, "Your licence is verified: the "+s.acc.plan+" plan is unlocked.")
}
