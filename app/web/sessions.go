package web

import (
	"bytes"
	"context"
	"encoding/json"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/config"
)

// Sessions are read through the shared cache where the tier has Redis, so
// most requests cost one store query (the user) instead of two. The store
// stays the truth: a cache miss or error reads it, so a Redis outage logs
// nobody out. Logout, password change, account deletion and rotation
// replace the cached copies with a tombstone that lives
// sessionTombstoneTTL, and copies are only ever filled where the key is
// absent (SET NX): a replica that read the session from the store before
// it was deleted cannot put its stale copy back. Entries live
// sessionCacheTTL at most, which bounds how long a copy can outlive its
// session when a delete could not reach Redis (during an outage).
const (
	sessionCacheTTL     = time.Minute
	sessionTombstoneTTL = 2 * sessionCacheTTL
)

// sessionTombstone marks a deleted session in the cache (a cached copy is
// JSON, so it never starts with '-').
var sessionTombstone = []byte("-")

// cachedSession is a Session as kept in the cache (the domain type hides
// the CSRF secret from JSON).
type cachedSession struct {
	UserID    int64     `json:"u"`
	CSRF      string    `json:"c"`
	CreatedAt time.Time `json:"ca"`
	SeenAt    time.Time `json:"s"`
	ExpiresAt time.Time `json:"e"`
}

// sessionCache is the cache sessions go through: Redis only. An
// in-process cache would keep logged-out sessions alive on other replicas.
func (s *Server) sessionCache() flavormonk.Cache {
	if s.cfg.CacheBackend != config.CacheRedis {
		return nil
	}
	return s.sharedCache()
}

func sessionKey(hash string) string { return "session:" + hash }

func (s *Server) sessionCacheFailed(ctx context.Context, op string, err error) {
	s.metrics.fallbacks.WithLabelValues("session_cache").Inc()
	s.log.WarnContext(ctx, "session cache "+op+" failed; using the store", "err", err)
}

// loadSession returns the session with token hash from the cache or the
// store (ENOTFOUND when there is none).
func (s *Server) loadSession(ctx context.Context, hash string) (*flavormonk.Session, error) {
	c := s.sessionCache()
	if c == nil {
		return s.acc.store.Session(ctx, hash)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	b, ok, err := c.Get(cctx, sessionKey(hash))
	cancel()
	if err != nil {
		s.sessionCacheFailed(ctx, "read", err)
		return s.acc.store.Session(ctx, hash)
	}
	if ok && bytes.Equal(b, sessionTombstone) {
		return nil, flavormonk.Errorf(flavormonk.ENOTFOUND, "the session has ended")
	}
	if ok {
		var cs cachedSession
		if json.Unmarshal(b, &cs) == nil && cs.UserID > 0 {
			return &flavormonk.Session{TokenHash: hash, UserID: cs.UserID, CSRF: cs.CSRF,
				CreatedAt: cs.CreatedAt, SeenAt: cs.SeenAt, ExpiresAt: cs.ExpiresAt}, nil
		}
	}
	ss, err := s.acc.store.Session(ctx, hash)
	if err != nil {
		return nil, err
	}
	s.cacheSession(ctx, c, ss)
	return ss, nil
}

// cacheSession fills the cache with a copy of ss where the key is absent
// (never over a tombstone). The copy lives until ss would need a touch
// (SeenAt older than a minute), so a copy served from the cache never
// needs writing again: there is no overwrite that could race a delete.
func (s *Server) cacheSession(ctx context.Context, c flavormonk.Cache, ss *flavormonk.Session) {
	now := s.now()
	ttl := min(sessionCacheTTL, ss.ExpiresAt.Sub(now), ss.SeenAt.Add(time.Minute).Sub(now))
	if ttl < time.Second {
		return
	}
	b, _ := json.Marshal(cachedSession{UserID: ss.UserID, CSRF: ss.CSRF, CreatedAt: ss.CreatedAt, SeenAt: ss.SeenAt, ExpiresAt: ss.ExpiresAt})
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	key := sessionKey(ss.TokenHash)
	if a, ok := c.(flavormonk.CacheAdder); ok {
		if _, err := a.Add(cctx, key, b, ttl); err != nil {
			s.sessionCacheFailed(ctx, "write", err)
		}
		return
	}
	// Without an add-if-absent, the tombstone is read just before the
	// write: a delete landing between the two can still be overwritten
	// (both our caches have Add, so this is for other implementations).
	if _, found, err := c.Get(cctx, key); err != nil || found {
		return
	}
	if err := c.Set(cctx, key, b, ttl); err != nil {
		s.sessionCacheFailed(ctx, "write", err)
	}
}

// touchSession records that the session was seen, in the store, and fills
// the cache with the fresh copy when it holds none.
func (s *Server) touchSession(ctx context.Context, ss *flavormonk.Session, now time.Time) error {
	if err := s.acc.store.TouchSession(ctx, ss.TokenHash, now); err != nil {
		return err
	}
	if c := s.sessionCache(); c != nil {
		cp := *ss
		cp.SeenAt = now
		s.cacheSession(ctx, c, &cp)
	}
	return nil
}

// forgetSessions replaces the cached copies of sessions deleted from the
// store with tombstones.
func (s *Server) forgetSessions(ctx context.Context, hashes ...string) {
	c := s.sessionCache()
	if c == nil || len(hashes) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	for _, h := range hashes {
		if err := c.Set(cctx, sessionKey(h), sessionTombstone, sessionTombstoneTTL); err != nil {
			s.sessionCacheFailed(ctx, "delete", err)
			return
		}
	}
}

// deleteSession removes a session from the store and the cache.
func (s *Server) deleteSession(ctx context.Context, hash string) error {
	err := s.acc.store.DeleteSession(ctx, hash)
	s.forgetSessions(ctx, hash)
	return err
}

// userSessionHashes lists the user's sessions before they are deleted, to
// drop them from the cache after; nil when there is no session cache.
func (s *Server) userSessionHashes(ctx context.Context, userID int64) ([]string, error) {
	if s.sessionCache() == nil {
		return nil, nil
	}
	return s.acc.store.SessionHashes(ctx, userID)
}
