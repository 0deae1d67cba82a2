// Package jsonld reads schema.org/Recipe data, as recipe sites publish it in
// <script type="application/ld+json"> blocks or as JSON files, into
// flavormonk.Recipes.
//
// Real sites publish every shape the vocabulary allows and a few it does not:
// a bare object, an array, a WordPress/Yoast "@graph", recipes nested under
// "mainEntity", "@type" as a string or an array, instructions as one HTML
// string, strings, HowToSteps, or HowToSections of steps, yields as numbers,
// strings or arrays, and HTML tags and entities (sometimes escaped twice) in
// any text. Parse takes what it can and says why it rejected the rest.
package jsonld

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/ingredient"
)

// Limits on what Parse accepts.
const (
	MaxDocumentBytes  = 5 << 20 // larger documents are an ETOOLARGE error
	MaxDepth          = 64      // JSON nesting deeper than this is an EINVALID error
	MaxRecipes        = 500     // more recipe objects in one document is an ETOOLARGE error
	MaxTags           = 20
	maxTagBytes       = 50
	maxDescription    = 5000
	maxYieldBytes     = 100
	maxTextFieldBytes = 300
)

// Reject is a recipe object that was found but could not be used.
type Reject struct {
	Index  int    `json:"index"` // position among the recipe objects of the document, from 0
	Name   string `json:"name,omitempty"`
	Reason string `json:"reason"`
}

// Parse reads the recipes in data, a JSON(-LD) document or an HTML page.
// sourceURL is where data came from ("" for a local file); it resolves
// relative image URLs and, with the recipe's name, makes its id. Recipes
// come back in document order and each passes Validate; recipe objects that
// cannot be used come back as rejects. A document that is too large or
// (for JSON, or for an HTML page whose every ld+json block is) malformed is
// an error. A well-formed document without recipes returns nothing.
func Parse(data []byte, sourceURL string) ([]*flavormonk.Recipe, []Reject, error) {
	if len(data) > MaxDocumentBytes {
		return nil, nil, flavormonk.Errorf(flavormonk.ETOOLARGE, "document is larger than %d MB", MaxDocumentBytes>>20)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var docs []any
	if t := bytes.TrimSpace(data); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		v, err := decode(t)
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, v)
	} else {
		blocks := scripts(data)
		var firstErr error
		for _, b := range blocks {
			v, err := decode(b)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			docs = append(docs, v)
		}
		if len(docs) == 0 && firstErr != nil {
			return nil, nil, firstErr
		}
	}

	var found []map[string]any
	for _, d := range docs {
		collect(d, &found, 0)
		if len(found) > MaxRecipes {
			return nil, nil, flavormonk.Errorf(flavormonk.ETOOLARGE, "document has more than %d recipes", MaxRecipes)
		}
	}

	ids := map[string]map[string]any{}
	for _, d := range docs {
		index(d, ids, 0)
	}
	base, _ := url.Parse(sourceURL)
	var recipes []*flavormonk.Recipe
	var rejects []Reject
	seen := map[string]int{}
	for i, obj := range found {
		r, reason := convert(obj, sourceURL, base, ids)
		if reason == "" {
			if j, dup := seen[r.ID]; dup {
				reason = fmt.Sprintf("duplicate of recipe %d", j)
			}
		}
		if reason != "" {
			name := ""
			if r != nil {
				name = r.Name
			}
			rejects = append(rejects, Reject{Index: i, Name: truncate(name, maxTextFieldBytes), Reason: reason})
			continue
		}
		seen[r.ID] = i
		recipes = append(recipes, r)
	}
	return recipes, rejects, nil
}

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

// convert maps one schema.org/Recipe object. A non-empty reason says why it
// cannot be used; the recipe is returned anyway for its name.
func convert(m map[string]any, sourceURL string, base *url.URL, ids map[string]map[string]any) (*flavormonk.Recipe, string) {
	r := &flavormonk.Recipe{
		Name:        truncate(cleanText(first(m["name"])), 1000),
		Description: truncate(cleanText(first(m["description"])), maxDescription),
		Author:      truncate(names(resolve(m["author"], ids)), maxTextFieldBytes),
		Category:    truncate(joinStrings(m["recipeCategory"]), maxTextFieldBytes),
		Cuisine:     truncate(joinStrings(m["recipeCuisine"]), maxTextFieldBytes),
		Tags:        tags(m["keywords"]),
		Diets:       diets(m["suitableForDiet"]),
	}
	if r.Name == "" {
		r.Name = truncate(cleanText(first(m["headline"])), 1000)
	}
	r.SourceURL = sourceURL
	if r.SourceURL == "" {
		r.SourceURL = absURL(first(m["url"]), nil)
	}
	if r.SourceURL == "" {
		r.SourceURL = absURL(pageURL(m["mainEntityOfPage"]), nil)
	}
	r.ImageURL = image(resolve(m["image"], ids), base, 0)
	r.Yield, r.Servings = yield(m["recipeYield"])
	if r.Yield == "" {
		r.Yield, r.Servings = yield(m["yield"])
	}
	r.PrepMinutes = minutes(m["prepTime"])
	r.CookMinutes = minutes(m["cookTime"])
	r.TotalMinutes = minutes(m["totalTime"])
	if r.TotalMinutes == 0 && r.PrepMinutes+r.CookMinutes <= MaxDurationMinutes {
		r.TotalMinutes = r.PrepMinutes + r.CookMinutes
	}

	ings := m["recipeIngredient"]
	if ings == nil {
		ings = m["ingredients"]
	}
	for _, line := range ingredientLines(ings) {
		r.Ingredients = append(r.Ingredients, ingredient.Parse(line))
	}
	var steps []flavormonk.Step
	instructions(m["recipeInstructions"], "", &steps, 0)
	r.Steps = steps

	switch {
	case r.Name == "":
		return r, "recipe has no name"
	case len(r.Ingredients) == 0:
		return r, "recipe has no ingredients"
	case len(r.Steps) == 0:
		return r, "recipe has no instructions"
	}
	r.ID = flavormonk.RecipeID(r.Name, r.SourceURL)
	if err := r.Validate(); err != nil {
		return r, flavormonk.ErrorMessage(err)
	}
	return r, ""
}

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
