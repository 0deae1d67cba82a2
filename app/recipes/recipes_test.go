package recipes

import (
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

func TestBundled(t *testing.T) {
	rs, err := Bundled()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) < 60 {
		t.Fatalf("%d bundled recipes, want at least 60", len(rs))
	}
	ids := map[string]bool{}
	cuisines := map[string]bool{}
	diets := map[flavormonk.Diet]int{}
	quick, parsed, total := 0, 0, 0
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			t.Errorf("%s: %v", r.ID, err)
		}
		if ids[r.ID] {
			t.Errorf("duplicate id %s", r.ID)
		}
		ids[r.ID] = true
		cuisines[r.Cuisine] = true
		for _, d := range r.Diets {
			diets[d]++
		}
		if m := r.Minutes(); m > 0 && m <= 20 {
			quick++
		}
		for _, ing := range r.Ingredients {
			total++
			if ing.Item != "" {
				parsed++
			}
		}
		if r.Servings == 0 && r.Yield == "" {
			t.Errorf("%s has no yield", r.ID)
		}
	}
	if len(cuisines) < 12 || diets[flavormonk.DietVegan] < 5 || diets[flavormonk.DietGlutenFree] < 10 || quick < 10 {
		t.Fatalf("bundle is not varied enough: %d cuisines, diets %v, %d quick", len(cuisines), diets, quick)
	}
	if parsed*100/total < 95 {
		t.Fatalf("only %d of %d ingredient lines have an item", parsed, total)
	}
}
