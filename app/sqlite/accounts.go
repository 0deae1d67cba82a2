package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/storekit"
	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var _ flavormonk.AccountStore = (*Store)(nil)

// Limits on account fields.
const (
	maxTextBytes = 1024 // names, hashes, prefixes, CSRF secrets
)

// sqliteCode returns the extended result code of a SQLite error, or 0.
func sqliteCode(err error) int {
	var e *sqlitedrv.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func isForeignKey(err error) bool { return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY }

func micros(t time.Time) int64 { return t.UTC().Truncate(time.Microsecond).UnixMicro() }

func nullMicros(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return micros(*t)
}

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

// affected turns "no row changed" into err.
func affected(res sql.Result, notFound error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// ---- users and invites ----

// CreateUser stores a new user, consuming the invite inviteHash when given.
func (s *Store) CreateUser(ctx context.Context, u *flavormonk.User, inviteHash string) error {
	if u == nil {
		return flavormonk.Errorf(flavormonk.EINVALID, "user is missing")
	}
	email := storekit.NormEmail(u.Email)
	role, plan := u.Role, u.Plan
	if role == "" {
		role = flavormonk.RoleCustomer
	}
	if plan == "" {
		plan = flavormonk.PlanFree
	}
	if err := errors.Join(storekit.CheckEmail(email), storekit.CheckText("password_hash", u.PasswordHash, maxTextBytes, false),
		storekit.CheckRole(role), storekit.CheckPlan(plan)); err != nil {
		return firstError(err)
	}
	ts := s.now()

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: create user: %w", err)
	}
	defer tx.Rollback()
	if inviteHash != "" {
		res, err := tx.ExecContext(ctx, `UPDATE invites SET used_at = ? WHERE code_hash = ? AND used_at IS NULL`, ts.UnixMicro(), inviteHash)
		if err != nil {
			return fmt.Errorf("sqlite: create user: %w", err)
		}
		if err := affected(res, flavormonk.FieldErrorf(flavormonk.EINVALID, "invite", "the invite is unknown or already used")); err != nil {
			return err
		}
	}
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO users (email, password_hash, role, plan, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, email, u.PasswordHash, role, plan, ts.UnixMicro(), ts.UnixMicro()).Scan(&id)
	if isUnique(err) {
		return storekit.ErrEmailTaken()
	}
	if err != nil {
		return fmt.Errorf("sqlite: create user: %w", err)
	}
	if inviteHash != "" {
		if _, err := tx.ExecContext(ctx, `UPDATE invites SET used_by = ? WHERE code_hash = ?`, id, inviteHash); err != nil {
			return fmt.Errorf("sqlite: create user: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: create user: %w", err)
	}
	u.ID, u.Email, u.Role, u.Plan, u.CreatedAt, u.UpdatedAt = id, email, role, plan, ts, ts
	return nil
}

// firstError unwraps errors.Join's result to its first error, keeping the
// *flavormonk.Error on top.
func firstError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := j.Unwrap(); len(errs) > 0 {
			return errs[0]
		}
	}
	return err
}

const userColumns = `id, email, password_hash, role, plan, created_at, updated_at`

func (s *Store) userWhere(ctx context.Context, where string, arg any, notFound error) (*flavormonk.User, error) {
	var u flavormonk.User
	var created, updated int64
	err := s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, arg).
		Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Role, &u.Plan, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user: %w", err)
	}
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &u, nil
}

// Users lists users by id after the id after.
func (s *Store) Users(ctx context.Context, after int64, limit int) ([]*flavormonk.User, error) {
	us := []*flavormonk.User{}
	if limit <= 0 {
		return us, nil
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u flavormonk.User
		var created, updated int64
		if err := rows.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Role, &u.Plan, &created, &updated); err != nil {
			return nil, fmt.Errorf("sqlite: users: %w", err)
		}
		u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
		us = append(us, &u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: users: %w", err)
	}
	return us, nil
}

// User returns the user with id, or ENOTFOUND.
func (s *Store) User(ctx context.Context, id int64) (*flavormonk.User, error) {
	return s.userWhere(ctx, `id = ?`, id, storekit.UserNotFound(id))
}

