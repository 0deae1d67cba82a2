package jsonld

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// pageURL reads mainEntityOfPage: a URL, or a WebPage with an @id or url.
func pageURL(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if s, ok := x["@id"].(string); ok {
			return s
		}
		if s, ok := x["url"].(string); ok {
			return s
		}
	}
	return ""
}

// tags splits keywords ("a, b" or ["a", "b, c"]) into lowercase, trimmed,
// distinct tags, at most MaxTags of them.
func tags(v any) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range strs(v) {
		for _, t := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '\n' }) {
			t = strings.ToLower(cleanText(t))
			if t == "" || len(t) > maxTagBytes || seen[t] {
				continue
			}
			seen[t] = true
			out = append(out, t)
			if len(out) == MaxTags {
				return out
			}
		}
	}
	return out
}

func diets(v any) []flavormonk.Diet {
	have := map[flavormonk.Diet]bool{}
	for _, s := range strs(v) {
		if d, ok := flavormonk.ParseDiet(s); ok {
			have[d] = true
		}
	}
	if m, ok := v.(map[string]any); ok { // {"@id": "https://schema.org/VeganDiet"}
		if s, ok := m["@id"].(string); ok {
			if d, ok := flavormonk.ParseDiet(s); ok {
				have[d] = true
			}
		}
	}
	var out []flavormonk.Diet
	for _, d := range flavormonk.Diets {
		if have[d] {
			out = append(out, d)
		}
	}
	return out
}

// image picks the first usable URL from a string, an array, or an
// ImageObject.
func image(v any, base *url.URL, depth int) string {
	if depth > 3 {
		return ""
	}
	switch x := v.(type) {
	case string:
		return absURL(x, base)
	case []any:
		for _, e := range x {
			if s := image(e, base, depth+1); s != "" {
				return s
			}
		}
	case map[string]any:
		for _, k := range []string{"url", "contentUrl", "@id"} {
			if s := image(x[k], base, depth+1); s != "" {
				return s
			}
		}
	}
	return ""
}

// absURL returns s as an absolute http(s) URL, resolved against base, or "".
func absURL(s string, base *url.URL) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 2000 {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	if base != nil && !u.IsAbs() {
		u = base.ResolveReference(u)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.String()
}

func minutes(v any) int {
	m, err := ParseDuration(first(v))
	if err != nil {
		return 0
	}
	return m
}

// yield picks the most informative yield ("4 servings" over "4") and the
// number of servings when the yield counts servings or is a bare number.
func yield(v any) (string, int) {
	var best string
	servings := 0
	for _, s := range strs(v) {
		s = truncate(cleanText(s), maxYieldBytes)
		if s == "" {
			continue
		}
		if n := countServings(s); n > 0 && servings == 0 {
			servings = n
		}
		if informative(s) > informative(best) {
			best = s
		}
	}
	return best, servings
}

func informative(s string) int {
	score := len(s)
	if strings.IndexFunc(s, unicode.IsLetter) >= 0 {
		score += 1000
	}
	return score
}

var servingWords = []string{"serving", "serves", "serve", "people", "persons", "person", "portion", "pax", "plates"}

// countServings reads "4", "4 servings", "Serves 4-6", "for 2 people".
func countServings(s string) int {
	lower := strings.ToLower(s)
	fields := strings.FieldsFunc(lower, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	if len(fields) == 0 {
		return 0
	}
	n, err := strconv.ParseFloat(strings.Trim(fields[0], "."), 64)
	if err != nil || n < 1 || n > 1000 {
		return 0
	}
	if _, err := strconv.ParseFloat(strings.TrimSpace(lower), 64); err == nil {
		return int(n)
	}
	for _, w := range servingWords {
		if strings.Contains(lower, w) {
			return int(n)
		}
	}
	return 0
}

// ingredientLines reads recipeIngredient: an array of strings, or one
// string with a line per ingredient.
func ingredientLines(v any) []string {
	var out []string
	for _, s := range strs(v) {
		for _, line := range textLines(s) {
			if len(out) > 1000 {
				return out
			}
			out = append(out, line)
		}
	}
	return out
}

// instructions flattens recipeInstructions into steps: a string (split on
// lines and block tags), an array, HowToStep (text, or name), HowToSection
// (its name on each of its steps), ItemList, nested arrays.
func instructions(v any, section string, steps *[]flavormonk.Step, depth int) {
	if depth > MaxDepth || len(*steps) > 1000 {
		return
	}
	switch x := v.(type) {
	case string:
		for _, line := range textLines(x) {
			*steps = append(*steps, flavormonk.Step{Section: section, Text: line})
		}
	case []any:
		for _, e := range x {
			instructions(e, section, steps, depth+1)
		}
	case map[string]any:
		if list, ok := x["itemListElement"]; ok {
			if isType(x, "HowToSection") {
				if name := cleanText(first(x["name"])); name != "" {
					section = truncate(name, maxTextFieldBytes)
				}
			}
			instructions(list, section, steps, depth+1)
			return
		}
		text := first(x["text"])
		if strings.TrimSpace(text) == "" {
			text = first(x["name"])
		}
		if strings.TrimSpace(text) == "" {
			text = first(x["description"])
		}
		if lines := textLines(text); len(lines) > 0 {
			*steps = append(*steps, flavormonk.Step{Section: section, Text: strings.Join(lines, " ")})
		}
	}
}
