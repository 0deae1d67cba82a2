package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/storekit"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var _ flavormonk.AccountStore = (*Store)(nil)

// Limits on account fields (the same as the sqlite package's).
const (
	maxTextBytes = 1024 // names, hashes, prefixes, CSRF secrets
)

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func isUnique(err error) bool     { return pgCode(err) == "23505" }
func isForeignKey(err error) bool { return pgCode(err) == "23503" }

// firstError returns the first error of errors.Join's result.
func firstError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := j.Unwrap(); len(errs) > 0 {
			return errs[0]
		}
	}
	return err
}

func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func nullTime(t *time.Time) *time.Time {
	if t == nil || t.IsZero() {
		return nil
	}
	v := ts(*t)
	return &v
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

func affected(tag pgconn.CommandTag, notFound error) error {
	if tag.RowsAffected() == 0 {
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
		storekit.CheckRole(role), storekit.CheckPlan(plan), storekit.CheckText("invite", inviteHash, maxTextBytes, false)); err != nil {
		return firstError(err)
	}
	now := s.now()
	var id int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if inviteHash != "" {
			// A concurrent consumer holds the row lock; this UPDATE then
			// re-checks used_at after it commits and matches nothing.
			tag, err := tx.Exec(ctx, `UPDATE invites SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL`, now, inviteHash)
			if err != nil {
				return err
			}
			if err := affected(tag, flavormonk.FieldErrorf(flavormonk.EINVALID, "invite", "the invite is unknown or already used")); err != nil {
				return err
			}
		}
		err := tx.QueryRow(ctx, `INSERT INTO users (email, password_hash, role, plan, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5) RETURNING id`, email, u.PasswordHash, role, plan, now).Scan(&id)
		if isUnique(err) {
			return storekit.ErrEmailTaken()
		}
		if err != nil {
			return err
		}
		if inviteHash != "" {
			_, err = tx.Exec(ctx, `UPDATE invites SET used_by = $1 WHERE code_hash = $2`, id, inviteHash)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: create user: %w", err)
	}
	u.ID, u.Email, u.Role, u.Plan, u.CreatedAt, u.UpdatedAt = id, email, role, plan, now, now
	return nil
}

const userColumns = `id, email, password_hash, role, plan, created_at, updated_at`

func (s *Store) userWhere(ctx context.Context, where string, arg any, notFound error) (*flavormonk.User, error) {
	var u flavormonk.User
	err := s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, arg).
		Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Role, &u.Plan, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: user: %w", err)
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return &u, nil
}

// Users lists users by id after the id after.
func (s *Store) Users(ctx context.Context, after int64, limit int) ([]*flavormonk.User, error) {
	if limit <= 0 {
		return []*flavormonk.User{}, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: users: %w", err)
	}
	us, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*flavormonk.User, error) {
		var u flavormonk.User
		if err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Role, &u.Plan, &u.CreatedAt, &u.UpdatedAt); err != nil {
			return nil, err
		}
		u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
		return &u, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: users: %w", err)
	}
	if us == nil {
		us = []*flavormonk.User{}
	}
	return us, nil
}

// User returns the user with id, or ENOTFOUND.
func (s *Store) User(ctx context.Context, id int64) (*flavormonk.User, error) {
	return s.userWhere(ctx, `id = $1`, id, storekit.UserNotFound(id))
}

// UserByEmail returns the user with the (normalised) email, or ENOTFOUND.
func (s *Store) UserByEmail(ctx context.Context, email string) (*flavormonk.User, error) {
	e := storekit.NormEmail(email)
	if !utf8.ValidString(e) || strings.ContainsRune(e, 0) {
		return nil, flavormonk.Errorf(flavormonk.ENOTFOUND, "no account with this email")
	}
	return s.userWhere(ctx, `email = $1`, e, flavormonk.Errorf(flavormonk.ENOTFOUND, "no account with this email"))
}

// CountUsers counts the users.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count users: %w", err)
	}
	return n, nil
}

