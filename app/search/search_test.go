package search

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

func rec(id, name string, minutes int, tags []string, diets []flavormonk.Diet, ings ...string) *flavormonk.Recipe {
	r := &flavormonk.Recipe{ID: id, Name: name, TotalMinutes: minutes, Tags: tags, Diets: diets, Cuisine: "Testish"}
	for _, i := range ings {
		r.Ingredients = append(r.Ingredients, flavormonk.Ingredient{Text: i, Item: i})
	}
	r.Steps = []flavormonk.Step{{Text: "Cook."}}
	return r
}

var veg = []flavormonk.Diet{flavormonk.DietVegetarian}
var vegan = []flavormonk.Diet{flavormonk.DietVegan}

func fixture() *Index {
	ix := New()
	ix.Apply([]*flavormonk.Recipe{
		rec("chicken-curry", "Chicken Curry", 45, []string{"curry", "dinner"}, nil, "chicken thighs", "onion", "garlic", "coconut milk", "salt"),
		rec("roast-chicken", "Roast Chicken", 90, []string{"dinner", "sunday"}, nil, "whole chicken", "lemon", "garlic", "olive oil", "salt", "black pepper"),
		rec("chickpea-curry", "Chickpea Curry", 30, []string{"curry", "quick"}, vegan, "chickpeas", "onion", "tomatoes", "coconut milk"),
		rec("tomato-soup", "Tomato Soup", 25, []string{"soup", "quick"}, veg, "tomatoes", "onion", "butter", "cream"),
		rec("fried-rice", "Egg Fried Rice", 15, []string{"quick"}, veg, "cooked rice", "eggs", "soy sauce", "spring onions"),
		rec("pad-thai", "Pad Thai", 30, []string{"noodles"}, nil, "rice noodles", "shrimp", "eggs", "fish sauce", "peanuts"),
	}, nil, 6)
	return ix
}

func ids(r *Result) []string {
	var out []string
	for _, h := range r.Hits {
		out = append(out, h.ID)
	}
	return out
}

