package expandcontract

import (
	"fmt"
	"strings"
)

// maxDepth bounds DO blocks EXECUTing DO blocks, and routines calling
// routines.
const maxDepth = 8

// topLevel is what a refusal of DDL the check cannot read asks for.
const topLevel = "Postgres runs it during the migration, and the check cannot read the DDL it may run: write the DDL at the top level of the migration, where the check reads it and a contract header can name it"

// A routine is a function or procedure a migration created: calling it
// from a migration runs its body then.
type routine struct {
	lang string
	body *sqlToken
}

// do reads a DO block, whose body Postgres runs during the migration, and
// applies the DDL in it as if it were written at the top level.
func (s *schema) do(c *cursor, line, depth int) []change {
	lang := "plpgsql"
	var body *sqlToken
	for ; !c.done(); c.i++ {
		switch t := c.peek(0); {
		case t.kind == word && t.text == "language":
			c.i++
			lang = strings.ToLower(c.peek(0).text)
		case t.kind == literal && body == nil:
			body = &t
		}
	}
	switch {
	case body == nil:
		return unread(line, "a DO block without a body the check can find: "+topLevel)
	case lang != "plpgsql":
		return unread(line, fmt.Sprintf("a DO block in language %s: %s", lang, topLevel))
	case depth >= maxDepth:
		return unread(line, "DO blocks nested too deep: "+topLevel)
	}
	return s.body(tokenizeAt(body.text, body.line), "a DO block", depth)
}

// body applies what a PL/pgSQL (or SQL) body runs: its DDL, the literal
// strings it EXECUTEs and the routines of the migrations it calls. who
// names the body in refusals.
func (s *schema) body(toks []sqlToken, who string, depth int) []change {
	var out []change
	for _, st := range statements(toks) {
		// Control structure (BEGIN, IF … THEN, EXCEPTION WHEN … THEN)
		// comes before a statement's DDL: what the body runs itself
		// starts at the first DDL word.
		ddl := false
		for i, t := range st {
			if t.kind != word {
				continue
			}
			if t.text == "execute" {
				out = append(out, s.execute(st[i:], who, depth)...)
				ddl = true
				break
			}
			if t.text == "alter" || t.text == "drop" || t.text == "create" {
				out = append(out, s.statement(st[i:], depth+1)...)
				ddl = true
				break
			}
		}
		if !ddl {
			out = append(out, s.calls(st, depth)...)
		}
	}
	return out
}

// execute applies EXECUTE 'sql' [INTO …] [USING …]; a string built at run
// time (format(…), ||, a variable) cannot be read, so it is refused.
func (s *schema) execute(toks []sqlToken, who string, depth int) []change {
	if len(toks) < 2 || toks[1].kind != literal || len(toks) > 2 && !(toks[2].kind == word && (toks[2].text == "into" || toks[2].text == "using" || toks[2].text == "loop")) {
		return unread(toks[0].line, who+" EXECUTEs a string built at run time (format(…), ||, a variable): "+topLevel)
	}
	var out []change
	for _, st := range statements(tokenizeAt(toks[1].text, toks[1].line)) {
		out = append(out, s.statement(st, depth+1)...)
	}
	return out
}

// createRoutine records CREATE FUNCTION or PROCEDURE: its body is not run
// now, but a later call from a migration runs it.
func (s *schema) createRoutine(c *cursor) {
	name := c.name()
	r := routine{}
	for ; !c.done(); c.i++ {
		switch t := c.peek(0); {
		case t.kind == word && t.text == "language":
			c.i++
			r.lang = strings.ToLower(c.peek(0).text)
		case t.kind == word && t.text == "as" && c.peek(1).kind == literal && r.body == nil:
			c.i++
			b := c.peek(0)
			r.body = &b
		}
	}
	s.routines[name] = r
}

// calls applies the bodies of the migrations' routines that a statement
// calls, as if they were written at the call.
func (s *schema) calls(toks []sqlToken, depth int) []change {
	var out []change
	for i, t := range toks {
		r, ok := s.routines[t.text]
		if t.kind != word || !ok || i+1 >= len(toks) || toks[i+1].kind != punct || toks[i+1].text != "(" {
			continue
		}
		who := fmt.Sprintf("routine %s, called here,", t.text)
		switch {
		case r.body == nil:
			out = append(out, unread(t.line, fmt.Sprintf("calls %s, whose body the check cannot find: %s", t.text, topLevel))...)
			continue
		case r.lang != "plpgsql" && r.lang != "sql":
			out = append(out, unread(t.line, fmt.Sprintf("calls %s, in language %s: %s", t.text, r.lang, topLevel))...)
			continue
		case depth >= maxDepth:
			out = append(out, unread(t.line, "routines call routines too deep: "+topLevel)...)
			continue
		}
		// Its DDL is reported at the call, where the migration runs it.
		body := tokenizeAt(r.body.text, t.line)
		for j := range body {
			body[j].line = t.line
		}
		out = append(out, s.body(body, who, depth+1)...)
	}
	return out
}

func unread(line int, why string) []change {
	return []change{{kind: unreadable, line: line, detail: why}}
}
