-- Usage metering. Money is in micro-USD, periods are UTC months ('2026-11').
--
-- usage_scopes holds what each scope (the global budget, a user, a visitor)
-- spent in a period. A reservation locks the row of every scope it holds
-- (in scope order) before it reads what is spent and reserved there: under
-- READ COMMITTED each statement after the lock sees every reservation
-- committed before it, so concurrent reservations cannot overshoot a limit.
CREATE TABLE usage_scopes (
	scope  text   NOT NULL,
	period text   NOT NULL,
	spent  bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (scope, period)
);

-- One row per scope a reservation holds. A hold counts while it is neither
-- settled nor expired; settled rows stay as the record that the
-- reservation was settled (settling twice records once), until pruned.
CREATE TABLE usage_holds (
	id         text        NOT NULL,
	scope      text        NOT NULL,
	period     text        NOT NULL,
	amount     bigint      NOT NULL,
	expires_at timestamptz NOT NULL,
	settled_at timestamptz,
	PRIMARY KEY (id, scope, period)
);
CREATE INDEX usage_holds_live_idx ON usage_holds (scope, period, expires_at) WHERE settled_at IS NULL;
-- For pruning the records of long-expired reservations.
CREATE INDEX usage_holds_expires_idx ON usage_holds (expires_at);

-- The ledger: one row per provider call or cache hit. No foreign key to
-- users: the money spent stays counted after an account is deleted.
CREATE TABLE usage_events (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	reservation text             NOT NULL,
	at          timestamptz      NOT NULL,
	user_id     bigint           NOT NULL DEFAULT 0,
	visitor     text             NOT NULL DEFAULT '',
	provider    text             NOT NULL,
	model       text             NOT NULL,
	tokens_in   integer          NOT NULL,
	tokens_out  integer          NOT NULL,
	seconds     double precision NOT NULL,
	cost_micros bigint           NOT NULL,
	estimated   boolean          NOT NULL,
	cache_hit   boolean          NOT NULL
);
CREATE INDEX usage_events_at_idx ON usage_events (at);
