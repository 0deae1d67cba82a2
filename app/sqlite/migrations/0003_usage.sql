-- Usage metering. Money is in micro-USD, periods are UTC months ('2026-11'),
-- timestamps Unix microseconds (UTC).
--
-- usage_scopes holds what each scope (the global budget, a user, a visitor)
-- spent in a period. A reservation takes the row of every scope it holds
-- (in scope order) before it reads what is spent and reserved there, so
-- concurrent reservations cannot overshoot a limit.
CREATE TABLE usage_scopes (
	scope  TEXT    NOT NULL,
	period TEXT    NOT NULL,
	spent  INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (scope, period)
) STRICT, WITHOUT ROWID;

-- One row per scope a reservation holds. A hold counts while it is neither
-- settled nor expired; settled rows stay as the record that the
-- reservation was settled (settling twice records once), until pruned.
CREATE TABLE usage_holds (
	id         TEXT    NOT NULL,
	scope      TEXT    NOT NULL,
	period     TEXT    NOT NULL,
	amount     INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	settled_at INTEGER,
	PRIMARY KEY (id, scope, period)
) STRICT, WITHOUT ROWID;
CREATE INDEX usage_holds_live ON usage_holds (scope, period, expires_at) WHERE settled_at IS NULL;
-- For pruning the records of long-expired reservations.
CREATE INDEX usage_holds_expires ON usage_holds (expires_at);

-- The ledger: one row per provider call or cache hit. No foreign key to
-- users: the money spent stays counted after an account is deleted.
CREATE TABLE usage_events (
	id          INTEGER NOT NULL PRIMARY KEY,
	reservation TEXT    NOT NULL,
	at          INTEGER NOT NULL,
	user_id     INTEGER NOT NULL DEFAULT 0,
	visitor     TEXT    NOT NULL DEFAULT '',
	provider    TEXT    NOT NULL,
	model       TEXT    NOT NULL,
	tokens_in   INTEGER NOT NULL,
	tokens_out  INTEGER NOT NULL,
	seconds     REAL    NOT NULL,
	cost_micros INTEGER NOT NULL,
	estimated   INTEGER NOT NULL,
	cache_hit   INTEGER NOT NULL
) STRICT;
CREATE INDEX usage_events_at ON usage_events (at);
