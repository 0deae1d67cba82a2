// Package redis is the flavormonk.Cache on Redis (or Valkey): a single
// node, a cluster, or a primary found through Sentinel. Redis is a cache,
// never the only copy of anything, so the client is tuned for a cheap
// outage: short timeouts, no command retries, and every failure returned
// as an error the caller treats as a miss.
package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/cache"
)

// Modes, as FLAVORMONK_REDIS_MODE names them.
const (
	ModeSingle   = "single"
	ModeCluster  = "cluster"
	ModeSentinel = "sentinel"
)

// Default timeouts: an unreachable Redis costs a request at most about this.
const (
	DefaultDialTimeout = 500 * time.Millisecond
	DefaultReadTimeout = 200 * time.Millisecond
)

// Options select and tune the client.
type Options struct {
	// Mode is single (default when empty), cluster or sentinel.
	Mode string
	// Addrs: the server (single: exactly one), the cluster's seed nodes, or
	// the Sentinels (sentinel), each host:port.
	Addrs []string
	// Username and Password authenticate (ACL user, or requirepass with an
	// empty Username). In sentinel mode they are sent to the Sentinels too.
	Username, Password string
	// DB is the database number (single and sentinel; cluster has only 0).
	DB int
	// TLS connects over TLS (TLS 1.2+, the system's roots; DigitalOcean's
	// managed Valkey needs it).
	TLS bool
	// SentinelMaster is the Sentinel master name (sentinel mode).
	SentinelMaster string
	// KeyPrefix is put in front of every key, e.g. "fm:" (or a random one
	// per test, for isolation).
	KeyPrefix string
	// DialTimeout (default DefaultDialTimeout) and ReadTimeout (default
	// DefaultReadTimeout; writes use it too).
	DialTimeout, ReadTimeout time.Duration
	// PoolSize is the connections per node (default: go-redis's, 10 per CPU).
	PoolSize int
}

// Cache is a flavormonk.Cache on Redis. It is safe for concurrent use.
type Cache struct {
	client goredis.UniversalClient
	prefix string
	mode   string

	closeOnce sync.Once
	closeErr  error
}

var _ flavormonk.Cache = (*Cache)(nil)

