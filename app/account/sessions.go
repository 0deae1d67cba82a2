package account

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/auth"
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

// RandomSecret is 32 random bytes, URL-safe (CSRF secrets).
func RandomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sessionKey(hash string) string { return "session:" + hash }

func (s *Service) sessionCacheFailed(ctx context.Context, op string, err error) {
	if s.fallback != nil {
		s.fallback(err)
	}
	s.log.WarnContext(ctx, "session cache "+op+" failed; using the store", "err", err)
}

// Session returns the session with token hash from the cache or the
// store (ENOTFOUND when there is none).
func (s *Service) Session(ctx context.Context, hash string) (*flavormonk.Session, error) {
	c := s.cache
	if c == nil {
		return s.store.Session(ctx, hash)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	b, ok, err := c.Get(cctx, sessionKey(hash))
	cancel()
	if err != nil {
		s.sessionCacheFailed(ctx, "read", err)
		return s.store.Session(ctx, hash)
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
	ss, err := s.store.Session(ctx, hash)
	if err != nil {
		return nil, err
	}
	s.cacheSession(ctx, ss)
	return ss, nil
}

// cacheSession fills the cache with a copy of ss where the key is absent
// (never over a tombstone). The copy lives until ss would need a touch
// (SeenAt older than a minute), so a copy served from the cache never
// needs writing again: there is no overwrite that could race a delete.
func (s *Service) cacheSession(ctx context.Context, ss *flavormonk.Session) {
	c := s.cache
	if c == nil {
		return
	}
	now := s.now.Now()
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
func (s *Service) touchSession(ctx context.Context, ss *flavormonk.Session, now time.Time) error {
	if err := s.store.TouchSession(ctx, ss.TokenHash, now); err != nil {
		return err
	}
	cp := *ss
	cp.SeenAt = now
	s.cacheSession(ctx, &cp)
	return nil
}

// forgetSessions replaces the cached copies of sessions deleted from the
// store with tombstones.
func (s *Service) forgetSessions(ctx context.Context, hashes ...string) {
	c := s.cache
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

// EndSession removes a session from the store and the cache (log-out).
func (s *Service) EndSession(ctx context.Context, hash string) error {
	err := s.store.DeleteSession(ctx, hash)
	s.forgetSessions(ctx, hash)
	return err
}

// userSessionHashes lists the user's sessions before they are deleted, to
// drop them from the cache after; nil when there is no session cache.
func (s *Service) userSessionHashes(ctx context.Context, userID int64) ([]string, error) {
	if s.cache == nil {
		return nil, nil
	}
	return s.store.SessionHashes(ctx, userID)
}

// ValidToken says whether v may be a session token (a cookie value), so
// that oversized or empty values are not hashed or looked up.
func ValidToken(v string) bool { return v != "" && len(v) <= 128 }

// Authenticate returns the user and session of a session token (the
// cookie's value). ENOTFOUND means there is none (unknown, ended, expired
// or idle too long, or its user is gone): the cookie should go.
func (s *Service) Authenticate(ctx context.Context, token string) (*flavormonk.User, *flavormonk.Session, error) {
	hash := auth.HashToken(token)
	ss, err := s.Session(ctx, hash)
	if err != nil {
		return nil, nil, err
	}
	ss.TokenHash = hash
	now := s.now.Now()
	if !now.Before(ss.ExpiresAt) || now.Sub(ss.SeenAt) > SessionIdle {
		_ = s.EndSession(ctx, hash)
		return nil, nil, flavormonk.Errorf(flavormonk.ENOTFOUND, "the session has ended")
	}
	u, err := s.store.User(ctx, ss.UserID)
	if err != nil {
		return nil, nil, err
	}
	if now.Sub(ss.SeenAt) > time.Minute {
		if err := s.touchSession(ctx, ss, now); err != nil {
			s.log.WarnContext(ctx, "session touch failed", "err", err)
		}
	}
	return u, ss, nil
}

// StartSession logs u in with a new session and returns its token (for
// the cookie). The previous session's token, when the browser had one, is
// ended: a session is never reused (no session fixation).
func (s *Service) StartSession(ctx context.Context, u *flavormonk.User, previous string) (string, *flavormonk.Session, error) {
	if ValidToken(previous) {
		_ = s.EndSession(ctx, auth.HashToken(previous))
	}
	tok, hash := auth.NewToken("s_")
	now := s.now.Now()
	ss := &flavormonk.Session{TokenHash: hash, UserID: u.ID, CSRF: RandomSecret(), CreatedAt: now, SeenAt: now, ExpiresAt: now.Add(SessionAbsolute)}
	if err := s.store.CreateSession(ctx, ss); err != nil {
		return "", nil, err
	}
	return tok, ss, nil
}

func unauthorized(format string, args ...any) error {
	return flavormonk.Errorf(flavormonk.EUNAUTHORIZED, format, args...)
}

// TokenUser returns the user of an API bearer token and the token;
// EUNAUTHORIZED for a malformed, unknown or revoked one.
func (s *Service) TokenUser(ctx context.Context, tok string) (*flavormonk.User, *flavormonk.APIToken, error) {
	if !strings.HasPrefix(tok, auth.APITokenPrefix) || len(tok) > 128 {
		return nil, nil, unauthorized("the API token is malformed")
	}
	t, err := s.store.APIToken(ctx, auth.HashToken(tok))
	if err != nil {
		if flavormonk.ErrorCode(err) == flavormonk.ENOTFOUND {
			return nil, nil, unauthorized("the API token is not valid")
		}
		return nil, nil, err
	}
	if t.RevokedAt != nil {
		return nil, nil, unauthorized("the API token has been revoked")
	}
	u, err := s.store.User(ctx, t.UserID)
	if err != nil {
		if flavormonk.ErrorCode(err) == flavormonk.ENOTFOUND {
			return nil, nil, unauthorized("the API token is not valid")
		}
		return nil, nil, err
	}
	now := s.now.Now()
	if t.LastUsed == nil || now.Sub(*t.LastUsed) > time.Minute {
		if err := s.store.TouchAPIToken(ctx, t.ID, now); err != nil {
			s.log.WarnContext(ctx, "api token touch failed", "err", err)
		}
	}
	return u, t, nil
}
