// Package postgres is the flavormonk.Store on PostgreSQL, through pgx's
// connection pool. It keeps the same semantics as the sqlite package; both
// pass storetest.Run.
//
// Revisions come from the recipe_revision sequence. A sequence alone hands
// out values in call order, not commit order: a reader could see revision 6
// committed while 5 is still in flight, move its cursor to 6 and never see 5.
// So every write takes a transaction-level advisory lock before drawing
// values and holds it until commit; revisions then become visible in order,
// and Revision and Changes read only committed rows.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/storekit"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

var _ flavormonk.AppStore = (*Store)(nil)

// writeLockKey is the transaction advisory lock every recipe write holds.
const writeLockKey int64 = migrateLockKey + 1

// Store is a flavormonk.Store on a Postgres database.
type Store struct {
	pool     *pgxpool.Pool
	migrated int // migrations this Store applied, for tests
	clock    flavormonk.Clock
}

// now is the store's time, to the microsecond in UTC.
func (s *Store) now() time.Time { return storekit.Timestamp(s.clock) }

// Option configures Open.
type Option func(*options)

type options struct {
	maxConns int32
	migrate  bool
	clock    flavormonk.Clock
}

// WithClock makes the store read the time (timestamps, whether a
// reservation still counts) from c instead of the system clock.
func WithClock(c flavormonk.Clock) Option { return func(o *options) { o.clock = c } }

// WithMaxConns caps the pool's connections (by default pgx's: the larger of
// 4 and the number of CPUs, or pool_max_conns in the DSN).
func WithMaxConns(n int32) Option { return func(o *options) { o.maxConns = n } }

// WithoutMigrations skips migrating in Open, for instances that leave it to
// `flavormonk migrate` (Store.Migrate).
func WithoutMigrations() Option { return func(o *options) { o.migrate = false } }

// Open connects to the database at dsn (a postgres:// URL or key=value
// string), checks that it answers, and applies pending migrations.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{migrate: true}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included.
		return nil, flavormonk.Errorf(flavormonk.EINVALID, "postgres: the database URL is malformed")
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "flavormonk"
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.ConnConfig.DialFunc = markFaults(cfg.ConnConfig.DialFunc)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s := &Store{pool: pool, clock: o.clock}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	if o.migrate {
		if err := s.Migrate(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close closes the pool; calling it again does nothing.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

const recipeColumns = `doc, created_at, updated_at`

func scanRecipe(row pgx.CollectableRow) (*flavormonk.Recipe, error) {
	var doc []byte
	var created, updated time.Time
	if err := row.Scan(&doc, &created, &updated); err != nil {
		return nil, err
	}
	return decode(doc, created, updated)
}

// Recipe returns the recipe with id, or an ENOTFOUND error.
func (s *Store) Recipe(ctx context.Context, id string) (*flavormonk.Recipe, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+recipeColumns+` FROM recipes WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("postgres: recipe %q: %w", id, err)
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanRecipe)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, flavormonk.Errorf(flavormonk.ENOTFOUND, "recipe %q not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: recipe %q: %w", id, err)
	}
	return r, nil
}

// lockWrites serialises recipe writes until tx ends (see the package doc).
func lockWrites(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLockKey)
	return err
}

// UpsertRecipes stores the recipes in one transaction.
func (s *Store) UpsertRecipes(ctx context.Context, recipes []*flavormonk.Recipe) ([]flavormonk.UpsertResult, error) {
	ps, err := storekit.Prepare(recipes)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return []flavormonk.UpsertResult{}, nil
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.R.ID
	}

	var results []flavormonk.UpsertResult
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockWrites(ctx, tx); err != nil {
			return err
		}
		type state struct {
			hash    string
			created time.Time
		}
		known := make(map[string]*state, len(ps))
		rows, err := tx.Query(ctx, `SELECT id, content_hash, created_at FROM recipes WHERE id = ANY($1)`, ids)
		if err != nil {
			return err
		}
		var id, hash string
		var created time.Time
		if _, err := pgx.ForEachRow(rows, []any{&id, &hash, &created}, func() error {
			known[id] = &state{hash: hash, created: created}
			return nil
		}); err != nil {
			return err
		}

		results = make([]flavormonk.UpsertResult, len(ps))
		ts := s.now()
		batch := &pgx.Batch{}
		var reborn []string
		for i, p := range ps {
			id := p.R.ID
			st := known[id]
			switch {
			case st == nil:
				results[i] = flavormonk.UpsertResult{ID: id, Action: flavormonk.ActionCreated}
				st = &state{created: ts}
				if !p.R.CreatedAt.IsZero() {
					st.created = p.R.CreatedAt.UTC().Truncate(time.Microsecond)
				}
				reborn = append(reborn, id)
			case st.hash != p.Hash:
				results[i] = flavormonk.UpsertResult{ID: id, Action: flavormonk.ActionUpdated}
			default:
				results[i] = flavormonk.UpsertResult{ID: id, Action: flavormonk.ActionUnchanged}
				continue
			}
			st.hash = p.Hash
			known[id] = st
			batch.Queue(`INSERT INTO recipes (id, name, doc, content_hash, revision, created_at, updated_at)
				VALUES ($1, $2, $3, $4, nextval('recipe_revision'), $5, $6)
				ON CONFLICT (id) DO UPDATE SET name = excluded.name, doc = excluded.doc,
					content_hash = excluded.content_hash, revision = excluded.revision, updated_at = excluded.updated_at`,
				id, p.R.Name, p.Doc, p.Hash, st.created, ts)
		}
		if batch.Len() == 0 {
			return nil
		}
		if len(reborn) > 0 {
			batch.Queue(`DELETE FROM recipe_tombstones WHERE id = ANY($1)`, reborn)
		}
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: upsert: %w", err)
	}
	return results, nil
}

// DeleteRecipe removes a recipe and leaves a tombstone for Changes.
func (s *Store) DeleteRecipe(ctx context.Context, id string) error {
	notFound := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockWrites(ctx, tx); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM recipes WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			notFound = true
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO recipe_tombstones (id, revision, deleted_at)
			VALUES ($1, nextval('recipe_revision'), $2)
			ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, deleted_at = excluded.deleted_at`,
			id, s.now())
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: delete %q: %w", id, err)
	}
	if notFound {
		return flavormonk.Errorf(flavormonk.ENOTFOUND, "recipe %q not found", id)
	}
	return nil
}

