// Package ingredient parses, scales and formats recipe ingredient lines
// ("1 ½ cups flour, sifted") and reduces ingredient names to keys for pantry
// matching. Parsing is heuristic: it never fails, and a line it cannot make
// sense of keeps its text with the whole line as the item.
package ingredient

import (
	"math"
	"strconv"
	"strings"
	"unicode"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// MaxLineBytes caps the input Parse looks at, so its work is bounded on any
// input. Real ingredient lines are far shorter.
const MaxLineBytes = 500

// maxQuantity keeps absurd numbers ("99999999999 eggs") out of Quantity.
const maxQuantity = 1e6

// Parse splits an ingredient line into quantity, unit, item and note. It
// never fails: a line without a quantity keeps Quantity 0 and the line (minus
// notes) as its Item.
func Parse(line string) flavormonk.Ingredient {
	line = clean(line)
	ing := flavormonk.Ingredient{Text: line}
	if line == "" {
		return ing
	}

	var notes []string
	body, paren := cutParens(line)
	notes = append(notes, paren...)

	toks := strings.Fields(spaceNumbers(body))
	i := 0
	// Leading bullets and list markers that survive from web pages.
	for i < len(toks) && isBullet(toks[i]) {
		i++
	}

	q, n := parseQuantity(toks[i:])
	if n > 0 {
		ing.Quantity = q
		i += n
		if i < len(toks) && (toks[i] == "-" || eqFold(toks[i], "to") || eqFold(toks[i], "or")) {
			if max, m := parseQuantity(toks[i+1:]); m > 0 {
				if max > ing.Quantity {
					ing.QuantityMax = max
				}
				i += 1 + m
			}
		}
		// "2 x 400 g tins tomatoes": the pack size becomes a note.
		if i+2 < len(toks) && (eqFold(toks[i], "x") || toks[i] == "×") {
			if _, m := parseQuantity(toks[i+1:]); m > 0 {
				j := i + 1 + m
				if u, k := matchUnit(toks[j:], true); u != "" && j+k < len(toks) {
					notes = append(notes, strings.Join(toks[i+1:j+k], " "))
					i = j + k
				}
			}
		}
	} else if i < len(toks) {
		// "a pinch of salt", "an 8-inch tortilla" only count when a unit follows.
		if w := strings.ToLower(toks[i]); w == "a" || w == "an" {
			if u, _ := matchUnit(skipSizes(toks[i+1:]), true); u != "" {
				ing.Quantity = 1
				i++
			}
		}
	}

	// Size words before and after the unit: "2 large eggs", "1 heaping tbsp".
	var sizes []string
	take := func() {
		for i < len(toks) && sizeWords[strings.ToLower(toks[i])] {
			sizes = append(sizes, strings.ToLower(toks[i]))
			i++
		}
	}
	take()
	if u, k := matchUnit(toks[i:], ing.Quantity > 0); u != "" && i+k < len(toks) {
		ing.Unit = u
		i += k
		take()
	}
	if i < len(toks) && eqFold(toks[i], "of") && (ing.Unit != "" || ing.Quantity > 0) {
		i++
	}

	rest := strings.Join(toks[i:], " ")
	item, after, _ := strings.Cut(rest, ",")
	item = strings.ToLower(strings.TrimSpace(item))
	item, trailing := cutTrailingNote(item)
	item = strings.TrimSpace(strings.Trim(item, ".*:;- "))
	ing.Item = item

	if len(sizes) > 0 {
		notes = append([]string{strings.Join(sizes, " ")}, notes...)
	}
	if trailing != "" {
		notes = append(notes, trailing)
	}
	if after = strings.TrimSpace(strings.Trim(after, " ,.")); after != "" {
		notes = append(notes, strings.ToLower(after))
	}
	ing.Note = joinNotes(notes)
	return ing
}

// clean makes the line valid UTF-8, bounded and single-spaced.
func clean(s string) string {
	if len(s) > MaxLineBytes {
		s = s[:MaxLineBytes] // a rune cut in half is dropped just below
	}
	s = strings.ToValidUTF8(s, "")
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == '\u00a0'
	}), " ")
}

// cutParens removes every parenthesised or bracketed part of s and returns
// them separately: "1 can (400 g) tomatoes" → "1 can tomatoes", ["400 g"].
func cutParens(s string) (string, []string) {
	if !strings.ContainsAny(s, "([") {
		return s, nil
	}
	var out, cur strings.Builder
	var parts []string
	depth := 0
	for _, r := range s {
		switch {
		case r == '(' || r == '[':
			if depth == 0 {
				cur.Reset()
			} else {
				cur.WriteRune(r)
			}
			depth++
		case (r == ')' || r == ']') && depth > 0:
			depth--
			if depth == 0 {
				if p := strings.TrimSpace(cur.String()); p != "" {
					parts = append(parts, strings.ToLower(p))
				}
				out.WriteByte(' ')
			} else {
				cur.WriteRune(r)
			}
		case depth > 0:
			cur.WriteRune(r)
		default:
			out.WriteRune(r)
		}
	}
	if depth > 0 { // unbalanced: keep what followed the opening paren
		if p := strings.TrimSpace(cur.String()); p != "" {
			parts = append(parts, strings.ToLower(p))
		}
	}
	return out.String(), parts
}