func (s *Store) setUserColumn(ctx context.Context, id int64, column, value string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET `+column+` = $1, updated_at = $2 WHERE id = $3`, value, s.now(), id)
	if err != nil {
		return fmt.Errorf("postgres: set %s: %w", column, err)
	}
	return affected(tag, storekit.UserNotFound(id))
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
	tag, err := s.pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: delete user: %w", err)
	}
	return affected(tag, storekit.UserNotFound(id))
}

// CreateInvite stores an unused invite; createdBy 0 means no user (the CLI).
func (s *Store) CreateInvite(ctx context.Context, codeHash string, createdBy int64) error {
	if err := storekit.CheckText("invite", codeHash, maxTextBytes, true); err != nil {
		return err
	}
	var by *int64
	if createdBy != 0 {
		by = &createdBy
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO invites (code_hash, created_by, created_at) VALUES ($1, $2, $3)`,
		codeHash, by, s.now())
	switch {
	case isUnique(err):
		return flavormonk.Errorf(flavormonk.ECONFLICT, "the invite exists")
	case isForeignKey(err):
		return storekit.UserNotFound(createdBy)
	case err != nil:
		return fmt.Errorf("postgres: create invite: %w", err)
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
	created, seen := ts(sess.CreatedAt), ts(sess.SeenAt)
	if sess.CreatedAt.IsZero() {
		created = s.now()
	}
	if sess.SeenAt.IsZero() {
		seen = created
	}
	expires := ts(sess.ExpiresAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, csrf, created_at, seen_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, sess.TokenHash, sess.UserID, sess.CSRF, created, seen, expires)
	switch {
	case isUnique(err):
		return flavormonk.Errorf(flavormonk.ECONFLICT, "the session exists")
	case isForeignKey(err):
		return storekit.UserNotFound(sess.UserID)
	case err != nil:
		return fmt.Errorf("postgres: create session: %w", err)
	}
	sess.CreatedAt, sess.SeenAt, sess.ExpiresAt = created, seen, expires
	return nil
}

// Session returns the session with the token hash, or ENOTFOUND. It does
// not check ExpiresAt: the caller does.
func (s *Store) Session(ctx context.Context, tokenHash string) (*flavormonk.Session, error) {
	if storekit.CheckText("token_hash", tokenHash, maxTextBytes, true) != nil {
		return nil, storekit.SessionNotFound()
	}
	sess := flavormonk.Session{TokenHash: tokenHash}
	err := s.pool.QueryRow(ctx, `SELECT user_id, csrf, created_at, seen_at, expires_at FROM sessions WHERE token_hash = $1`, tokenHash).
		Scan(&sess.UserID, &sess.CSRF, &sess.CreatedAt, &sess.SeenAt, &sess.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, storekit.SessionNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: session: %w", err)
	}
	sess.CreatedAt, sess.SeenAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.SeenAt.UTC(), sess.ExpiresAt.UTC()
	return &sess, nil
}

// TouchSession records when the session was last seen.
func (s *Store) TouchSession(ctx context.Context, tokenHash string, seen time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET seen_at = $1 WHERE token_hash = $2`, ts(seen), tokenHash)
	if err != nil {
		return fmt.Errorf("postgres: touch session: %w", err)
	}
	return affected(tag, storekit.SessionNotFound())
}

// DeleteSession removes a session; ENOTFOUND when there is none.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
	if err != nil {
		return fmt.Errorf("postgres: delete session: %w", err)
	}
	return affected(tag, storekit.SessionNotFound())
}

// DeleteUserSessions removes every session of the user (none is no error).
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("postgres: delete user sessions: %w", err)
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
	now := s.now()
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO api_tokens (user_id, name, hash, prefix, scopes, created_at, last_used, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, t.UserID, t.Name, t.Hash, t.Prefix, strings.Join(scopes, ","),
		now, nullTime(t.LastUsed), nullTime(t.RevokedAt)).Scan(&id)
	switch {
	case isUnique(err):
		return flavormonk.Errorf(flavormonk.ECONFLICT, "the token exists")
	case isForeignKey(err):
		return storekit.UserNotFound(t.UserID)
	case err != nil:
		return fmt.Errorf("postgres: create api token: %w", err)
	}
	t.ID, t.CreatedAt, t.Scopes = id, now, scopes
	return nil
}

const tokenColumns = `id, user_id, name, hash, prefix, scopes, created_at, last_used, revoked_at`

func scanToken(row pgx.CollectableRow) (*flavormonk.APIToken, error) {
	var t flavormonk.APIToken
	var scopes string
	if err := row.Scan(&t.ID, &t.UserID, &t.Name, &t.Hash, &t.Prefix, &scopes, &t.CreatedAt, &t.LastUsed, &t.RevokedAt); err != nil {
		return nil, err
	}
	t.Scopes, t.CreatedAt = storekit.SplitScopes(scopes), t.CreatedAt.UTC()
	t.LastUsed, t.RevokedAt = utcPtr(t.LastUsed), utcPtr(t.RevokedAt)
	return &t, nil
}

// APIToken returns the token with the hash, revoked or not, or ENOTFOUND.
func (s *Store) APIToken(ctx context.Context, hash string) (*flavormonk.APIToken, error) {
	notFound := flavormonk.Errorf(flavormonk.ENOTFOUND, "API token not found")
	if storekit.CheckText("hash", hash, maxTextBytes, true) != nil {
		return nil, notFound
	}
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = $1`, hash)
	if err != nil {
		return nil, fmt.Errorf("postgres: api token: %w", err)
	}
	t, err := pgx.CollectExactlyOneRow(rows, scanToken)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: api token: %w", err)
	}
	return t, nil
}

