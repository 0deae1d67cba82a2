package ingredient

import (
	"math"
	"strconv"
	"strings"
	"unicode"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Scale multiplies an ingredient's quantities by factor (2 doubles the
// recipe). Text keeps the line as published; Format renders the scaled one.
// A factor that is not a positive finite number leaves ing unchanged.
func Scale(ing flavormonk.Ingredient, factor float64) flavormonk.Ingredient {
	if !(factor > 0) || math.IsInf(factor, 0) {
		return ing
	}
	ing.Quantity = clampQuantity(ing.Quantity * factor)
	ing.QuantityMax = clampQuantity(ing.QuantityMax * factor)
	if ing.QuantityMax < ing.Quantity {
		ing.QuantityMax = 0
	}
	return ing
}

// ScaleRecipe returns a copy of r for servings (at least 1): its
// ingredients scaled by servings / r.Servings and its Servings set; r is
// left as it is. A recipe that does not say how many it serves cannot be
// scaled: EINVALID on "servings".
func ScaleRecipe(r *flavormonk.Recipe, servings int) (*flavormonk.Recipe, error) {
	if servings < 1 {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "servings", "must be at least 1")
	}
	if r.Servings == 0 {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "servings", "this recipe does not say how many it serves, so it cannot be scaled")
	}
	scaled := *r
	f := float64(servings) / float64(r.Servings)
	scaled.Ingredients = make([]flavormonk.Ingredient, len(r.Ingredients))
	for i, ing := range r.Ingredients {
		scaled.Ingredients[i] = Scale(ing, f)
	}
	scaled.Servings = servings
	return &scaled, nil
}

func clampQuantity(q float64) float64 {
	if math.IsNaN(q) || q < 0 {
		return 0
	}
	return math.Min(q, math.MaxFloat32)
}

// fractions are the ones cooks measure with, by eighths and thirds.
var fractions = []struct {
	v float64
	s string
}{
	{1.0 / 8, "⅛"}, {1.0 / 4, "¼"}, {1.0 / 3, "⅓"}, {3.0 / 8, "⅜"}, {1.0 / 2, "½"},
	{5.0 / 8, "⅝"}, {2.0 / 3, "⅔"}, {3.0 / 4, "¾"}, {7.0 / 8, "⅞"},
}

// FormatQuantity renders a quantity the way a cook reads it: "2", "1 ½",
// "⅓". Values that are no cooking fraction are rounded to two decimals
// ("0.2", "1.15"); quantities of 100 and more to whole numbers.
func FormatQuantity(q float64) string {
	if math.IsNaN(q) || math.IsInf(q, 0) || q <= 0 {
		return "0"
	}
	if q >= 100 {
		return strconv.FormatFloat(math.Round(q), 'f', -1, 64)
	}
	whole := math.Floor(q)
	frac := q - whole
	const tol = 0.012
	switch {
	case frac < tol:
		return strconv.FormatFloat(whole, 'f', -1, 64)
	case frac > 1-tol:
		return strconv.FormatFloat(whole+1, 'f', -1, 64)
	}
	for _, f := range fractions {
		if math.Abs(frac-f.v) < tol {
			if whole == 0 {
				return f.s
			}
			return strconv.FormatFloat(whole, 'f', -1, 64) + " " + f.s
		}
	}
	return strconv.FormatFloat(math.Round(q*100)/100, 'f', -1, 64)
}

// countable units take a plural in display: "2 cups", but "2 tbsp".
var plurals = map[string]string{
	"cup": "cups", "clove": "cloves", "can": "cans", "jar": "jars", "piece": "pieces",
	"slice": "slices", "bunch": "bunches", "handful": "handfuls", "sprig": "sprigs",
	"stick": "sticks", "stalk": "stalks", "head": "heads", "pinch": "pinches",
	"dash": "dashes", "drop": "drops", "quart": "quarts", "pint": "pints",
	"gallon": "gallons", "package": "packages", "bag": "bags", "box": "boxes", "sheet": "sheets",
}

