package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
	"github.com/flavormonk/flavormonk/app/internal/storekit"
	"github.com/flavormonk/flavormonk/app/storetest"
)

func openFresh(tb testing.TB, opts ...Option) *Store {
	tb.Helper()
	dsn := servicetest.PostgresDatabase(tb)
	s, err := Open(context.Background(), dsn, opts...)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	servicetest.PostgresURL(t)
	storetest.Run(t, func(t *testing.T, clk flavormonk.Clock) flavormonk.Store { return openFresh(t, WithClock(clk)) })
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	dsn := servicetest.PostgresDatabase(t)
	ms, err := loadMigrations()
	if err != nil || len(ms) == 0 {
		t.Fatalf("loadMigrations = %v, %v", ms, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			stores[i], errs[i] = Open(ctx, dsn, WithMaxConns(2))
		}()
	}
	close(start)
	wg.Wait()
	applied := 0
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
		applied += stores[i].migrated
	}
	if applied != len(ms) {
		t.Fatalf("%d concurrent Opens applied %d migrations in all, want %d (each once)", n, applied, len(ms))
	}
	var rows, versions int
	if err := stores[0].pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != len(ms) || versions != len(ms) {
		t.Fatalf("schema_migrations has %d rows for %d versions, want %d", rows, versions, len(ms))
	}
	for i, s := range stores {
		if _, err := s.UpsertRecipes(ctx, []*flavormonk.Recipe{storetest.NewRecipe(fmt.Sprintf("from-%d", i))}); err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
	}
	if c, err := stores[n-1].CountRecipes(ctx); err != nil || c != n {
		t.Fatalf("CountRecipes = %d, %v; want %d", c, err, n)
	}
	// The migration lock was released: it can be taken again at once.
	var got bool
	if err := stores[0].pool.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, migrateLockKey).Scan(&got); err != nil || !got {
		t.Fatalf("migration lock still held after Open: %v, %v", got, err)
	}
}

func TestMigrateSeparately(t *testing.T) {
	ctx := context.Background()
	s := openFresh(t, WithoutMigrations())
	if _, err := s.Recipe(ctx, "x"); err == nil || flavormonk.ErrorCode(err) == flavormonk.ENOTFOUND {
		t.Fatalf("Recipe on an unmigrated database = %v, want an internal error", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	ms, _ := loadMigrations()
	if s.migrated != len(ms) {
		t.Fatalf("migrated %d, want %d", s.migrated, len(ms))
	}
	if _, err := s.Recipe(ctx, "x"); flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
		t.Fatalf("Recipe after Migrate = %v, want ENOTFOUND", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	_, err := Open(ctx, "postgres://user:secret@[::1")
	if flavormonk.ErrorCode(err) != flavormonk.EINVALID || strings.Contains(err.Error(), "secret") {
		t.Fatalf("Open with a malformed URL = %v, want EINVALID without the password", err)
	}
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := Open(tctx, "postgres://nobody:x@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"); err == nil {
		t.Fatal("Open of an unreachable server: no error")
	}
}

func TestHasNUL(t *testing.T) {
	for doc, want := range map[string]bool{
		`{"a":"x\u0000y"}`:   true,
		`{"a":"x\\u0000y"}`:  false,
		`{"a":"x\\\u0000y"}`: true,
		`{"a":"plain"}`:      false,
	} {
		if got := storekit.HasNUL([]byte(doc)); got != want {
			t.Errorf("storekit.HasNUL(%s) = %v, want %v", doc, got, want)
		}
	}
}

func BenchmarkRecipe(b *testing.B) {
	s := openFresh(b)
	ctx := context.Background()
	var rs []*flavormonk.Recipe
	for i := range 1000 {
		rs = append(rs, storetest.NewRecipe(fmt.Sprintf("recipe-%04d", i)))
	}
	if _, err := s.UpsertRecipes(ctx, rs); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := s.Recipe(ctx, rs[i%len(rs)].ID); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkUpsertRecipes100(b *testing.B) {
	s := openFresh(b)
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		rs := make([]*flavormonk.Recipe, 100)
		for i := range rs {
			rs[i] = storetest.NewRecipe(fmt.Sprintf("recipe-%d", n))
			n++
		}
		if _, err := s.UpsertRecipes(ctx, rs); err != nil {
			b.Fatal(err)
		}
	}
}