// UserByEmail returns the user with the (normalised) email, or ENOTFOUND.
func (s *Store) UserByEmail(ctx context.Context, email string) (*flavormonk.User, error) {
	return s.userWhere(ctx, `email = ?`, storekit.NormEmail(email), flavormonk.Errorf(flavormonk.ENOTFOUND, "no account with this email"))
}

// CountUsers counts the users.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count users: %w", err)
	}
	return n, nil
}

func (s *Store) setUserColumn(ctx context.Context, id int64, column, value string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET `+column+` = ?, updated_at = ? WHERE id = ?`, value, s.now().UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("sqlite: set %s: %w", column, err)
	}
	if err := affected(res, storekit.UserNotFound(id)); err != nil {
		return err
	}
	return nil
}

// SetPasswordHash replaces the user's password hash.
func (s *Store) SetPasswordHash(ctx context.Context, id int64, hash string) error {
	if err := storekit.CheckText("password_hash", hash, maxTextBytes, true); err != nil {
		return err
	}
	return s.setUserColumn(ctx, id, "password_hash", hash)
}

// SetRole changes the user's role.
func (s *Store) SetRole(ctx context.Context, id int64, role string) error {
	if err := storekit.CheckRole(role); err != nil {
		return err
	}
	return s.setUserColumn(ctx, id, "role", role)
}

// SetPlan changes the user's plan.
func (s *Store) SetPlan(ctx context.Context, id int64, plan string) error {
	if err := storekit.CheckPlan(plan); err != nil {
		return err
	}
	return s.setUserColumn(ctx, id, "plan", plan)
}

// DeleteUser removes the user; foreign keys remove what was theirs.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete user: %w", err)
	}
	return affected(res, storekit.UserNotFound(id))
}

// CreateInvite stores an unused invite; createdBy 0 means no user (the CLI).
func (s *Store) CreateInvite(ctx context.Context, codeHash string, createdBy int64) error {
	if err := storekit.CheckText("invite", codeHash, maxTextBytes, true); err != nil {
		return err
	}
	var by any
	if createdBy != 0 {
		by = createdBy
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO invites (code_hash, created_by, created_at) VALUES (?, ?, ?)`,
		codeHash, by, s.now().UnixMicro())
	switch {
	case isUnique(err):
		return flavormonk.Errorf(flavormonk.ECONFLICT, "the invite exists")
	case isForeignKey(err):
		return storekit.UserNotFound(createdBy)
	case err != nil:
		return fmt.Errorf("sqlite: create invite: %w", err)
	}
	return nil
}

// ---- sessions ----

// CreateSession stores a session; CreatedAt and SeenAt default to now.
func (s *Store) CreateSession(ctx context.Context, sess *flavormonk.Session) error {
	if sess == nil {
		return flavormonk.Errorf(flavormonk.EINVALID, "session is missing")
	}
	if err := errors.Join(storekit.CheckText("token_hash", sess.TokenHash, maxTextBytes, true),
		storekit.CheckText("csrf", sess.CSRF, maxTextBytes, false)); err != nil {
		return firstError(err)
	}
	if sess.ExpiresAt.IsZero() {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "expires_at", "a session needs an expiry")
	}
	ts := s.now()
	created, seen := sess.CreatedAt, sess.SeenAt
	if created.IsZero() {
		created = ts
	}
	if seen.IsZero() {
		seen = created
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, csrf, created_at, seen_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, sess.TokenHash, sess.UserID, sess.CSRF, micros(created), micros(seen), micros(sess.ExpiresAt))
	switch {
	case isUnique(err):
		return flavormonk.Errorf(flavormonk.ECONFLICT, "the session exists")
	case isForeignKey(err):
		return storekit.UserNotFound(sess.UserID)
	case err != nil:
		return fmt.Errorf("sqlite: create session: %w", err)
	}
	sess.CreatedAt, sess.SeenAt = fromMicros(micros(created)), fromMicros(micros(seen))
	sess.ExpiresAt = fromMicros(micros(sess.ExpiresAt))
	return nil
}