// Recipes lists recipes ordered by id (byte order), after the id after.
func (s *Store) Recipes(ctx context.Context, after string, limit int) ([]*flavormonk.Recipe, error) {
	if limit <= 0 {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "limit", "limit must be positive, not %d", limit)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+recipeColumns+` FROM recipes WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: recipes: %w", err)
	}
	rs, err := pgx.CollectRows(rows, scanRecipe)
	if err != nil {
		return nil, fmt.Errorf("postgres: recipes: %w", err)
	}
	return rs, nil
}

// CountRecipes counts the stored recipes.
func (s *Store) CountRecipes(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM recipes`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count recipes: %w", err)
	}
	return n, nil
}

// The latest committed revision: every change leaves its revision on a
// recipe or tombstone row, so the largest one is the latest. (The sequence's
// own last_value may belong to a transaction that has not committed.)
const latestRevision = `SELECT greatest(
	(SELECT coalesce(max(revision), 0) FROM recipes),
	(SELECT coalesce(max(revision), 0) FROM recipe_tombstones))`

// Revision returns the latest recipe revision.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.pool.QueryRow(ctx, latestRevision).Scan(&rev); err != nil {
		return 0, fmt.Errorf("postgres: revision: %w", err)
	}
	return rev, nil
}

// Changes returns what changed after revision since, read in one snapshot.
func (s *Store) Changes(ctx context.Context, since int64) (flavormonk.ChangeSet, error) {
	var cs flavormonk.ChangeSet
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, latestRevision).Scan(&cs.Revision); err != nil {
			return err
		}
		if cs.Revision <= since {
			return nil
		}
		rows, err := tx.Query(ctx, `SELECT `+recipeColumns+` FROM recipes WHERE revision > $1 ORDER BY revision`, since)
		if err != nil {
			return err
		}
		if cs.Upserted, err = pgx.CollectRows(rows, scanRecipe); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT id FROM recipe_tombstones WHERE revision > $1 ORDER BY revision`, since)
		if err != nil {
			return err
		}
		cs.Deleted, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return flavormonk.ChangeSet{}, fmt.Errorf("postgres: changes: %w", err)
	}
	return cs, nil
}

// CreateVisitor starts a visitor session with a random id.
func (s *Store) CreateVisitor(ctx context.Context) (*flavormonk.Visitor, error) {
	v := &flavormonk.Visitor{ID: storekit.NewVisitorID(), CreatedAt: s.now()}
	v.SeenAt = v.CreatedAt
	if _, err := s.pool.Exec(ctx, `INSERT INTO visitors (id, created_at, seen_at) VALUES ($1, $2, $3)`,
		v.ID, v.CreatedAt, v.SeenAt); err != nil {
		return nil, fmt.Errorf("postgres: create visitor: %w", err)
	}
	return v, nil
}

// Visitor returns a visitor session, or ENOTFOUND.
func (s *Store) Visitor(ctx context.Context, id string) (*flavormonk.Visitor, error) {
	v := &flavormonk.Visitor{ID: id}
	err := s.pool.QueryRow(ctx, `SELECT created_at, seen_at FROM visitors WHERE id = $1`, id).Scan(&v.CreatedAt, &v.SeenAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, flavormonk.Errorf(flavormonk.ENOTFOUND, "visitor session not found")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: visitor: %w", err)
	}
	v.CreatedAt, v.SeenAt = v.CreatedAt.UTC(), v.SeenAt.UTC()
	return v, nil
}

// TouchVisitor records that the visitor was seen now.
func (s *Store) TouchVisitor(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE visitors SET seen_at = $1 WHERE id = $2`, s.now(), id)
	if err != nil {
		return fmt.Errorf("postgres: touch visitor: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return flavormonk.Errorf(flavormonk.ENOTFOUND, "visitor session not found")
	}
	return nil
}

// DeleteVisitorsBefore removes sessions last seen before t.
func (s *Store) DeleteVisitorsBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM visitors WHERE seen_at < $1`, t)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete visitors: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