var vulgar = map[rune]string{
	'½': "1/2", '⅓': "1/3", '⅔': "2/3", '¼': "1/4", '¾': "3/4",
	'⅕': "1/5", '⅖': "2/5", '⅗': "3/5", '⅘': "4/5", '⅙': "1/6", '⅚': "5/6",
	'⅛': "1/8", '⅜': "3/8", '⅝': "5/8", '⅞': "7/8",
}

// spaceNumbers rewrites the line so that numbers are separate tokens:
// unicode fractions become " 1/2", "400g" becomes "400 g", "2-3" and "2–3"
// become "2 - 3".
func spaceNumbers(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	rs := []rune(s)
	for k, r := range rs {
		prevDigit := k > 0 && (isDigit(rs[k-1]) || vulgar[rs[k-1]] != "")
		nextDigit := k+1 < len(rs) && (isDigit(rs[k+1]) || vulgar[rs[k+1]] != "")
		switch {
		case vulgar[r] != "":
			b.WriteByte(' ')
			b.WriteString(vulgar[r])
			b.WriteByte(' ')
		case r == '⁄':
			b.WriteByte('/')
		case r == '–' || r == '—' || r == '‑' || (r == '-' && prevDigit && (nextDigit || k+1 < len(rs) && rs[k+1] == ' ')):
			b.WriteString(" - ")
		case prevDigit && unicode.IsLetter(r):
			b.WriteByte(' ')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func isBullet(t string) bool {
	switch t {
	case "-", "*", "•", "·", "▢", "□", "☐", "–", "—":
		return true
	}
	return false
}

var numberWords = map[string]float64{
	"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
	"seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
	"dozen": 12, "half": 0.5,
}

// parseQuantity reads a quantity at the start of toks: "2", "1.5", "1,5",
// "1/2", "1 1/2", "1 - 1/2" (the American mixed number). It returns the
// value and the number of tokens used (0 when there is no quantity).
func parseQuantity(toks []string) (float64, int) {
	if len(toks) == 0 {
		return 0, 0
	}
	q, ok := parseNumber(toks[0])
	if !ok {
		if v, ok := numberWords[strings.ToLower(toks[0])]; ok {
			return v, 1
		}
		return 0, 0
	}
	n := 1
	whole := !strings.ContainsAny(toks[0], "./,")
	if whole && len(toks) > 1 && strings.Contains(toks[1], "/") {
		if f, ok := parseNumber(toks[1]); ok && f < 1 {
			q += f
			n = 2
		}
	} else if whole && len(toks) > 2 && toks[1] == "-" && strings.Contains(toks[2], "/") {
		if f, ok := parseNumber(toks[2]); ok && f < 1 {
			q += f
			n = 3
		}
	}
	if q > maxQuantity {
		return 0, 0
	}
	return q, n
}

// parseNumber parses "2", "1.5", "1,5", "1,000" and "3/4".
func parseNumber(t string) (float64, bool) {
	if t == "" || len(t) > 12 {
		return 0, false
	}
	if a, b, ok := strings.Cut(t, "/"); ok {
		x, okx := digits(a)
		y, oky := digits(b)
		if !okx || !oky || y == 0 {
			return 0, false
		}
		return x / y, true
	}
	if a, b, ok := strings.Cut(t, ","); ok {
		if _, okb := digits(b); !okb {
			return 0, false
		}
		if len(b) == 3 { // thousands separator
			t = a + b
		} else {
			t = a + "." + b
		}
	}
	if t[0] == '.' || t[len(t)-1] == '.' {
		return 0, false
	}
	for i := 0; i < len(t); i++ {
		if !(t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

func digits(s string) (float64, bool) {
	if s == "" || len(s) > 7 {
		return 0, false
	}
	v := 0.0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + float64(s[i]-'0')
	}
	return v, true
}

func eqFold(a, b string) bool { return strings.EqualFold(a, b) }

var sizeWords = map[string]bool{
	"large": true, "small": true, "medium": true, "medium-sized": true, "big": true,
	"extra-large": true, "jumbo": true, "heaping": true, "heaped": true, "level": true,
	"rounded": true, "scant": true, "generous": true, "good": true, "mini": true,
}

func skipSizes(toks []string) []string {
	for len(toks) > 0 && sizeWords[strings.ToLower(toks[0])] {
		toks = toks[1:]
	}
	return toks
}

// units maps lowercase spellings to canonical units.
var units = map[string]string{
	"tsp": "tsp", "tsps": "tsp", "teaspoon": "tsp", "teaspoons": "tsp", "teaspoonful": "tsp", "teaspoonfuls": "tsp",
	"tbsp": "tbsp", "tbsps": "tbsp", "tbs": "tbsp", "tbl": "tbsp", "tbls": "tbsp", "tblsp": "tbsp",
	"tablespoon": "tbsp", "tablespoons": "tbsp", "tablespoonful": "tbsp", "tablespoonfuls": "tbsp",
	"cup": "cup", "cups": "cup",
	"ml": "ml", "mls": "ml", "milliliter": "ml", "milliliters": "ml", "millilitre": "ml", "millilitres": "ml",
	"cl": "cl", "centiliter": "cl", "centilitre": "cl", "centiliters": "cl", "centilitres": "cl",
	"dl": "dl", "deciliter": "dl", "decilitre": "dl", "deciliters": "dl", "decilitres": "dl",
	"l": "l", "liter": "l", "liters": "l", "litre": "l", "litres": "l", "ltr": "l",
	"g": "g", "gr": "g", "grs": "g", "gm": "g", "gms": "g", "gram": "g", "grams": "g", "gramme": "g", "grammes": "g",
	"kg": "kg", "kgs": "kg", "kilo": "kg", "kilos": "kg", "kilogram": "kg", "kilograms": "kg",
	"mg": "mg", "milligram": "mg", "milligrams": "mg",
	"oz": "oz", "ozs": "oz", "ounce": "oz", "ounces": "oz", "floz": "fl oz",
	"lb": "lb", "lbs": "lb", "pound": "lb", "pounds": "lb",
	"pinch": "pinch", "pinches": "pinch",
	"clove": "clove", "cloves": "clove",
	"can": "can", "cans": "can", "tin": "can", "tins": "can",
	"jar": "jar", "jars": "jar",
	"piece": "piece", "pieces": "piece", "pc": "piece", "pcs": "piece",
	"slice": "slice", "slices": "slice",
	"bunch": "bunch", "bunches": "bunch",
	"handful": "handful", "handfuls": "handful",
	"sprig": "sprig", "sprigs": "sprig",
	"stick": "stick", "sticks": "stick",
	"stalk": "stalk", "stalks": "stalk",
	"head": "head", "heads": "head",
	"dash": "dash", "dashes": "dash",
	"drop": "drop", "drops": "drop",
	"quart": "quart", "quarts": "quart", "qt": "quart", "qts": "quart",
	"pint": "pint", "pints": "pint", "pt": "pint", "pts": "pint",
	"gallon": "gallon", "gallons": "gallon", "gal": "gallon",
	"package": "package", "packages": "package", "pkg": "package", "pkgs": "package",
	"packet": "package", "packets": "package", "pack": "package", "packs": "package",
	"envelope": "package", "envelopes": "package",
	"bag": "bag", "bags": "bag", "box": "box", "boxes": "box",
	"sheet": "sheet", "sheets": "sheet",
}

// unitsWithoutQuantity are unambiguous enough to recognise with no number:
// "pinch of salt", "handful of basil".
var unitsWithoutQuantity = map[string]bool{
	"pinch": true, "dash": true, "handful": true, "bunch": true, "sprig": true,
}

// matchUnit recognises a unit at the start of toks and returns it with the
// number of tokens it spans.
func matchUnit(toks []string, hasQuantity bool) (string, int) {
	if len(toks) == 0 {
		return "", 0
	}
	first := strings.TrimSuffix(toks[0], ".")
	lower := strings.ToLower(first)
	if len(toks) > 1 {
		second := strings.ToLower(strings.TrimSuffix(toks[1], "."))
		if (lower == "fl" || lower == "fluid") && (second == "oz" || second == "ounce" || second == "ounces") {
			return "fl oz", 2
		}
	}
	if !hasQuantity {
		if u := units[lower]; unitsWithoutQuantity[u] {
			return u, 1
		}
		return "", 0
	}
	// The cookbook convention: capital T is a tablespoon, small t a teaspoon.
	switch first {
	case "T", "Tb", "TB":
		return "tbsp", 1
	case "t":
		return "tsp", 1
	case "c", "C":
		return "cup", 1
	}
	if u, ok := units[lower]; ok {
		return u, 1
	}
	return "", 0
}

var trailingNotes = []string{
	"or more to taste", "or to taste", "to taste", "as needed", "if needed", "or as needed",
	"for garnish", "to garnish", "for serving", "to serve", "for frying", "for greasing",
	"for dusting", "for drizzling", "optional",
}

// cutTrailingNote splits "salt and pepper to taste" into the item and "to taste".
func cutTrailingNote(item string) (string, string) {
	for _, n := range trailingNotes {
		if item == n {
			return "", n
		}
		if strings.HasSuffix(item, " "+n) {
			return strings.TrimSpace(strings.TrimSuffix(item, n)), n
		}
	}
	return item, ""
}

func joinNotes(notes []string) string {
	var out []string
	for _, n := range notes {
		n = strings.TrimSpace(n)
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, ", ")
}