// Session returns the session with the token hash, or ENOTFOUND. It does
// not check ExpiresAt: the caller does.
func (s *Store) Session(ctx context.Context, tokenHash string) (*flavormonk.Session, error) {
	sess := flavormonk.Session{TokenHash: tokenHash}
	var created, seen, expires int64
	err := s.r.QueryRowContext(ctx, `SELECT user_id, csrf, created_at, seen_at, expires_at FROM sessions WHERE token_hash = ?`, tokenHash).
		Scan(&sess.UserID, &sess.CSRF, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storekit.SessionNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: session: %w", err)
	}
	sess.CreatedAt, sess.SeenAt, sess.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	return &sess, nil
}

// TouchSession records when the session was last seen.
func (s *Store) TouchSession(ctx context.Context, tokenHash string, seen time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE sessions SET seen_at = ? WHERE token_hash = ?`, micros(seen), tokenHash)
	if err != nil {
		return fmt.Errorf("sqlite: touch session: %w", err)
	}
	return affected(res, storekit.SessionNotFound())
}

// DeleteSession removes a session; ENOTFOUND when there is none.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
	if err != nil {
		return fmt.Errorf("sqlite: delete session: %w", err)
	}
	return affected(res, storekit.SessionNotFound())
}

// DeleteUserSessions removes every session of the user (none is no error).
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("sqlite: delete user sessions: %w", err)
	}
	return nil
}

// ---- API tokens ----

// CreateAPIToken stores a token (ID and CreatedAt set).
func (s *Store) CreateAPIToken(ctx context.Context, t *flavormonk.APIToken) error {
	if t == nil {
		return flavormonk.Errorf(flavormonk.EINVALID, "token is missing")
	}
	if err := errors.Join(storekit.CheckText("name", t.Name, 200, true), storekit.CheckText("hash", t.Hash, maxTextBytes, true),
		storekit.CheckText("prefix", t.Prefix, maxTextBytes, false), storekit.CheckScopes(t.Scopes)); err != nil {
		return firstError(err)
	}
	scopes := slices.Clone(t.Scopes)
	if scopes == nil {
		scopes = []string{}
	}
	ts := s.now()
	var id int64
	err := s.w.QueryRowContext(ctx, `INSERT INTO api_tokens (user_id, name, hash, prefix, scopes, created_at, last_used, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, t.UserID, t.Name, t.Hash, t.Prefix, strings.Join(scopes, ","),
		ts.UnixMicro(), nullMicros(t.LastUsed), nullMicros(t.RevokedAt)).Scan(&id)
	switch {
	case isUnique(err):
		return flavormonk.Errorf(flavormonk.ECONFLICT, "the token exists")
	case isForeignKey(err):
		return storekit.UserNotFound(t.UserID)
	case err != nil:
		return fmt.Errorf("sqlite: create api token: %w", err)
	}
	t.ID, t.CreatedAt, t.Scopes = id, ts, scopes
	return nil
}

const tokenColumns = `id, user_id, name, hash, prefix, scopes, created_at, last_used, revoked_at`

func scanToken(sc interface{ Scan(...any) error }) (*flavormonk.APIToken, error) {
	var t flavormonk.APIToken
	var scopes string
	var created int64
	var used, revoked sql.NullInt64
	if err := sc.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &t.Prefix, &scopes, &created, &used, &revoked); err != nil {
		return nil, err
	}
	t.Scopes, t.CreatedAt = storekit.SplitScopes(scopes), fromMicros(created)
	t.LastUsed, t.RevokedAt = fromNullMicros(used), fromNullMicros(revoked)
	return &t, nil
}

// APIToken returns the token with the hash, revoked or not, or ENOTFOUND.
func (s *Store) APIToken(ctx context.Context, hash string) (*flavormonk.APIToken, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, flavormonk.Errorf(flavormonk.ENOTFOUND, "API token not found")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: api token: %w", err)
	}
	return t, nil
}

// APITokens lists the user's tokens, revoked ones included, newest first.
func (s *Store) APITokens(ctx context.Context, userID int64) ([]*flavormonk.APIToken, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE user_id = ? ORDER BY created_at DESC, id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: api tokens: %w", err)
	}
	defer rows.Close()
	ts := []*flavormonk.APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: api tokens: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: api tokens: %w", err)
	}
	return ts, nil
}