func mustSearch(t *testing.T, ix *Index, q Query) *Result {
	t.Helper()
	r, err := ix.Search(q)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRanking(t *testing.T) {
	ix := fixture()
	r := mustSearch(t, ix, Query{Text: "chicken"})
	got := ids(r)
	if len(got) != 2 || r.Total != 2 {
		t.Fatalf("chicken → %v", got)
	}
	// both have chicken in the name; the curry has "chicken" also as an ingredient term
	r = mustSearch(t, ix, Query{Text: "curry"})
	if !reflect.DeepEqual(ids(r)[:2], []string{"chicken-curry", "chickpea-curry"}) && !reflect.DeepEqual(ids(r)[:2], []string{"chickpea-curry", "chicken-curry"}) {
		t.Fatalf("curry → %v", ids(r))
	}
	// all words must match
	r = mustSearch(t, ix, Query{Text: "chicken curry"})
	if !reflect.DeepEqual(ids(r), []string{"chicken-curry"}) || r.Relaxed {
		t.Fatalf("chicken curry → %v relaxed=%v", ids(r), r.Relaxed)
	}
}

func TestTypoTolerance(t *testing.T) {
	ix := fixture()
	r := mustSearch(t, ix, Query{Text: "chiken"})
	if len(r.Hits) != 2 || r.Corrections["chiken"] != "chicken" {
		t.Fatalf("chiken → %v corrections %v", ids(r), r.Corrections)
	}
	r = mustSearch(t, ix, Query{Text: "tomatos soop"})
	if len(r.Hits) == 0 || r.Hits[0].ID != "tomato-soup" {
		t.Fatalf("tomatos soop → %v", ids(r))
	}
	// short words are not "corrected" into other words
	if r := mustSearch(t, ix, Query{Text: "egz"}); len(r.Hits) != 0 {
		t.Fatalf("egz → %v", ids(r))
	}
}

func TestPrefix(t *testing.T) {
	ix := fixture()
	r := mustSearch(t, ix, Query{Text: "chickp", Prefix: true})
	if !reflect.DeepEqual(ids(r), []string{"chickpea-curry"}) {
		t.Fatalf("chickp* → %v", ids(r))
	}
}

func TestFilters(t *testing.T) {
	ix := fixture()
	cases := []struct {
		name string
		q    Query
		want []string
	}{
		{"include all of", Query{Include: []string{"onion", "coconut milk"}}, []string{"chicken-curry", "chickpea-curry"}},
		{"include phrase", Query{Include: []string{"soy sauce"}}, []string{"fried-rice"}},
		{"include plural", Query{Include: []string{"tomato"}}, []string{"chickpea-curry", "tomato-soup"}},
		{"exclude", Query{Text: "curry", Exclude: []string{"chicken"}}, []string{"chickpea-curry"}},
		{"tag", Query{Tags: []string{"Quick"}}, []string{"chickpea-curry", "fried-rice", "tomato-soup"}},
		{"two tags", Query{Tags: []string{"quick", "curry"}}, []string{"chickpea-curry"}},
		{"cuisine as tag", Query{Tags: []string{"testish"}, MaxMinutes: 20}, []string{"fried-rice"}},
		{"max minutes", Query{MaxMinutes: 25}, []string{"fried-rice", "tomato-soup"}},
		{"vegetarian includes vegan", Query{Diets: veg}, []string{"chickpea-curry", "fried-rice", "tomato-soup"}},
		{"vegan", Query{Diets: vegan}, []string{"chickpea-curry"}},
		{"unknown tag", Query{Tags: []string{"nope"}}, nil},
		{"unknown ingredient", Query{Include: []string{"unobtainium"}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := mustSearch(t, ix, tc.q)
			got := ids(r)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if r.Total != len(tc.want) {
				t.Fatalf("total %d, want %d", r.Total, len(tc.want))
			}
		})
	}
}

// A phrase must match within one ingredient line, not across lines.
func TestIncludePhraseWithinOneLine(t *testing.T) {
	ix := fixture()
	ix.Apply([]*flavormonk.Recipe{rec("trap", "Trap", 10, nil, nil, "soy milk", "fish sauce", "olive", "vegetable oil")}, nil, 8)
	for q, want := range map[string][]string{"soy sauce": {"fried-rice"}, "olive oil": {"roast-chicken"}, "fish sauce": {"pad-thai", "trap"}} {
		r := mustSearch(t, ix, Query{Include: []string{q}})
		if !reflect.DeepEqual(ids(r), want) {
			t.Errorf("include %q → %v, want %v", q, ids(r), want)
		}
	}
}

func TestFacets(t *testing.T) {
	ix := fixture()
	r := mustSearch(t, ix, Query{Text: "curry"})
	want := []Facet{{"curry", 2}, {"dinner", 1}, {"quick", 1}}
	if !reflect.DeepEqual(r.Facets["tag"], want) {
		t.Fatalf("tag facets %v, want %v", r.Facets["tag"], want)
	}
	if !reflect.DeepEqual(r.Facets["diet"], []Facet{{"vegan", 1}, {"vegetarian", 1}}) {
		t.Fatalf("diet facets %v", r.Facets["diet"])
	}
}

func TestCursorPagination(t *testing.T) {
	ix := New()
	var rs []*flavormonk.Recipe
	for i := 0; i < 57; i++ {
		rs = append(rs, rec(fmt.Sprintf("r%02d", i), fmt.Sprintf("Garlic dish %d", i), 10+i, nil, nil, "garlic", fmt.Sprintf("thing%d", i%7)))
	}
	ix.Apply(rs, nil, 1)
	for _, q := range []Query{{Limit: 10}, {Text: "garlic", Limit: 7}, {Text: "garlic dish", Limit: 100}} {
		var all []string
		cur := ""
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("pagination does not end")
			}
			q.Cursor = cur
			r := mustSearch(t, ix, q)
			if r.Total != 57 {
				t.Fatalf("total %d", r.Total)
			}
			all = append(all, ids(r)...)
			if r.NextCursor == "" {
				break
			}
			cur = r.NextCursor
		}
		seen := map[string]bool{}
		for _, id := range all {
			if seen[id] {
				t.Fatalf("%s twice across pages", id)
			}
			seen[id] = true
		}
		if len(all) != 57 {
			t.Fatalf("pages gave %d hits, want 57", len(all))
		}
	}
	// A cursor from another query is refused.
	r := mustSearch(t, ix, Query{Text: "garlic", Limit: 5})
	_, err := ix.Search(Query{Text: "dish", Cursor: r.NextCursor})
	if flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Fatalf("foreign cursor: %v", err)
	}
}

