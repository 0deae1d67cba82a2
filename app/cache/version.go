package cache

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"strconv"
	"strings"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Namespace is a family of cache keys that is invalidated at once, without
// scanning: every key carries the namespace's current generation number,
// stored in the cache itself under "NS:gen", and Invalidate moves the
// generation on, so all replicas sharing the cache stop seeing the old
// keys together; those simply expire.
//
// A generation that the cache lost (evicted, expired, or a restarted Redis)
// comes back as a fresh random number rather than zero, so keys of an
// earlier life are not revived.
type Namespace struct {
	cache flavormonk.Cache
	ns    string
}

// Versioned returns the namespace ns over c.
func Versioned(c flavormonk.Cache, ns string) *Namespace {
	return &Namespace{cache: c, ns: ns}
}

// Name returns the namespace's name.
func (n *Namespace) Name() string { return n.ns }

func (n *Namespace) genKey() string { return n.ns + ":gen" }

// Generation returns the current generation, creating one when the cache
// has none.
func (n *Namespace) Generation(ctx context.Context) (int64, error) {
	b, ok, err := n.cache.Get(ctx, n.genKey())
	if err != nil {
		return 0, err
	}
	if ok {
		g, err := strconv.ParseInt(string(b), 10, 64)
		if err == nil {
			return g, nil
		}
	}
	return n.reset(ctx)
}

// reset stores a fresh random generation. Two replicas racing here store
// different values; the last write wins and the other's keys are misses.
func (n *Namespace) reset(ctx context.Context) (int64, error) {
	g := randomGeneration()
	if err := n.cache.Set(ctx, n.genKey(), strconv.AppendInt(nil, g, 10), 0); err != nil {
		return 0, err
	}
	return g, nil
}

// randomGeneration is a random number in [2^32, 2^62): far from the small
// numbers a counter recreated from nothing would reach.
func randomGeneration() int64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return time.Now().UnixNano()&(1<<62-1) | 1<<32
	}
	return int64(binary.LittleEndian.Uint64(b[:])&(1<<62-1)) | 1<<32
}

// Key returns key inside the namespace's current generation:
// "NS:GEN:key". Resolve the key once before computing a value and store
// the value under the same resolved key, so a value computed from data
// older than an Invalidate is never stored under the new generation.
func (n *Namespace) Key(ctx context.Context, key string) (string, error) {
	g, err := n.Generation(ctx)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.Grow(len(n.ns) + len(key) + 22)
	sb.WriteString(n.ns)
	sb.WriteByte(':')
	sb.WriteString(strconv.FormatInt(g, 10))
	sb.WriteByte(':')
	sb.WriteString(key)
	return sb.String(), nil
}

// Invalidate moves the namespace to a new generation: every key resolved
// before it is no longer found through Key. It returns the new generation.
func (n *Namespace) Invalidate(ctx context.Context) (int64, error) {
	g, err := n.cache.Incr(ctx, n.genKey(), 0)
	if err != nil {
		if flavormonk.ErrorCode(err) != flavormonk.EINVALID {
			return 0, err
		}
		return n.reset(ctx) // not a number: replace it
	}
	if g == 1 {
		// The generation was gone and the counter started over: move it
		// away from small numbers an earlier life may have used.
		return n.reset(ctx)
	}
	return g, nil
}

// DoVersioned is Do on key inside the namespace ns: the key is resolved to
// the current generation first. When the generation cannot be read (the
// cache is down), it counts a cache error and serves fill without the
// cache, still coalescing concurrent callers.
func (c *Coalescer) DoVersioned(ctx context.Context, ns *Namespace, key string, ttl time.Duration, fill func(ctx context.Context) ([]byte, error)) ([]byte, bool, error) {
	k, err := ns.Key(ctx, key)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		c.cacheError("generation", ns.genKey(), err)
		return c.do(ctx, ns.ns+":?:"+key, ttl, fill, false)
	}
	return c.do(ctx, k, ttl, fill, true)
}
