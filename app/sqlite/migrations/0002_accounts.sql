-- Accounts and what belongs to them. Emails are stored normalised (trimmed,
-- lower-case) by the store, so the unique index makes the duplicate check
-- case-insensitive and race-free. Deleting a user cascades to everything of
-- theirs; invites they used or created keep existing, with the id cleared.
-- Timestamps are Unix microseconds (UTC).
CREATE TABLE users (
	id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	email         TEXT    NOT NULL,
	password_hash TEXT    NOT NULL,
	role          TEXT    NOT NULL DEFAULT 'customer',
	plan          TEXT    NOT NULL DEFAULT 'free',
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_email ON users (email);

-- An invite is used once: used_at is set when it is consumed and stays set
-- even after the user who used it is deleted.
CREATE TABLE invites (
	code_hash  TEXT    NOT NULL PRIMARY KEY,
	created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
	created_at INTEGER NOT NULL,
	used_by    INTEGER REFERENCES users (id) ON DELETE SET NULL,
	used_at    INTEGER
) STRICT;
CREATE INDEX invites_created_by ON invites (created_by);
CREATE INDEX invites_used_by ON invites (used_by);

CREATE TABLE sessions (
	token_hash TEXT    NOT NULL PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	csrf       TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	seen_at    INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Scopes are comma-joined.
CREATE TABLE api_tokens (
	id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name       TEXT    NOT NULL,
	hash       TEXT    NOT NULL UNIQUE,
	prefix     TEXT    NOT NULL,
	scopes     TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	last_used  INTEGER,
	revoked_at INTEGER
) STRICT;
CREATE INDEX api_tokens_user_id ON api_tokens (user_id, created_at);

CREATE TABLE favourites (
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	recipe_id  TEXT    NOT NULL REFERENCES recipes (id) ON DELETE CASCADE,
	note       TEXT    NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (user_id, recipe_id)
) STRICT;
CREATE INDEX favourites_recipe_id ON favourites (recipe_id);

-- license_key is '' for grants without a licence (admin grants).
CREATE TABLE grants (
	user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	plan        TEXT    NOT NULL,
	source      TEXT    NOT NULL,
	license_key TEXT    NOT NULL DEFAULT '',
	active      INTEGER NOT NULL,
	checked_at  INTEGER,
	created_at  INTEGER NOT NULL,
	PRIMARY KEY (user_id, source, license_key)
) STRICT;
CREATE INDEX grants_license_key ON grants (license_key) WHERE license_key <> '';
