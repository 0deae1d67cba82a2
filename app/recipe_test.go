package flavormonk_test

import (
	"fmt"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

func TestSlugAndID(t *testing.T) {
	for in, want := range map[string]string{
		"Crème Brûlée!":             "creme-brulee",
		"  Pad   Thai  ":            "pad-thai",
		"Mom's #1 Chili (Spicy)":    "mom-s-1-chili-spicy",
		"日本":                        "recipe",
		"":                          "recipe",
		"'; DROP TABLE recipes; --": "drop-table-recipes",
	} {
		if got := flavormonk.Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
		if !flavormonk.ValidID(flavormonk.Slug(in)) {
			t.Errorf("Slug(%q) is not a valid id", in)
		}
	}
	a := flavormonk.RecipeID("Pancakes", "https://a.example/p")
	b := flavormonk.RecipeID("Pancakes", "https://b.example/p")
	if a == b || a != flavormonk.RecipeID("Pancakes", "https://a.example/p") || flavormonk.RecipeID("Pancakes", "") != "pancakes" {
		t.Fatalf("ids %s %s", a, b)
	}
	for _, bad := range []string{"", "-x", "x-", "UPPER", "a b", "a/b", string(make([]byte, 121))} {
		if flavormonk.ValidID(bad) {
			t.Errorf("ValidID(%q)", bad)
		}
	}
}

func TestParseDiet(t *testing.T) {
	for in, want := range map[string]flavormonk.Diet{
		"https://schema.org/VeganDiet":     flavormonk.DietVegan,
		"http://schema.org/GlutenFreeDiet": flavormonk.DietGlutenFree,
		"Gluten Free":                      flavormonk.DietGlutenFree,
		"LowLactoseDiet":                   flavormonk.DietDairyFree,
		"vegetarian":                       flavormonk.DietVegetarian,
	} {
		if got, ok := flavormonk.ParseDiet(in); !ok || got != want {
			t.Errorf("ParseDiet(%q) = %q %v", in, got, ok)
		}
	}
	if _, ok := flavormonk.ParseDiet("carnivore"); ok {
		t.Error("carnivore accepted")
	}
	r := &flavormonk.Recipe{Diets: []flavormonk.Diet{flavormonk.DietVegan}}
	if !r.HasDiet(flavormonk.DietVegetarian) || r.HasDiet(flavormonk.DietHalal) {
		t.Error("vegan should imply vegetarian only")
	}
}

func TestValidateAndHash(t *testing.T) {
	r := &flavormonk.Recipe{ID: "toast", Name: "Toast", Ingredients: []flavormonk.Ingredient{{Text: "1 slice bread"}}, Steps: []flavormonk.Step{{Text: "Toast it."}}}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	h := r.ContentHash()
	c := *r
	c.UpdatedAt = c.UpdatedAt.AddDate(1, 0, 0)
	if c.ContentHash() != h {
		t.Fatal("timestamps changed the content hash")
	}
	c.Name = "Buttered Toast"
	if c.ContentHash() == h {
		t.Fatal("a name change kept the content hash")
	}
	for name, mut := range map[string]func(*flavormonk.Recipe){
		"no name":        func(r *flavormonk.Recipe) { r.Name = " " },
		"no ingredients": func(r *flavormonk.Recipe) { r.Ingredients = nil },
		"no steps":       func(r *flavormonk.Recipe) { r.Steps = nil },
		"negative time":  func(r *flavormonk.Recipe) { r.CookMinutes = -1 },
		"bad id":         func(r *flavormonk.Recipe) { r.ID = "Bad Id" },
		"servings":       func(r *flavormonk.Recipe) { r.Servings = 5000 },
	} {
		c := *r
		mut(&c)
		if err := c.Validate(); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Steps group by section as they read: a section that comes back starts a
// new group.
func TestStepGroups(t *testing.T) {
	r := &flavormonk.Recipe{Steps: []flavormonk.Step{{Text: "Heat the oven."}, {Section: "Dough", Text: "Mix."},
		{Section: "Dough", Text: "Knead."}, {Section: "Filling", Text: "Fry."}, {Section: "Dough", Text: "Roll."}}}
	got := fmt.Sprint(r.StepGroups())
	if want := "[{ [Heat the oven.]} {Dough [Mix. Knead.]} {Filling [Fry.]} {Dough [Roll.]}]"; got != want {
		t.Errorf("StepGroups = %s, want %s", got, want)
	}
	if g := (&flavormonk.Recipe{}).StepGroups(); g != nil {
		t.Errorf("no steps: %v", g)
	}
}
