package web

import (
	"errors"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/flavormonk/flavormonk/app/limit"
)

// rateLimit applies the per-client request limit (limit.Requests), with
// Retry-After on a refusal; probes are never limited.
func (s *Server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if isProbe(c) {
			return next(c)
		}
		err := s.requests.Allow(c.Request().Context(), c.RealIP())
		var rl *limit.RateLimitError
		if errors.As(err, &rl) {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(rl.RetryAfter/time.Second)))
			return err
		}
		return next(c)
	}
}