func TestBadQueries(t *testing.T) {
	ix := fixture()
	long := make([]byte, 10000)
	for i := range long {
		long[i] = 'a'
	}
	cases := []struct {
		q     Query
		field string
	}{
		{Query{Limit: -1}, "limit"},
		{Query{Limit: 1000}, "limit"},
		{Query{Cursor: "!!!"}, "cursor"},
		{Query{Cursor: "AAAA"}, "cursor"},
		{Query{Diets: []flavormonk.Diet{"carnivore"}}, "diet"},
		{Query{MaxMinutes: -5}, "max_minutes"},
		{Query{Text: string(long)}, "q"},
		{Query{Text: "\xff\xfe"}, "q"},
	}
	for _, tc := range cases {
		_, err := ix.Search(tc.q)
		var e *flavormonk.Error
		if !errors.As(err, &e) || e.Code != flavormonk.EINVALID || e.Field != tc.field {
			t.Errorf("%+v: err = %v, want invalid %s", tc.q, err, tc.field)
		}
	}
	// Query syntax of other engines is just text here.
	for _, q := range []string{`"chicken`, "chick*", "chicken NEAR curry", "'; DROP TABLE recipes; --", "()[]{}:^~"} {
		if _, err := ix.Search(Query{Text: q}); err != nil {
			t.Errorf("%q: %v", q, err)
		}
	}
}

