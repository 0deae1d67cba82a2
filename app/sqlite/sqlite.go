// Package sqlite is the embedded flavormonk.Store: one SQLite file through
// the pure Go modernc.org/sqlite driver, no cgo.
//
// Writes go through a single connection (SQLite has one writer anyway; one
// connection turns lock contention inside the process into a queue), reads
// through a small pool of query-only connections that WAL mode lets run
// beside the writer. Each connection's page cache is capped (cache_size) so
// the process stays small.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/storekit"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

var _ flavormonk.AppStore = (*Store)(nil)

const (
	readers      = 4
	busyTimeout  = 10 * time.Second
	cacheSizeKiB = 1024 // per connection
)

// Store is a flavormonk.Store on a SQLite database.
type Store struct {
	w *sql.DB // the one writer connection
	r *sql.DB // readers; the same as w for an in-memory database

	closeOnce sync.Once
	closeErr  error

	// stmts are the writer's prepared statements of the hot write paths
	// (metering runs twice per assistant answer): SQLite's parser is most
	// of such a small transaction's cost.
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt

	clock flavormonk.Clock
}

// Option configures Open.
type Option func(*Store)

// WithClock makes the store read the time (timestamps, whether a
// reservation still counts) from c instead of the system clock.
func WithClock(c flavormonk.Clock) Option { return func(s *Store) { s.clock = c } }

// now is the store's time, to the microsecond in UTC.
func (s *Store) now() time.Time { return storekit.Timestamp(s.clock) }

// prepared returns query prepared on the writer, inside tx. It must be
// called before tx began when the statement is new (the writer has one
// connection), which prepare does.
func (s *Store) prepared(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	s.stmtMu.Lock()
	st := s.stmts[query]
	s.stmtMu.Unlock()
	if st == nil {
		return nil
	}
	return tx.StmtContext(ctx, st)
}

// prepare prepares queries on the writer once; a failure leaves them to be
// parsed per call (and tried again next time). The lock is not held while
// preparing: that waits for the writer's one connection, which a
// transaction looking up its statements may hold.
func (s *Store) prepare(ctx context.Context, queries ...string) {
	s.stmtMu.Lock()
	var missing []string
	for _, q := range queries {
		if s.stmts[q] == nil {
			missing = append(missing, q)
		}
	}
	s.stmtMu.Unlock()
	for _, q := range missing {
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		s.stmtMu.Lock()
		if s.stmts == nil {
			s.stmts = map[string]*sql.Stmt{}
		}
		if s.stmts[q] == nil {
			s.stmts[q], st = st, nil
		}
		s.stmtMu.Unlock()
		if st != nil {
			st.Close() // another call prepared it first
		}
	}
}

// exec runs a writer statement in tx, prepared when it could be.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := s.prepared(ctx, tx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// queryRow runs a writer query in tx, prepared when it could be.
func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if st := s.prepared(ctx, tx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// query runs a writer query in tx, prepared when it could be.
func (s *Store) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if st := s.prepared(ctx, tx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, query, args...)
}

// Open opens (creating if need be) the SQLite database at path, or a private
// in-memory one for ":memory:", and applies pending migrations.
//
// Several processes may open a new file at once (instances starting
// together): switching it to WAL can then fail with SQLITE_BUSY without
// waiting on the busy timeout, so opening is retried for a few seconds.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		var s *Store
		if s, err = open(ctx, path, opts); err == nil || !isBusy(err) {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(25*(attempt+1)) * time.Millisecond):
		}
	}
	return nil, err
}

func isBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}

func open(ctx context.Context, path string, opts []Option) (*Store, error) {
	if path == "" {
		return nil, flavormonk.Errorf(flavormonk.EINVALID, "sqlite: no database path")
	}
	if strings.ContainsRune(path, '?') && path != ":memory:" {
		return nil, flavormonk.Errorf(flavormonk.EINVALID, "sqlite: database path %q must not contain '?'", path)
	}
	memory := path == ":memory:"

	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", cacheSizeKiB))
	q.Add("_pragma", "temp_store(memory)")
	if !memory {
		q.Add("_pragma", "journal_mode(WAL)")
		// In WAL mode NORMAL loses no data on an application crash, only
		// the last transactions on a power loss, and saves an fsync per commit.
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	rq := url.Values{}
	for k, v := range q {
		rq[k] = append([]string(nil), v...)
	}
	q.Set("_txlock", "immediate") // writers take the lock up front: no upgrade deadlocks
	rq.Add("_pragma", "query_only(1)")

	w, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// One connection that never expires: for ":memory:" it is the database.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &Store{w: w, r: w}
	for _, opt := range opts {
		opt(s)
	}

	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if _, err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if !memory {
		r, err := sql.Open("sqlite", path+"?"+rq.Encode())
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
		r.SetMaxOpenConns(readers)
		r.SetMaxIdleConns(2)
		r.SetConnMaxIdleTime(5 * time.Minute) // an idle pool gives its page caches back
		s.r = r
	}
	return s, nil
}

// Close closes the database; calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		var errR error
		s.stmtMu.Lock()
		for _, st := range s.stmts {
			st.Close()
		}
		s.stmts = nil
		s.stmtMu.Unlock()
		if s.r != s.w {
			errR = s.r.Close()
		}
		s.closeErr = errors.Join(errR, s.w.Close())
	})
	return s.closeErr
}