// APITokens lists the user's tokens, revoked ones included, newest first.
func (s *Store) APITokens(ctx context.Context, userID int64) ([]*flavormonk.APIToken, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("postgres: api tokens: %w", err)
	}
	ts, err := pgx.CollectRows(rows, scanToken)
	if err != nil {
		return nil, fmt.Errorf("postgres: api tokens: %w", err)
	}
	if ts == nil {
		ts = []*flavormonk.APIToken{}
	}
	return ts, nil
}

// RevokeAPIToken revokes the user's token id; a token of another user is
// ENOTFOUND. Revoking twice keeps the first time.
func (s *Store) RevokeAPIToken(ctx context.Context, userID, id int64) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 AND user_id = $3`,
		s.now(), id, userID)
	if err != nil {
		return fmt.Errorf("postgres: revoke api token: %w", err)
	}
	return affected(tag, storekit.TokenNotFound(id))
}

// TouchAPIToken records when the token was last used.
func (s *Store) TouchAPIToken(ctx context.Context, id int64, used time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_tokens SET last_used = $1 WHERE id = $2`, ts(used), id)
	if err != nil {
		return fmt.Errorf("postgres: touch api token: %w", err)
	}
	return affected(tag, storekit.TokenNotFound(id))
}

// ---- favourites ----

// SetFavourite adds a favourite or updates its note. The foreign key to
// recipes makes it race-free against a concurrent DeleteRecipe.
func (s *Store) SetFavourite(ctx context.Context, userID int64, recipeID, note string) error {
	if err := storekit.CheckText("note", note, storekit.MaxNoteBytes, false); err != nil {
		return err
	}
	recipeNotFound := flavormonk.Errorf(flavormonk.ENOTFOUND, "recipe %q not found", recipeID)
	if storekit.CheckText("recipe_id", recipeID, maxTextBytes, true) != nil {
		return recipeNotFound
	}
	now := s.now()
	_, err := s.pool.Exec(ctx, `INSERT INTO favourites (user_id, recipe_id, note, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
		ON CONFLICT (user_id, recipe_id) DO UPDATE SET note = excluded.note, updated_at = excluded.updated_at`,
		userID, recipeID, note, now)
	if isForeignKey(err) {
		var e *pgconn.PgError
		if errors.As(err, &e) && e.ConstraintName == "favourites_user_id_fkey" {
			return storekit.UserNotFound(userID)
		}
		return recipeNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: set favourite: %w", err)
	}
	return nil
}

// DeleteFavourite removes a favourite; ENOTFOUND when there is none.
func (s *Store) DeleteFavourite(ctx context.Context, userID int64, recipeID string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM favourites WHERE user_id = $1 AND recipe_id = $2`, userID, recipeID)
	if err != nil {
		return fmt.Errorf("postgres: delete favourite: %w", err)
	}
	return affected(tag, flavormonk.Errorf(flavormonk.ENOTFOUND, "favourite %q not found", recipeID))
}

// Favourites lists the user's favourites, newest first.
func (s *Store) Favourites(ctx context.Context, userID int64) ([]*flavormonk.Favourite, error) {
	rows, err := s.pool.Query(ctx, `SELECT recipe_id, note, created_at, updated_at FROM favourites
		WHERE user_id = $1 ORDER BY created_at DESC, recipe_id DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("postgres: favourites: %w", err)
	}
	fs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*flavormonk.Favourite, error) {
		var f flavormonk.Favourite
		if err := row.Scan(&f.RecipeID, &f.Note, &f.CreatedAt, &f.UpdatedAt); err != nil {
			return nil, err
		}
		f.CreatedAt, f.UpdatedAt = f.CreatedAt.UTC(), f.UpdatedAt.UTC()
		return &f, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: favourites: %w", err)
	}
	if fs == nil {
		fs = []*flavormonk.Favourite{}
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
	var checked *time.Time
	if !g.CheckedAt.IsZero() {
		c := ts(g.CheckedAt)
		checked = &c
	}
	var sealed []byte
	if len(g.Sealed) > 0 {
		sealed = g.Sealed
	}
	var created time.Time
	err := s.pool.QueryRow(ctx, `INSERT INTO grants (user_id, plan, source, license_key, active, checked_at, created_at, license_sealed)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (user_id, source, license_key) DO UPDATE SET plan = excluded.plan, active = excluded.active,
			checked_at = excluded.checked_at, license_sealed = coalesce(excluded.license_sealed, grants.license_sealed)
		RETURNING created_at`, g.UserID, g.Plan, g.Source, g.LicenseKey, g.Active, checked, s.now(), sealed).Scan(&created)
	if isForeignKey(err) {
		return storekit.UserNotFound(g.UserID)
	}
	if isUnique(err) {
		return storekit.ErrLicenseTaken()
	}
	if err != nil {
		return fmt.Errorf("postgres: set grant: %w", err)
	}
	g.CreatedAt = created.UTC()
	if checked != nil {
		g.CheckedAt = *checked
	}
	return nil
}

