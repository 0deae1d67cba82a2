package jsonld

import (
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// first returns v as a string, or the first string in an array, or the
// "name"/"@value" of an object.
func first(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case []any:
		for _, e := range x {
			if s := first(e); strings.TrimSpace(s) != "" {
				return s
			}
		}
	case map[string]any:
		if s, ok := x["@value"].(string); ok {
			return s
		}
		if s, ok := x["name"].(string); ok {
			return s
		}
	}
	return ""
}

// strs returns every string in v (a string, or an array of them).
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case json.Number:
		return []string{x.String()}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, strs(e)...)
		}
		return out
	case map[string]any:
		if s := first(x); s != "" {
			return []string{s}
		}
	}
	return nil
}

// cleanText turns HTML-ish text into plain text on one line: tags
// stripped, entities decoded (twice, for the sites that escape them twice),
// whitespace collapsed.
func cleanText(s string) string {
	return strings.Join(strings.Fields(strings.Join(textLines(s), " ")), " ")
}

// textLines turns HTML-ish text into its lines: block tags (<p>, <br>,
// <li>, ...) and newlines separate them.
func textLines(s string) []string {
	s = strings.ToValidUTF8(s, "")
	if strings.Contains(s, "&") {
		s = html.UnescapeString(s) // entities escaped twice: "&amp;lt;p&amp;gt;"
	}
	var b strings.Builder
	if strings.ContainsAny(s, "<&") {
		z := html.NewTokenizer(strings.NewReader(s))
	loop:
		for {
			switch z.Next() {
			case html.ErrorToken:
				break loop
			case html.TextToken:
				b.Write(z.Text())
			case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
				name, _ := z.TagName()
				switch string(name) {
				case "p", "br", "li", "div", "ol", "ul", "h1", "h2", "h3", "h4", "h5", "h6", "tr":
					b.WriteByte('\n')
				}
			}
		}
		s = b.String()
		if strings.Contains(s, "&") && strings.Contains(s, ";") {
			s = html.UnescapeString(s)
		}
	}
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.Join(strings.FieldsFunc(line, isSpace), " "); line != "" {
			out = append(out, line)
		}
	}
	return out
}

func isSpace(r rune) bool { return unicode.IsSpace(r) || r == '\u00a0' || r == '\u200b' }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return strings.TrimSpace(s)
}

// names renders an author: a string, a Person or Organization, or an array.
func names(v any) string {
	var out []string
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 3 {
			return
		}
		switch x := v.(type) {
		case string:
			if s := cleanText(x); s != "" && !strings.HasPrefix(s, "http") {
				out = append(out, s)
			}
		case []any:
			for _, e := range x {
				walk(e, depth+1)
			}
		case map[string]any:
			if s, ok := x["name"]; ok {
				walk(s, depth+1)
			}
		}
	}
	walk(v, 0)
	return strings.Join(dedupe(out), ", ")
}

func joinStrings(v any) string {
	var out []string
	for _, s := range strs(v) {
		if s = cleanText(s); s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(dedupe(out), ", ")
}

func dedupe(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		k := strings.ToLower(s)
		if !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}