// Format renders an ingredient from its parsed parts, so that a scaled
// ingredient reads right: "1 ½ cups flour, sifted". An ingredient that was
// not parsed (no item) renders as its Text. A parenthetical pack size kept in
// Note ("400 g") is not scaled.
func Format(ing flavormonk.Ingredient) string {
	if ing.Item == "" {
		return ing.Text
	}
	var parts []string
	if ing.Quantity > 0 {
		parts = append(parts, quantityText(ing))
	}
	if ing.Unit != "" {
		u := ing.Unit
		if p, ok := plurals[u]; ok && (ing.Quantity > 1 || ing.QuantityMax > 1) {
			u = p
		}
		if ing.Quantity == 0 && unitsWithoutQuantity[ing.Unit] {
			u = "a " + u + " of"
		}
		parts = append(parts, u)
	}
	parts = append(parts, ing.Item)
	s := strings.Join(parts, " ")
	if ing.Note != "" {
		s += ", " + ing.Note
	}
	return s
}

// quantityText is ing's quantity, or its range ("2–3"), as Format and
// Split show it.
func quantityText(ing flavormonk.Ingredient) string {
	q := FormatQuantity(ing.Quantity)
	if ing.QuantityMax > ing.Quantity {
		q += "–" + FormatQuantity(ing.QuantityMax)
	}
	return q
}

// Line is an ingredient as the recipe page lists it: the quantity apart
// from the rest of the line, so the page's script can rescale it in place.
type Line struct {
	Qty, QtyMax float64
	QtyText     string
	Rest        string // unit, item and note, as parsed
	Text        string
}

// Split is ing as a Line. An ingredient without a quantity or an item
// (not parsed) has only its Text.
func Split(ing flavormonk.Ingredient) Line {
	if ing.Quantity <= 0 || ing.Item == "" {
		return Line{Text: ing.Text}
	}
	rest := strings.TrimSpace(ing.Unit + " " + ing.Item)
	if ing.Note != "" {
		rest += ", " + ing.Note
	}
	return Line{Qty: ing.Quantity, QtyMax: ing.QuantityMax, QtyText: quantityText(ing), Rest: rest, Text: ing.Text}
}

// Normalize reduces an ingredient item to a key for pantry matching:
// lowercase letters only, words singular ("cherry tomatoes" → "cherry
// tomato"), and words that describe state, size or preparation rather than
// what the thing is dropped ("2 large boneless chicken breasts, diced" →
// "chicken breast").
//
// Decisions: "ground" is dropped before spices ("ground cinnamon" →
// "cinnamon", which is what a pantry holds) but kept before meats, where
// ground beef is a different purchase from beef ("ground beef" → "ground
// beef"). Words that make a different product are kept ("brown sugar", "sweet
// potato", "red onion"), but fresh and dried are dropped ("dried oregano" →
// "oregano"), as are digits and punctuation.
func Normalize(item string) string {
	item = strings.ToLower(item)
	if i := strings.IndexAny(item, ",("); i >= 0 {
		item = item[:i]
	}
	words := strings.FieldsFunc(item, func(r rune) bool {
		return !(unicode.IsLetter(r) || r == '-' || r == '\'')
	})
	var out []string
	for i, w := range words {
		w = strings.Trim(w, "-'")
		if w == "" || dropWords[w] {
			continue
		}
		if w == "ground" && !(i+1 < len(words) && groundMeats[words[i+1]]) {
			continue
		}
		out = append(out, Singular(w))
	}
	return strings.Join(out, " ")
}

var groundMeats = map[string]bool{
	"beef": true, "pork": true, "turkey": true, "chicken": true, "lamb": true,
	"veal": true, "meat": true, "bison": true, "sausage": true,
}