const grantColumns = `user_id, plan, source, license_key, active, checked_at, created_at, license_sealed`

func (s *Store) queryGrants(ctx context.Context, what, query string, args ...any) ([]*flavormonk.Grant, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	gs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*flavormonk.Grant, error) {
		var g flavormonk.Grant
		var checked *time.Time
		if err := row.Scan(&g.UserID, &g.Plan, &g.Source, &g.LicenseKey, &g.Active, &checked, &g.CreatedAt, &g.Sealed); err != nil {
			return nil, err
		}
		if checked != nil {
			g.CheckedAt = checked.UTC()
		}
		g.CreatedAt = g.CreatedAt.UTC()
		if len(g.Sealed) == 0 {
			g.Sealed = nil
		}
		return &g, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	if gs == nil {
		gs = []*flavormonk.Grant{}
	}
	return gs, nil
}

// Grants lists the user's grants, newest first.
func (s *Store) Grants(ctx context.Context, userID int64) ([]*flavormonk.Grant, error) {
	return s.queryGrants(ctx, "grants", `SELECT `+grantColumns+` FROM grants
		WHERE user_id = $1 ORDER BY created_at DESC, source, license_key`, userID)
}

// LicenseGrants lists grants with a sealed key checked before t, oldest
// check first.
func (s *Store) LicenseGrants(ctx context.Context, before time.Time, limit int) ([]*flavormonk.Grant, error) {
	if limit <= 0 {
		return []*flavormonk.Grant{}, nil
	}
	return s.queryGrants(ctx, "license grants", `SELECT `+grantColumns+` FROM grants
		WHERE license_sealed IS NOT NULL AND (checked_at IS NULL OR checked_at < $1)
		ORDER BY checked_at NULLS FIRST, user_id, license_key LIMIT $2`, ts(before), limit)
}

// ---- sessions for caches, visitors ----

// SessionHashes lists the token hashes of the user's sessions.
func (s *Store) SessionHashes(ctx context.Context, userID int64) ([]string, error) {
	return s.strings(ctx, "session hashes", `SELECT token_hash FROM sessions WHERE user_id = $1 ORDER BY token_hash`, userID)
}

// UserVisitors lists the visitor ids linked to the user, newest first.
func (s *Store) UserVisitors(ctx context.Context, userID int64) ([]string, error) {
	return s.strings(ctx, "user visitors", `SELECT id FROM visitors WHERE user_id = $1 ORDER BY created_at DESC, id`, userID)
}

func (s *Store) strings(ctx context.Context, what, query string, args ...any) ([]string, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// LinkVisitor links an unlinked visitor session to the user.
func (s *Store) LinkVisitor(ctx context.Context, visitorID string, userID int64) error {
	if !utf8.ValidString(visitorID) || strings.ContainsRune(visitorID, 0) {
		return storekit.VisitorNotFound()
	}
	tag, err := s.pool.Exec(ctx, `UPDATE visitors SET user_id = $1 WHERE id = $2 AND (user_id IS NULL OR user_id = $1)`,
		userID, visitorID)
	if isForeignKey(err) {
		return storekit.UserNotFound(userID)
	}
	if err != nil {
		return fmt.Errorf("postgres: link visitor: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var owner *int64
	err = s.pool.QueryRow(ctx, `SELECT user_id FROM visitors WHERE id = $1`, visitorID).Scan(&owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return storekit.VisitorNotFound()
	}
	if err != nil {
		return fmt.Errorf("postgres: link visitor: %w", err)
	}
	return storekit.ErrVisitorTaken()
}
