package embed

import (
	"strings"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

func sample() *flavormonk.Recipe {
	return &flavormonk.Recipe{
		ID:          "chicken-tikka-masala",
		Name:        "Chicken  Tikka Masala",
		Description: "A creamy, spiced tomato curry.",
		Cuisine:     "Indian",
		Category:    "Main course",
		Tags:        []string{"curry", "weeknight"},
		Diets:       []flavormonk.Diet{flavormonk.DietGlutenFree},
		Ingredients: []flavormonk.Ingredient{
			{Text: "500 g chicken thighs", Item: "chicken thighs"},
			{Text: "1 cup yogurt", Item: "yogurt"},
			{Text: "salt to taste"},
			{Text: "2 tbsp Yogurt", Item: "Yogurt"},
		},
		Steps: []flavormonk.Step{{Text: "Marinate."}, {Text: "Grill."}, {Text: "Simmer in sauce."}, {Text: "SECRET FOURTH STEP"}},
	}
}

func TestRecipeText(t *testing.T) {
	s := RecipeText(sample())
	for _, want := range []string{"Chicken Tikka Masala", "Indian", "Main course", "gluten-free", "curry, weeknight",
		"chicken thighs, yogurt, salt to taste", "creamy, spiced tomato curry", "Marinate. Grill. Simmer in sauce."} {
		if !strings.Contains(s, want) {
			t.Errorf("RecipeText lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "FOURTH") {
		t.Errorf("RecipeText includes more than %d steps:\n%s", recipeSteps, s)
	}
	if strings.Count(strings.ToLower(s), "yogurt") != 1 {
		t.Errorf("duplicate ingredient items kept:\n%s", s)
	}
	if !strings.HasPrefix(s, "Chicken Tikka Masala\n") {
		t.Errorf("the name must come first:\n%s", s)
	}

	long := sample()
	long.Description = strings.Repeat("très longue description ", 500)
	if s := RecipeText(long); len(s) > MaxRecipeText || !strings.HasPrefix(s, "Chicken") {
		t.Errorf("long recipe text is %d bytes, want ≤ %d", len(s), MaxRecipeText)
	}
}

// The indexer re-embeds a recipe when RecipeText changes (indexer.Hash), so
// the text must ignore fields that are not embedded and follow those that are.
func TestRecipeTextStability(t *testing.T) {
	r := sample()
	text := RecipeText(r)
	r2 := sample()
	r2.UpdatedAt = time.Now()
	r2.ImageURL = "https://example.com/x.jpg"
	if RecipeText(r2) != text {
		t.Error("RecipeText changes with fields that are not embedded")
	}
	r2.Name = "Chicken Tikka"
	if RecipeText(r2) == text {
		t.Error("RecipeText ignores the name")
	}
}
