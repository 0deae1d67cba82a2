package expandcontract

import (
	"strings"
	"unicode"
)

// token is one lexical token of a migration: a word (keyword or bare
// identifier, lower-cased), a quoted identifier, a string literal, or one
// punctuation character.
type sqlToken struct {
	text string
	kind tokenKind
	line int
}

type tokenKind int

const (
	word tokenKind = iota
	quoted
	literal
	punct
)

// tokenize splits SQL into tokens, dropping comments. It knows what both
// stores' dialects need to be read safely: doubled quotes, "quoted" names,
// Postgres E'…' escape strings (where a backslash escapes the quote) and
// $tag$ bodies, so a keyword inside any of them is not read as a statement.
func tokenize(sql string) []sqlToken { return tokenizeAt(sql, 1) }

// readQuoted reads a quoted string or name whose text starts at r[j] and
// ends at the quote q (doubled, it stands for itself; with escapes, a
// backslash escapes the next character). It returns the text, the index
// after the closing quote and the line breaks it spans.
func readQuoted(r []rune, j int, q rune, escapes bool) (text string, end, lines int) {
	var b strings.Builder
	for j < len(r) {
		switch {
		case escapes && r[j] == '\\' && j+1 < len(r):
			if r[j+1] == '\n' {
				lines++
			}
			b.WriteRune(unescape(r[j+1]))
			j += 2
			continue
		case r[j] == q && j+1 < len(r) && r[j+1] == q:
			b.WriteRune(q)
			j += 2
			continue
		case r[j] == q:
			return b.String(), j + 1, lines
		case r[j] == '\n':
			lines++
		}
		b.WriteRune(r[j])
		j++
	}
	return b.String(), j + 1, lines
}

// tokenizeAt tokenizes SQL that starts on line first of its file: a DO
// block's body, or a string it EXECUTEs.
func tokenizeAt(sql string, first int) []sqlToken {
	var toks []sqlToken
	line := first
	r := []rune(sql)
	for i := 0; i < len(r); {
		c := r[i]
		switch {
		case (c == 'e' || c == 'E') && i+1 < len(r) && r[i+1] == '\'' && (i == 0 || !isWordRune(r[i-1]) && r[i-1] != '$'):
			// An escape string: a backslash escapes the next character,
			// the closing quote included. Only a lone E directly before
			// the quote makes one (date'…' is a typed literal).
			text, end, lines := readQuoted(r, i+2, '\'', true)
			toks = append(toks, sqlToken{text: text, kind: literal, line: line})
			line += lines
			i = end
		case c == '\n':
			line++
			i++
		case unicode.IsSpace(c):
			i++
		case c == '-' && i+1 < len(r) && r[i+1] == '-':
			for i < len(r) && r[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(r) && r[i+1] == '*':
			i += 2
			for i < len(r) && !(r[i] == '*' && i+1 < len(r) && r[i+1] == '/') {
				if r[i] == '\n' {
					line++
				}
				i++
			}
			i += 2
		case c == '\'' || c == '"' || c == '`':
			text, end, lines := readQuoted(r, i+1, c, false)
			kind := literal
			if c != '\'' {
				kind = quoted
			}
			toks = append(toks, sqlToken{text: text, kind: kind, line: line})
			line += lines
			i = end
		case c == '$' && dollarTag(r, i) != "":
			tag := dollarTag(r, i)
			start, j := line, i+len([]rune(tag))
			for j < len(r) && !strings.HasPrefix(string(r[j:min(len(r), j+len([]rune(tag)))]), tag) {
				if r[j] == '\n' {
					line++
				}
				j++
			}
			toks = append(toks, sqlToken{text: string(r[i+len([]rune(tag)) : min(j, len(r))]), kind: literal, line: start})
			i = j + len([]rune(tag))
		case isWordRune(c):
			j := i
			for j < len(r) && (isWordRune(r[j]) || r[j] == '$') {
				j++
			}
			toks = append(toks, sqlToken{text: strings.ToLower(string(r[i:j])), kind: word, line: line})
			i = j
		default:
			toks = append(toks, sqlToken{text: string(c), kind: punct, line: line})
			i++
		}
	}
	return toks
}

// dollarTag returns the $tag$ opening a Postgres dollar-quoted string at
// r[i], or "".
func dollarTag(r []rune, i int) string {
	j := i + 1
	for j < len(r) && (r[j] == '_' || unicode.IsLetter(r[j]) || (j > i+1 && unicode.IsDigit(r[j]))) {
		j++
	}
	if j < len(r) && r[j] == '$' {
		return string(r[i : j+1])
	}
	return ""
}

// unescape is the character \c stands for in an escape string; the
// octal, hex and Unicode forms are kept as written.
func unescape(c rune) rune {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	}
	return c
}

func isWordRune(c rune) bool { return c == '_' || unicode.IsLetter(c) || unicode.IsDigit(c) }

// statements splits tokens at semicolons.
func statements(toks []sqlToken) [][]sqlToken {
	var out [][]sqlToken
	var cur []sqlToken
	for _, t := range toks {
		if t.kind == punct && t.text == ";" {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, t)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// splitTop splits tokens at commas outside parentheses.
func splitTop(toks []sqlToken) [][]sqlToken {
	var out [][]sqlToken
	depth, start := 0, 0
	for i, t := range toks {
		if t.kind != punct {
			continue
		}
		switch t.text {
		case "(":
			depth++
		case ")":
			depth--
		case ",":
			if depth == 0 {
				out = append(out, toks[start:i])
				start = i + 1
			}
		}
	}
	return append(out, toks[start:])
}

// cursor reads a statement's tokens.
type cursor struct {
	toks []sqlToken
	i    int
}

func (c *cursor) done() bool { return c.i >= len(c.toks) }

func (c *cursor) peek(n int) sqlToken {
	if c.i+n < len(c.toks) {
		return c.toks[c.i+n]
	}
	return sqlToken{kind: punct}
}

// accept consumes the keywords ws if they come next, in order.
func (c *cursor) accept(ws ...string) bool {
	for n, w := range ws {
		if t := c.peek(n); t.kind != word || t.text != w {
			return false
		}
	}
	c.i += len(ws)
	return true
}

// name reads a possibly schema-qualified name and returns its last part,
// lower-cased (quoted names too: the stores never quote to keep case).
func (c *cursor) name() string {
	var n string
	for {
		t := c.peek(0)
		if t.kind != word && t.kind != quoted {
			return n
		}
		n = strings.ToLower(t.text)
		c.i++
		if p := c.peek(0); p.kind == punct && p.text == "." {
			c.i++
			continue
		}
		return n
	}
}

// typeText renders a type's tokens as "character varying(20)".
func typeText(toks []sqlToken) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 && t.kind == word && toks[i-1].kind == word {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}
