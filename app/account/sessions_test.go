package account

import (
	"context"
	"path/filepath"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/auth"
	"github.com/flavormonk/flavormonk/app/internal/redistest"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
	"github.com/flavormonk/flavormonk/app/sqlite"
)

// A replica that read a session from the store just before another
// replica logged it out cannot put its stale copy back in the cache: the
// logout leaves a tombstone that a fill does not overwrite.
func TestSessionCacheStaleFill(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fm.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := redistest.Cache(t, servicetest.RedisURL(t))
	a := New(Options{Store: st, Visitors: st, SessionCache: c})
	b := New(Options{Store: st, Visitors: st, SessionCache: c})
	u := &flavormonk.User{Email: "stale@example.com", PasswordHash: "x", Role: flavormonk.RoleCustomer, Plan: flavormonk.PlanFree}
	if err := st.CreateUser(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	token, _, err := a.StartSession(ctx, u, "")
	if err != nil {
		t.Fatal(err)
	}
	hash := auth.HashToken(token)
	// B misses the cache and reads the store...
	ss, err := st.Session(ctx, hash)
	if err != nil {
		t.Fatal(err)
	}
	// ...A logs out...
	if err := a.EndSession(ctx, hash); err != nil {
		t.Fatal(err)
	}
	// ...and B fills the cache with what it read.
	b.cacheSession(ctx, ss)
	for _, r := range []*Service{a, b} {
		if _, err := r.Session(ctx, hash); flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
			t.Fatalf("a logged-out session came back from the cache: %v", err)
		}
		// A stolen cookie is not logged in on either replica.
		if _, _, err := r.Authenticate(ctx, token); flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
			t.Fatalf("a logged-out session is served: %v", err)
		}
	}
}
