package postgres

import (
	"context"
	"fmt"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
	"github.com/flavormonk/flavormonk/app/storetest"
	"github.com/jackc/pgx/v5"
)

// TestAccounts runs the account suite on a fresh database per test; it
// skips without FLAVORMONK_TEST_POSTGRES_URL unless
// FLAVORMONK_TEST_REQUIRE_SERVICES=1, which makes that a failure.
func TestAccounts(t *testing.T) {
	servicetest.PostgresURL(t)
	storetest.RunAccounts(t, func(t *testing.T, clk flavormonk.Clock) interface {
		flavormonk.Store
		flavormonk.AccountStore
	} {
		return openFresh(t, WithClock(clk))
	})
}

// TestMigrateForwardToAccounts opens a database made before accounts
// existed (only migration 1 applied) and checks that it gains them.
func TestMigrateForwardToAccounts(t *testing.T) {
	ctx := context.Background()
	dsn := servicetest.PostgresDatabase(t)
	ms, err := loadMigrations()
	if err != nil || len(ms) < 2 {
		t.Fatalf("loadMigrations = %d migrations, %v", len(ms), err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		ms[0].sql,
		`CREATE TABLE schema_migrations (version bigint PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
		fmt.Sprintf(`INSERT INTO schema_migrations (version, name) VALUES (%d, '%s')`, ms[0].version, ms[0].name),
		`INSERT INTO recipes (id, name, doc, content_hash, revision, created_at, updated_at)
			VALUES ('old', 'Old', '{"id":"old","name":"Old"}', 'h', nextval('recipe_revision'), now(), now())`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close(ctx)

	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open of a pre-accounts database: %v", err)
	}
	defer s.Close()
	if s.migrated != len(ms)-1 {
		t.Fatalf("migrated %d, want %d", s.migrated, len(ms)-1)
	}
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
}
