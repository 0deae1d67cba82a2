package embed

import (
	"strings"
	"unicode/utf8"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// MaxRecipeText bounds RecipeText, in bytes: about 500 tokens, well inside
// every embedding model's context and enough for what identifies a recipe.
const MaxRecipeText = 2000

// recipeSteps is how many steps RecipeText includes.
const recipeSteps = 3

// RecipeText is the text embedded for a recipe: its name, cuisine, category,
// diets, tags, ingredient items, description and first steps, most telling
// first, cut at a word boundary to at most MaxRecipeText bytes.
func RecipeText(r *flavormonk.Recipe) string {
	var b strings.Builder
	line := func(label, s string) {
		s = strings.Join(strings.Fields(s), " ")
		if s == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		if label != "" {
			b.WriteString(label)
			b.WriteString(": ")
		}
		b.WriteString(s)
	}
	line("", r.Name)
	line("Cuisine", r.Cuisine)
	line("Category", r.Category)
	diets := make([]string, len(r.Diets))
	for i, d := range r.Diets {
		diets[i] = string(d)
	}
	line("Diet", strings.Join(diets, ", "))
	line("Tags", strings.Join(r.Tags, ", "))
	items := make([]string, 0, len(r.Ingredients))
	seen := map[string]bool{}
	for _, in := range r.Ingredients {
		it := strings.TrimSpace(in.Item)
		if it == "" {
			it = strings.TrimSpace(in.Text)
		}
		k := strings.ToLower(it)
		if it == "" || seen[k] {
			continue
		}
		seen[k] = true
		items = append(items, it)
	}
	line("Ingredients", strings.Join(items, ", "))
	line("", r.Description)
	steps := make([]string, 0, recipeSteps)
	for i := 0; i < len(r.Steps) && i < recipeSteps; i++ {
		steps = append(steps, strings.TrimSpace(r.Steps[i].Text))
	}
	line("Steps", strings.Join(steps, " "))
	return truncate(b.String(), MaxRecipeText)
}

// truncate cuts s to at most n bytes, at a space when there is one nearby.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	if i := strings.LastIndexAny(s, " \n"); i > n*3/4 {
		s = s[:i]
	}
	return s
}
