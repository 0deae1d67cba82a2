package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/account"
	"github.com/flavormonk/flavormonk/app/auth"
	"github.com/flavormonk/flavormonk/app/limit"
)

const (
	sessionCookie = "fm_session"
	csrfCookie    = "fm_csrf"
)

func currentUser(c echo.Context) *flavormonk.User {
	u, _ := c.Get("user").(*flavormonk.User)
	return u
}

func currentSession(c echo.Context) *flavormonk.Session {
	ss, _ := c.Get("session").(*flavormonk.Session)
	return ss
}

// unauthorized asks for a bearer token with err.
func unauthorized(c echo.Context, err error) error {
	if flavormonk.ErrorCode(err) == flavormonk.EUNAUTHORIZED {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="flavormonk"`)
	}
	return err
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
				return unauthorized(c, flavormonk.Errorf(flavormonk.EUNAUTHORIZED, "use Authorization: Bearer with an API token"))
			}
			u, t, err := s.acc.TokenUser(ctx, strings.TrimSpace(tok))
			if err != nil {
				return unauthorized(c, err)
			}
			c.Set("user", u)
			c.Set("token", t)
			return next(c)
		}
		ck, err := c.Cookie(sessionCookie)
		if err != nil || !account.ValidToken(ck.Value) {
			return next(c)
		}
		u, ss, err := s.acc.Authenticate(ctx, ck.Value)
		if err != nil {
			if flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
				return err
			}
			s.clearCookie(c, sessionCookie)
			return next(c)
		}
		c.Set("user", u)
		c.Set("session", ss)
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
				return unauthorized(c, flavormonk.Errorf(flavormonk.EUNAUTHORIZED, "this endpoint needs an API token (Authorization: Bearer fm_…)"))
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
	v := account.RandomSecret()
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

// logIn starts a new session for u (the browser's earlier one ends: no
// session fixation), sets its cookie and links the browser's visitor
// session to u.
func (s *Server) logIn(c echo.Context, u *flavormonk.User) error {
	ctx := c.Request().Context()
	previous := ""
	if ck, err := c.Cookie(sessionCookie); err == nil {
		previous = ck.Value
	}
	tok, ss, err := s.acc.StartSession(ctx, u, previous)
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: sessionCookie, Value: tok, Path: "/", Expires: ss.ExpiresAt, MaxAge: int(account.SessionAbsolute / time.Second),
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
	s.clearCookie(c, csrfCookie)
	visitor := ""
	if ck, err := c.Cookie(visitorCookie); err == nil {
		visitor = ck.Value
	}
	if id := s.acc.ClaimVisitor(ctx, u, visitor); id != "" {
		c.SetCookie(&http.Cookie{Name: visitorCookie, Value: id, Path: "/", MaxAge: 180 * 24 * 3600,
			HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
	}
	return nil
}

// formError re-renders a form with the error, under the error's status.
func (s *Server) formError(c echo.Context, page string, err error, data map[string]any) error {
	status, detail := resolve(err)
	if status >= 500 {
		return err
	}
	c.Set("error_code", detail.Code)
	var rl *limit.RateLimitError
	if errors.As(err, &rl) {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(rl.RetryAfter/time.Second)))
	}
	data["Error"] = detail.Message
	data["CSRF"] = s.csrfToken(c)
	return s.render(c, status, page, data)
}

func (s *Server) signupPage(c echo.Context) error {
	data := map[string]any{"Title": "Sign up", "InviteOnly": s.acc.InviteOnly()}
	invite := strings.TrimSpace(c.QueryParam("invite"))
	if err := account.CheckInvite(invite); err != nil {
		return s.formError(c, "signup", err, data)
	}
	data["Invite"], data["CSRF"] = invite, s.csrfToken(c)
	return s.render(c, http.StatusOK, "signup", data)
}

func (s *Server) loginPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "login", map[string]any{"Title": "Log in", "CSRF": s.csrfToken(c)})
}

func (s *Server) signup(c echo.Context) error {
	u, shown, err := s.acc.SignUp(c.Request().Context(), account.Signup{Email: formValue(c, "email"),
		Password: formValue(c, "password"), Invite: formValue(c, "invite"), IP: c.RealIP()})
	if err != nil {
		data := map[string]any{"Title": "Sign up", "InviteOnly": s.acc.InviteOnly()}
		if shown.Email != "" {
			data["Email"] = shown.Email
		}
		if shown.Invite != "" {
			data["Invite"] = shown.Invite
		}
		return s.formError(c, "signup", err, data)
	}
	if err := s.logIn(c, u); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/account")
}

func (s *Server) login(c echo.Context) error {
	email := formValue(c, "email")
	u, err := s.acc.LogIn(c.Request().Context(), email, formValue(c, "password"), c.RealIP())
	if err != nil {
		return s.formError(c, "login", err, map[string]any{"Title": "Log in", "Email": account.LoginKey(email)})
	}
	if err := s.logIn(c, u); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/account")
}

func (s *Server) logout(c echo.Context) error {
	if ss := currentSession(c); ss != nil {
		if err := s.acc.EndSession(c.Request().Context(), ss.TokenHash); err != nil && flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
			return err
		}
	}
	s.clearCookie(c, sessionCookie)
	// The visitor session was the user's: whoever browses next starts a
	// new one, and sees nothing keyed to it (assistant history).
	s.clearCookie(c, visitorCookie)
	return c.Redirect(http.StatusSeeOther, "/")
}
