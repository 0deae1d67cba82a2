package expandcontract

import (
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"
)

// schema is what the migrations so far have built: each table's columns
// with their types, and the other names code can use (views, sequences,
// types, domains, schemas).
type schema struct {
	tables    map[string]map[string]string
	relations map[string]bool
	// views are the names each view's definition uses, for what a DROP …
	// CASCADE takes with it.
	views map[string]map[string]bool
	// routines are the functions and procedures the migrations created,
	// whose bodies run when a migration calls them.
	routines map[string]routine
	// created are the relations ("t") and columns ("t.c") the migration
	// being applied made itself.
	created map[string]bool
}

func newSchema() *schema {
	return &schema{tables: map[string]map[string]string{}, relations: map[string]bool{}, views: map[string]map[string]bool{}, routines: map[string]routine{}}
}

func (s *schema) clone() *schema {
	c := newSchema()
	for t, cols := range s.tables {
		c.tables[t] = maps.Clone(cols)
	}
	c.relations = maps.Clone(s.relations)
	c.views = maps.Clone(s.views)
	return c
}

func (s *schema) has(name string) bool { _, ok := s.tables[name]; return ok || s.relations[name] }

func (s *schema) hasColumn(table, col string) bool { _, ok := s.tables[table][col]; return ok }

// apply runs one migration's statements on s and returns the contracting
// changes it makes to what existed before it.
func (s *schema) apply(sql string) []change {
	before := s.clone()
	s.created = map[string]bool{}
	var raw []change
	for _, st := range statements(tokenize(sql)) {
		raw = append(raw, s.statement(st, 0)...)
	}
	var out []change
	seen := map[string]bool{}
	add := func(c change) {
		key := c.kind + " " + c.noun + c.ident()
		if c.kind == unreadable {
			key += fmt.Sprint(c.line, c.detail)
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, c)
		}
	}
	for _, c := range raw {
		switch {
		case s.created[c.table] && !before.has(c.table),
			c.column != "" && !c.notNull() && s.created[c.ident()] && !before.hasColumn(c.table, c.column):
			// Made by this migration: no older code knows it. (Anything
			// else, even a name no migration made, is treated as used.
			// A column this migration adds to an older table and makes
			// NOT NULL is still one the old code's inserts leave out.)
		case c.column == "" && s.has(c.table) && before.has(c.table):
			// Dropped or renamed, then rebuilt under its name: what is
			// gone are the columns the new table lacks.
			for col := range before.tables[c.table] {
				if _, ok := s.tables[c.table][col]; !ok {
					add(change{kind: dropped, table: c.table, column: col, line: c.line, detail: " (the rebuilt table lacks it)"})
				}
			}
		default:
			add(c)
		}
	}
	return out
}

