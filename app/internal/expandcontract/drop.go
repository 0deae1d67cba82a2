package expandcontract

import (
	"fmt"
	"slices"
	"strings"
)

// kindWords name what a DROP … CASCADE drops, before its name: whatever
// it is, CASCADE drops what depends on it too.
var kindWords = map[string]bool{
	"index": true, "concurrently": true, "function": true, "procedure": true, "routine": true,
	"aggregate": true, "trigger": true, "rule": true, "policy": true, "extension": true,
	"event": true, "foreign": true, "data": true, "wrapper": true, "server": true,
	"operator": true, "class": true, "family": true, "collation": true, "conversion": true,
	"publication": true, "statistics": true, "text": true, "search": true, "parser": true,
	"dictionary": true, "template": true, "configuration": true, "access": true, "method": true,
	"cast": true, "transform": true, "language": true, "procedural": true, "owned": true, "by": true,
}

// drop applies DROP …: tables, views and sequences as before; types,
// domains and schemas, which code names too (casts, qualified names);
// and anything with CASCADE, which silently drops what depends on it.
func (s *schema) drop(c *cursor, line int) []change {
	cascade := hasWord(c.toks, "cascade")
	var noun, detail string
	switch {
	case c.accept("table"), c.accept("view"), c.accept("sequence"), c.accept("materialized", "view"), c.accept("foreign", "table"):
	case c.accept("type"), c.accept("domain"), c.accept("schema"):
		noun = c.toks[c.i-1].text + " "
	case !cascade:
		return nil // indexes, triggers, constraints, functions: no code reads them
	default:
		var kind []string
		for t := c.peek(0); t.kind == word && kindWords[t.text]; t = c.peek(0) {
			kind = append(kind, t.text)
			c.i++
		}
		noun = strings.Join(append(kind, ""), " ")
		detail = " with CASCADE, which drops whatever depends on it too,"
	}
	c.accept("if", "exists")
	var out, deps []change
	for _, part := range splitTop(c.toks[c.i:]) {
		name := (&cursor{toks: part}).name()
		out = append(out, change{kind: dropped, noun: noun, table: name, line: line, detail: detail})
		delete(s.tables, name)
		delete(s.relations, name)
		delete(s.views, name)
		if !cascade {
			continue
		}
		if noun == "type " || noun == "domain " {
			for _, t := range sortedKeys(s.tables) {
				for _, col := range sortedKeys(s.tables[t]) {
					if typeBase(s.tables[t][col]) == name {
						deps = append(deps, change{kind: dropped, table: t, column: col, line: line, detail: fmt.Sprintf(" (its type %s, dropped by CASCADE)", name)})
						delete(s.tables[t], col)
					}
				}
			}
		}
		deps = append(deps, s.dropViews(line, func(uses map[string]bool) bool { return uses[name] }, name)...)
	}
	return append(out, deps...)
}

// dropViews drops the views on what depends reports they use, and the
// views on those, as a DROP … CASCADE of on does.
func (s *schema) dropViews(line int, depends func(uses map[string]bool) bool, on string) []change {
	var out []change
	for _, v := range sortedKeys(s.views) {
		uses, ok := s.views[v]
		if !ok || !depends(uses) {
			continue
		}
		out = append(out, change{kind: dropped, table: v, line: line, detail: fmt.Sprintf(" (a view on %s, dropped by CASCADE)", on)})
		delete(s.views, v)
		delete(s.relations, v)
		out = append(out, s.dropViews(line, func(uses map[string]bool) bool { return uses[v] }, v)...)
	}
	return out
}

// alterOther applies ALTER TYPE, DOMAIN or SCHEMA: renaming one or moving
// it to another schema takes it from under the old code, and so does
// renaming an enum value the old code writes.
func (s *schema) alterOther(noun string, c *cursor, line int) []change {
	name := c.name()
	switch {
	case c.accept("rename", "to"):
		to := c.name()
		delete(s.relations, name)
		s.relations[to] = true
		s.created[to] = true // a name that was free before
		return []change{{kind: renamed, noun: noun + " ", table: name, line: line, detail: " to " + to}}
	case c.accept("set", "schema"):
		to := c.name()
		delete(s.relations, name)
		return []change{{kind: renamed, noun: noun + " ", table: name, line: line, detail: " (moves it to schema " + to + ")"}}
	case noun == "type" && c.accept("rename", "value"):
		from := c.peek(0).text
		c.i++
		c.accept("to")
		return []change{{kind: renamed, noun: "the value ", table: name, column: from, line: line, detail: " to " + c.peek(0).text}}
	case noun == "domain" && c.accept("set", "not", "null"):
		return []change{{kind: setsNotNull, noun: noun + " ", table: name, line: line, detail: " NOT NULL"}}
	}
	return nil
}

// requiresValue reports whether a column added with this type and
// definition must be given a value by every insert: NOT NULL (or a
// primary key) and nothing to fill it.
func requiresValue(typ string, def []sqlToken) bool {
	if strings.Contains(typ, "serial") {
		return false
	}
	depth, required := 0, false
	for i, t := range def {
		switch {
		case t.kind == punct && t.text == "(":
			depth++
		case t.kind == punct && t.text == ")":
			depth--
		case depth > 0 || t.kind != word: // CHECK (x IS NOT NULL) and the like
		case t.text == "default" && !(i > 0 && def[i-1].text == "set"), t.text == "generated": // not ON DELETE SET DEFAULT
			return false
		case t.text == "null" && i > 0 && def[i-1].kind == word && def[i-1].text == "not", t.text == "primary":
			required = true
		}
	}
	return required
}

// names reports whether a word or string of toks is w.
func names(toks []sqlToken, w string) bool {
	return slices.ContainsFunc(toks, func(t sqlToken) bool { return (t.kind == word || t.kind == literal) && strings.EqualFold(t.text, w) })
}

func hasWord(toks []sqlToken, w string) bool {
	return slices.ContainsFunc(toks, func(t sqlToken) bool { return t.kind == word && t.text == w })
}

// typeBase is the name of a column's type without schema, size or array
// brackets: "public.mood[]" is "mood".
func typeBase(typ string) string {
	if i := strings.IndexAny(typ, "(["); i >= 0 {
		typ = typ[:i]
	}
	return strings.TrimSpace(typ[strings.LastIndex(typ, ".")+1:])
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
