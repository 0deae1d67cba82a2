package web

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/auth"
)

// useAdmin adds the admin pages: invites, plan grants and the user list.
// Only users with the admin role get them (403 for everyone else); every
// form carries the CSRF token.
func (s *Server) useAdmin() {
	e := s.Echo
	get := []echo.MiddlewareFunc{noStore, requireAdmin}
	post := []echo.MiddlewareFunc{noStore, requireAdmin, s.checkCSRF}
	e.GET("/admin", s.adminPage, get...)
	e.GET("/admin/usage", s.adminUsage, get...)
	e.POST("/admin/invites", s.adminInvite, post...)
	e.POST("/admin/grants", s.adminGrant, post...)
}

func requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u := currentUser(c)
		if u == nil || currentSession(c) == nil {
			return flavormonk.Errorf(flavormonk.EFORBIDDEN, "the admin pages need you logged in with an admin account")
		}
		if u.Role != flavormonk.RoleAdmin {
			return flavormonk.Errorf(flavormonk.EFORBIDDEN, "the admin pages are for admins only")
		}
		return next(c)
	}
}

// adminData is the admin page's data, the user list from after; a bad
// after is returned as perr with the list from the start, so the page can
// show it with the message.
func (s *Server) adminData(c echo.Context) (data map[string]any, perr, err error) {
	var after int64
	if v := c.QueryParam("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			perr = flavormonk.FieldErrorf(flavormonk.EINVALID, "after", "must be a user id (a whole number of 0 or more)")
		} else {
			after = n
		}
	}
	us, next, err := s.acc.Users(c.Request().Context(), after)
	if err != nil {
		return nil, nil, err
	}
	return map[string]any{"Title": "Administration", "User": currentUser(c), "Users": us, "After": after, "Next": next,
		"Plans": []string{flavormonk.PlanFree, flavormonk.PlanChef}, "CSRF": s.csrfToken(c)}, perr, nil
}

func (s *Server) adminPage(c echo.Context) error {
	data, perr, err := s.adminData(c)
	if err != nil {
		return err
	}
	if perr != nil {
		return s.formError(c, "admin", perr, data)
	}
	return s.render(c, http.StatusOK, "admin", data)
}

func (s *Server) adminInvite(c echo.Context) error {
	code, err := s.acc.CreateInvite(c.Request().Context(), currentUser(c).ID)
	if err != nil {
		return err
	}
	data, _, err := s.adminData(c)
	if err != nil {
		return err
	}
	data["NewInvite"] = code
	return s.render(c, http.StatusCreated, "admin", data)
}

// adminGrant gives a user a plan, as `flavormonk users grant` does.
func (s *Server) adminGrant(c echo.Context) error {
	data, _, err := s.adminData(c)
	if err != nil {
		return err
	}
	email, err := auth.NormalizeEmail(formValue(c, "email"))
	if err != nil {
		return s.formError(c, "admin", err, data)
	}
	data["Email"] = email
	u, err := s.acc.Grant(c.Request().Context(), email, formValue(c, "plan"))
	if err != nil {
		return s.formError(c, "admin", err, data)
	}
	if data, _, err = s.adminData(c); err != nil {
		return err
	}
	data["Notice"] = u.Email + " now has the " + u.Plan + " plan."
	return s.render(c, http.StatusOK, "admin", data)
}
