// Package flavormonk holds Flavor Monk's domain: recipes, the store and
// search interfaces, and the error type every layer returns. Implementations
// live in one package per dependency (sqlite, postgres, search, web, ...).
package flavormonk

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Recipe is a recipe as Flavor Monk keeps it. Its fields map onto
// schema.org/Recipe (see the jsonld package for the mapping).
type Recipe struct {
	ID           string       `json:"id"`
	Name         string       `json:"name"`
	Description  string       `json:"description,omitempty"`
	Ingredients  []Ingredient `json:"ingredients"`
	Steps        []Step       `json:"steps"`
	PrepMinutes  int          `json:"prep_minutes,omitempty"`
	CookMinutes  int          `json:"cook_minutes,omitempty"`
	TotalMinutes int          `json:"total_minutes,omitempty"`
	Yield        string       `json:"yield,omitempty"`    // as published, e.g. "12 cookies"
	Servings     int          `json:"servings,omitempty"` // parsed from Yield when it counts servings
	Tags         []string     `json:"tags,omitempty"`
	Cuisine      string       `json:"cuisine,omitempty"`
	Category     string       `json:"category,omitempty"`
	Diets        []Diet       `json:"diets,omitempty"`
	ImageURL     string       `json:"image_url,omitempty"`
	SourceURL    string       `json:"source_url,omitempty"`
	Author       string       `json:"author,omitempty"`
	CreatedAt    time.Time    `json:"created_at"`
	UpdatedAt    time.Time    `json:"updated_at"`
}

// Ingredient is one ingredient line: the text as written and, when it could
// be parsed, its quantity, unit and item.
type Ingredient struct {
	Text string `json:"text"`
	// Quantity is 0 when the line has none ("salt to taste").
	Quantity float64 `json:"quantity,omitempty"`
	// QuantityMax is set for ranges ("2-3 cloves"): Quantity..QuantityMax.
	QuantityMax float64 `json:"quantity_max,omitempty"`
	Unit        string  `json:"unit,omitempty"` // canonical unit ("tbsp", "g", "cup")
	Item        string  `json:"item,omitempty"` // what it is ("garlic", "chicken thighs")
	Note        string  `json:"note,omitempty"` // preparation ("minced", "to taste")
}

// Step is one instruction, optionally inside a named section.
type Step struct {
	Section string `json:"section,omitempty"`
	Text    string `json:"text"`
}

// StepGroup is a run of consecutive steps in one section ("" for none).
type StepGroup struct {
	Section string
	Steps   []string
}

// StepGroups are r's steps in order, grouped by section: a section that
// comes back after another starts a new group, as the steps read.
func (r *Recipe) StepGroups() []StepGroup {
	var groups []StepGroup
	for _, st := range r.Steps {
		if len(groups) == 0 || groups[len(groups)-1].Section != st.Section {
			groups = append(groups, StepGroup{Section: st.Section})
		}
		g := &groups[len(groups)-1]
		g.Steps = append(g.Steps, st.Text)
	}
	return groups
}

// Diet is a dietary property of a recipe.
type Diet string

// The diets Flavor Monk knows. ParseDiet accepts these and common aliases.
const (
	DietVegetarian Diet = "vegetarian"
	DietVegan      Diet = "vegan"
	DietGlutenFree Diet = "gluten-free"
	DietDairyFree  Diet = "dairy-free"
	DietHalal      Diet = "halal"
	DietLowCalorie Diet = "low-calorie"
)

// Diets lists every known diet in display order.
var Diets = []Diet{DietVegetarian, DietVegan, DietGlutenFree, DietDairyFree, DietHalal, DietLowCalorie}

