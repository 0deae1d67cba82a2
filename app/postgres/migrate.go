package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Migrations are plain SQL files named NNNN_what.sql, applied in version
// order, each in its own transaction and recorded in schema_migrations.
// A small migrator of our own rather than goose: goose's module pulls a dozen
// database drivers into the module graph and wants database/sql, where the
// store is pgx-native; the locking we need is one advisory lock.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// migrateLockKey is the session advisory lock held while migrating. Advisory
// locks are per database, so it only serialises instances of one database.
const migrateLockKey int64 = 0x466c61764d6f6e6b // "FlavMonk"

type migration struct {
	version int64
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	seen := map[int64]string{}
	for _, f := range files {
		base := strings.TrimPrefix(f, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.ParseInt(num, 10, 64)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive version number and _", base)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", other, base, v)
		}
		seen[v] = base
		b, err := migrationFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// Migrate applies the migrations the database lacks. Several instances may
// call it at once: each takes a session advisory lock on one connection, so
// they run one after another and the later ones find nothing left to do.
// Open calls it unless WithoutMigrations is given; the CLI may call it alone.
//
// The lock needs a real session: point the store at Postgres itself, not at
// a transaction-pooling PgBouncer, when migrating.
func (s *Store) Migrate(ctx context.Context) error {
	n, err := s.migrate(ctx)
	s.migrated += n
	return err
}

// CheckSchema fails unless every migration of this version is applied:
// for instances that leave migrating to `flavormonk migrate`. It takes no
// lock, so it works through a transaction-mode pool.
func (s *Store) CheckSchema(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	var have int64
	err = s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have)
	if err != nil && !strings.Contains(err.Error(), "schema_migrations") {
		return fmt.Errorf("postgres: reading the schema version: %w", err)
	}
	if want := ms[len(ms)-1].version; have < want {
		return flavormonk.Errorf(flavormonk.EUNAVAILABLE, "postgres: the database schema is at version %d and this version needs %d: run `flavormonk migrate` (on a direct connection, not through a transaction pool), or set FLAVORMONK_MIGRATE_ON_START=true", have, want)
	}
	return nil
}

// migrate returns how many migrations it applied.
func (s *Store) migrate(ctx context.Context) (applied int, err error) {
	ms, err := loadMigrations()
	if err != nil {
		return 0, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
		return 0, fmt.Errorf("postgres: migrate: taking the migration lock: %w", err)
	}
	defer func() {
		// Unlock even when ctx is done; if that fails, ending the session
		// releases the lock.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, migrateLockKey); uerr != nil {
			_ = conn.Conn().Close(uctx)
		}
	}()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    bigint PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return 0, fmt.Errorf("postgres: migrate: %w", err)
	}
	done := map[int64]bool{}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return 0, fmt.Errorf("postgres: migrate: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("postgres: migrate: %w", err)
	}
	for _, v := range versions {
		done[v] = true
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
		applied++
	}
	return applied, nil
}
