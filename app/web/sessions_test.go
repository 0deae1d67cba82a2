package web

import (
	"context"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/redistest"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
)

// countingStore counts the store's session reads.
type countingStore struct {
	flavormonk.AccountStore
	reads atomic.Int64
}

func (c *countingStore) Session(ctx context.Context, hash string) (*flavormonk.Session, error) {
	c.reads.Add(1)
	return c.AccountStore.Session(ctx, hash)
}

func counting(cs *countingStore) func(flavormonk.AccountStore) flavormonk.AccountStore {
	return func(a flavormonk.AccountStore) flavormonk.AccountStore { cs.AccountStore = a; return cs }
}

// on points the browser at replica e (cookies follow: the jar ignores
// ports) and GETs path.
func (b *browser) on(e *accEnv, path string) resp {
	b.t.Helper()
	b.env = e
	return b.do("GET", path, nil, nil)
}

func loggedIn(r resp) bool { return r.status == http.StatusOK }

// Sessions are read through Redis: replicas share them, and logout,
// password change and deletion on one replica end them on the other.
func TestSessionCacheAcrossReplicas(t *testing.T) {
	cs := &countingStore{}
	rs := replicasWith(t, 2, redistest.Cache(t, servicetest.RedisURL(t)), counting(cs))
	a, b := rs[0], rs[1]
	u := a.browser(t)
	if r := u.signup("cached@example.com"); r.status != http.StatusSeeOther {
		t.Fatalf("signup: %d", r.status)
	}
	cs.reads.Store(0)
	for i := range 6 {
		e := rs[i%2]
		if r := u.on(e, "/account"); !loggedIn(r) {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	if n := cs.reads.Load(); n != 1 {
		t.Fatalf("6 requests on two replicas read the store's session %d times; want 1 (then the cache)", n)
	}
	// Logout on B ends the session on A at once.
	u.env = b
	if r := u.post("/logout", "/account", url.Values{}, nil); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	if r := u.on(a, "/account"); loggedIn(r) {
		t.Fatal("a logged-out session still works on the other replica")
	}

	// Password change on B logs out the user's other sessions on A.
	one, two := a.browser(t), a.browser(t)
	one.login("cached@example.com", pw)
	two.login("cached@example.com", pw)
	for _, br := range []*browser{one, two} {
		if r := br.on(a, "/account"); !loggedIn(r) {
			t.Fatal("not logged in")
		}
	}
	one.env = b
	r := one.post("/account/password", "/account", url.Values{"current_password": {pw}, "new_password": {"a brand new passphrase"}}, nil)
	if r.status != http.StatusOK {
		t.Fatalf("password change: %d %s", r.status, r.body)
	}
	if r := two.on(a, "/account"); loggedIn(r) {
		t.Fatal("another session survived a password change (served from the cache)")
	}
	if r := one.on(a, "/account"); !loggedIn(r) {
		t.Fatal("the session that changed the password was logged out")
	}
	// Deletion on B ends it on A.
	one.env = b
	if r := one.post("/account/delete", "/account", url.Values{"password": {"a brand new passphrase"}}, nil); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.status)
	}
	three := a.browser(t)
	if r := three.login("cached@example.com", "a brand new passphrase"); r.status == http.StatusSeeOther {
		t.Fatal("a deleted account logs in")
	}
	if r := one.on(a, "/account"); loggedIn(r) {
		t.Fatal("a deleted user's session still works")
	}
}

// The stale-fill race (a replica filling the cache with a session another
// one just logged out) is tested in package account.

// With its Redis stopped, sessions are read from the store: nobody is
// logged out, and logging out still works.
func TestSessionCacheOutage(t *testing.T) {
	servicetest.RedisURL(t)
	if testing.Short() {
		t.Skip("starts a Redis server")
	}
	own := servicetest.StartOwnRedis(t)
	cs := &countingStore{}
	rs := replicasWith(t, 2, redistest.Cache(t, own.URL), counting(cs))
	u, v := rs[0].browser(t), rs[0].browser(t)
	u.signup("up@example.com")
	v.signup("down@example.com")
	for _, br := range []*browser{u, v} {
		if r := br.on(rs[1], "/account"); !loggedIn(r) {
			t.Fatal("not logged in while Redis is up")
		}
	}
	own.Stop(t)
	before := cs.reads.Load()
	for i := range 4 {
		for _, br := range []*browser{u, v} {
			if r := br.on(rs[i%2], "/account"); !loggedIn(r) {
				t.Fatalf("logged out by the Redis outage: %d", r.status)
			}
		}
	}
	if cs.reads.Load()-before != 8 {
		t.Fatalf("store reads during the outage = %d, want 8 (every request)", cs.reads.Load()-before)
	}
	u.env = rs[1]
	if r := u.post("/logout", "/account", url.Values{}, nil); r.status != http.StatusSeeOther {
		t.Fatalf("logout during the outage: %d", r.status)
	}
	if r := u.on(rs[0], "/account"); loggedIn(r) {
		t.Fatal("logout during the outage did not end the session")
	}
	if r := v.on(rs[0], "/account"); !loggedIn(r) {
		t.Fatal("another user was logged out")
	}
}

// BenchmarkSessionLookup compares reading a session from the store
// (SQLite) with reading it through Redis.
func BenchmarkSessionLookup(b *testing.B) {
	for _, mode := range []string{"store", "redis"} {
		b.Run(mode, func(b *testing.B) {
			var c flavormonk.Cache
			if mode == "redis" {
				c = redistest.Cache(b, servicetest.RedisURL(b))
			}
			envs := replicas(b, 1, c)[0]
			s := envs.server
			ctx := context.Background()
			ss := &flavormonk.Session{TokenHash: "bench-session", CSRF: "c", SeenAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
			u := &flavormonk.User{Email: "bench@example.com", PasswordHash: "x"}
			if err := envs.st.CreateUser(ctx, u, ""); err != nil {
				b.Fatal(err)
			}
			ss.UserID = u.ID
			if err := envs.st.CreateSession(ctx, ss); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.acc.Session(ctx, "bench-session"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
