package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/storekit"
	"github.com/flavormonk/flavormonk/app/storetest"
)

func openTemp(tb testing.TB, opts ...Option) *Store {
	tb.Helper()
	s, err := Open(context.Background(), filepath.Join(tb.TempDir(), "flavormonk.db"), opts...)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clk flavormonk.Clock) flavormonk.Store { return openTemp(t, WithClock(clk)) })
}

func TestStoreInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T, clk flavormonk.Clock) flavormonk.Store {
		s, err := Open(context.Background(), ":memory:", WithClock(clk))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

func pragma(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestOpenPragmas(t *testing.T) {
	s := openTemp(t)
	for name, db := range map[string]*sql.DB{"writer": s.w, "reader": s.r} {
		for p, want := range map[string]string{
			"journal_mode": "wal",
			"foreign_keys": "1",
			"busy_timeout": "10000",
			"cache_size":   fmt.Sprint(-cacheSizeKiB),
			"synchronous":  "1", // NORMAL
		} {
			if got := pragma(t, db, p); got != want {
				t.Errorf("%s: PRAGMA %s = %q, want %q", name, p, got, want)
			}
		}
	}
	if got := pragma(t, s.r, "query_only"); got != "1" {
		t.Errorf("reader query_only = %q, want 1", got)
	}
	if got := pragma(t, s.w, "query_only"); got != "0" {
		t.Errorf("writer query_only = %q, want 0", got)
	}
	if _, err := s.r.Exec(`DELETE FROM visitors`); err == nil {
		t.Error("a reader connection could write")
	}
}

func TestOpenInvalidPath(t *testing.T) {
	for _, p := range []string{"", "a?b.db"} {
		if _, err := Open(context.Background(), p); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
			t.Errorf("Open(%q) = %v, want EINVALID", p, err)
		}
	}
	if _, err := Open(context.Background(), filepath.Join(t.TempDir(), "missing", "dir", "x.db")); err == nil {
		t.Error("Open in a missing directory: no error")
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keep.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertRecipes(ctx, []*flavormonk.Recipe{storetest.NewRecipe("kept")}); err != nil {
		t.Fatal(err)
	}
	rev, _ := s.Revision(ctx)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Recipe(ctx, "kept"); err != nil {
		t.Fatalf("after reopen: %v", err)
	}
	if got, _ := s.Revision(ctx); got != rev {
		t.Fatalf("revision after reopen = %d, want %d", got, rev)
	}
	if n, err := s.migrate(ctx); err != nil || n != 0 {
		t.Fatalf("migrate on a migrated database applied %d, %v; want 0", n, err)
	}
}

func TestMigrateConcurrentOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "race.db")
	ms, err := loadMigrations()
	if err != nil || len(ms) == 0 {
		t.Fatalf("loadMigrations = %v, %v", ms, err)
	}
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(ctx, path)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var versions, rows int
	if err := stores[0].r.QueryRow(`SELECT count(DISTINCT version), count(*) FROM schema_migrations`).Scan(&versions, &rows); err != nil {
		t.Fatal(err)
	}
	if versions != len(ms) || rows != len(ms) {
		t.Fatalf("schema_migrations holds %d rows for %d versions, want %d once each", rows, versions, len(ms))
	}
	// Every store works on the shared file.
	for i, s := range stores {
		if _, err := s.UpsertRecipes(ctx, []*flavormonk.Recipe{storetest.NewRecipe(fmt.Sprintf("from-%d", i))}); err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
	}
	if c, _ := stores[0].CountRecipes(ctx); c != n {
		t.Fatalf("CountRecipes = %d, want %d", c, n)
	}
}

func TestHasNUL(t *testing.T) {
	for doc, want := range map[string]bool{
		`{"a":"x\u0000y"}`:   true,
		`{"a":"x\\u0000y"}`:  false, // an escaped backslash followed by "u0000"
		`{"a":"x\\\u0000y"}`: true,
		`{"a":"\u00001"}`:    true,
		`{"a":"plain"}`:      false,
	} {
		if got := storekit.HasNUL([]byte(doc)); got != want {
			t.Errorf("storekit.HasNUL(%s) = %v, want %v", doc, got, want)
		}
	}
}

func BenchmarkRecipe(b *testing.B) {
	s := openTemp(b)
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
	s := openTemp(b)
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
