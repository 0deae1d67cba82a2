-- Recipes are kept as JSON documents; the columns beside the document are
-- what the store itself queries. Timestamps are Unix microseconds (UTC).
CREATE TABLE recipes (
	id           TEXT    NOT NULL PRIMARY KEY,
	name         TEXT    NOT NULL,
	doc          TEXT    NOT NULL,
	content_hash TEXT    NOT NULL,
	revision     INTEGER NOT NULL,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX recipes_revision ON recipes (revision);

-- A tombstone records a deletion so that Changes can report it; re-creating
-- the recipe removes it.
CREATE TABLE recipe_tombstones (
	id         TEXT    NOT NULL PRIMARY KEY,
	revision   INTEGER NOT NULL,
	deleted_at INTEGER NOT NULL
) STRICT;
CREATE INDEX recipe_tombstones_revision ON recipe_tombstones (revision);

-- The latest recipe revision, advanced in the transaction that uses it.
CREATE TABLE revision (
	id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	value INTEGER NOT NULL
) STRICT;
INSERT INTO revision (id, value) VALUES (1, 0);

CREATE TABLE visitors (
	id         TEXT    NOT NULL PRIMARY KEY,
	created_at INTEGER NOT NULL,
	seen_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX visitors_seen_at ON visitors (seen_at);