var dropWords = map[string]bool{
	// size and amount
	"large": true, "small": true, "medium": true, "medium-sized": true, "big": true,
	"extra-large": true, "jumbo": true, "mini": true, "whole": true, "heaping": true,
	"heaped": true, "level": true, "scant": true, "generous": true, "good": true,
	// state and quality
	"fresh": true, "freshly": true, "dried": true, "dry": true, "ripe": true, "organic": true,
	"frozen": true, "thawed": true, "raw": true, "cooked": true, "leftover": true,
	"boneless": true, "skinless": true, "bone-in": true, "skin-on": true, "lean": true,
	"room": true, "temperature": true, "cold": true, "warm": true, "hot": true, "softened": true,
	"melted": true, "unsalted": true, "salted": true, "packed": true, "lightly": true,
	"plain": true, "extra": true, "virgin": true, "extra-virgin": true, "good-quality": true,
	"quality": true, "store-bought": true, "homemade": true, "optional": true,
	// preparation
	"chopped": true, "finely": true, "roughly": true, "coarsely": true, "thinly": true,
	"diced": true, "minced": true, "sliced": true, "grated": true, "shredded": true,
	"crushed": true, "peeled": true, "cubed": true, "halved": true, "quartered": true,
	"trimmed": true, "rinsed": true, "drained": true, "beaten": true, "sifted": true,
	"julienned": true, "zested": true, "juiced": true, "deseeded": true, "seeded": true,
	"pitted": true, "cut": true, "torn": true, "toasted": true, "divided": true,
	// glue
	"of": true, "and": true, "or": true, "a": true, "an": true, "the": true, "for": true,
	"to": true, "taste": true, "into": true, "pieces": true, "about": true, "very": true,
}

var irregular = map[string]string{
	"leaves": "leaf", "loaves": "loaf", "halves": "half", "calves": "calf", "knives": "knife",
	"potatoes": "potato", "tomatoes": "tomato", "mangoes": "mango", "avocados": "avocado",
	"cookies": "cookie", "brownies": "brownie", "veggies": "veggie", "smoothies": "smoothie",
	"pies": "pie", "ties": "tie", "movies": "movie", "calories": "calorie", "prunes": "prune",
	"anchovies": "anchovy", "cherries": "cherry", "geese": "goose", "mice": "mouse",
	"teeth": "tooth", "feet": "foot", "dice": "dice", "rice": "rice", "grits": "grits",
	"oats": "oats", "molasses": "molasses", "hummus": "hummus", "couscous": "couscous",
	"asparagus": "asparagus", "swiss": "swiss", "brussels": "brussels", "chips": "chip",
	"greens": "greens", "lettuces": "lettuce", "cheeses": "cheese", "sauces": "sauce",
	"spices": "spice", "slices": "slice", "pieces": "piece", "juices": "juice",
	"noodles": "noodle", "olives": "olive", "chives": "chives", "cloves": "clove",
	"series": "series", "species": "species", "pasta": "pasta", "quinoa": "quinoa",
	"tortillas": "tortilla", "breadcrumbs": "breadcrumb", "scallops": "scallop",
}

// Singular returns the singular of an English food word: tomatoes → tomato,
// berries → berry, leaves → leaf, peaches → peach. Words it does not
// recognise as plurals come back unchanged.
func Singular(w string) string {
	if s, ok := irregular[w]; ok {
		return s
	}
	n := len(w)
	switch {
	case n < 4 || !strings.HasSuffix(w, "s"):
		return w
	case strings.HasSuffix(w, "ss") || strings.HasSuffix(w, "us") || strings.HasSuffix(w, "is"):
		return w
	case strings.HasSuffix(w, "ies") && n > 4:
		return w[:n-3] + "y"
	case strings.HasSuffix(w, "oes"):
		return w[:n-2]
	case strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "shes"), strings.HasSuffix(w, "sses"),
		strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "zes"):
		return w[:n-2]
	default:
		return w[:n-1]
	}
}
