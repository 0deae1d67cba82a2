package expandcontract_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flavormonk/flavormonk/app/internal/expandcontract"
)

const changelog = `# Changelog

## Unreleased

### Removed
- nicknames

## v1.4.0 — 2026-11-02
- the app stops reading users.nickname and legacy_tokens

## [1.3.0] - 2026-10-01
`

const initSQL = `CREATE TABLE users (
	id       bigint PRIMARY KEY,
	email    text NOT NULL,
	nickname varchar(40) NOT NULL DEFAULT '',
	visits   integer NOT NULL DEFAULT 0,
	score    bigint,
	CONSTRAINT users_email_key UNIQUE (email)
);
CREATE TABLE legacy_tokens (id bigint PRIMARY KEY, user_id bigint, secret text);
CREATE SEQUENCE ticket_numbers AS bigint;
`

// code is the Go code of the release: it reads users.id, email, visits
// and score, and neither nickname nor legacy_tokens.
var code = []expandcontract.Literal{
	{Pos: "store.go:10", Text: `SELECT id, email, visits, score FROM users WHERE id = $1`},
	{Pos: "store.go:20", Text: `SELECT nextval('ticket_numbers')`},
	{Pos: "web.go:5", Text: "Your nick is shown nowhere any more."},
}

func TestCheckFixtures(t *testing.T) {
	for _, tc := range []struct {
		name string
		sql  string // the migration after initSQL
		code []expandcontract.Literal
		want []string // a fragment of each error, in order; none: accepted
	}{
		{name: "ExpandIsAccepted", sql: `
CREATE TABLE favourites (user_id bigint REFERENCES users (id), recipe text);
ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';
ALTER TABLE users ADD CONSTRAINT visits_positive CHECK (visits >= 0);
CREATE INDEX users_plan_idx ON users (plan);
DROP INDEX users_plan_idx;
ALTER TABLE users ALTER COLUMN visits TYPE bigint;
ALTER TABLE users ALTER COLUMN nickname SET DATA TYPE varchar(80);
ALTER TABLE users ALTER COLUMN nickname DROP NOT NULL;
-- A table of this migration's own may be changed freely.
ALTER TABLE favourites DROP COLUMN recipe;
ALTER TABLE favourites RENAME TO stars;
`},
		{name: "DropColumnInTheSameReleaseIsRefused", sql: `ALTER TABLE users DROP COLUMN nickname;`,
			want: []string{"0002_x.sql:1: drops users.nickname in the release that may still use it"}},
		{name: "DropWithoutColumnKeywordIsRefused", sql: `ALTER TABLE ONLY public.users DROP IF EXISTS nickname CASCADE;`,
			want: []string{"drops users.nickname"}},
		{name: "DropTableIsRefused", sql: `DROP TABLE IF EXISTS legacy_tokens, users CASCADE;`,
			want: []string{"drops legacy_tokens in the release", "drops users in the release"}},
		{name: "DropSequenceIsRefused", sql: `DROP SEQUENCE ticket_numbers;`,
			want: []string{"drops ticket_numbers"}},
		{name: "RenamesAreRefused", sql: "ALTER TABLE users RENAME COLUMN nickname TO handle;\nALTER TABLE legacy_tokens RENAME TO old_tokens;",
			want: []string{"0002_x.sql:1: renames users.nickname to handle", "0002_x.sql:2: renames legacy_tokens to old_tokens"}},
		{name: "NarrowingIsRefused", sql: `ALTER TABLE users ALTER COLUMN score TYPE integer USING score::integer;
ALTER TABLE users ALTER nickname TYPE varchar(20);
ALTER TABLE users ALTER COLUMN email TYPE varchar(200);`,
			want: []string{"changes the type of users.score from bigint to integer", "users.nickname from varchar(40) to varchar(20)", "users.email from text to varchar(200)"}},
		{name: "ContractWithHeaderIsAccepted", sql: `-- contract: users.nickname, legacy_tokens unused since v1.4.0
ALTER TABLE users DROP COLUMN nickname;
DROP TABLE legacy_tokens;`},
		{name: "OlderReleaseIsAccepted", sql: "-- contract: users.nickname unused since v1.3.0\nALTER TABLE users DROP COLUMN nickname;"},
		{name: "HeaderNamingUnreleasedIsRefused", sql: "-- contract: users.nickname unused since Unreleased\nALTER TABLE users DROP COLUMN nickname;",
			want: []string{"unused since Unreleased, which is not a released version in CHANGELOG.md"}},
		{name: "HeaderNamingAFutureVersionIsRefused", sql: "-- contract: users.nickname unused since v1.5.0\nALTER TABLE users DROP COLUMN nickname;",
			want: []string{"v1.5.0, which is not a released version"}},
		{name: "HeaderMustNameEachIdentifier", sql: "-- contract: users.nickname unused since v1.4.0\nALTER TABLE users DROP COLUMN nickname, DROP COLUMN score;",
			want: []string{"drops users.score in the release"}},
		{name: "StillReferencedIsRefused", sql: "-- contract: users.score unused since v1.4.0\nALTER TABLE users DROP COLUMN score;",
			want: []string{"drops users.score, which the code still names (store.go:10)"}},
		{name: "StillReferencedSequenceIsRefused", sql: "-- contract: ticket_numbers unused since v1.4.0\nDROP SEQUENCE ticket_numbers;",
			want: []string{"which the code still names (store.go:20)"}},
		{name: "RenamedAwayButStillReadIsRefused",
			sql:  "-- contract: users.nickname unused since v1.4.0\nALTER TABLE users RENAME nickname TO handle;",
			code: append([]expandcontract.Literal{{Pos: "store.go:30", Text: `nickname`}}, code...),
			want: []string{"renames users.nickname, which the code still names (store.go:30)"}},
		{name: "HeaderNamingNothingDroppedIsRefused", sql: "-- contract: users.nick unused since v1.4.0\nALTER TABLE users ADD COLUMN x text;",
			want: []string{"the contract header names users.nick, which this migration neither drops"}},
		{name: "MalformedHeaderIsRefused", sql: "-- contract: users.nickname\nSELECT 1;",
			want: []string{"malformed contract header"}},
		{name: "KeywordsInStringsAndCommentsAreNotStatements", sql: `
-- ALTER TABLE users DROP COLUMN nickname;
/* DROP TABLE users; */
INSERT INTO legacy_tokens (secret) VALUES ('x; DROP TABLE users; --');
CREATE FUNCTION f() RETURNS void AS $$ BEGIN EXECUTE 'DROP TABLE users'; END $$ LANGUAGE plpgsql;
`},
		{name: "SQLiteRebuildDropsTheColumnsItLeaves", sql: `
CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL, visits INTEGER NOT NULL, score INTEGER) STRICT;
INSERT INTO users_new SELECT id, email, visits, score FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;`,
			want: []string{"0002_x.sql:4: drops users.nickname (the rebuilt table lacks it)"}},
		{name: "RebuildByRenamingTheOldTableAway", sql: `-- contract: users.nickname, users.score unused since v1.4.0
ALTER TABLE users RENAME TO users_old;
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, visits bigint NOT NULL);
INSERT INTO users SELECT id, email, visits FROM users_old;
DROP TABLE users_old;`,
			want: []string{"drops users.score, which the code still names (store.go:10)"}},
		{name: "NamesNoMigrationMadeAreStillGuarded", sql: "DROP TABLE schema_migrations;\nALTER TABLE users DROP COLUMN unparsed;",
			want: []string{"drops schema_migrations", "drops users.unparsed"}},
		{name: "SQLiteRebuildWithHeaderIsAccepted", sql: `-- contract: users.nickname unused since v1.4.0
CREATE TABLE users_new (id INTEGER PRIMARY KEY, email TEXT NOT NULL, visits INTEGER NOT NULL, score INTEGER) STRICT;
INSERT INTO users_new SELECT id, email, visits, score FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := code
			if tc.code != nil {
				c = tc.code
			}
			errs := expandcontract.Check(expandcontract.Input{
				Migrations: []expandcontract.Migration{{Name: "0001_init.sql", SQL: initSQL}, {Name: "0002_x.sql", SQL: tc.sql}},
				Released:   expandcontract.ReleasedVersions(changelog),
				Code:       c,
			})
			if len(errs) != len(tc.want) {
				t.Fatalf("%d errors, want %d:\n%v", len(errs), len(tc.want), errors.Join(errs...))
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].Error(), w) {
					t.Errorf("error %d:\n%v\nwant it to contain %q", i, errs[i], w)
				}
			}
		})
	}
}

// TestLaterMigrationStillNamesIt: a dropped name that a later migration
// uses again is refused.
func TestLaterMigrationStillNamesIt(t *testing.T) {
	errs := expandcontract.Check(expandcontract.Input{
		Migrations: []expandcontract.Migration{
			{Name: "0001_init.sql", SQL: initSQL},
			{Name: "0002_drop.sql", SQL: "-- contract: legacy_tokens unused since v1.4.0\nDROP TABLE legacy_tokens;"},
			{Name: "0003_again.sql", SQL: "CREATE INDEX ON legacy_tokens (user_id);"},
		},
		Released: []string{"v1.4.0"},
		Code:     code,
	})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "which a later migration still names (0003_again.sql)") {
		t.Fatalf("got %v", errors.Join(errs...))
	}
}

func TestReleasedVersions(t *testing.T) {
	got := strings.Join(expandcontract.ReleasedVersions(changelog), " ")
	if got != "v1.4.0 v1.3.0" {
		t.Fatalf("got %q, want the two released sections, not Unreleased", got)
	}
}

// TestStoreMigrations runs the rule over both stores' real migrations,
// against the project's changelog and the Go code of each store's version
// (everything under app/ but the other store and tests).
func TestStoreMigrations(t *testing.T) {
	app := filepath.Join("..", "..")
	raw, err := os.ReadFile(filepath.Join(app, "..", "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	released := expandcontract.ReleasedVersions(string(raw))
	for store, other := range map[string]string{"postgres": "sqlite", "sqlite": "postgres"} {
		t.Run(store, func(t *testing.T) {
			ms, err := expandcontract.ReadMigrations(filepath.Join(app, store, "migrations"))
			if err != nil {
				t.Fatal(err)
			}
			lits, err := expandcontract.GoLiterals(app, func(dir string) bool {
				return dir == other || dir == "internal/expandcontract"
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(lits) < 1000 {
				t.Fatalf("only %d string literals found under app/: the walk missed the code", len(lits))
			}
			if errs := expandcontract.Check(expandcontract.Input{Migrations: ms, Released: released, Code: lits}); len(errs) > 0 {
				t.Fatalf("%d migrations of %s break expand/contract:\n%v", len(ms), store, errors.Join(errs...))
			}
		})
	}
}