// RevokeAPIToken revokes the user's token id; a token of another user is
// ENOTFOUND. Revoking twice keeps the first time.
func (s *Store) RevokeAPIToken(ctx context.Context, userID, id int64) error {
	res, err := s.w.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND user_id = ?`,
		s.now().UnixMicro(), id, userID)
	if err != nil {
		return fmt.Errorf("sqlite: revoke api token: %w", err)
	}
	return affected(res, storekit.TokenNotFound(id))
}

// TouchAPIToken records when the token was last used.
func (s *Store) TouchAPIToken(ctx context.Context, id int64, used time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE api_tokens SET last_used = ? WHERE id = ?`, micros(used), id)
	if err != nil {
		return fmt.Errorf("sqlite: touch api token: %w", err)
	}
	return affected(res, storekit.TokenNotFound(id))
}

// ---- favourites ----

// SetFavourite adds a favourite or updates its note.
func (s *Store) SetFavourite(ctx context.Context, userID int64, recipeID, note string) error {
	if err := storekit.CheckText("note", note, storekit.MaxNoteBytes, false); err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: set favourite: %w", err)
	}
	defer tx.Rollback()
	var one int
	switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM recipes WHERE id = ?`, recipeID).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return flavormonk.Errorf(flavormonk.ENOTFOUND, "recipe %q not found", recipeID)
	case err != nil:
		return fmt.Errorf("sqlite: set favourite: %w", err)
	}
	ts := s.now().UnixMicro()
	_, err = tx.ExecContext(ctx, `INSERT INTO favourites (user_id, recipe_id, note, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id, recipe_id) DO UPDATE SET note = excluded.note, updated_at = excluded.updated_at`,
		userID, recipeID, note, ts, ts)
	if isForeignKey(err) {
		return storekit.UserNotFound(userID)
	}
	if err != nil {
		return fmt.Errorf("sqlite: set favourite: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: set favourite: %w", err)
	}
	return nil
}

// DeleteFavourite removes a favourite; ENOTFOUND when there is none.
func (s *Store) DeleteFavourite(ctx context.Context, userID int64, recipeID string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM favourites WHERE user_id = ? AND recipe_id = ?`, userID, recipeID)
	if err != nil {
		return fmt.Errorf("sqlite: delete favourite: %w", err)
	}
	return affected(res, flavormonk.Errorf(flavormonk.ENOTFOUND, "favourite %q not found", recipeID))
}

// Favourites lists the user's favourites, newest first.
func (s *Store) Favourites(ctx context.Context, userID int64) ([]*flavormonk.Favourite, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT recipe_id, note, created_at, updated_at FROM favourites
		WHERE user_id = ? ORDER BY created_at DESC, rowid DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: favourites: %w", err)
	}
	defer rows.Close()
	fs := []*flavormonk.Favourite{}
	for rows.Next() {
		var f flavormonk.Favourite
		var created, updated int64
		if err := rows.Scan(&f.RecipeID, &f.Note, &created, &updated); err != nil {
			return nil, fmt.Errorf("sqlite: favourites: %w", err)
		}
		f.CreatedAt, f.UpdatedAt = fromMicros(created), fromMicros(updated)
		fs = append(fs, &f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: favourites: %w", err)
	}
	return fs, nil
}

// ---- grants ----

// SetGrant adds or updates the grant for (user, source, licence key); on
// update the stored CreatedAt is kept and written back to g.
func (s *Store) SetGrant(ctx context.Context, g *flavormonk.Grant) error {
	if g == nil {
		return flavormonk.Errorf(flavormonk.EINVALID, "grant is missing")
	}
	if err := errors.Join(storekit.CheckPlan(g.Plan), storekit.CheckText("source", g.Source, 100, true),
		storekit.CheckText("license_key", g.LicenseKey, maxTextBytes, false), storekit.CheckSealed(g.Sealed)); err != nil {
		return firstError(err)
	}
	var checked any
	if !g.CheckedAt.IsZero() {
		checked = micros(g.CheckedAt)
	}
	var sealed any
	if len(g.Sealed) > 0 {
		sealed = g.Sealed
	}
	var created int64
	err := s.w.QueryRowContext(ctx, `INSERT INTO grants (user_id, plan, source, license_key, active, checked_at, created_at, license_sealed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, source, license_key) DO UPDATE SET plan = excluded.plan, active = excluded.active,
			checked_at = excluded.checked_at, license_sealed = coalesce(excluded.license_sealed, grants.license_sealed)
		RETURNING created_at`, g.UserID, g.Plan, g.Source, g.LicenseKey, g.Active, checked, s.now().UnixMicro(), sealed).Scan(&created)
	if isForeignKey(err) {
		return storekit.UserNotFound(g.UserID)
	}
	if isUnique(err) {
		return storekit.ErrLicenseTaken()
	}
	if err != nil {
		return fmt.Errorf("sqlite: set grant: %w", err)
	}
	g.CreatedAt = fromMicros(created)
	if !g.CheckedAt.IsZero() {
		g.CheckedAt = fromMicros(micros(g.CheckedAt))
	}
	return nil
}

