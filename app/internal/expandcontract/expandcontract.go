// Package expandcontract holds the migration rule that lets old and new
// code run side by side on one schema during a rollout: a migration only
// expands (new tables, new columns, wider types) unless it is the contract
// step of something the code stopped using in an earlier, released
// version. A column dropped in the release that stops reading it breaks
// the old instances still serving while the new ones start.
//
// A migration that drops or renames a table, view, sequence, type, domain,
// schema or column (moving one to another schema is renaming it, and a
// DROP … CASCADE drops what depends on it too), changes a column to a
// type that is not plainly wider, or makes a column NOT NULL with nothing
// to fill it (which fails the old code's inserts), must say so in a header
// line
//
//	-- contract: users.nickname, old_table unused since v1.4.0
//
// naming each such identifier (table, or table.column), where v1.4.0 is a
// released section of CHANGELOG.md (never "Unreleased") whose text names
// each identifier too: the code stopped using them in that release, so no
// instance that still uses them can run beside this migration. A dropped
// or renamed name must also be gone from the code: no string literal of
// the Go code run against the schema, and no later migration, may name
// it. The check is by name and therefore conservative: a column named like
// one still used elsewhere is refused.
//
// What Postgres runs during the migration is read like the migration
// itself: the body of a DO block, the literal strings it EXECUTEs, and the
// body of a function or procedure of the migrations that a migration
// calls. What cannot be read (an EXECUTE of a string built at run time,
// another language, standard_conforming_strings turned off) is refused:
// its DDL belongs at the top level.
//
// Tables created and columns added in the same migration are its own and
// free to change; a SQLite table rebuild (create the new table, copy, drop
// the old one, rename the new one into its place) counts as dropping the
// columns the rebuilt table no longer has.
package expandcontract

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// A Migration is one migration file, in version order.
type Migration struct {
	Name string
	SQL  string
}

// A Literal is a string literal of the Go code that runs against the
// schema, where the SQL is.
type Literal struct {
	Pos  string // file:line
	Text string
}

// Input is what Check reads.
type Input struct {
	Migrations []Migration
	// Releases are the text of each version's section of the changelog
	// ("v1.4.0" → its notes), for the released versions only
	// (ReleasedSections).
	Releases map[string]string
	// Code are the string literals of the Go code of this store's version.
	Code []Literal
}

// change kinds.
const (
	dropped     = "drops"
	renamed     = "renames"
	narrows     = "changes the type of"
	addsNotNull = "adds"
	setsNotNull = "sets"
	// unreadable is DDL run at migration time that the check cannot
	// read; no header makes it acceptable.
	unreadable = "runs"
)

// A change is one contracting step a migration takes.
type change struct {
	kind          string
	noun          string // "type ", "schema ", …: what the name is, when not a table or column
	table, column string
	line          int
	detail        string
}

// notNull reports whether the change makes the old code's inserts, which
// leave the column out, fail.
func (c change) notNull() bool { return c.kind == addsNotNull || c.kind == setsNotNull }

func (c change) ident() string {
	if c.column != "" {
		return c.table + "." + c.column
	}
	return c.table
}

// Check returns one error per refused change, naming the migration and
// line; none when every migration keeps to the rule.
func Check(in Input) []error {
	var errs []error
	s := newSchema()
	for i, m := range in.Migrations {
		header, herr := parseHeader(m.SQL)
		if herr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.Name, herr))
		}
		changes := s.apply(m.SQL)
		named := map[string]bool{}
		for _, c := range changes {
			at := fmt.Sprintf("%s:%d", m.Name, c.line)
			if c.kind == unreadable {
				errs = append(errs, fmt.Errorf("%s: %s", at, c.detail))
				continue
			}
			named[c.ident()] = true
			since, ok := header.idents[c.ident()]
			notes, released := in.Releases[since]
			switch {
			case !ok && c.notNull():
				errs = append(errs, fmt.Errorf("%s: %s %s%s%s, so the old code's inserts, which leave it out, fail during a rollout: add it nullable or with a DEFAULT, and set NOT NULL in a release after the one whose code always writes it, with a header `-- contract: %s unused since vX.Y.Z` naming that released version", at, c.kind, c.noun, c.ident(), c.detail, c.ident()))
				continue
			case !ok:
				errs = append(errs, fmt.Errorf("%s: %s %s%s%s in the release that may still use it: old and new code share the schema during a rollout; drop or rename it in a later release, with a header `-- contract: %s unused since vX.Y.Z` naming the released version that stopped using it", at, c.kind, c.noun, c.ident(), c.detail, c.ident()))
				continue
			case !released:
				errs = append(errs, fmt.Errorf("%s: %s %s%s, unused since %s, which is not a released version in CHANGELOG.md: the code must have stopped using it in a release before this one", at, c.kind, c.noun, c.ident(), since))
				continue
			case !namesIdent(notes, c.ident()):
				errs = append(errs, fmt.Errorf("%s: %s %s%s, unused since %s, but the %s section of CHANGELOG.md does not name %s: a header must repeat what that release's notes say it stopped using, so name it there (or name the release that did)", at, c.kind, c.noun, c.ident(), since, since, c.ident()))
				continue
			}
			if c.kind == narrows || c.notNull() {
				continue // the column stays; only its old writers had to go
			}
			word := c.table
			if c.column != "" {
				word = c.column
			}
			if uses := findWord(word, in.Code); len(uses) > 0 {
				errs = append(errs, fmt.Errorf("%s: %s %s%s, which the code still names (%s)", at, c.kind, c.noun, c.ident(), strings.Join(uses, ", ")))
			}
			var later []string
			for _, n := range in.Migrations[i+1:] {
				if mentions(word, n.SQL) {
					later = append(later, n.Name)
				}
			}
			if len(later) > 0 {
				errs = append(errs, fmt.Errorf("%s: %s %s%s, which a later migration still names (%s)", at, c.kind, c.noun, c.ident(), strings.Join(later, ", ")))
			}
		}
		for _, id := range header.order {
			if !named[id] {
				errs = append(errs, fmt.Errorf("%s: the contract header names %s, which this migration neither drops, renames, narrows nor makes NOT NULL", m.Name, id))
			}
		}
	}
	return errs
}

