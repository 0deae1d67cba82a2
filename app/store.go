package flavormonk

import (
	"context"
	"time"
)

// Store is the source of truth for recipes and visitor sessions. SQLite (the
// embedded default) and Postgres implement it; both pass storetest.Run.
//
// Every change to a recipe (create, update, delete) is given a new revision
// from one increasing sequence, so that search indexes in every app instance
// can follow the store with Changes.
type Store interface {
	// Recipe returns the recipe with id, or an ENOTFOUND *Error.
	Recipe(ctx context.Context, id string) (*Recipe, error)
	// UpsertRecipes validates and stores recipes by id, in one transaction:
	// either all are stored or none is. A recipe whose content is unchanged
	// keeps its revision and UpdatedAt; the result says what happened to each.
	UpsertRecipes(ctx context.Context, recipes []*Recipe) ([]UpsertResult, error)
	// DeleteRecipe removes a recipe; ENOTFOUND when there is none.
	DeleteRecipe(ctx context.Context, id string) error
	// Recipes lists recipes ordered by id, starting after the id `after`
	// ("" for the start), at most limit of them.
	Recipes(ctx context.Context, after string, limit int) ([]*Recipe, error)
	// CountRecipes counts the stored recipes.
	CountRecipes(ctx context.Context) (int, error)
	// Revision is the store's latest recipe revision (0 when nothing was ever stored).
	Revision(ctx context.Context) (int64, error)
	// Changes returns the recipes changed and the ids deleted after revision
	// since, up to the returned revision. A recipe changed several times
	// appears once, in its latest state.
	Changes(ctx context.Context, since int64) (ChangeSet, error)

	// CreateVisitor starts an anonymous visitor session with a new opaque id.
	CreateVisitor(ctx context.Context) (*Visitor, error)
	// Visitor returns a visitor session; ENOTFOUND when unknown or expired.
	Visitor(ctx context.Context, id string) (*Visitor, error)
	// TouchVisitor records that the visitor was seen now.
	TouchVisitor(ctx context.Context, id string) error
	// DeleteVisitorsBefore removes sessions last seen before t.
	DeleteVisitorsBefore(ctx context.Context, t time.Time) (int, error)

	// Ping checks that the store is reachable.
	Ping(ctx context.Context) error
	Close() error
}

// AppStore is the store the app runs on: recipes and visitors, accounts,
// and the usage ledger. SQLite and Postgres implement all of it, so no
// caller has to cope with a store that keeps no accounts or no ledger.
type AppStore interface {
	Store
	AccountStore
	UsageStore
}

// UpsertResult says what UpsertRecipes did with one recipe.
type UpsertResult struct {
	ID     string `json:"id"`
	Action string `json:"action"` // "created", "updated" or "unchanged"
}

// Upsert actions.
const (
	ActionCreated   = "created"
	ActionUpdated   = "updated"
	ActionUnchanged = "unchanged"
)

// ChangeSet is what changed in a store between two revisions.
type ChangeSet struct {
	Revision int64     // the latest revision this set covers
	Upserted []*Recipe // created or updated, in their latest state
	Deleted  []string  // ids deleted (and not re-created since)
}

// Visitor is an anonymous visitor session, identified by an opaque random
// id kept in a cookie. Accounts build on it later.
type Visitor struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	SeenAt    time.Time `json:"seen_at"`
}
