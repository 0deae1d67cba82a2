-- Every change to a recipe (create, update, delete) takes the next value.
-- Writers hold a transaction-level advisory lock while they take values and
-- commit, so revisions become visible in order (see Store.lockWrites).
CREATE SEQUENCE recipe_revision AS bigint;

-- Recipes are kept as JSON documents; the columns beside the document are
-- what the store itself queries. Ids sort in byte order ("C") in every
-- database, as in SQLite, so keyset pagination agrees between the stores.
CREATE TABLE recipes (
	id           text COLLATE "C" PRIMARY KEY,
	name         text        NOT NULL,
	doc          jsonb       NOT NULL,
	content_hash text        NOT NULL,
	revision     bigint      NOT NULL,
	created_at   timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL
);
CREATE INDEX recipes_revision_idx ON recipes (revision);

-- A tombstone records a deletion so that Changes can report it; re-creating
-- the recipe removes it.
CREATE TABLE recipe_tombstones (
	id         text COLLATE "C" PRIMARY KEY,
	revision   bigint      NOT NULL,
	deleted_at timestamptz NOT NULL
);
CREATE INDEX recipe_tombstones_revision_idx ON recipe_tombstones (revision);

CREATE TABLE visitors (
	id         text PRIMARY KEY,
	created_at timestamptz NOT NULL,
	seen_at    timestamptz NOT NULL
);
CREATE INDEX visitors_seen_at_idx ON visitors (seen_at);