type header struct {
	idents map[string]string // identifier → the version since which it is unused
	order  []string
}

var headerLine = regexp.MustCompile(`(?im)^\s*--\s*contract:(.*)$`)
var headerBody = regexp.MustCompile(`(?i)^\s*(.+?)\s+unused\s+since\s+(\S+)\s*$`)

func parseHeader(sql string) (header, error) {
	h := header{idents: map[string]string{}}
	for _, m := range headerLine.FindAllStringSubmatch(sql, -1) {
		b := headerBody.FindStringSubmatch(m[1])
		if b == nil {
			return h, fmt.Errorf("malformed contract header %q: want `-- contract: table, table.column unused since vX.Y.Z`", strings.TrimSpace(m[0]))
		}
		for _, id := range strings.FieldsFunc(b[1], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			id = strings.ToLower(id)
			if _, dup := h.idents[id]; !dup {
				h.order = append(h.order, id)
			}
			h.idents[id] = b[2]
		}
	}
	return h, nil
}

var releasedHeading = regexp.MustCompile(`(?m)^##\s+\[?v?(\d+\.\d+\.\d+)\]?.*$`)
var anyHeading = regexp.MustCompile(`(?m)^##\s`)

// ReleasedSections returns the text of each released section of a
// changelog (as ReleasedVersions finds them), without its heading: the
// notes a contract header's identifiers must appear in.
func ReleasedSections(changelog string) map[string]string {
	secs := map[string]string{}
	for _, m := range releasedHeading.FindAllStringSubmatchIndex(changelog, -1) {
		body := changelog[m[1]:]
		if next := anyHeading.FindStringIndex(body); next != nil {
			body = body[:next[0]]
		}
		secs["v"+changelog[m[2]:m[3]]] = body
	}
	return secs
}

// namesIdent reports whether notes name id as itself: users.nickname does
// not name the table users.
func namesIdent(notes, id string) bool {
	return regexp.MustCompile(`(?i)(^|[^A-Za-z0-9_$.])` + regexp.QuoteMeta(id) + `($|[^A-Za-z0-9_$.]|\.($|[^A-Za-z0-9_$]))`).MatchString(notes)
}

// ReleasedVersions returns the versions ("v1.2.3") that have a section of
// their own in a changelog: "## v1.2.3 — date" or "## [1.2.3] - date".
// "## Unreleased" is not one.
func ReleasedVersions(changelog string) []string {
	var vs []string
	for _, m := range releasedHeading.FindAllStringSubmatch(changelog, -1) {
		vs = append(vs, "v"+m[1])
	}
	return vs
}

func wordRE(w string) *regexp.Regexp {
	return regexp.MustCompile(`(?i)(^|[^A-Za-z0-9_$])` + regexp.QuoteMeta(w) + `($|[^A-Za-z0-9_$])`)
}

// findWord returns where (up to three places) code names w.
func findWord(w string, code []Literal) []string {
	re := wordRE(w)
	var at []string
	for _, l := range code {
		if re.MatchString(l.Text) {
			at = append(at, l.Pos)
		}
	}
	sort.Strings(at)
	at = slices.Compact(at)
	if len(at) > 3 {
		at = append(at[:3], fmt.Sprintf("and %d more", len(at)-3))
	}
	return at
}

// mentions reports whether a migration names w outside its comments
// (function bodies and other strings included).
func mentions(w, sql string) bool {
	re := wordRE(w)
	for _, t := range tokenize(sql) {
		if (t.kind == word || t.kind == quoted) && strings.EqualFold(t.text, w) || t.kind == literal && re.MatchString(t.text) {
			return true
		}
	}
	return false
}
