package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/account"
)

func (s *Server) createToken(c echo.Context) error {
	u := currentUser(c)
	if u == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	name := strings.TrimSpace(formValue(c, "name"))
	if err := account.CheckTokenName(name); err != nil {
		return err
	}
	// Multipart bodies too: ParseForm alone reads only URL-encoded ones.
	if err := c.Request().ParseMultipartForm(32 << 10); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return flavormonk.Errorf(flavormonk.EINVALID, "the form is malformed")
	}
	tok, err := s.acc.CreateToken(c.Request().Context(), u.ID, name, c.Request().PostForm["scope"])
	if err != nil {
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
	if err := s.acc.RevokeToken(c.Request().Context(), u.ID, id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/account")
}
