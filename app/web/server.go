// Package web is Flavor Monk's HTTP interface: Echo handlers for the HTML
// pages and the JSON API, the middleware every request passes, and the one
// place where errors become HTTP statuses.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/account"
	"github.com/flavormonk/flavormonk/app/assistant"
	"github.com/flavormonk/flavormonk/app/limit"
	"github.com/flavormonk/flavormonk/app/outage"
	"github.com/flavormonk/flavormonk/app/search"
)

// Server serves the public site and API.
type Server struct {
	Echo     *echo.Echo
	cfg      Options // as given to New
	store    flavormonk.AppStore
	searcher search.Searcher
	encoder  search.Encoder // searcher's encoded answers; nil when it keeps none
	index    *search.Index
	log      *slog.Logger
	metrics  *metrics
	pages    *pages

	// ready is set once the index is loaded; /readyz answers 503 before.
	ready atomic.Bool

	acc      *account.Service // nil without accounts
	requests *limit.Requests  // nil without FLAVORMONK_RATE_LIMIT

	assistant *assistant.Assistant // nil without the assistant
	heartbeat time.Duration

	clock flavormonk.Clock

	outage  *outage.Tracker
	streams *streamSet
}

func (s *Server) now() time.Time { return s.clock.Now() }

// New builds the server and its routes.
func New(o Options) (*Server, error) {
	s := &Server{cfg: o, store: o.Store, searcher: o.Searcher, index: o.Index, log: o.Log, clock: o.Clock,
		assistant: o.Assistant, heartbeat: o.Heartbeat, acc: o.Accounts, requests: o.Requests}
	s.encoder, _ = o.Searcher.(search.Encoder)
	if s.heartbeat <= 0 {
		s.heartbeat = heartbeatEvery
	}
	s.outage = outage.New(o.StoreUnreachable, o.Log, s.clock)
	s.streams = newStreamSet()
	m, err := newMetrics(o.Registerer, o.Metrics)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	if s.pages, err = loadPages(); err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(o.TrustedProxies)
	s.Echo = e

	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{RedirectCode: http.StatusMovedPermanently}))
	e.Pre(routeHeadAsGet)
	e.Use(headRestored)
	e.Use(requestID)
	e.Use(noStoreErrors)
	e.Use(s.accessLog)
	e.Use(s.recoverPanic)
	e.Use(s.limitQuery)
	e.Use(s.guardBody)
	e.Use(middleware.SecureWithConfig(middleware.SecureConfig{
		XSSProtection:         "0",
		ContentTypeNosniff:    "nosniff",
		XFrameOptions:         "DENY",
		HSTSMaxAge:            hstsAge(o.SecureCookies),
		ReferrerPolicy:        "strict-origin-when-cross-origin",
		ContentSecurityPolicy: "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	}))
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{Level: 5, MinLength: 1024, Skipper: isStream}))
	if s.requests != nil {
		e.Use(s.rateLimit)
	}
	e.Use(s.deadline)
	e.Use(etag)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/static/*", staticHandler())
	e.GET("/favicon.ico", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })

	// Middleware is attached per route, not per group: an Echo group with
	// middleware answers every method on its prefix, hiding 405s.
	for path, h := range map[string]echo.HandlerFunc{
		"/": s.searchPage, "/recipes/:id": s.recipePage, "/pantry": s.pantryPage, "/about": s.aboutPage,
	} {
		e.GET(path, h, s.visitor)
	}
	api := cacheControl("public, max-age=30")
	e.GET("/api/v1/recipes", s.apiSearch, api)
	e.GET("/api/v1/recipes/:id", s.apiRecipe, api)
	e.GET("/api/v1/pantry", s.apiPantry, api)
	e.POST("/api/v1/pantry", s.apiPantry, api)
	e.GET("/api/v1/openapi.json", s.openAPI, api)
	if s.acc != nil {
		s.routeAccounts()
	}
	if s.assistant != nil {
		if err := s.routeAssistant(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// SetReady marks the server ready (the index is loaded).
func (s *Server) SetReady(v bool) { s.ready.Store(v) }

func hstsAge(secure bool) int {
	if secure {
		return 63072000
	}
	return 0
}

// ipExtractor believes X-Forwarded-For only from configured proxies.
func ipExtractor(prefixes []netip.Prefix) echo.IPExtractor {
	if len(prefixes) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range prefixes {
		_, n, err := netParseCIDR(p.String())
		if err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

func isStream(c echo.Context) bool {
	return strings.Contains(c.Request().Header.Get("Accept"), "text/event-stream") ||
		strings.HasSuffix(c.Path(), "/stream") || c.Path() == "/api/v1/ask"
}

func isProbe(c echo.Context) bool {
	p := c.Request().URL.Path
	return p == "/healthz" || p == "/readyz"
}

func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	err = s.outage.Check(c.Request().Context(), err)
	status, detail := resolve(err)
	detail.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
	// An outage is logged once by s.outage, not once per request.
	if status >= 500 && !errors.Is(err, outage.ErrStoreDown) {
		s.log.ErrorContext(c.Request().Context(), "request failed", "err", err, "path", c.Request().URL.Path, "request_id", detail.RequestID)
	}
	c.Set("error_code", detail.Code)
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if wantsHTML(c) {
		_ = s.render(c, status, "error", map[string]any{"Title": http.StatusText(status), "Status": status, "Error": detail})
		return
	}
	_ = c.JSON(status, ErrorBody{Error: detail})
}

func wantsHTML(c echo.Context) bool {
	p := c.Request().URL.Path
	if strings.HasPrefix(p, "/api/") || p == "/healthz" || p == "/readyz" {
		return false
	}
	return strings.Contains(c.Request().Header.Get("Accept"), "text/html")
}

// deadline bounds ordinary requests; event streams set their own.
func (s *Server) deadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if isStream(c) {
			return next(c)
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.RequestTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		err := next(c)
		if err != nil && errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w: %w", errDeadline, err)
		}
		return err
	}
}

// limitQuery refuses query strings longer than configured before any
// handler parses them.
func (s *Server) limitQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(c.Request().URL.RawQuery) > s.cfg.MaxQueryBytes {
			return flavormonk.Errorf(flavormonk.ETOOLARGE, "the query string is longer than %d bytes", s.cfg.MaxQueryBytes)
		}
		if _, err := url.ParseQuery(c.Request().URL.RawQuery); err != nil {
			return flavormonk.Errorf(flavormonk.EINVALID, "the query string is malformed: percent-encode %% as %%25 and use key=value pairs joined by &")
		}
		return next(c)
	}
}

func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		req, res := c.Request(), c.Response()
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		d := time.Since(start)
		s.metrics.observe(route, req.Method, res.Status, d)
		if route == "/readyz" && s.cfg.Probes != nil {
			s.cfg.Probes.Observe(req, res.Status)
		}
		if isProbe(c) && res.Status < 400 {
			return nil
		}
		code, _ := c.Get("error_code").(string)
		level := slog.LevelInfo
		if res.Status >= 500 && res.Status != http.StatusServiceUnavailable {
			// A dependency being down is logged where it is noticed,
			// once per outage; its 503s are ordinary answers.
			level = slog.LevelError
		}
		attrs := []slog.Attr{
			slog.String("request_id", res.Header().Get(echo.HeaderXRequestID)),
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.String("route", route),
			slog.Int("status", res.Status),
			slog.Int64("bytes", res.Size),
			slog.Duration("duration", d),
			slog.String("client_ip", c.RealIP()),
		}
		if code != "" {
			attrs = append(attrs, slog.String("error_code", code))
		}
		s.log.LogAttrs(req.Context(), level, "request", attrs...)
		return nil
	}
}

func cacheControl(v string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if m := c.Request().Method; m == http.MethodGet || m == http.MethodHead {
				c.Response().Header().Set("Cache-Control", v)
			} else {
				c.Response().Header().Set("Cache-Control", "no-store")
			}
			return next(c)
		}
	}
}
