package main

import (
	"bytes"
	"context"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// The same binary on Postgres: seeded, searchable, and identical in its
// answers to SQLite, since search lives in the in-process index.
func TestEndToEndPostgres(t *testing.T) {
	pg := startMain(t, testConfig(t, map[string]string{"FLAVORMONK_STORE": "postgres", "FLAVORMONK_POSTGRES_URL": servicetest.PostgresDatabase(t)}))
	lite := startMain(t, testConfig(t, nil))
	for _, q := range []string{"q=chicken", "q=chiken+curry", "include=egg&max_minutes=30", "diet=vegan&tag=soup", "q=rice&exclude=chicken&limit=3"} {
		a := get(t, pg.URL()+"/api/v1/recipes?"+q)
		b := get(t, lite.URL()+"/api/v1/recipes?"+q)
		if a.status != 200 || string(a.body) != string(b.body) {
			t.Fatalf("%s: postgres %d %s\nsqlite %s", q, a.status, a.body, b.body)
		}
	}
	r := get(t, pg.URL()+"/readyz")
	if r.status != 200 {
		t.Fatalf("readyz %d %s", r.status, r.body)
	}
	if r := get(t, pg.URL()+"/api/v1/recipes/no-such"); r.status != 404 {
		t.Fatalf("missing recipe on postgres: %d", r.status)
	}
}

// TestMigrateJobThenServeWithoutMigrating is the scale phase's order: a job
// runs `flavormonk migrate`, then pods start with FLAVORMONK_MIGRATE_ON_START
// false, through a URL that asks pgx for unnamed statements (as behind
// PgBouncer in transaction mode). Before the job, serve refuses clearly.
func TestMigrateJobThenServeWithoutMigrating(t *testing.T) {
	dsn := servicetest.PostgresDatabase(t) + "&default_query_exec_mode=cache_describe"
	if !strings.Contains(dsn, "?") {
		dsn = strings.Replace(dsn, "&", "?", 1)
	}
	env := map[string]string{"FLAVORMONK_STORE": "postgres", "FLAVORMONK_POSTGRES_URL": dsn, "FLAVORMONK_MIGRATE_ON_START": "false"}
	m := NewMain(testConfig(t, env), slog.New(slog.NewTextHandler(io.Discard, nil)))
	err := m.Open(context.Background())
	m.Close()
	if err == nil || !strings.Contains(err.Error(), "flavormonk migrate") {
		t.Fatalf("serve on an unmigrated database: %v", err)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"migrate"}, &out, &errb); err != nil {
		t.Fatalf("migrate: %v\n%s", err, errb.String())
	}
	app := startMain(t, testConfig(t, env))
	if r := get(t, app.URL()+"/api/v1/recipes?q=chicken"); r.status != 200 {
		t.Fatalf("search after migrate: %d %s", r.status, r.body)
	}
}
