// Package servicetest gives tests the real services `make test` starts:
// their URLs from FLAVORMONK_TEST_* variables, and fresh Postgres
// databases. Without a variable a test is skipped, unless
// FLAVORMONK_TEST_REQUIRE_SERVICES=1 (make test and CI set it), which
// makes a missing service a failure instead of a silent pass.
package servicetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("dropping %s: %v", name, err)
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