var dietAliases = map[string]Diet{
	"vegetarian": DietVegetarian, "vegetariandiet": DietVegetarian, "veggie": DietVegetarian,
	"vegan": DietVegan, "vegandiet": DietVegan, "plant-based": DietVegan,
	"gluten-free": DietGlutenFree, "glutenfree": DietGlutenFree, "glutenfreediet": DietGlutenFree, "gf": DietGlutenFree,
	"dairy-free": DietDairyFree, "dairyfree": DietDairyFree, "lowlactosediet": DietDairyFree, "lactose-free": DietDairyFree,
	"halal": DietHalal, "halaldiet": DietHalal,
	"low-calorie": DietLowCalorie, "lowcalorie": DietLowCalorie, "lowcaloriediet": DietLowCalorie,
}

// ParseDiet maps a diet name, alias or schema.org diet URL
// ("https://schema.org/VeganDiet") to a Diet.
func ParseDiet(s string) (Diet, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if i := strings.LastIndexAny(s, "/#"); i >= 0 {
		s = s[i+1:]
	}
	s = strings.ReplaceAll(s, "_", "-")
	s = strings.ReplaceAll(s, " ", "-")
	d, ok := dietAliases[s]
	return d, ok
}

// HasDiet reports whether the recipe is marked with d. Vegan implies vegetarian.
func (r *Recipe) HasDiet(d Diet) bool {
	for _, x := range r.Diets {
		if x == d || (d == DietVegetarian && x == DietVegan) {
			return true
		}
	}
	return false
}

// Minutes is the recipe's total time, falling back to prep + cook.
func (r *Recipe) Minutes() int {
	if r.TotalMinutes > 0 {
		return r.TotalMinutes
	}
	return r.PrepMinutes + r.CookMinutes
}

// ContentHash identifies the recipe's content, ignoring its timestamps, so a
// store can tell a re-import of the same recipe from a change.
func (r *Recipe) ContentHash() string {
	c := *r
	c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
	b, _ := json.Marshal(&c) // a Recipe always marshals
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Validate checks what every stored recipe must have.
func (r *Recipe) Validate() error {
	switch {
	case strings.TrimSpace(r.Name) == "":
		return Errorf(EINVALID, "recipe has no name")
	case len(r.Name) > 300:
		return Errorf(EINVALID, "recipe name is longer than 300 bytes")
	case len(r.Ingredients) == 0:
		return Errorf(EINVALID, "recipe %q has no ingredients", r.Name)
	case len(r.Steps) == 0:
		return Errorf(EINVALID, "recipe %q has no instructions", r.Name)
	case len(r.Ingredients) > 200 || len(r.Steps) > 200:
		return Errorf(EINVALID, "recipe %q has more than 200 ingredients or steps", r.Name)
	case r.PrepMinutes < 0 || r.CookMinutes < 0 || r.TotalMinutes < 0 ||
		r.PrepMinutes > 60*24*14 || r.CookMinutes > 60*24*14 || r.TotalMinutes > 60*24*14:
		return Errorf(EINVALID, "recipe %q has times outside 0..14 days", r.Name)
	case r.Servings < 0 || r.Servings > 1000:
		return Errorf(EINVALID, "recipe %q has servings outside 0..1000", r.Name)
	case !ValidID(r.ID):
		return Errorf(EINVALID, "recipe %q has an invalid id %q", r.Name, r.ID)
	}
	return nil
}

// ValidID reports whether s is a well-formed recipe id: 1-120 bytes of
// lowercase ASCII letters, digits and inner hyphens.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 120 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Slug turns a name into an id-shaped slug: "Crème Brûlée!" → "creme-brulee".
func Slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(name) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(unicode.ToLower(r))
		default:
			dash = true
		}
		if b.Len() >= 100 {
			break
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		s = "recipe"
	}
	return s
}

// RecipeID derives a recipe's stable id: the slug of its name, plus a short
// hash of its source URL when it has one, so that two sites' "Pancakes" do
// not overwrite each other while re-importing the same page does.
func RecipeID(name, sourceURL string) string {
	s := Slug(name)
	if len(s) > 100 {
		s = strings.Trim(s[:100], "-")
	}
	if sourceURL == "" {
		return s
	}
	sum := sha256.Sum256([]byte(sourceURL))
	return s + "-" + hex.EncodeToString(sum[:3])
}
