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
- meant to stop reading users.score and ticket_numbers too (it still does:
  the check catches that)

## [1.3.0] - 2026-10-01
- nicknames are shown nowhere: the app stops reading ` + "`users.nickname`" + `
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
		init string // added to initSQL
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
		// A DO block runs at migration time, and so does what it EXECUTEs.
		{name: "DoBlockExecuteIsRead", sql: `DO $$ BEGIN EXECUTE 'ALTER TABLE users DROP COLUMN nickname'; END $$;`,
			want: []string{"0002_x.sql:1: drops users.nickname in the release that may still use it"}},
		{name: "DoBlockStatementsAreRead", sql: `
DO $body$
BEGIN
	IF EXISTS (SELECT 1 FROM users) THEN
		ALTER TABLE users RENAME COLUMN nickname TO handle;
	END IF;
END
$body$;`,
			want: []string{"0002_x.sql:5: renames users.nickname to handle"}},
		{name: "DoBlockInAQuotedStringIsRead", sql: `DO 'BEGIN EXECUTE ''DROP TABLE legacy_tokens''; END';`,
			want: []string{"drops legacy_tokens in the release"}},
		{name: "NestedDoBlockIsRead", sql: "DO $a$ BEGIN\n\tEXECUTE $b$ DO $c$ BEGIN\n\t\tDROP TABLE legacy_tokens; END $c$ $b$;\nEND $a$;",
			want: []string{"0002_x.sql:3: drops legacy_tokens in the release"}},
		{name: "DoBlockWithHeaderIsAccepted", sql: "-- contract: users.nickname unused since v1.4.0\nDO $$ BEGIN EXECUTE 'ALTER TABLE users DROP COLUMN nickname' USING 1; END $$;"},
		{name: "DoBlockThatExpandsIsAccepted", sql: `DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE column_name = 'plan') THEN
		ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';
	END IF;
	RAISE NOTICE 'drop table users; is not run';
	FOR r IN EXECUTE 'SELECT id FROM users' LOOP END LOOP;
END $$;`},
		{name: "DoBlockExecutingAFormattedStringIsRefused", sql: "SELECT 1;\nDO $$ BEGIN EXECUTE format('ALTER TABLE %I DROP COLUMN nickname', 'users'); END $$;",
			want: []string{"0002_x.sql:2: a DO block EXECUTEs a string built at run time (format(…), ||, a variable): Postgres runs it during the migration, and the check cannot read the DDL it may run: write the DDL at the top level of the migration"}},
		{name: "DoBlockExecutingAConcatenationIsRefused", sql: "DO $$ BEGIN EXECUTE 'ALTER TABLE users DROP COLUMN ' || 'nickname'; END $$;",
			want: []string{"0002_x.sql:1: a DO block EXECUTEs a string built at run time"}},
		{name: "DoBlockInAnotherLanguageIsRefused", sql: "DO LANGUAGE plperl $$ spi_exec_query('DROP TABLE users'); $$;",
			want: []string{"0002_x.sql:1: a DO block in language plperl"}},
		// So does a routine of the migrations that a migration calls.
		{name: "RoutineCalledByTheMigrationIsRead", sql: "CREATE FUNCTION purge() RETURNS void LANGUAGE plpgsql AS $$ BEGIN ALTER TABLE users DROP COLUMN nickname; END $$;\nSELECT purge();",
			want: []string{"0002_x.sql:2: drops users.nickname in the release"}},
		{name: "RoutineOfAnEarlierMigrationIsRead", init: "CREATE FUNCTION purge() RETURNS void AS 'DROP TABLE legacy_tokens' LANGUAGE sql;",
			sql:  "DO $$ BEGIN\n\tPERFORM purge();\nEND $$;",
			want: []string{"0002_x.sql:2: drops legacy_tokens in the release"}},
		{name: "RoutineInAnotherLanguageCalledIsRefused", sql: "CREATE PROCEDURE p() LANGUAGE plpython3u AS $$ plpy.execute('DROP TABLE users') $$;\nCALL p();",
			want: []string{"0002_x.sql:2: calls p, in language plpython3u: Postgres runs it during the migration"}},
		// CASCADE drops what depends on the object, whatever it is.
		{name: "DropSchemaIsRefused", sql: "DROP SCHEMA IF EXISTS legacy CASCADE;",
			want: []string{"0002_x.sql:1: drops schema legacy"}},
		{name: "DropTypeCascadeDropsTheColumnsOfThatType", init: "CREATE TYPE mood AS ENUM ('ok', 'sad');\nALTER TABLE legacy_tokens ADD COLUMN mood mood;",
			sql:  "DROP TYPE public.mood CASCADE;",
			want: []string{"0002_x.sql:1: drops type mood", "0002_x.sql:1: drops legacy_tokens.mood (its type mood, dropped by CASCADE)"}},
		{name: "DropDomainIsRefused", init: "CREATE DOMAIN email_address AS text;", sql: "DROP DOMAIN email_address;",
			want: []string{"drops domain email_address"}},
		{name: "DropTableCascadeDropsItsViews", init: "CREATE VIEW token_owners AS SELECT user_id FROM legacy_tokens;",
			sql:  "-- contract: legacy_tokens unused since v1.4.0\nDROP TABLE legacy_tokens CASCADE;",
			want: []string{"0002_x.sql:2: drops token_owners (a view on legacy_tokens, dropped by CASCADE)"}},
		{name: "AnyDropCascadeIsRefused", sql: "DROP FUNCTION IF EXISTS touch(bigint) CASCADE;\nDROP INDEX users_plan_idx;",
			want: []string{"0002_x.sql:1: drops function touch with CASCADE"}},
		{name: "DropColumnCascadeDropsItsViews", init: "CREATE VIEW nicknames AS SELECT id, nickname FROM users;\nCREATE VIEW short_nicknames AS SELECT * FROM nicknames;",
			sql:  "-- contract: users.nickname unused since v1.4.0\nALTER TABLE users DROP COLUMN nickname CASCADE;",
			want: []string{"0002_x.sql:2: drops nicknames (a view on users.nickname, dropped by CASCADE)", "0002_x.sql:2: drops short_nicknames (a view on nicknames, dropped by CASCADE)"}},
		{name: "RenamingTypesAndTheirValuesIsRefused", init: "CREATE TYPE mood AS ENUM ('ok', 'sad');",
			sql:  "ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';\nALTER TYPE mood RENAME TO feeling;\nALTER DOMAIN email_address SET SCHEMA archive;",
			want: []string{"0002_x.sql:1: renames the value mood.sad to blue", "0002_x.sql:2: renames type mood to feeling", "0002_x.sql:3: renames domain email_address (moves it to schema archive)"}},
		{name: "TypesOfThisMigrationAreItsOwn", sql: "CREATE TYPE mood AS ENUM ('ok');\nCREATE TABLE moods (m mood);\nDROP TYPE mood CASCADE;"},
		// SET SCHEMA moves the table away from the old code's search_path.
		{name: "SetSchemaIsARename", sql: "ALTER TABLE IF EXISTS legacy_tokens SET SCHEMA archive;",
			want: []string{"0002_x.sql:1: renames legacy_tokens (moves it to schema archive) in the release"}},
		{name: "SetSchemaWithHeaderIsAccepted", sql: "-- contract: legacy_tokens unused since v1.4.0\nALTER TABLE legacy_tokens SET SCHEMA archive;"},
		// E'…' strings end at a quote no backslash escapes.
		{name: "EscapeStringDoesNotSwallowStatements", sql: "INSERT INTO legacy_tokens (secret) VALUES (E'it\\'s');\nALTER TABLE users DROP COLUMN nickname;\nSELECT 'x';",
			want: []string{"0002_x.sql:2: drops users.nickname"}},
		{name: "EscapeStringHidesItsContent", sql: "INSERT INTO legacy_tokens (secret) VALUES (e'\\\\\\'; DROP TABLE users; --');"},
		{name: "EscapeStringNeedsTheEDirectlyBeforeTheQuote", sql: "SELECT 1 AS e, 'C:\\';\nSELECT some_type'\\';\nALTER TABLE users DROP COLUMN nickname;",
			want: []string{"0002_x.sql:3: drops users.nickname"}},
		// With it off, Postgres runs the DROP the check reads as a string.
		{name: "StandardConformingStringsOffIsRefused", sql: "SET standard_conforming_strings = off;\nSELECT 'x\\''; DROP TABLE users; --'",
			want: []string{"0002_x.sql:1: turns standard_conforming_strings off"}},
		{name: "NotNullReferenceSetDefaultHasNoDefault", sql: "ALTER TABLE legacy_tokens ADD COLUMN owner bigint NOT NULL REFERENCES users (id) ON DELETE SET DEFAULT;",
			want: []string{"0002_x.sql:1: adds legacy_tokens.owner NOT NULL without a DEFAULT"}},
		// The changelog must say the release stopped using what is named.
		{name: "HeaderMustMatchTheChangelogSection", sql: "-- contract: legacy_tokens unused since v1.3.0\nDROP TABLE legacy_tokens;",
			want: []string{"0002_x.sql:2: drops legacy_tokens, unused since v1.3.0, but the v1.3.0 section of CHANGELOG.md does not name legacy_tokens"}},
		{name: "AColumnInTheChangelogIsNotItsTable", sql: "-- contract: users unused since v1.4.0\nDROP TABLE users;",
			want: []string{"the v1.4.0 section of CHANGELOG.md does not name users"}},
		// NOT NULL without a default breaks the old code's inserts.
		{name: "AddNotNullWithoutDefaultIsRefused", sql: "ALTER TABLE users ADD COLUMN plan text NOT NULL;\nALTER TABLE legacy_tokens ADD COLUMN n bigint PRIMARY KEY;",
			want: []string{"0002_x.sql:1: adds users.plan NOT NULL without a DEFAULT", "0002_x.sql:2: adds legacy_tokens.n NOT NULL without a DEFAULT"}},
		{name: "SetNotNullIsRefused", sql: "ALTER TABLE users ALTER COLUMN score SET NOT NULL;\nALTER TABLE users ADD COLUMN plan text;\nALTER TABLE users ALTER plan SET NOT NULL;",
			want: []string{"0002_x.sql:1: sets users.score NOT NULL", "0002_x.sql:3: sets users.plan NOT NULL"}},
		{name: "NotNullWithAValueIsAccepted", sql: `ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free', ADD COLUMN n bigserial NOT NULL;
ALTER TABLE users ADD COLUMN m bigint GENERATED ALWAYS AS IDENTITY, ADD COLUMN k bigint NOT NULL GENERATED ALWAYS AS (id * 2) STORED;
CREATE TABLE plans (id bigint);
ALTER TABLE plans ADD COLUMN name text NOT NULL, ALTER COLUMN id SET NOT NULL;`},
		{name: "SetNotNullWithHeaderIsAccepted", sql: "-- contract: users.nickname unused since v1.4.0\nALTER TABLE users ALTER COLUMN nickname SET NOT NULL;"},
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
				Migrations: []expandcontract.Migration{{Name: "0001_init.sql", SQL: initSQL + tc.init}, {Name: "0002_x.sql", SQL: tc.sql}},
				Releases:   expandcontract.ReleasedSections(changelog),
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
		Releases: map[string]string{"v1.4.0": "- the app stops reading legacy_tokens"},
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
	released := expandcontract.ReleasedSections(string(raw))
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
			if errs := expandcontract.Check(expandcontract.Input{Migrations: ms, Releases: released, Code: lits}); len(errs) > 0 {
				t.Fatalf("%d migrations of %s break expand/contract:\n%v", len(ms), store, errors.Join(errs...))
			}
		})
	}
}