func TestPantry(t *testing.T) {
	ix := fixture()
	r, err := ix.Pantry(PantryQuery{Have: []string{"tomatoes", "onion", "coconut milk", "chickpeas"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Hits) == 0 || r.Hits[0].ID != "chickpea-curry" || r.Hits[0].Coverage != 1 || len(r.Hits[0].Missing) != 0 {
		t.Fatalf("pantry top = %+v", r.Hits)
	}
	// chicken curry: has onion + coconut milk of chicken thighs, onion, garlic, coconut milk (salt is a staple)
	var cc *PantryHit
	for i := range r.Hits {
		if r.Hits[i].ID == "chicken-curry" {
			cc = &r.Hits[i]
		}
	}
	if cc == nil || cc.Coverage != 0.5 || !reflect.DeepEqual(cc.Missing, []string{"chicken thighs", "garlic"}) {
		t.Fatalf("chicken curry hit = %+v", cc)
	}
	// staples count when asked to
	r2, _ := ix.Pantry(PantryQuery{Have: []string{"chicken", "lemon", "garlic"}, NoStaples: true})
	for _, h := range r2.Hits {
		if h.ID == "roast-chicken" && !reflect.DeepEqual(h.Missing, []string{"olive oil", "salt", "black pepper"}) {
			t.Fatalf("roast chicken missing %v", h.Missing)
		}
	}
	if _, err := ix.Pantry(PantryQuery{}); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Fatalf("empty pantry: %v", err)
	}
	r3, _ := ix.Pantry(PantryQuery{Have: []string{"eggs"}, MaxMissing: 3})
	for _, h := range r3.Hits {
		if len(h.Missing) > 3 {
			t.Fatalf("max_missing ignored: %+v", h)
		}
	}
}

func TestApplyDelete(t *testing.T) {
	ix := fixture()
	ix.Apply(nil, []string{"pad-thai"}, 7)
	if r := mustSearch(t, ix, Query{Text: "pad thai"}); len(r.Hits) != 0 {
		t.Fatalf("deleted recipe still found: %v", ids(r))
	}
	if ix.Revision() != 7 || ix.Len() != 5 {
		t.Fatalf("rev %d len %d", ix.Revision(), ix.Len())
	}
}

func TestTokens(t *testing.T) {
	got := tokens("Crème Brûlée with Tomatoes & BERRIES, 2 eggs")
	want := []string{"creme", "brulee", "tomato", "berry", "2", "egg"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tokens = %v", got)
	}
	for in, want := range map[string]string{"chickpeas": "chickpea", "bananas": "banana", "tortillas": "tortilla", "hummus": "hummus", "couscous": "couscous", "peas": "pea"} {
		if got := tokens(in); len(got) != 1 || got[0] != want {
			t.Errorf("tokens(%q) = %v, want %s", in, got, want)
		}
	}
	if d := editDistance("chiken", "chicken", 2); d != 1 {
		t.Fatalf("distance %d", d)
	}
	if d := editDistance("ab", "ba", 2); d != 1 {
		t.Fatalf("transposition distance %d", d)
	}
}

func FuzzSearch(f *testing.F) {
	ix := fixture()
	for _, s := range []string{"chicken", "chiken curry", `"a" OR b*`, "\xff", "ça", "to"} {
		f.Add(s, "onion", 10, true)
	}
	f.Fuzz(func(t *testing.T, text, include string, limit int, prefix bool) {
		r, err := ix.Search(Query{Text: text, Include: []string{include}, Limit: limit, Prefix: prefix})
		if err != nil {
			if flavormonk.ErrorCode(err) != flavormonk.EINVALID {
				t.Fatalf("non-invalid error %v", err)
			}
			return
		}
		if len(r.Hits) > r.Total || r.Total > ix.Len() {
			t.Fatalf("hits %d total %d", len(r.Hits), r.Total)
		}
	})
}

func TestHybridFusion(t *testing.T) {
	ix := fixture()
	// The vector side ranks the chickpea curry first and knows a recipe
	// matching no query word (tomato soup); filters still apply.
	vec := []flavormonk.VectorHit{{ID: "chickpea-curry", Score: 0.9}, {ID: "tomato-soup", Score: 0.8}, {ID: "unknown", Score: 0.7}}
	r, err := ix.SearchHybrid(Query{Text: "curry"}, vec)
	if err != nil {
		t.Fatal(err)
	}
	if r.Mode != "hybrid" || r.Total != 3 || r.Hits[0].ID != "chickpea-curry" {
		t.Fatalf("hybrid: mode %s total %d hits %v", r.Mode, r.Total, ids(r))
	}
	r, _ = ix.SearchHybrid(Query{Text: "curry", Diets: vegan}, vec)
	if !reflect.DeepEqual(ids(r), []string{"chickpea-curry"}) {
		t.Fatalf("filtered hybrid: %v", ids(r))
	}
	// Pages of a hybrid search cover the fused set once.
	seen := map[string]bool{}
	q := Query{Text: "curry", Limit: 1}
	for i := 0; i < 5; i++ {
		r, err := ix.SearchHybrid(q, vec)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range r.Hits {
			if seen[h.ID] {
				t.Fatalf("%s twice", h.ID)
			}
			seen[h.ID] = true
		}
		if r.NextCursor == "" {
			break
		}
		q.Cursor = r.NextCursor
	}
	if len(seen) != 3 {
		t.Fatalf("paged %v", seen)
	}
	// A lexical cursor is not a hybrid one.
	lex, _ := ix.Search(Query{Text: "curry", Limit: 1})
	if _, err := ix.SearchHybrid(Query{Text: "curry", Limit: 1, Cursor: lex.NextCursor}, vec); err == nil {
		t.Fatal("lexical cursor accepted by hybrid search")
	}
}
