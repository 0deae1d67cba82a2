package web

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// routeHeadAsGet routes HEAD wherever GET is routed: Echo matches methods
// exactly, so HEAD would be a 405. Echo finds the route on the request
// itself, so the method is changed in place for routing and put back by
// headRestored, after which net/http, seeing HEAD, keeps the status and
// headers and drops the body on the wire.
func routeHeadAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if req := c.Request(); req.Method == http.MethodHead {
			req.Method = http.MethodGet
			c.Set("head", true)
		}
		return next(c)
	}
}

// headRestored is the first middleware after routing (see routeHeadAsGet).
func headRestored(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if head, _ := c.Get("head").(bool); head {
			c.Request().Method = http.MethodHead
		}
		return next(c)
	}
}

// noStoreErrors keeps every error response out of shared caches: an error
// can depend on who asked, and a cached 503 outlives the outage.
func noStoreErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		res := c.Response()
		res.Before(func() {
			if res.Status >= 400 {
				res.Header().Set("Cache-Control", "no-store")
			}
		})
		return next(c)
	}
}

// errBodyTimeout is a request body that did not arrive within the request
// timeout.
var errBodyTimeout = errors.New("request body not received in time")

// guardBody bounds a request body's size (MaxBodyBytes, also for chunked
// bodies that announce no length) and the time it may take to arrive
// (RequestTimeout): the server has no ReadTimeout, because it would also
// cut event streams, so a client trickling a body would otherwise hold a
// connection and a handler forever. A handler sees the failures as read
// errors and may describe them as it likes (often as malformed input);
// guardBody answers with what really happened.
func (s *Server) guardBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		limit := s.cfg.MaxBodyBytes
		if req.ContentLength > limit {
			return flavormonk.Errorf(flavormonk.ETOOLARGE, "the request body is larger than %d bytes", limit)
		}
		if req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0 {
			return next(c)
		}
		w := c.Response().Writer
		rc := http.NewResponseController(w)
		// A socket deadline is kept by the runtime's poller against the
		// real clock, so it is set from the wall clock. Stream routes clear
		// it once their body is in (see guardedBody.Read): a deadline left
		// on the connection would cancel the stream when it fires.
		if s.cfg.RequestTimeout > 0 {
			_ = rc.SetReadDeadline(time.Now().Add(s.cfg.RequestTimeout))
		}
		g := &guardedBody{rc: http.MaxBytesReader(w, req.Body, limit), clear: func() { _ = rc.SetReadDeadline(time.Time{}) }}
		req.Body = g
		err := next(c)
		if c.Response().Committed {
			return err
		}
		switch {
		case g.tooLarge != nil:
			return flavormonk.Errorf(flavormonk.ETOOLARGE, "the request body is larger than %d bytes", g.tooLarge.Limit)
		case g.timedOut:
			// The rest of the body may still come: the connection is
			// not reusable.
			c.Response().Header().Set(echo.HeaderConnection, "close")
			return errBodyTimeout
		}
		return err
	}
}

// guardedBody records why reading a body failed.
type guardedBody struct {
	rc       io.ReadCloser
	clear    func()
	tooLarge *http.MaxBytesError
	timedOut bool
}

func (g *guardedBody) Read(p []byte) (int, error) {
	n, err := g.rc.Read(p)
	if err == nil {
		return n, nil
	}
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		g.clear()
	case errors.As(err, &mbe):
		g.tooLarge = mbe
	case errors.As(err, &ne) && ne.Timeout():
		g.timedOut = true
	}
	return n, err
}

func (g *guardedBody) Close() error { return g.rc.Close() }
