package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

func (s *Server) accountData(c echo.Context, u *flavormonk.User) (map[string]any, error) {
	favs, toks, grants, err := s.acc.Overview(c.Request().Context(), u.ID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Title": "Your account", "User": u, "Favourites": favs, "Tokens": toks, "Grants": grants,
		"Licenses": s.acc.Licenses(), "CSRF": s.csrfToken(c)}, nil
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

// changePassword sets a new password, logs out every other session of the
// user (the current one stays) and revokes their API tokens.
func (s *Server) changePassword(c echo.Context) error {
	u, ss := currentUser(c), currentSession(c)
	if u == nil || ss == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	revoked, err := s.acc.ChangePassword(c.Request().Context(), u, ss, formValue(c, "current_password"), formValue(c, "new_password"), c.RealIP())
	if err != nil {
		return s.accountError(c, u, err)
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
	if err := s.acc.Delete(c.Request().Context(), u, formValue(c, "password"), c.RealIP()); err != nil {
		return s.accountError(c, u, err)
	}
	s.clearCookie(c, sessionCookie)
	return c.Redirect(http.StatusSeeOther, "/")
}

func (s *Server) exportAccount(c echo.Context) error {
	u := currentUser(c)
	if u == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	x, err := s.acc.Export(c.Request().Context(), u)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="flavormonk-account.json"`)
	return c.JSONPretty(http.StatusOK, x, "  ")
}

// unlockLicense verifies a Gumroad licence key and records the grant; an
// active licence unlocks the plan it maps to. Registered only when a
// Gumroad product is configured.
func (s *Server) unlockLicense(c echo.Context) error {
	u := currentUser(c)
	if u == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	if err := s.acc.UnlockLicense(c.Request().Context(), u, formValue(c, "license_key")); err != nil {
		if flavormonk.ErrorCode(err) == flavormonk.EUNAVAILABLE {
			c.Response().Header().Set("Retry-After", "60")
		}
		return s.accountError(c, u, err)
	}
	return s.accountNotice(c, u, "Your licence is verified: the "+s.acc.Plan()+" plan is unlocked.")
}
