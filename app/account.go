package flavormonk

import (
	"context"
	"time"
)

// Roles.
const (
	RoleAdmin    = "admin"
	RoleCustomer = "customer"
)

// Plans a user can hold; the assistant is unlocked by any paid plan.
const (
	PlanFree = "free"
	PlanChef = "chef" // the assistant, sold on Gumroad
)

// User is a customer or admin account. Email is stored normalised
// (trimmed, lower-case) and unique.
type User struct {
	ID           int64     `json:"id"`
	Email        string    `json:"email"`
	PasswordHash string    `json:"-"` // argon2id, PHC string format
	Role         string    `json:"role"`
	Plan         string    `json:"plan"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Session is a logged-in browser. Only the SHA-256 of the cookie's token
// is stored, so a leaked database does not log anyone in.
type Session struct {
	TokenHash string    `json:"-"`
	UserID    int64     `json:"user_id"`
	CSRF      string    `json:"-"` // per-session CSRF secret
	CreatedAt time.Time `json:"created_at"`
	SeenAt    time.Time `json:"seen_at"`
	ExpiresAt time.Time `json:"expires_at"` // absolute expiry
}

// API token scopes.
const (
	ScopeRead = "read"
	ScopeAsk  = "ask"
)

// APIToken is a bearer token for the API, stored as its SHA-256 hash; the
// token itself is shown once, when created.
type APIToken struct {
	ID        int64      `json:"id"`
	UserID    int64      `json:"-"`
	Name      string     `json:"name"`
	Hash      string     `json:"-"`
	Prefix    string     `json:"prefix"` // the first characters, to tell tokens apart
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Favourite is a recipe a user keeps, with an optional note.
type Favourite struct {
	RecipeID  string    `json:"recipe_id"`
	Note      string    `json:"note,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Grant is a plan given to a user, by an admin or by a verified licence.
type Grant struct {
	UserID     int64     `json:"-"`
	Plan       string    `json:"plan"`
	Source     string    `json:"source"`               // "admin" or "gumroad"
	LicenseKey string    `json:"-"`                    // SHA-256 of the licence key: one key, one account
	Sealed     []byte    `json:"-"`                    // the key sealed (AES-256-GCM) for re-checks; nil without a secret
	Active     bool      `json:"active"`               // false once refunded, disputed or charged back
	CheckedAt  time.Time `json:"checked_at,omitempty"` // last verification
	CreatedAt  time.Time `json:"created_at"`
}

// AccountStore keeps accounts and what belongs to them. SQLite and Postgres
// implement it; both pass storetest.RunAccounts. Errors: ENOTFOUND for
// unknown ids, ECONFLICT for a taken email, EINVALID for bad input.
type AccountStore interface {
	// CreateUser stores a new user (ID, timestamps set). When inviteHash is
	// not empty the invite is consumed in the same transaction: an unknown
	// or used invite is EINVALID and nothing is stored.
	CreateUser(ctx context.Context, u *User, inviteHash string) error
	User(ctx context.Context, id int64) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
	CountUsers(ctx context.Context) (int, error)
	// Users lists users by id, starting after the id after (0 for the
	// start), at most limit of them.
	Users(ctx context.Context, after int64, limit int) ([]*User, error)
	SetPasswordHash(ctx context.Context, id int64, hash string) error
	SetRole(ctx context.Context, id int64, role string) error
	SetPlan(ctx context.Context, id int64, plan string) error
	// DeleteUser removes the user and everything of theirs (sessions,
	// tokens, favourites, grants).
	DeleteUser(ctx context.Context, id int64) error

	CreateSession(ctx context.Context, s *Session) error
	Session(ctx context.Context, tokenHash string) (*Session, error)
	TouchSession(ctx context.Context, tokenHash string, seen time.Time) error
	DeleteSession(ctx context.Context, tokenHash string) error
	DeleteUserSessions(ctx context.Context, userID int64) error

	CreateAPIToken(ctx context.Context, t *APIToken) error
	APIToken(ctx context.Context, hash string) (*APIToken, error)
	APITokens(ctx context.Context, userID int64) ([]*APIToken, error)
	RevokeAPIToken(ctx context.Context, userID, id int64) error
	TouchAPIToken(ctx context.Context, id int64, used time.Time) error

	// SetFavourite adds or updates (note) a favourite; ENOTFOUND for an
	// unknown recipe.
	SetFavourite(ctx context.Context, userID int64, recipeID, note string) error
	DeleteFavourite(ctx context.Context, userID int64, recipeID string) error
	Favourites(ctx context.Context, userID int64) ([]*Favourite, error)

	CreateInvite(ctx context.Context, codeHash string, createdBy int64) error

	// SetGrant adds or updates the grant for (user, source, licence key).
	// A licence key granted to another user already is ECONFLICT (field
	// license_key) and changes nothing. An update with a nil Sealed keeps
	// the stored one.
	SetGrant(ctx context.Context, g *Grant) error
	Grants(ctx context.Context, userID int64) ([]*Grant, error)
	// LicenseGrants lists, oldest check first, at most limit grants that
	// hold a sealed licence key and were last checked before t (or never).
	LicenseGrants(ctx context.Context, before time.Time, limit int) ([]*Grant, error)

	// SessionHashes lists the token hashes of the user's sessions (to drop
	// them from a cache before DeleteUserSessions or DeleteUser).
	SessionHashes(ctx context.Context, userID int64) ([]string, error)

	// LinkVisitor records that the anonymous visitor session is the user's
	// (sign-up or log-in from it); linking it again to the same user is no
	// change. ENOTFOUND for an unknown visitor, ECONFLICT when it is linked
	// to another user already.
	LinkVisitor(ctx context.Context, visitorID string, userID int64) error
	// UserVisitors lists the visitor ids linked to the user, newest first.
	UserVisitors(ctx context.Context, userID int64) ([]string, error)
}
