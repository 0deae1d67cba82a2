package web

import (
	"context"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// rateLimit allows FLAVORMONK_RATE_LIMIT requests per minute per client IP.
// With a cache, the counters live there (Redis: shared by every replica, so
// a client cannot multiply its allowance by the number of replicas); when
// the cache fails, or without one, a token bucket in this process decides.
func (s *Server) rateLimit(local *middleware.RateLimiterMemoryStore) echo.MiddlewareFunc {
	limit := int64(s.cfg.RateLimit)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if isProbe(c) {
				return next(c)
			}
			ip := c.RealIP()
			allowed := true
			decided := false
			if s.cache != nil {
				window := s.now().Unix() / 60
				ctx, cancel := context.WithTimeout(c.Request().Context(), 100*time.Millisecond)
				n, err := s.cache.c.Incr(ctx, "rl:"+ip+":"+strconv.FormatInt(window, 10), 2*time.Minute)
				cancel()
				if err == nil {
					allowed, decided = n <= limit, true
				} else {
					s.metrics.fallbacks.WithLabelValues("rate_limit").Inc()
				}
			}
			if !decided {
				ok, err := local.Allow(ip)
				allowed = ok || err != nil
			}
			if !allowed {
				c.Response().Header().Set("Retry-After", strconv.Itoa(int(60-s.now().Unix()%60)))
				return &flavormonk.Error{Code: flavormonk.ERATELIMIT, Message: "too many requests from your address; retry in a minute"}
			}
			return next(c)
		}
	}
}