// Ping checks that both the writer and a reader answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	var one int
	if err := s.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Recipe returns the recipe with id, or an ENOTFOUND error.
func (s *Store) Recipe(ctx context.Context, id string) (*flavormonk.Recipe, error) {
	var doc []byte
	var created, updated int64
	err := s.r.QueryRowContext(ctx, `SELECT doc, created_at, updated_at FROM recipes WHERE id = ?`, id).
		Scan(&doc, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, flavormonk.Errorf(flavormonk.ENOTFOUND, "recipe %q not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: recipe %q: %w", id, err)
	}
	return decode(doc, created, updated)
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

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlite: upsert: %w", err)
	}
	defer tx.Rollback()

	// First decide what changes, so that one statement reserves all the
	// revisions the batch needs.
	type state struct {
		hash    string
		created int64
	}
	known := make(map[string]*state, len(ps))
	lookup, err := tx.PrepareContext(ctx, `SELECT content_hash, created_at FROM recipes WHERE id = ?`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: upsert: %w", err)
	}
	defer lookup.Close()
	results := make([]flavormonk.UpsertResult, len(ps))
	createdAt := make([]int64, len(ps))
	ts := s.now().UnixMicro()
	changed := 0
	for i, p := range ps {
		id := p.R.ID
		st, seen := known[id]
		if !seen {
			var h string
			var c int64
			switch err := lookup.QueryRowContext(ctx, id).Scan(&h, &c); {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return nil, fmt.Errorf("sqlite: upsert %q: %w", id, err)
			default:
				st = &state{hash: h, created: c}
			}
		}
		switch {
		case st == nil:
			results[i] = flavormonk.UpsertResult{ID: id, Action: flavormonk.ActionCreated}
			createdAt[i] = ts
			if !p.R.CreatedAt.IsZero() {
				createdAt[i] = p.R.CreatedAt.UTC().Truncate(time.Microsecond).UnixMicro()
			}
			st = &state{created: createdAt[i]}
			changed++
		case st.hash != p.Hash:
			results[i] = flavormonk.UpsertResult{ID: id, Action: flavormonk.ActionUpdated}
			createdAt[i] = st.created
			changed++
		default:
			results[i] = flavormonk.UpsertResult{ID: id, Action: flavormonk.ActionUnchanged}
		}
		st.hash = p.Hash
		known[id] = st
	}
	if changed == 0 {
		return results, nil
	}

	var last int64
	if err := tx.QueryRowContext(ctx, `UPDATE revision SET value = value + ? WHERE id = 1 RETURNING value`, changed).
		Scan(&last); err != nil {
		return nil, fmt.Errorf("sqlite: upsert: revision: %w", err)
	}
	rev := last - int64(changed)

	write, err := tx.PrepareContext(ctx, `INSERT INTO recipes (id, name, doc, content_hash, revision, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, doc = excluded.doc,
			content_hash = excluded.content_hash, revision = excluded.revision, updated_at = excluded.updated_at`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: upsert: %w", err)
	}
	defer write.Close()
	untomb, err := tx.PrepareContext(ctx, `DELETE FROM recipe_tombstones WHERE id = ?`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: upsert: %w", err)
	}
	defer untomb.Close()
	for i, p := range ps {
		switch results[i].Action {
		case flavormonk.ActionUnchanged:
			continue
		case flavormonk.ActionCreated:
			if _, err := untomb.ExecContext(ctx, p.R.ID); err != nil {
				return nil, fmt.Errorf("sqlite: upsert %q: %w", p.R.ID, err)
			}
		}
		rev++
		if _, err := write.ExecContext(ctx, p.R.ID, p.R.Name, string(p.Doc), p.Hash, rev, createdAt[i], ts); err != nil {
			return nil, fmt.Errorf("sqlite: upsert %q: %w", p.R.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlite: upsert: %w", err)
	}
	return results, nil
}

// DeleteRecipe removes a recipe and leaves a tombstone for Changes.
func (s *Store) DeleteRecipe(ctx context.Context, id string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: delete %q: %w", id, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM recipes WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete %q: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: delete %q: %w", id, err)
	} else if n == 0 {
		return flavormonk.Errorf(flavormonk.ENOTFOUND, "recipe %q not found", id)
	}
	var rev int64
	if err := tx.QueryRowContext(ctx, `UPDATE revision SET value = value + 1 WHERE id = 1 RETURNING value`).Scan(&rev); err != nil {
		return fmt.Errorf("sqlite: delete %q: revision: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO recipe_tombstones (id, revision, deleted_at) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, deleted_at = excluded.deleted_at`,
		id, rev, s.now().UnixMicro()); err != nil {
		return fmt.Errorf("sqlite: delete %q: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: delete %q: %w", id, err)
	}
	return nil
}

