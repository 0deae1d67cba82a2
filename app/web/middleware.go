package web

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/outage"
)

var netParseCIDR = net.ParseCIDR

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// requestID keeps an upstream X-Request-ID only when it is short and plain
// (a load balancer's), so it cannot smuggle anything into logs.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !plainID(id) {
			id = newRequestID()
		}
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func plainID(s string) bool {
	if len(s) < 8 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_' || ch == '.') {
			return false
		}
	}
	return true
}

// etagWriter buffers a GET response so its ETag can be computed.
type etagWriter struct {
	http.ResponseWriter
	buf    bytes.Buffer
	status int
}

func (w *etagWriter) WriteHeader(code int)        { w.status = code }
func (w *etagWriter) Write(b []byte) (int, error) { return w.buf.Write(b) }
func (w *etagWriter) Flush()                      {}

// etag sets a weak ETag on successful GET responses and answers 304 when
// the client already holds that version. Streams are not buffered.
func etag(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if (req.Method != http.MethodGet && req.Method != http.MethodHead) || isStream(c) {
			return next(c)
		}
		res := c.Response()
		orig := res.Writer
		w := &etagWriter{ResponseWriter: orig, status: http.StatusOK}
		res.Writer = w
		err := next(c)
		res.Writer = orig
		if err != nil {
			// Nothing was sent yet: let the error handler answer.
			if res.Committed && w.buf.Len() == 0 {
				res.Committed = false
			}
			if w.buf.Len() == 0 {
				return err
			}
		}
		body := w.buf.Bytes()
		if w.status == http.StatusOK && res.Header().Get("ETag") == "" {
			sum := sha256.Sum256(body)
			tag := `W/"` + hex.EncodeToString(sum[:12]) + `"`
			res.Header().Set("ETag", tag)
			if matchETag(req.Header.Get("If-None-Match"), tag) {
				res.Header().Del("Content-Length")
				orig.WriteHeader(http.StatusNotModified)
				res.Status = http.StatusNotModified
				return nil
			}
		}
		orig.WriteHeader(w.status)
		if req.Method != http.MethodHead {
			_, werr := orig.Write(body)
			if werr != nil {
				return nil // the client went away
			}
		}
		return err
	}
}

func matchETag(header, tag string) bool {
	if header == "" {
		return false
	}
	if strings.TrimSpace(header) == "*" {
		return true
	}
	bare := strings.TrimPrefix(tag, "W/")
	for _, h := range strings.Split(header, ",") {
		h = strings.TrimPrefix(strings.TrimSpace(h), "W/")
		if h == bare {
			return true
		}
	}
	return false
}

const visitorCookie = "fm_visitor"

// visitor gives each browser an anonymous session: an opaque random id in
// a cookie, kept in the store so every replica knows it.
func (s *Server) visitor(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		var v *flavormonk.Visitor
		if ck, err := c.Cookie(visitorCookie); err == nil && len(ck.Value) <= 128 {
			v, err = s.store.Visitor(ctx, ck.Value)
			switch {
			case err == nil || flavormonk.ErrorCode(err) == flavormonk.ENOTFOUND:
				s.outage.OK(ctx)
			case !errors.Is(s.outage.Check(ctx, err), outage.ErrStoreDown):
				s.log.WarnContext(ctx, "visitor lookup failed", "err", err)
			}
		}
		switch {
		case v == nil && c.Request().Method == http.MethodHead:
			// A monitor's probe, most likely: no session for it.
		case v == nil:
			nv, err := s.store.CreateVisitor(ctx)
			if err != nil {
				// Pages still work without a session.
				if !errors.Is(s.outage.Check(ctx, err), outage.ErrStoreDown) {
					s.log.WarnContext(ctx, "visitor session not created", "err", err)
				}
				break
			}
			s.outage.OK(ctx)
			v = nv
			c.SetCookie(&http.Cookie{Name: visitorCookie, Value: v.ID, Path: "/", MaxAge: 180 * 24 * 3600,
				HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
		case s.now().Sub(v.SeenAt) > time.Hour:
			if err := s.store.TouchVisitor(ctx, v.ID); err != nil && !errors.Is(s.outage.Check(ctx, err), outage.ErrStoreDown) {
				s.log.WarnContext(ctx, "visitor touch failed", "err", err)
			}
		}
		if v != nil {
			c.Set("visitor", v)
		}
		c.Response().Header().Set("Cache-Control", "private, no-cache")
		return next(c)
	}
}