// Open makes the client (New) and checks that the server answers with
// PING within ctx. When it does not, Open closes the client and returns an
// EUNAVAILABLE error; a caller that must start without Redis can use New,
// whose client connects (and reconnects) on demand.
func Open(ctx context.Context, opts Options) (*Cache, error) {
	c, err := New(opts)
	if err != nil {
		return nil, err
	}
	if err := c.Ping(ctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// New makes the client without contacting the server. Invalid Options are
// an EINVALID error naming the setting.
func New(opts Options) (*Cache, error) {
	installLogger()
	client, mode, err := newClient(opts)
	if err != nil {
		return nil, err
	}
	return &Cache{client: client, prefix: opts.KeyPrefix, mode: mode}, nil
}

// Mode returns the topology the client was made for.
func (c *Cache) Mode() string { return c.mode }

// Client returns the underlying go-redis client (for metrics hooks and
// tests); its keys are not prefixed.
func (c *Cache) Client() goredis.UniversalClient { return c.client }

func invalid(field, format string, args ...any) error {
	return flavormonk.FieldErrorf(flavormonk.EINVALID, field, format, args...)
}

// newClient validates opts and picks the client: *goredis.Client for a
// single node, *goredis.ClusterClient, or a failover *goredis.Client for
// Sentinel.
func newClient(opts Options) (goredis.UniversalClient, string, error) {
	mode := strings.ToLower(strings.TrimSpace(opts.Mode))
	if mode == "" {
		mode = ModeSingle
	}
	if len(opts.Addrs) == 0 {
		return nil, "", invalid("FLAVORMONK_REDIS_ADDRS", "must list at least one host:port")
	}
	for _, a := range opts.Addrs {
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return nil, "", invalid("FLAVORMONK_REDIS_ADDRS", "%q is not host:port", a)
		}
	}
	if opts.DB < 0 || opts.DB > 15 {
		return nil, "", invalid("FLAVORMONK_REDIS_DB", "must be 0 to 15, got %d", opts.DB)
	}
	dial := opts.DialTimeout
	if dial <= 0 {
		dial = DefaultDialTimeout
	}
	read := opts.ReadTimeout
	if read <= 0 {
		read = DefaultReadTimeout
	}
	var tlsConfig *tls.Config
	if opts.TLS {
		// ServerName stays empty: go-redis dials each node by its own
		// address, and crypto/tls takes the name from it.
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	// One dial attempt, no command retries: an error is a miss, and a
	// quick one is worth more than a late answer.
	const (
		maxRetries    = -1
		dialerRetries = 1
	)
	poolTimeout := read + dial

	switch mode {
	case ModeSingle:
		if len(opts.Addrs) != 1 {
			return nil, "", invalid("FLAVORMONK_REDIS_ADDRS", "must hold exactly one host:port in single mode, got %d (use FLAVORMONK_REDIS_MODE=cluster or sentinel)", len(opts.Addrs))
		}
		return goredis.NewClient(&goredis.Options{
			Addr: opts.Addrs[0], Username: opts.Username, Password: opts.Password, DB: opts.DB,
			TLSConfig: tlsConfig, DialTimeout: dial, ReadTimeout: read, WriteTimeout: read,
			PoolTimeout: poolTimeout, PoolSize: opts.PoolSize, MaxRetries: maxRetries,
			DialerRetries: dialerRetries, DialerRetryTimeout: 10 * time.Millisecond,
			ContextTimeoutEnabled: true,
		}), mode, nil
	case ModeCluster:
		if opts.DB != 0 {
			return nil, "", invalid("FLAVORMONK_REDIS_DB", "must be 0 in cluster mode (a Redis cluster has only database 0), got %d", opts.DB)
		}
		return goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs: opts.Addrs, Username: opts.Username, Password: opts.Password,
			TLSConfig: tlsConfig, DialTimeout: dial, ReadTimeout: read, WriteTimeout: read,
			PoolTimeout: poolTimeout, PoolSize: opts.PoolSize, MaxRetries: maxRetries,
			DialerRetries: dialerRetries, DialerRetryTimeout: 10 * time.Millisecond,
			MaxRedirects:          3, // MOVED/ASK while slots move are not failures
			ContextTimeoutEnabled: true,
		}), mode, nil
	case ModeSentinel:
		if strings.TrimSpace(opts.SentinelMaster) == "" {
			return nil, "", invalid("FLAVORMONK_REDIS_SENTINEL_MASTER", "must be set in sentinel mode")
		}
		return goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName: opts.SentinelMaster, SentinelAddrs: opts.Addrs,
			SentinelUsername: opts.Username, SentinelPassword: opts.Password,
			Username: opts.Username, Password: opts.Password, DB: opts.DB,
			TLSConfig: tlsConfig, DialTimeout: dial, ReadTimeout: read, WriteTimeout: read,
			PoolTimeout: poolTimeout, PoolSize: opts.PoolSize, MaxRetries: maxRetries,
			DialerRetries: dialerRetries, DialerRetryTimeout: 10 * time.Millisecond,
			ContextTimeoutEnabled: true,
		}), mode, nil
	default:
		return nil, "", invalid("FLAVORMONK_REDIS_MODE", "must be one of single, cluster, sentinel, got %q", opts.Mode)
	}
}

func (c *Cache) key(k string) string { return c.prefix + k }

// Get returns the value under key; a missing key is (nil, false, nil).
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := c.client.Get(ctx, c.key(key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, wrap("get", err)
	}
	return v, true, nil
}

// Set stores value under key for ttl; a ttl <= 0 means no expiry (Redis's
// maxmemory policy still evicts it). Values over cache.MaxValueBytes are
// refused with ETOOLARGE, as by the in-memory cache: a large value would
// hold a connection past the read timeout.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if len(value) > cache.MaxValueBytes {
		return flavormonk.Errorf(flavormonk.ETOOLARGE, "redis set: a value of %d bytes is over the limit of %d", len(value), cache.MaxValueBytes)
	}
	if ttl < 0 {
		ttl = 0 // go-redis reads -1 as KEEPTTL
	}
	return wrap("set", c.client.Set(ctx, c.key(key), value, ttl).Err())
}