// statement applies one statement and returns its contracting changes;
// depth is how deep in DO blocks and EXECUTEd strings it is.
func (s *schema) statement(toks []sqlToken, depth int) []change {
	c := &cursor{toks: toks}
	line := toks[0].line
	switch {
	case c.accept("do"):
		return s.do(c, line, depth)
	case c.accept("create"):
		c.accept("or", "replace")
		for c.accept("temp") || c.accept("temporary") || c.accept("unlogged") || c.accept("materialized") {
		}
		switch {
		case c.accept("function") || c.accept("procedure"):
			s.createRoutine(c)
		case c.accept("table"):
			c.accept("if", "not", "exists")
			name := c.name()
			s.tables[name] = columns(c)
			s.created[name] = true
		case c.accept("view"):
			c.accept("if", "not", "exists")
			name := c.name()
			s.relations[name] = true
			s.created[name] = true
			uses := map[string]bool{}
			for _, t := range c.toks[c.i:] {
				if t.kind == word || t.kind == quoted {
					uses[strings.ToLower(t.text)] = true
				}
			}
			s.views[name] = uses
		case c.accept("sequence") || c.accept("type") || c.accept("domain") || c.accept("schema"):
			c.accept("if", "not", "exists")
			name := c.name()
			s.relations[name] = true
			s.created[name] = true
		}
	case c.accept("drop"):
		return s.drop(c, line)
	case names(toks, "standard_conforming_strings") && (names(toks, "off") || names(toks, "false")):
		// Then a backslash escapes a quote in every string: the check
		// would read the rest of the migration wrongly.
		return unread(line, "turns standard_conforming_strings off, which changes where the migration's strings end, so the check cannot read the rest of it: keep it on and write such strings as E'…'")
	case c.accept("select") || c.accept("call") || c.accept("with") || c.accept("insert") || c.accept("update") ||
		c.accept("delete") || c.accept("values") || c.accept("merge") || c.accept("perform"):
		return s.calls(toks, depth)
	case c.accept("alter"):
		c.accept("materialized")
		for _, noun := range []string{"type", "domain", "schema"} {
			if c.accept(noun) {
				return s.alterOther(noun, c, line)
			}
		}
		if !(c.accept("table") || c.accept("view") || c.accept("sequence")) {
			return nil
		}
		c.accept("if", "exists")
		c.accept("only")
		table := c.name()
		if p := c.peek(0); p.kind == punct && p.text == "*" {
			c.i++
		}
		var out []change
		for _, action := range splitTop(c.toks[c.i:]) {
			out = append(out, s.alter(table, &cursor{toks: action}, line)...)
		}
		return out
	}
	return nil
}

// alter applies one action of ALTER TABLE table.
func (s *schema) alter(table string, c *cursor, line int) []change {
	switch {
	case c.accept("add"):
		if isConstraint(c.peek(0)) {
			return nil
		}
		c.accept("column")
		c.accept("if", "not", "exists")
		col := c.name()
		typ := columnType(c.toks[c.i:])
		if s.tables[table] != nil {
			s.tables[table][col] = typ
		}
		s.created[table+"."+col] = true
		if requiresValue(typ, c.toks[c.i:]) {
			return []change{{kind: addsNotNull, table: table, column: col, line: line, detail: " NOT NULL without a DEFAULT"}}
		}
	case c.accept("set", "schema"):
		to := c.name()
		delete(s.tables, table)
		delete(s.relations, table)
		return []change{{kind: renamed, table: table, line: line, detail: " (moves it to schema " + to + ")"}}
	case c.accept("drop"):
		if c.accept("constraint") {
			return nil
		}
		c.accept("column")
		c.accept("if", "exists")
		col := c.name()
		delete(s.tables[table], col)
		out := []change{{kind: dropped, table: table, column: col, line: line}}
		if hasWord(c.toks, "cascade") {
			out = append(out, s.dropViews(line, func(uses map[string]bool) bool { return uses[table] && uses[col] }, table+"."+col)...)
		}
		return out
	case c.accept("rename"):
		switch {
		case c.accept("to"):
			to := c.name()
			if cols, ok := s.tables[table]; ok {
				s.tables[to] = cols
			} else {
				s.relations[to] = true
			}
			delete(s.tables, table)
			delete(s.relations, table)
			s.created[to] = true // a name that was free before
			return []change{{kind: renamed, table: table, line: line, detail: " to " + to}}
		case c.accept("constraint"):
			return nil
		}
		c.accept("column")
		col := c.name()
		c.accept("to")
		to := c.name()
		if cols := s.tables[table]; cols != nil {
			cols[to] = cols[col]
			delete(cols, col)
		}
		s.created[table+"."+to] = true
		return []change{{kind: renamed, table: table, column: col, line: line, detail: " to " + to}}
	case c.accept("alter"):
		c.accept("column")
		col := c.name()
		if c.accept("set", "not", "null") {
			return []change{{kind: setsNotNull, table: table, column: col, line: line, detail: " NOT NULL"}}
		}
		c.accept("set", "data")
		if !c.accept("type") {
			return nil // defaults, DROP NOT NULL, statistics
		}
		var typ []sqlToken
		for !c.done() && !(c.peek(0).kind == word && (c.peek(0).text == "collate" || c.peek(0).text == "using")) {
			typ = append(typ, c.peek(0))
			c.i++
		}
		to := typeText(typ)
		from, known := s.tables[table][col]
		if cols := s.tables[table]; cols != nil {
			cols[col] = to
		}
		if known && widens(from, to) {
			return nil
		}
		if !known {
			from = "an unknown type"
		}
		return []change{{kind: narrows, table: table, column: col, line: line, detail: fmt.Sprintf(" from %s to %s, which is not plainly wider,", from, to)}}
	}
	return nil
}

