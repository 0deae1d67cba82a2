package web

import (
	"strings"

	"github.com/labstack/echo/v4"
)

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// formValue is a field of a submitted form's body, never of the URL: a
// password or licence key in a query string lands in access logs, browser
// history and Referer headers, and a form that takes its fields from the
// URL can be submitted by a link.
func formValue(c echo.Context, name string) string {
	return c.Request().PostFormValue(name)
}