const grantColumns = `user_id, plan, source, license_key, active, checked_at, created_at, license_sealed`

func scanGrant(sc interface{ Scan(...any) error }) (*flavormonk.Grant, error) {
	var g flavormonk.Grant
	var checked sql.NullInt64
	var created int64
	if err := sc.Scan(&g.UserID, &g.Plan, &g.Source, &g.LicenseKey, &g.Active, &checked, &created, &g.Sealed); err != nil {
		return nil, err
	}
	if checked.Valid {
		g.CheckedAt = fromMicros(checked.Int64)
	}
	g.CreatedAt = fromMicros(created)
	if len(g.Sealed) == 0 {
		g.Sealed = nil
	}
	return &g, nil
}

func (s *Store) queryGrants(ctx context.Context, what, query string, args ...any) ([]*flavormonk.Grant, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer rows.Close()
	gs := []*flavormonk.Grant{}
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		gs = append(gs, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return gs, nil
}

// Grants lists the user's grants, newest first.
func (s *Store) Grants(ctx context.Context, userID int64) ([]*flavormonk.Grant, error) {
	return s.queryGrants(ctx, "grants", `SELECT `+grantColumns+` FROM grants
		WHERE user_id = ? ORDER BY created_at DESC, rowid DESC`, userID)
}

// LicenseGrants lists grants with a sealed key checked before t, oldest
// check first.
func (s *Store) LicenseGrants(ctx context.Context, before time.Time, limit int) ([]*flavormonk.Grant, error) {
	if limit <= 0 {
		return []*flavormonk.Grant{}, nil
	}
	return s.queryGrants(ctx, "license grants", `SELECT `+grantColumns+` FROM grants
		WHERE license_sealed IS NOT NULL AND (checked_at IS NULL OR checked_at < ?)
		ORDER BY coalesce(checked_at, 0), user_id, license_key LIMIT ?`, micros(before), limit)
}

// ---- sessions for caches, visitors ----

// SessionHashes lists the token hashes of the user's sessions.
func (s *Store) SessionHashes(ctx context.Context, userID int64) ([]string, error) {
	return s.strings(ctx, "session hashes", `SELECT token_hash FROM sessions WHERE user_id = ? ORDER BY token_hash`, userID)
}

// UserVisitors lists the visitor ids linked to the user, newest first.
func (s *Store) UserVisitors(ctx context.Context, userID int64) ([]string, error) {
	return s.strings(ctx, "user visitors", `SELECT id FROM visitors WHERE user_id = ? ORDER BY created_at DESC, id`, userID)
}

func (s *Store) strings(ctx context.Context, what, query string, args ...any) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return out, nil
}

// LinkVisitor links an unlinked visitor session to the user.
func (s *Store) LinkVisitor(ctx context.Context, visitorID string, userID int64) error {
	res, err := s.w.ExecContext(ctx, `UPDATE visitors SET user_id = ? WHERE id = ? AND (user_id IS NULL OR user_id = ?)`,
		userID, visitorID, userID)
	if isForeignKey(err) {
		return storekit.UserNotFound(userID)
	}
	if err != nil {
		return fmt.Errorf("sqlite: link visitor: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlite: link visitor: %w", err)
	} else if n == 1 {
		return nil
	}
	var owner sql.NullInt64
	err = s.w.QueryRowContext(ctx, `SELECT user_id FROM visitors WHERE id = ?`, visitorID).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return storekit.VisitorNotFound()
	}
	if err != nil {
		return fmt.Errorf("sqlite: link visitor: %w", err)
	}
	return storekit.ErrVisitorTaken()
}
