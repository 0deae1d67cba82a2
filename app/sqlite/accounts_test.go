package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/storetest"
)

func TestAccounts(t *testing.T) {
	storetest.RunAccounts(t, func(t *testing.T, clk flavormonk.Clock) interface {
		flavormonk.Store
		flavormonk.AccountStore
	} {
		return openTemp(t, WithClock(clk))
	})
}

func TestAccountsInMemory(t *testing.T) {
	storetest.RunAccounts(t, func(t *testing.T, clk flavormonk.Clock) interface {
		flavormonk.Store
		flavormonk.AccountStore
	} {
		s, err := Open(context.Background(), ":memory:", WithClock(clk))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestMigrateForwardToAccounts opens a database made before accounts
// existed (only migration 1 applied) and checks that it gains them.
func TestMigrateForwardToAccounts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	ms, err := loadMigrations()
	if err != nil || len(ms) < 2 {
		t.Fatalf("loadMigrations = %d migrations, %v", len(ms), err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		ms[0].sql,
		`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`,
		fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, '%s', 0)`, ms[0].version, ms[0].name),
		`INSERT INTO recipes (id, name, doc, content_hash, revision, created_at, updated_at) VALUES ('old', 'Old', '{"id":"old","name":"Old"}', 'h', 1, 0, 0)`,
		`UPDATE revision SET value = 1`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open of a pre-accounts database: %v", err)
	}
	defer s.Close()
	if n, _ := s.CountRecipes(ctx); n != 1 {
		t.Fatalf("CountRecipes after migrating = %d, want 1", n)
	}
	u := &flavormonk.User{Email: "new@example.com", PasswordHash: "x"}
	if err := s.CreateUser(ctx, u, ""); err != nil {
		t.Fatalf("CreateUser after migrating: %v", err)
	}
	if err := s.SetFavourite(ctx, u.ID, "old", "kept"); err != nil {
		t.Fatalf("SetFavourite of an old recipe: %v", err)
	}
	var versions int
	if err := s.r.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&versions); err != nil || versions != len(ms) {
		t.Fatalf("schema_migrations rows = %d, %v; want %d", versions, err, len(ms))
	}
}