func isConstraint(t sqlToken) bool {
	switch t.text {
	case "constraint", "primary", "unique", "check", "foreign", "exclude":
		return t.kind == word
	}
	return false
}

// columns reads CREATE TABLE's column list; nil for CREATE TABLE … AS.
func columns(c *cursor) map[string]string {
	cols := map[string]string{}
	if p := c.peek(0); p.kind != punct || p.text != "(" {
		return cols
	}
	depth, end := 0, c.i
	for ; end < len(c.toks); end++ {
		if t := c.toks[end]; t.kind == punct && t.text == "(" {
			depth++
		} else if t.kind == punct && t.text == ")" {
			if depth--; depth == 0 {
				break
			}
		}
	}
	for _, def := range splitTop(c.toks[c.i+1 : end]) {
		if len(def) == 0 || isConstraint(def[0]) || (def[0].kind == word && def[0].text == "like") {
			continue
		}
		dc := &cursor{toks: def}
		name := dc.name()
		cols[name] = columnType(def[dc.i:])
	}
	return cols
}

// columnType is the type at the start of a column definition.
func columnType(toks []sqlToken) string {
	stop := map[string]bool{"not": true, "null": true, "default": true, "primary": true, "references": true,
		"unique": true, "check": true, "collate": true, "generated": true, "constraint": true, "as": true}
	n := 0
	for n < len(toks) && !(toks[n].kind == word && stop[toks[n].text]) {
		n++
	}
	return typeText(toks[:n])
}

var sized = regexp.MustCompile(`^([a-z ]+?)\s*(?:\((\d+)(?:,\s*(\d+))?\))?$`)

// intRank orders the integer types by width.
var intRank = map[string]int{"smallint": 1, "int2": 1, "integer": 2, "int": 2, "int4": 2, "bigint": 3, "int8": 3}

// widens reports whether every value of type from fits type to unchanged,
// so that old code writing from and new code reading to (or the reverse,
// for reads of values old code wrote) keep working. Anything it does not
// know is not wider.
func widens(from, to string) bool {
	if from == to {
		return true
	}
	f, t := sized.FindStringSubmatch(from), sized.FindStringSubmatch(to)
	if f == nil || t == nil {
		return false
	}
	fb, tb := canonical(f[1]), canonical(t[1])
	fn, tn := atoi(f[2]), atoi(t[2])
	fs, ts := atoi(f[3]), atoi(t[3])
	switch {
	case intRank[fb] > 0 && intRank[tb] > 0:
		return intRank[tb] >= intRank[fb]
	case intRank[fb] > 0 && tb == "numeric":
		return tn < 0 || tn-max(ts, 0) >= 19
	case fb == "real" && tb == "double precision":
		return true
	case fb == "varchar" && (tb == "text" || (tb == "varchar" && (tn < 0 || (fn >= 0 && tn >= fn)))):
		return true
	case fb == "numeric" && tb == "numeric":
		if tn < 0 {
			return true
		}
		return fn >= 0 && ts >= max(fs, 0) && tn-ts >= fn-max(fs, 0)
	}
	return false
}

func canonical(base string) string {
	switch base = strings.TrimSpace(base); base {
	case "character varying":
		return "varchar"
	case "float4":
		return "real"
	case "float8", "float":
		return "double precision"
	case "decimal":
		return "numeric"
	}
	return base
}

func atoi(s string) int {
	if s == "" {
		return -1
	}
	n, _ := strconv.Atoi(s)
	return n
}