// Add stores value under key for ttl (> 0) only when the key is absent
// (SET NX), and says whether it did.
func (c *Cache) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if len(value) > cache.MaxValueBytes {
		return false, flavormonk.Errorf(flavormonk.ETOOLARGE, "redis add: a value of %d bytes is over the limit of %d", len(value), cache.MaxValueBytes)
	}
	ok, err := c.client.SetNX(ctx, c.key(key), value, max(ttl, 0)).Result()
	if err != nil {
		return false, wrap("add", err)
	}
	return ok, nil
}

// Delete removes the keys. In cluster mode keys of different slots are
// deleted one by one (a multi-key DEL must stay within one slot).
func (c *Cache) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = c.key(k)
	}
	if c.mode != ModeCluster || len(full) == 1 {
		return wrap("delete", c.client.Del(ctx, full...).Err())
	}
	cmds, err := c.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, k := range full {
			p.Del(ctx, k)
		}
		return nil
	})
	if err != nil {
		return wrap("delete", err)
	}
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			return wrap("delete", err)
		}
	}
	return nil
}

// incrScript increments and sets the expiry only when the key has none
// (like INCR + PEXPIRE NX, atomically, and on Redis before 7.0 too).
var incrScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ms = tonumber(ARGV[1])
if ms > 0 and redis.call('PTTL', KEYS[1]) == -1 then
	redis.call('PEXPIRE', KEYS[1], ms)
end
return n
`)

// Incr adds one to the counter under key and returns the new value. A new
// counter gets the ttl (<= 0: none); an existing one keeps its expiry.
func (c *Cache) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	ms := int64(0)
	if ttl > 0 {
		ms = max(ttl.Milliseconds(), 1)
	}
	n, err := incrScript.Run(ctx, c.client, []string{c.key(key)}, ms).Int64()
	if err != nil {
		return 0, wrap("incr", err)
	}
	return n, nil
}

// Ping checks that the server (every cluster node's shard primary, in
// cluster mode: go-redis pings one) answers.
func (c *Cache) Ping(ctx context.Context) error {
	return wrap("ping", c.client.Ping(ctx).Err())
}

// Close closes the client; later calls fail with EUNAVAILABLE. Closing twice
// is not an error.
func (c *Cache) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.client.Close() })
	return c.closeErr
}

// wrap turns a go-redis error into one that carries a flavormonk code and
// keeps the cause in its chain: EUNAVAILABLE when the server cannot be
// reached or cannot serve (refused, timed out, closed client, loading,
// failing over, wrong credentials), EINVALID when it rejected the command
// for its data (WRONGTYPE, not an integer), ETIMEOUT/the context error when
// the caller's context ended.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("redis %s: %w", op, err)
	}
	code, what := classify(err)
	return fmt.Errorf("%w: %w", flavormonk.Errorf(code, "redis %s: %s", op, what), err)
}

func classify(err error) (code, what string) {
	if errors.Is(err, context.DeadlineExceeded) {
		return flavormonk.ETIMEOUT, "timed out"
	}
	if errors.Is(err, goredis.ErrClosed) {
		return flavormonk.EUNAVAILABLE, "the client is closed"
	}
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		switch {
		case strings.HasPrefix(msg, "WRONGTYPE"), strings.Contains(msg, "not an integer"), strings.Contains(msg, "overflow"):
			return flavormonk.EINVALID, "the value does not fit the command"
		case strings.HasPrefix(msg, "NOAUTH"), strings.HasPrefix(msg, "WRONGPASS"), strings.Contains(msg, "invalid password"), strings.HasPrefix(msg, "NOPERM"):
			return flavormonk.EUNAVAILABLE, "authentication failed (check FLAVORMONK_REDIS_USERNAME / FLAVORMONK_REDIS_PASSWORD)"
		case strings.HasPrefix(msg, "OOM"):
			return flavormonk.EUNAVAILABLE, "the server is out of memory"
		}
		return flavormonk.EUNAVAILABLE, "the server cannot serve"
	}
	var nerr net.Error
	switch {
	case errors.As(err, &nerr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, goredis.ErrPoolTimeout), errors.Is(err, goredis.ErrPoolExhausted):
		return flavormonk.EUNAVAILABLE, "the server is unreachable"
	}
	// Anything else from the client (e.g. no master from Sentinel, a
	// failed TLS handshake) also means the cache cannot serve now.
	return flavormonk.EUNAVAILABLE, "the server is unavailable"
}
