package jsonld

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"golang.org/x/net/html"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// decode parses one JSON text after checking its nesting depth, which
// encoding/json bounds only at 10,000.
func decode(b []byte) (any, error) {
	if err := checkDepth(b); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, flavormonk.Errorf(flavormonk.EINVALID, "malformed JSON-LD: %v", err)
	}
	if rest := bytes.Trim(b[dec.InputOffset():], " \t\r\n;"); len(rest) > 0 {
		return nil, flavormonk.Errorf(flavormonk.EINVALID, "malformed JSON-LD: data after the JSON value")
	}
	return v, nil
}

func checkDepth(b []byte) error {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > MaxDepth {
				return flavormonk.Errorf(flavormonk.EINVALID, "JSON-LD is nested deeper than %d levels", MaxDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// scripts returns the contents of every <script type="application/ld+json">
// in an HTML page, without the comment or CDATA wrappers some CMSs add.
func scripts(page []byte) [][]byte {
	var out [][]byte
	z := html.NewTokenizer(bytes.NewReader(page))
	inLD := false
	for {
		switch z.Next() {
		case html.ErrorToken:
			return out
		case html.StartTagToken:
			name, hasAttr := z.TagName()
			inLD = false
			if string(name) != "script" {
				continue
			}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				if string(k) == "type" {
					t, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(string(v))), ";")
					inLD = strings.TrimSpace(t) == "application/ld+json"
				}
			}
		case html.TextToken:
			if inLD {
				out = append(out, unwrap(bytes.Clone(z.Text())))
				inLD = false
			}
		default:
			inLD = false
		}
	}
}

func unwrap(b []byte) []byte {
	b = bytes.TrimSpace(b)
	for _, w := range [][2]string{{"<!--", "-->"}, {"//<![CDATA[", "//]]>"}, {"/*<![CDATA[*/", "/*]]>*/"}, {"<![CDATA[", "]]>"}} {
		if bytes.HasPrefix(b, []byte(w[0])) {
			b = bytes.TrimPrefix(b, []byte(w[0]))
			b = bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(b), []byte(w[1])))
		}
	}
	return b
}

// collect finds recipe objects anywhere in v (under "@graph", "mainEntity",
// ItemList elements, ...) in document order. A recipe's own members are not
// searched further.
func collect(v any, found *[]map[string]any, depth int) {
	if depth > MaxDepth || len(*found) > MaxRecipes {
		return
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			collect(e, found, depth+1)
		}
	case map[string]any:
		if isType(x, "Recipe") {
			*found = append(*found, x)
			return
		}
		for _, k := range sortedKeys(x) {
			collect(x[k], found, depth+1)
		}
	}
}

// sortedKeys orders an object's members with the usual containers first, so
// that recipes come out in a stable order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		switch k {
		case "@graph":
			return 0
		case "mainEntity":
			return 1
		case "itemListElement":
			return 2
		}
		return 3
	}
	slices.SortFunc(keys, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return keys
}

// index records every object with an "@id" and other members, so that
// references like "author": {"@id": "#/schema/person/1"} in a WordPress
// @graph can be followed.
func index(v any, ids map[string]map[string]any, depth int) {
	if depth > MaxDepth || len(ids) > 10000 {
		return
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			index(e, ids, depth+1)
		}
	case map[string]any:
		if id, ok := x["@id"].(string); ok && len(x) > 1 {
			if _, dup := ids[id]; !dup {
				ids[id] = x
			}
		}
		for _, e := range x {
			index(e, ids, depth+1)
		}
	}
}

// resolve replaces {"@id": ...} references (alone or in an array) with the
// objects they name.
func resolve(v any, ids map[string]map[string]any) any {
	switch x := v.(type) {
	case map[string]any:
		if id, ok := x["@id"].(string); ok && len(x) == 1 {
			if o, ok := ids[id]; ok {
				return o
			}
		}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = resolve(e, ids)
		}
		return out
	}
	return v
}

func isType(m map[string]any, want string) bool {
	match := func(t string) bool {
		t = strings.TrimSpace(t)
		if i := strings.LastIndexAny(t, "/:#"); i >= 0 {
			t = t[i+1:]
		}
		return strings.EqualFold(t, want)
	}
	switch t := m["@type"].(type) {
	case string:
		return match(t)
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok && match(s) {
				return true
			}
		}
	}
	return false
}
