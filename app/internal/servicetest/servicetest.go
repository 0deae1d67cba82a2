// Package servicetest gives tests the real services `make test` starts:
// their URLs from FLAVORMONK_TEST_* variables, and fresh Postgres
// databases. Without a variable a test is skipped, unless
// FLAVORMONK_TEST_REQUIRE_SERVICES=1 (make test and CI set it), which
// makes a missing service a failure instead of a silent pass.
package servicetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flavormonk/flavormonk/app/internal/subproc"
)

// URL returns the service URL in the environment variable name; start
// says how to get one (e.g. "scripts/redis.sh start").
func URL(tb testing.TB, name, start string) string {
	tb.Helper()
	u := os.Getenv(name)
	if u == "" {
		if os.Getenv("FLAVORMONK_TEST_REQUIRE_SERVICES") == "1" {
			tb.Fatalf("%s is not set; `make test` starts the service (%s)", name, start)
		}
		tb.Skipf("%s is not set (%s prints one)", name, start)
	}
	return u
}

// PostgresURL is the test Postgres server's URL.
func PostgresURL(tb testing.TB) string {
	return URL(tb, "FLAVORMONK_TEST_POSTGRES_URL", "scripts/postgres.sh start")
}

// RedisURL is the test Redis server's URL.
func RedisURL(tb testing.TB) string {
	return URL(tb, "FLAVORMONK_TEST_REDIS_URL", "scripts/redis.sh start")
}

// PostgresDatabase creates an empty database with a random name on the test
// server, drops it when the test ends, and returns its URL.
func PostgresDatabase(tb testing.TB) string {
	tb.Helper()
	admin := PostgresURL(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connecting to the test Postgres: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "flavormonk_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("CREATE DATABASE: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("dropping %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		// FORCE cannot end a session it may not signal (42501): an
		// autovacuum worker on the fresh database is the usual one, and it
		// ends on its own within moments.
		for attempt := 1; ; attempt++ {
			_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			var pe *pgconn.PgError
			if err != nil && errors.As(err, &pe) && pe.Code == "42501" && attempt < 20 {
				time.Sleep(250 * time.Millisecond)
				continue
			}
			if err != nil {
				tb.Errorf("dropping %s: %v", name, err)
			}
			return
		}
	})
	return WithDatabase(tb, admin, name)
}

// WithDatabase returns dsn (a URL or key=value string) naming database name.
func WithDatabase(tb testing.TB, dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			tb.Fatalf("FLAVORMONK_TEST_POSTGRES_URL: %v", err)
		}
		u.Path = "/" + name
		return u.String()
	}
	return dsn + " dbname=" + name // key=value form: the last dbname wins
}

// OwnRedis is a Redis server of one test's own (scripts/redis.sh on a free
// port and a temporary directory), for tests that stop and restart it
// without touching the shared one. It is stopped when the test ends.
type OwnRedis struct {
	URL  string
	args []string
}

// StartOwnRedis starts an OwnRedis; it skips the test (fails it under
// FLAVORMONK_TEST_REQUIRE_SERVICES=1) when the server cannot be started.
func StartOwnRedis(tb testing.TB) *OwnRedis {
	tb.Helper()
	r := &OwnRedis{args: []string{"--port", strconv.Itoa(FreePort(tb)), "--dir", tb.TempDir()}}
	u, err := r.script(tb, "start")
	if err != nil {
		if os.Getenv("FLAVORMONK_TEST_REQUIRE_SERVICES") == "1" {
			tb.Fatalf("scripts/redis.sh start: %v", err)
		}
		tb.Skipf("scripts/redis.sh start: %v", err)
	}
	r.URL = u
	tb.Cleanup(func() { _, _ = r.script(tb, "stop") })
	return r
}

// Stop stops the server (the outage a test wants).
func (r *OwnRedis) Stop(tb testing.TB) {
	tb.Helper()
	if _, err := r.script(tb, "stop"); err != nil {
		tb.Fatalf("stopping the test's own Redis: %v", err)
	}
}

// Start starts it again on the same port and directory.
func (r *OwnRedis) Start(tb testing.TB) {
	tb.Helper()
	if _, err := r.script(tb, "start"); err != nil {
		tb.Fatalf("restarting the test's own Redis: %v", err)
	}
}

func (r *OwnRedis) script(tb testing.TB, verb string) (string, error) {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "redis.sh")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, append([]string{verb}, r.args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Logf("redis.sh %s: %s", verb, stderr.String())
	}
	return strings.TrimSpace(string(out)), err
}

// FreePort returns a TCP port free on 127.0.0.1 now.
func FreePort(tb testing.TB) int {
	tb.Helper()
	p, err := subproc.FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// OwnPostgres is a PostgreSQL cluster of one test's own (scripts/postgres.sh
// on a free port and a temporary directory), for tests that stop and start
// it without touching the shared one the other tests use. It is stopped and
// removed when the test ends.
type OwnPostgres struct {
	URL string
	env []string
}

// StartOwnPostgres starts an OwnPostgres; it skips the test (fails it under
// FLAVORMONK_TEST_REQUIRE_SERVICES=1) when the cluster cannot be started.
func StartOwnPostgres(tb testing.TB) *OwnPostgres {
	tb.Helper()
	// Not tb.TempDir: its parent is private to root, and the cluster runs
	// as the postgres user, which must reach the directory.
	dir, err := os.MkdirTemp("", "flavormonk-pg-")
	if err != nil {
		tb.Fatal(err)
	}
	p := &OwnPostgres{env: []string{"FLAVORMONK_PG_DIR=" + dir, "FLAVORMONK_PG_PORT=" + strconv.Itoa(FreePort(tb))}}
	tb.Cleanup(func() {
		_, _ = p.script(tb, "stop")
		_ = os.RemoveAll(dir)
	})
	u, err := p.script(tb, "start")
	if err != nil {
		if os.Getenv("FLAVORMONK_TEST_REQUIRE_SERVICES") == "1" {
			tb.Fatalf("scripts/postgres.sh start: %v", err)
		}
		tb.Skipf("scripts/postgres.sh start: %v", err)
	}
	p.URL = u
	return p
}

// Stop stops the cluster (the outage a test wants).
func (p *OwnPostgres) Stop(tb testing.TB) {
	tb.Helper()
	if _, err := p.script(tb, "stop"); err != nil {
		tb.Fatalf("stopping the test's own Postgres: %v", err)
	}
}

// Start starts it again on the same port and directory.
func (p *OwnPostgres) Start(tb testing.TB) {
	tb.Helper()
	if _, err := p.script(tb, "start"); err != nil {
		tb.Fatalf("restarting the test's own Postgres: %v", err)
	}
}

func (p *OwnPostgres) script(tb testing.TB, verb string) (string, error) {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "..", "scripts", "postgres.sh")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, verb)
	cmd.Env = append(os.Environ(), p.env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Logf("postgres.sh %s: %s", verb, stderr.String())
	}
	return strings.TrimSpace(string(out)), err
}