// Recipes lists recipes ordered by id (byte order), after the id after.
func (s *Store) Recipes(ctx context.Context, after string, limit int) ([]*flavormonk.Recipe, error) {
	if limit <= 0 {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "limit", "limit must be positive, not %d", limit)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT doc, created_at, updated_at FROM recipes WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: recipes: %w", err)
	}
	return scanRecipes(rows)
}

func scanRecipes(rows *sql.Rows) ([]*flavormonk.Recipe, error) {
	defer rows.Close()
	var rs []*flavormonk.Recipe
	for rows.Next() {
		var doc []byte
		var created, updated int64
		if err := rows.Scan(&doc, &created, &updated); err != nil {
			return nil, fmt.Errorf("sqlite: recipes: %w", err)
		}
		r, err := decode(doc, created, updated)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: recipes: %w", err)
	}
	return rs, nil
}

// CountRecipes counts the stored recipes.
func (s *Store) CountRecipes(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM recipes`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count recipes: %w", err)
	}
	return n, nil
}

// Revision returns the latest recipe revision.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.r.QueryRowContext(ctx, `SELECT value FROM revision WHERE id = 1`).Scan(&rev); err != nil {
		return 0, fmt.Errorf("sqlite: revision: %w", err)
	}
	return rev, nil
}

// Changes returns what changed after revision since, read in one snapshot.
func (s *Store) Changes(ctx context.Context, since int64) (flavormonk.ChangeSet, error) {
	var cs flavormonk.ChangeSet
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return cs, fmt.Errorf("sqlite: changes: %w", err)
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT value FROM revision WHERE id = 1`).Scan(&cs.Revision); err != nil {
		return cs, fmt.Errorf("sqlite: changes: %w", err)
	}
	if cs.Revision <= since {
		return cs, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT doc, created_at, updated_at FROM recipes WHERE revision > ? ORDER BY revision`, since)
	if err != nil {
		return cs, fmt.Errorf("sqlite: changes: %w", err)
	}
	if cs.Upserted, err = scanRecipes(rows); err != nil {
		return cs, err
	}
	rows, err = tx.QueryContext(ctx, `SELECT id FROM recipe_tombstones WHERE revision > ? ORDER BY revision`, since)
	if err != nil {
		return cs, fmt.Errorf("sqlite: changes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return cs, fmt.Errorf("sqlite: changes: %w", err)
		}
		cs.Deleted = append(cs.Deleted, id)
	}
	if err := rows.Err(); err != nil {
		return cs, fmt.Errorf("sqlite: changes: %w", err)
	}
	return cs, nil
}

// CreateVisitor starts a visitor session with a random id.
func (s *Store) CreateVisitor(ctx context.Context) (*flavormonk.Visitor, error) {
	v := &flavormonk.Visitor{ID: storekit.NewVisitorID(), CreatedAt: s.now()}
	v.SeenAt = v.CreatedAt
	if _, err := s.w.ExecContext(ctx, `INSERT INTO visitors (id, created_at, seen_at) VALUES (?, ?, ?)`,
		v.ID, v.CreatedAt.UnixMicro(), v.SeenAt.UnixMicro()); err != nil {
		return nil, fmt.Errorf("sqlite: create visitor: %w", err)
	}
	return v, nil
}

// Visitor returns a visitor session, or ENOTFOUND.
func (s *Store) Visitor(ctx context.Context, id string) (*flavormonk.Visitor, error) {
	var created, seen int64
	err := s.r.QueryRowContext(ctx, `SELECT created_at, seen_at FROM visitors WHERE id = ?`, id).Scan(&created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, flavormonk.Errorf(flavormonk.ENOTFOUND, "visitor session not found")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: visitor: %w", err)
	}
	return &flavormonk.Visitor{ID: id, CreatedAt: fromMicros(created), SeenAt: fromMicros(seen)}, nil
}

// TouchVisitor records that the visitor was seen now.
func (s *Store) TouchVisitor(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE visitors SET seen_at = ? WHERE id = ?`, s.now().UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("sqlite: touch visitor: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: touch visitor: %w", err)
	} else if n == 0 {
		return flavormonk.Errorf(flavormonk.ENOTFOUND, "visitor session not found")
	}
	return nil
}

// DeleteVisitorsBefore removes sessions last seen before t.
func (s *Store) DeleteVisitorsBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM visitors WHERE seen_at < ?`, t.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete visitors: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete visitors: %w", err)
	}
	return int(n), nil
}
