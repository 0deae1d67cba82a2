package web

import (
	"html/template"

	"github.com/labstack/echo/v4"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// routeAccounts turns on sign-up, log-in, sessions, API tokens, favourites
// and the admin pages, served by s.acc. Browsers authenticate with the
// fm_session cookie; the API only with `Authorization: Bearer fm_…`
// tokens.
func (s *Server) routeAccounts() {
	acc := s.acc
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
	if acc.Licenses() {
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
