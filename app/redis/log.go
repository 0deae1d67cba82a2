package redis

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// go-redis logs from inside its connection pool (e.g. every failed dial),
// which during an outage would be a line per request. The package routes
// those messages to slog, at most one every LogEvery, counting the rest.

// LogEvery is the least time between two go-redis messages passed on.
const LogEvery = 10 * time.Second

type rateLogger struct {
	log        atomic.Pointer[slog.Logger]
	last       atomic.Int64
	suppressed atomic.Int64
}

func (r *rateLogger) Printf(ctx context.Context, format string, v ...any) {
	now := time.Now().UnixNano()
	last := r.last.Load()
	if now-last < int64(LogEvery) || !r.last.CompareAndSwap(last, now) {
		r.suppressed.Add(1)
		return
	}
	l := r.log.Load()
	if l == nil {
		l = slog.Default()
	}
	l.WarnContext(ctx, "redis client", "msg", fmt.Sprintf(format, v...), "suppressed_since_last", r.suppressed.Swap(0))
}

var (
	logger      rateLogger
	installOnce sync.Once
)

func installLogger() { installOnce.Do(func() { goredis.SetLogger(&logger) }) }

// SetLogger sends go-redis's own messages (rate-limited) to l instead of
// slog.Default(). go-redis has one logger for the process,
// not one per client (its Options have no logger), so this affects every
// client: main calls it once, at start, before any client exists.
func SetLogger(l *slog.Logger) {
	logger.log.Store(l)
	installLogger()
}
