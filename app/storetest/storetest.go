// Package storetest is the conformance suite every flavormonk.Store passes.
// Each implementation's tests call Run with a function that opens a fresh,
// empty store reading the time from the clock it is given:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, clk flavormonk.Clock) flavormonk.Store { return openEmpty(t, clk) })
//	}
//
// Each test's clock starts at Start and moves only when the test moves it,
// so the time-dependent tests run at fixed instants, the boundaries of
// clocktest.Boundaries among them, whatever the date.
//
// The files are long on purpose: each is a list of independent cases that
// both stores must pass, read one case at a time; splitting them by length
// would only scatter one contract over more files.
//
// Semantics the suite pins down, beyond the Store documentation:
//   - Timestamps are kept to the microsecond, in UTC. A new recipe keeps a
//     CreatedAt it arrives with (imports carry the publication date), else
//     gets the time of the upsert; an update keeps the stored CreatedAt.
//     UpdatedAt is always set by the store.
//   - UpsertRecipes does not modify the recipes it is given.
//   - Every created, updated or deleted recipe gets its own revision.
//   - Recipes with limit <= 0 is an EINVALID error.
//   - Text containing NUL bytes, and quantities that are not finite numbers,
//     are EINVALID (Postgres cannot store the former, JSON not the latter).
package storetest

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/clocktest"
)

// Run runs the suite. open must return a new, empty store on clk for each
// call; Run closes it when the subtest ends (so Close must tolerate a second call if
// open also registers one).
func Run(t *testing.T, open func(t *testing.T, clk flavormonk.Clock) flavormonk.Store) {
	o := func(t *testing.T, clk flavormonk.Clock) flavormonk.Store {
		t.Helper()
		s := open(t, clk)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, s flavormonk.Store, clk *clocktest.Clock)
	}{
		{"UpsertCreate", testUpsertCreate},
		{"UpsertUpdate", testUpsertUpdate},
		{"UpsertUnchanged", testUpsertUnchanged},
		{"UpsertSameIDTwiceInBatch", testUpsertSameIDTwice},
		{"UpsertEmptyBatch", testUpsertEmpty},
		{"UpsertAllOrNothing", testUpsertAllOrNothing},
		{"UpsertInvalid", testUpsertInvalid},
		{"RecipeNotFound", testRecipeNotFound},
		{"RoundTrip", testRoundTrip},
		{"CreatedAtDefaults", testCreatedAtDefaults},
		{"Recipes", testRecipes},
		{"CountRecipes", testCountRecipes},
		{"Revision", testRevision},
		{"Changes", testChanges},
		{"ChangesDeleteThenRecreate", testChangesDeleteRecreate},
		{"DeleteRecipe", testDeleteRecipe},
		{"Visitors", testVisitors},
		{"VisitorNotFound", testVisitorNotFound},
		{"DeleteVisitorsBefore", testDeleteVisitorsBefore},
		{"VisitorBoundaries", testVisitorBoundaries},
		{"ConcurrentUpserts", testConcurrentUpserts},
		{"ChangesFollowConcurrentWriters", testChangesFollowWriters},
		{"ContextCanceled", testContextCanceled},
		{"Ping", testPing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktest.New(Start)
			tc.fn(t, o(t, clk.Now), clk)
		})
	}
}

// NewRecipe returns a valid recipe with every field set, for tests and
// benchmarks of stores.
func NewRecipe(id string) *flavormonk.Recipe {
	return &flavormonk.Recipe{
		ID:          id,
		Name:        "Recipe " + id,
		Description: "A test recipe called " + id + ".",
		Ingredients: []flavormonk.Ingredient{
			{Text: "2-3 cloves garlic, minced", Quantity: 2, QuantityMax: 3, Unit: "clove", Item: "garlic", Note: "minced"},
			{Text: "1.5 tbsp olive oil", Quantity: 1.5, Unit: "tbsp", Item: "olive oil"},
			{Text: "salt to taste", Item: "salt", Note: "to taste"},
		},
		Steps: []flavormonk.Step{
			{Section: "Prep", Text: "Mince the garlic."},
			{Text: "Warm the oil and fry the garlic until golden."},
		},
		PrepMinutes:  10,
		CookMinutes:  15,
		TotalMinutes: 25,
		Yield:        "4 servings",
		Servings:     4,
		Tags:         []string{"quick", "weeknight"},
		Cuisine:      "Italian",
		Category:     "Main course",
		Diets:        []flavormonk.Diet{flavormonk.DietVegan, flavormonk.DietGlutenFree},
		ImageURL:     "https://example.com/img/" + id + ".jpg",
		SourceURL:    "https://example.com/recipes/" + id,
		Author:       "Test Cook",
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Start is where each test's clock stands at first. The suite reads the
// time only from the clock it gives the store, so no verdict depends on
// the date it runs.
var Start = time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)

func upsert(t *testing.T, s flavormonk.Store, rs ...*flavormonk.Recipe) []flavormonk.UpsertResult {
	t.Helper()
	res, err := s.UpsertRecipes(ctxT(t), rs)
	if err != nil {
		t.Fatalf("UpsertRecipes: %v", err)
	}
	if len(res) != len(rs) {
		t.Fatalf("UpsertRecipes returned %d results for %d recipes", len(res), len(rs))
	}
	for i, r := range res {
		if r.ID != rs[i].ID {
			t.Fatalf("result %d is for %q, want %q", i, r.ID, rs[i].ID)
		}
	}
	return res
}

func actions(res []flavormonk.UpsertResult) []string {
	a := make([]string, len(res))
	for i, r := range res {
		a[i] = r.Action
	}
	return a
}

func get(t *testing.T, s flavormonk.Store, id string) *flavormonk.Recipe {
	t.Helper()
	r, err := s.Recipe(ctxT(t), id)
	if err != nil {
		t.Fatalf("Recipe(%q): %v", id, err)
	}
	if r == nil {
		t.Fatalf("Recipe(%q) returned nil, nil", id)
	}
	return r
}

func revision(t *testing.T, s flavormonk.Store) int64 {
	t.Helper()
	rev, err := s.Revision(ctxT(t))
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	return rev
}

func count(t *testing.T, s flavormonk.Store) int {
	t.Helper()
	n, err := s.CountRecipes(ctxT(t))
	if err != nil {
		t.Fatalf("CountRecipes: %v", err)
	}
	return n
}

func changes(t *testing.T, s flavormonk.Store, since int64) flavormonk.ChangeSet {
	t.Helper()
	cs, err := s.Changes(ctxT(t), since)
	if err != nil {
		t.Fatalf("Changes(%d): %v", since, err)
	}
	return cs
}

// wantCode fails unless err carries an *flavormonk.Error with code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got no error, want %s", what, code)
	}
	var e *flavormonk.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: got %v (%T), want an *Error with code %s", what, err, err, code)
	}
	if e.Code != code || flavormonk.ErrorCode(err) != code {
		t.Fatalf("%s: got code %q (%v), want %q", what, e.Code, err, code)
	}
}

func wantNotFound(t *testing.T, s flavormonk.Store, id string) {
	t.Helper()
	r, err := s.Recipe(ctxT(t), id)
	if r != nil {
		t.Fatalf("Recipe(%q) = %+v, want none", id, r)
	}
	wantCode(t, fmt.Sprintf("Recipe(%q)", id), err, flavormonk.ENOTFOUND)
}

// sameContent compares everything but the timestamps.
func sameContent(t *testing.T, got, want *flavormonk.Recipe) {
	t.Helper()
	g, w := *got, *want
	g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("recipe content differs\n got: %+v\nwant: %+v", g, w)
	}
	if got.ContentHash() != want.ContentHash() {
		t.Fatalf("content hash %s, want %s", got.ContentHash(), want.ContentHash())
	}
}

func within(t *testing.T, what string, got, from, to time.Time) {
	t.Helper()
	if got.Before(from) || got.After(to) {
		t.Fatalf("%s = %v, want within [%v, %v]", what, got, from, to)
	}
	if got.Location() != time.UTC {
		t.Fatalf("%s = %v is not in UTC", what, got)
	}
}

func testUpsertCreate(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	a, b := NewRecipe("pancakes"), NewRecipe("waffles")
	before := clk.Now()
	res := upsert(t, s, a, b)
	after := clk.Now()
	if got, want := actions(res), []string{flavormonk.ActionCreated, flavormonk.ActionCreated}; !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
	for _, want := range []*flavormonk.Recipe{a, b} {
		got := get(t, s, want.ID)
		sameContent(t, got, want)
		within(t, "CreatedAt", got.CreatedAt, before, after)
		if !got.UpdatedAt.Equal(got.CreatedAt) {
			t.Fatalf("new recipe: UpdatedAt %v != CreatedAt %v", got.UpdatedAt, got.CreatedAt)
		}
	}
	if !a.CreatedAt.IsZero() || !a.UpdatedAt.IsZero() {
		t.Fatalf("UpsertRecipes modified its input: %v %v", a.CreatedAt, a.UpdatedAt)
	}
	if n := count(t, s); n != 2 {
		t.Fatalf("CountRecipes = %d, want 2", n)
	}
}

func testUpsertUpdate(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	r := NewRecipe("soup")
	upsert(t, s, r)
	first := get(t, s, "soup")
	rev1 := revision(t, s)
	clk.Add(2 * time.Millisecond)

	r2 := NewRecipe("soup")
	r2.Name = "Better soup"
	r2.Steps = append(r2.Steps, flavormonk.Step{Text: "Serve hot."})
	r2.CreatedAt = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC) // ignored on update
	before := clk.Now()
	res := upsert(t, s, r2)
	after := clk.Now()
	if res[0].Action != flavormonk.ActionUpdated {
		t.Fatalf("action %q, want updated", res[0].Action)
	}
	got := get(t, s, "soup")
	sameContent(t, got, r2)
	if got.Name != "Better soup" || len(got.Steps) != 3 {
		t.Fatalf("update not stored: %+v", got)
	}
	if !got.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("update changed CreatedAt from %v to %v", first.CreatedAt, got.CreatedAt)
	}
	within(t, "UpdatedAt", got.UpdatedAt, before, after)
	if !got.UpdatedAt.After(first.UpdatedAt) {
		t.Fatalf("UpdatedAt %v not after %v", got.UpdatedAt, first.UpdatedAt)
	}
	if rev2 := revision(t, s); rev2 <= rev1 {
		t.Fatalf("revision after update %d, want > %d", rev2, rev1)
	}
	if n := count(t, s); n != 1 {
		t.Fatalf("CountRecipes = %d, want 1", n)
	}
}

func testUpsertUnchanged(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	upsert(t, s, NewRecipe("stew"), NewRecipe("salad"))
	first := get(t, s, "stew")
	rev := revision(t, s)
	clk.Add(2 * time.Millisecond)

	// Same content, different timestamps: still unchanged.
	again := NewRecipe("stew")
	again.CreatedAt = time.Date(2010, 5, 5, 0, 0, 0, 0, time.UTC)
	again.UpdatedAt = clk.Now()
	changed := NewRecipe("salad")
	changed.Description = "Now with croutons."
	res := upsert(t, s, again, changed)
	if got, want := actions(res), []string{flavormonk.ActionUnchanged, flavormonk.ActionUpdated}; !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
	got := get(t, s, "stew")
	if !got.UpdatedAt.Equal(first.UpdatedAt) || !got.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("unchanged recipe's timestamps moved: %v/%v, were %v/%v",
			got.CreatedAt, got.UpdatedAt, first.CreatedAt, first.UpdatedAt)
	}
	// Only the salad moved on: the stew keeps its revision, so Changes after
	// the old revision lists the salad alone.
	cs := changes(t, s, rev)
	if len(cs.Upserted) != 1 || cs.Upserted[0].ID != "salad" || len(cs.Deleted) != 0 {
		t.Fatalf("Changes(%d) = %s, want just salad", rev, describe(cs))
	}

	rev2 := revision(t, s)
	res = upsert(t, s, NewRecipe("stew"))
	if res[0].Action != flavormonk.ActionUnchanged {
		t.Fatalf("action %q, want unchanged", res[0].Action)
	}
	if rev3 := revision(t, s); rev3 != rev2 {
		t.Fatalf("unchanged upsert moved the revision from %d to %d", rev2, rev3)
	}
}

func testUpsertSameIDTwice(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	a := NewRecipe("twice")
	b := NewRecipe("twice")
	b.Name = "Twice, second version"
	res := upsert(t, s, a, b, NewRecipe("twice-other"))
	if got, want := actions(res), []string{flavormonk.ActionCreated, flavormonk.ActionUpdated, flavormonk.ActionCreated}; !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
	sameContent(t, get(t, s, "twice"), b)
	if n := count(t, s); n != 2 {
		t.Fatalf("CountRecipes = %d, want 2", n)
	}
}

func testUpsertEmpty(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	res, err := s.UpsertRecipes(ctxT(t), nil)
	if err != nil {
		t.Fatalf("UpsertRecipes(nil): %v", err)
	}
	if len(res) != 0 {
		t.Fatalf("UpsertRecipes(nil) = %v, want no results", res)
	}
	if rev := revision(t, s); rev != 0 {
		t.Fatalf("Revision = %d after an empty batch, want 0", rev)
	}
}

func testUpsertAllOrNothing(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	keep := NewRecipe("keep")
	upsert(t, s, keep)
	rev := revision(t, s)

	changedKeep := NewRecipe("keep")
	changedKeep.Name = "Changed"
	bad := NewRecipe("bad")
	bad.Ingredients = nil
	res, err := s.UpsertRecipes(ctxT(t), []*flavormonk.Recipe{NewRecipe("new-one"), changedKeep, bad, NewRecipe("new-two")})
	wantCode(t, "UpsertRecipes with an invalid recipe", err, flavormonk.EINVALID)
	if !strings.Contains(err.Error(), "ingredients") {
		t.Fatalf("error %q does not say what is wrong", err)
	}
	if res != nil {
		t.Fatalf("failed UpsertRecipes returned results %v", res)
	}
	wantNotFound(t, s, "new-one")
	wantNotFound(t, s, "new-two")
	wantNotFound(t, s, "bad")
	sameContent(t, get(t, s, "keep"), keep)
	if n := count(t, s); n != 1 {
		t.Fatalf("CountRecipes = %d, want 1", n)
	}
	if r := revision(t, s); r != rev {
		t.Fatalf("revision moved from %d to %d on a failed batch", rev, r)
	}
	if cs := changes(t, s, rev); len(cs.Upserted)+len(cs.Deleted) != 0 {
		t.Fatalf("Changes after a failed batch = %s, want none", describe(cs))
	}
}

func testUpsertInvalid(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	cases := map[string]func(r *flavormonk.Recipe){
		"no name":       func(r *flavormonk.Recipe) { r.Name = "  " },
		"bad id":        func(r *flavormonk.Recipe) { r.ID = "Not An ID" },
		"empty id":      func(r *flavormonk.Recipe) { r.ID = "" },
		"no steps":      func(r *flavormonk.Recipe) { r.Steps = nil },
		"negative time": func(r *flavormonk.Recipe) { r.CookMinutes = -1 },
		"NaN quantity":  func(r *flavormonk.Recipe) { r.Ingredients[0].Quantity = math.NaN() },
		"Inf quantity":  func(r *flavormonk.Recipe) { r.Ingredients[1].QuantityMax = math.Inf(1) },
		"NUL in text":   func(r *flavormonk.Recipe) { r.Steps[0].Text = "a\x00b" },
		"NUL in name":   func(r *flavormonk.Recipe) { r.Name = "a\x00b" },
	}
	for name, mutate := range cases {
		r := NewRecipe("invalid")
		mutate(r)
		_, err := s.UpsertRecipes(ctxT(t), []*flavormonk.Recipe{r})
		wantCode(t, name, err, flavormonk.EINVALID)
	}
	_, err := s.UpsertRecipes(ctxT(t), []*flavormonk.Recipe{NewRecipe("ok"), nil})
	wantCode(t, "nil recipe", err, flavormonk.EINVALID)
	if n := count(t, s); n != 0 {
		t.Fatalf("CountRecipes = %d after invalid upserts, want 0", n)
	}
	if rev := revision(t, s); rev != 0 {
		t.Fatalf("Revision = %d after invalid upserts, want 0", rev)
	}
}

func testRecipeNotFound(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	wantNotFound(t, s, "nothing-here")
	wantNotFound(t, s, "")
	wantNotFound(t, s, "Not a valid id; DROP TABLE recipes")
	upsert(t, s, NewRecipe("something"))
	wantNotFound(t, s, "somethin")
	wantNotFound(t, s, "something-else")
}

func testRoundTrip(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	created := time.Date(2019, 3, 14, 15, 9, 26, 535897000, time.FixedZone("CET", 3600))
	r := &flavormonk.Recipe{
		ID:          "creme-brulee-3f2a1b",
		Name:        "Crème brûlée « maison » 🍮",
		Description: "Süß, knusprig — 焦がしカスタード. עברית. Combining: e\u0301. Quotes: \"'`\\ <b>&amp;</b>\nNew line\ttab.",
		Ingredients: []flavormonk.Ingredient{
			{Text: "500 ml crème fraîche", Quantity: 500, Unit: "ml", Item: "crème fraîche"},
			{Text: "⅓ cup sugar", Quantity: 1.0 / 3, Unit: "cup", Item: "sugar"},
			{Text: "2–3 vanilla pods", Quantity: 2, QuantityMax: 3, Item: "vanilla pods", Note: "split"},
			{Text: "0.1 g saffron", Quantity: 0.1, Unit: "g", Item: "saffron"},
			{Text: "a pinch of salt"},
		},
		Steps: []flavormonk.Step{
			{Section: "Custard", Text: "Heat the cream with the vanilla."},
			{Section: "Custard", Text: "Whisk yolks and sugar; temper with the cream."},
			{Section: "Finish", Text: "Bake at 150 °C in a bain-marie for 40 minutes."},
			{Text: "Caramelise the sugar with a torch 🔥."},
		},
		PrepMinutes:  20,
		CookMinutes:  40,
		TotalMinutes: 300,
		Yield:        "6 ramekins",
		Servings:     6,
		Tags:         []string{"dessert", "french", "make-ahead", "édition spéciale"},
		Cuisine:      "French",
		Category:     "Dessert",
		Diets:        []flavormonk.Diet{flavormonk.DietVegetarian, flavormonk.DietGlutenFree},
		ImageURL:     "https://example.com/images/cr%C3%A8me.jpg?w=800&h=600",
		SourceURL:    "https://example.com/recettes/crème-brûlée",
		Author:       "Zoë Ørsted-Ñúñez",
		CreatedAt:    created,
	}
	orig := *r
	before := clk.Now()
	upsert(t, s, r)
	after := clk.Now()
	if !reflect.DeepEqual(*r, orig) {
		t.Fatal("UpsertRecipes modified its input")
	}

	check := func(what string, got *flavormonk.Recipe) {
		t.Helper()
		want := orig
		want.CreatedAt = created.UTC().Truncate(time.Microsecond)
		want.UpdatedAt = got.UpdatedAt
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("%s: round trip differs\n got: %#v\nwant: %#v", what, *got, want)
		}
		if got.CreatedAt.Location() != time.UTC {
			t.Fatalf("%s: CreatedAt %v not in UTC", what, got.CreatedAt)
		}
		within(t, what+" UpdatedAt", got.UpdatedAt, before, after)
	}
	check("Recipe", get(t, s, r.ID))

	page, err := s.Recipes(ctxT(t), "", 10)
	if err != nil {
		t.Fatalf("Recipes: %v", err)
	}
	if len(page) != 1 {
		t.Fatalf("Recipes returned %d, want 1", len(page))
	}
	check("Recipes", page[0])

	cs := changes(t, s, 0)
	if len(cs.Upserted) != 1 {
		t.Fatalf("Changes(0) = %s, want the one recipe", describe(cs))
	}
	check("Changes", cs.Upserted[0])

	// Empty optional fields stay empty.
	minimal := &flavormonk.Recipe{
		ID: "toast", Name: "Toast",
		Ingredients: []flavormonk.Ingredient{{Text: "bread"}},
		Steps:       []flavormonk.Step{{Text: "Toast it."}},
	}
	upsert(t, s, minimal)
	got := get(t, s, "toast")
	sameContent(t, got, minimal)
	if got.Tags != nil || got.Diets != nil || got.Description != "" || got.Servings != 0 {
		t.Fatalf("minimal recipe grew fields: %+v", got)
	}
}

func testCreatedAtDefaults(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	r := NewRecipe("dated")
	r.UpdatedAt = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC) // the store sets UpdatedAt
	before := clk.Now()
	upsert(t, s, r)
	after := clk.Now()
	got := get(t, s, "dated")
	within(t, "CreatedAt", got.CreatedAt, before, after)
	within(t, "UpdatedAt", got.UpdatedAt, before, after)
}

func testRecipes(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	// Ids whose byte order differs from most collations' order.
	ids := []string{"a-c", "ab", "a1", "b", "a", "a-b-c", "z9", "z-1", "0-start", "9", "m", "mm", "m-m", "aa"}
	for i := range 12 {
		ids = append(ids, fmt.Sprintf("recipe-%02d", i))
	}
	shuffled := slices.Clone(ids)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	var rs []*flavormonk.Recipe
	for _, id := range shuffled {
		rs = append(rs, NewRecipe(id))
	}
	upsert(t, s, rs...)
	want := slices.Clone(ids)
	slices.Sort(want)

	for _, limit := range []int{1, 3, 7, len(ids), 1000} {
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > len(ids)+1 {
				t.Fatalf("limit %d: pagination does not end", limit)
			}
			page, err := s.Recipes(ctxT(t), after, limit)
			if err != nil {
				t.Fatalf("Recipes(%q, %d): %v", after, limit, err)
			}
			if len(page) > limit {
				t.Fatalf("Recipes(%q, %d) returned %d", after, limit, len(page))
			}
			for _, r := range page {
				got = append(got, r.ID)
				sameContent(t, r, NewRecipe(r.ID))
			}
			if len(page) < limit {
				break
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: ids %v, want %v", limit, got, want)
		}
	}

	page, err := s.Recipes(ctxT(t), "m", 2)
	if err != nil {
		t.Fatalf("Recipes: %v", err)
	}
	i := slices.Index(want, "m")
	if got := []string{page[0].ID, page[1].ID}; !slices.Equal(got, want[i+1:i+3]) {
		t.Fatalf("Recipes after %q = %v, want %v", "m", got, want[i+1:i+3])
	}
	// after need not be a stored id.
	page, err = s.Recipes(ctxT(t), "recipe-05x", 100)
	if err != nil {
		t.Fatalf("Recipes: %v", err)
	}
	if len(page) == 0 || page[0].ID != "recipe-06" {
		t.Fatalf("Recipes after a missing id starts at %v, want recipe-06", page)
	}
	page, err = s.Recipes(ctxT(t), "zzz", 10)
	if err != nil || len(page) != 0 {
		t.Fatalf("Recipes past the end = %v, %v; want none", page, err)
	}
	_, err = s.Recipes(ctxT(t), "", 0)
	wantCode(t, "Recipes with limit 0", err, flavormonk.EINVALID)
	_, err = s.Recipes(ctxT(t), "", -1)
	wantCode(t, "Recipes with limit -1", err, flavormonk.EINVALID)
}

func testCountRecipes(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	if n := count(t, s); n != 0 {
		t.Fatalf("CountRecipes on an empty store = %d", n)
	}
	var rs []*flavormonk.Recipe
	for i := range 37 {
		rs = append(rs, NewRecipe(fmt.Sprintf("r%d", i)))
	}
	upsert(t, s, rs...)
	if n := count(t, s); n != 37 {
		t.Fatalf("CountRecipes = %d, want 37", n)
	}
	upsert(t, s, rs[:5]...) // unchanged
	if n := count(t, s); n != 37 {
		t.Fatalf("CountRecipes after re-upsert = %d, want 37", n)
	}
	if err := s.DeleteRecipe(ctxT(t), "r3"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s); n != 36 {
		t.Fatalf("CountRecipes after delete = %d, want 36", n)
	}
}

func testRevision(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	if rev := revision(t, s); rev != 0 {
		t.Fatalf("Revision of an empty store = %d, want 0", rev)
	}
	upsert(t, s, NewRecipe("a"))
	r1 := revision(t, s)
	if r1 <= 0 {
		t.Fatalf("Revision after a create = %d, want > 0", r1)
	}
	upsert(t, s, NewRecipe("b"), NewRecipe("c"))
	r2 := revision(t, s)
	if r2 < r1+2 {
		t.Fatalf("Revision after two creates = %d, want ≥ %d (one per recipe)", r2, r1+2)
	}
	upsert(t, s, NewRecipe("b")) // unchanged
	if r := revision(t, s); r != r2 {
		t.Fatalf("Revision after an unchanged upsert = %d, want %d", r, r2)
	}
	if err := s.DeleteRecipe(ctxT(t), "a"); err != nil {
		t.Fatal(err)
	}
	r3 := revision(t, s)
	if r3 <= r2 {
		t.Fatalf("Revision after a delete = %d, want > %d", r3, r2)
	}
	if err := s.DeleteRecipe(ctxT(t), "a"); flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}
	if r := revision(t, s); r != r3 {
		t.Fatalf("Revision after a failed delete = %d, want %d", r, r3)
	}
}

func describe(cs flavormonk.ChangeSet) string {
	var ids []string
	for _, r := range cs.Upserted {
		ids = append(ids, r.ID)
	}
	return fmt.Sprintf("{rev %d upserted %v deleted %v}", cs.Revision, ids, cs.Deleted)
}

func upsertedIDs(cs flavormonk.ChangeSet) []string {
	var ids []string
	for _, r := range cs.Upserted {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return ids
}

func testChanges(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	cs := changes(t, s, 0)
	if cs.Revision != 0 || len(cs.Upserted) != 0 || len(cs.Deleted) != 0 {
		t.Fatalf("Changes(0) on an empty store = %s", describe(cs))
	}

	upsert(t, s, NewRecipe("old"), NewRecipe("gone"), NewRecipe("edited"), NewRecipe("twice"))
	base := revision(t, s)
	cs = changes(t, s, 0)
	if got := upsertedIDs(cs); !slices.Equal(got, []string{"edited", "gone", "old", "twice"}) || cs.Revision != base {
		t.Fatalf("Changes(0) = %s, want all four at revision %d", describe(cs), base)
	}

	edited := NewRecipe("edited")
	edited.Name = "Edited"
	upsert(t, s, edited)
	t1 := NewRecipe("twice")
	t1.Name = "Twice 1"
	upsert(t, s, t1)
	t2 := NewRecipe("twice")
	t2.Name = "Twice 2"
	upsert(t, s, t2)
	upsert(t, s, NewRecipe("new"))
	upsert(t, s, NewRecipe("old")) // unchanged: not a change
	if err := s.DeleteRecipe(ctxT(t), "gone"); err != nil {
		t.Fatal(err)
	}
	latest := revision(t, s)

	cs = changes(t, s, base)
	if cs.Revision != latest {
		t.Fatalf("Changes(%d).Revision = %d, want %d", base, cs.Revision, latest)
	}
	if got := upsertedIDs(cs); !slices.Equal(got, []string{"edited", "new", "twice"}) {
		t.Fatalf("Changes(%d) upserted %v, want edited, new, twice once each", base, got)
	}
	if !slices.Equal(cs.Deleted, []string{"gone"}) {
		t.Fatalf("Changes(%d) deleted %v, want [gone]", base, cs.Deleted)
	}
	for _, r := range cs.Upserted {
		switch r.ID {
		case "twice":
			sameContent(t, r, t2) // the latest state
		case "edited":
			sameContent(t, r, edited)
		case "new":
			sameContent(t, r, NewRecipe("new"))
		}
	}

	cs = changes(t, s, latest)
	if cs.Revision != latest || len(cs.Upserted) != 0 || len(cs.Deleted) != 0 {
		t.Fatalf("Changes(latest=%d) = %s, want empty at %d", latest, describe(cs), latest)
	}

	// A follower that applies each change set after every step ends up
	// where a full read does.
	var since int64
	state := map[string]string{}
	follow := func() {
		t.Helper()
		cs := changes(t, s, since)
		if cs.Revision < since {
			t.Fatalf("Changes(%d).Revision = %d went backwards", since, cs.Revision)
		}
		for _, r := range cs.Upserted {
			state[r.ID] = r.Name
		}
		for _, id := range cs.Deleted {
			delete(state, id)
		}
		since = cs.Revision
	}
	follow()
	t3 := NewRecipe("twice")
	t3.Name = "Twice 3"
	upsert(t, s, t3)
	follow()
	if err := s.DeleteRecipe(ctxT(t), "new"); err != nil {
		t.Fatal(err)
	}
	follow()
	upsert(t, s, NewRecipe("newer"), NewRecipe("gone"))
	follow()
	follow()
	want := map[string]string{}
	all, err := s.Recipes(ctxT(t), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		want[r.ID] = r.Name
	}
	if len(want) != 5 || want["twice"] != "Twice 3" {
		t.Fatalf("Recipes = %v, want 5 recipes with twice at its third version", want)
	}
	if !reflect.DeepEqual(state, want) {
		t.Fatalf("state followed from Changes = %v, want %v", state, want)
	}
}

func testChangesDeleteRecreate(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	upsert(t, s, NewRecipe("phoenix"), NewRecipe("ash"))
	base := revision(t, s)
	if err := s.DeleteRecipe(ctxT(t), "phoenix"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRecipe(ctxT(t), "ash"); err != nil {
		t.Fatal(err)
	}
	afterDelete := revision(t, s)
	cs := changes(t, s, base)
	slices.Sort(cs.Deleted)
	if !slices.Equal(cs.Deleted, []string{"ash", "phoenix"}) || len(cs.Upserted) != 0 {
		t.Fatalf("Changes after deletes = %s, want ash and phoenix deleted", describe(cs))
	}

	reborn := NewRecipe("phoenix")
	reborn.Name = "Phoenix reborn"
	before := clk.Now()
	res := upsert(t, s, reborn)
	if res[0].Action != flavormonk.ActionCreated {
		t.Fatalf("re-create action %q, want created", res[0].Action)
	}
	got := get(t, s, "phoenix")
	within(t, "re-created CreatedAt", got.CreatedAt, before, clk.Now())

	for _, since := range []int64{base, afterDelete} {
		cs = changes(t, s, since)
		if got := upsertedIDs(cs); !slices.Equal(got, []string{"phoenix"}) {
			t.Fatalf("Changes(%d) upserted %v, want [phoenix]", since, got)
		}
		sameContent(t, cs.Upserted[0], reborn)
		if slices.Contains(cs.Deleted, "phoenix") {
			t.Fatalf("Changes(%d) lists re-created phoenix as deleted: %s", since, describe(cs))
		}
	}
	cs = changes(t, s, base)
	if !slices.Equal(cs.Deleted, []string{"ash"}) {
		t.Fatalf("Changes(%d) deleted %v, want [ash]", base, cs.Deleted)
	}
	if cs = changes(t, s, 0); !slices.Equal(upsertedIDs(cs), []string{"phoenix"}) {
		t.Fatalf("Changes(0) = %s", describe(cs))
	}
}

func testDeleteRecipe(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	err := s.DeleteRecipe(ctxT(t), "never-was")
	wantCode(t, "DeleteRecipe of an unknown id", err, flavormonk.ENOTFOUND)
	if rev := revision(t, s); rev != 0 {
		t.Fatalf("Revision after deleting nothing = %d, want 0", rev)
	}

	upsert(t, s, NewRecipe("doomed"), NewRecipe("spared"))
	if err := s.DeleteRecipe(ctxT(t), "doomed"); err != nil {
		t.Fatalf("DeleteRecipe: %v", err)
	}
	wantNotFound(t, s, "doomed")
	sameContent(t, get(t, s, "spared"), NewRecipe("spared"))
	err = s.DeleteRecipe(ctxT(t), "doomed")
	wantCode(t, "second DeleteRecipe", err, flavormonk.ENOTFOUND)
	page, err := s.Recipes(ctxT(t), "", 10)
	if err != nil || len(page) != 1 || page[0].ID != "spared" {
		t.Fatalf("Recipes after delete = %v, %v", page, err)
	}
}

// decodeID accepts the encodings the Store documents for visitor ids.
func decodeID(id string) ([]byte, bool) {
	if b, err := base64.RawURLEncoding.DecodeString(id); err == nil {
		return b, true
	}
	if b, err := base64.URLEncoding.DecodeString(id); err == nil {
		return b, true
	}
	if b, err := hex.DecodeString(id); err == nil {
		return b, true
	}
	return nil, false
}

func testVisitors(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	before := clk.Now()
	v, err := s.CreateVisitor(ctxT(t))
	if err != nil {
		t.Fatalf("CreateVisitor: %v", err)
	}
	after := clk.Now()
	raw, ok := decodeID(v.ID)
	if !ok || len(raw) < 16 {
		t.Fatalf("visitor id %q is not base64url or hex of at least 128 bits", v.ID)
	}
	within(t, "CreatedAt", v.CreatedAt, before, after)
	if !v.SeenAt.Equal(v.CreatedAt) {
		t.Fatalf("new visitor: SeenAt %v != CreatedAt %v", v.SeenAt, v.CreatedAt)
	}

	got, err := s.Visitor(ctxT(t), v.ID)
	if err != nil {
		t.Fatalf("Visitor: %v", err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("Visitor = %+v, want %+v", got, v)
	}

	clk.Add(2 * time.Millisecond)
	before = clk.Now()
	if err := s.TouchVisitor(ctxT(t), v.ID); err != nil {
		t.Fatalf("TouchVisitor: %v", err)
	}
	after = clk.Now()
	got, err = s.Visitor(ctxT(t), v.ID)
	if err != nil {
		t.Fatalf("Visitor: %v", err)
	}
	within(t, "SeenAt after touch", got.SeenAt, before, after)
	if !got.SeenAt.After(v.SeenAt) || !got.CreatedAt.Equal(v.CreatedAt) || got.ID != v.ID {
		t.Fatalf("after touch: %+v, was %+v", got, v)
	}

	// Ids are unique and unpredictable: no two alike, no shared prefix.
	seen := map[string]bool{v.ID: true}
	for range 50 {
		w, err := s.CreateVisitor(ctxT(t))
		if err != nil {
			t.Fatalf("CreateVisitor: %v", err)
		}
		if seen[w.ID] {
			t.Fatalf("visitor id %q issued twice", w.ID)
		}
		seen[w.ID] = true
		if w.ID[:12] == v.ID[:12] {
			t.Fatalf("visitor ids %q and %q share a 12-character prefix", v.ID, w.ID)
		}
	}
}

func testVisitorNotFound(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	v, err := s.CreateVisitor(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "nope", strings.Repeat("A", 43), v.ID[:len(v.ID)-1], v.ID + "x"} {
		got, err := s.Visitor(ctxT(t), id)
		if got != nil {
			t.Fatalf("Visitor(%q) = %+v, want none", id, got)
		}
		wantCode(t, fmt.Sprintf("Visitor(%q)", id), err, flavormonk.ENOTFOUND)
		wantCode(t, fmt.Sprintf("TouchVisitor(%q)", id), s.TouchVisitor(ctxT(t), id), flavormonk.ENOTFOUND)
	}
}

func testDeleteVisitorsBefore(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	var stale, fresh []*flavormonk.Visitor
	for range 3 {
		v, err := s.CreateVisitor(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		stale = append(stale, v)
	}
	touched, err := s.CreateVisitor(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Millisecond)
	cut := clk.Now()
	clk.Add(2 * time.Millisecond)
	if err := s.TouchVisitor(ctxT(t), touched.ID); err != nil {
		t.Fatal(err)
	}
	fresh = append(fresh, touched)
	for range 2 {
		v, err := s.CreateVisitor(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		fresh = append(fresh, v)
	}

	n, err := s.DeleteVisitorsBefore(ctxT(t), cut)
	if err != nil {
		t.Fatalf("DeleteVisitorsBefore: %v", err)
	}
	if n != len(stale) {
		t.Fatalf("DeleteVisitorsBefore removed %d, want %d", n, len(stale))
	}
	for _, v := range stale {
		_, err := s.Visitor(ctxT(t), v.ID)
		wantCode(t, "Visitor after expiry", err, flavormonk.ENOTFOUND)
	}
	for _, v := range fresh {
		if _, err := s.Visitor(ctxT(t), v.ID); err != nil {
			t.Fatalf("fresh visitor %s: %v", v.ID, err)
		}
	}
	if n, err := s.DeleteVisitorsBefore(ctxT(t), cut); err != nil || n != 0 {
		t.Fatalf("second DeleteVisitorsBefore = %d, %v; want 0", n, err)
	}
	if n, err := s.DeleteVisitorsBefore(ctxT(t), clk.Now().Add(time.Hour)); err != nil || n != len(fresh) {
		t.Fatalf("DeleteVisitorsBefore(future) = %d, %v; want %d", n, err, len(fresh))
	}
}

func testConcurrentUpserts(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	const workers, batches, perBatch = 6, 4, 3
	var wg sync.WaitGroup
	errs := make(chan error, workers*batches)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				var rs []*flavormonk.Recipe
				for i := range perBatch {
					rs = append(rs, NewRecipe(fmt.Sprintf("w%d-b%d-r%d", w, b, i)))
				}
				res, err := s.UpsertRecipes(ctxT(t), rs)
				if err != nil {
					errs <- fmt.Errorf("worker %d batch %d: %w", w, b, err)
					return
				}
				for _, r := range res {
					if r.Action != flavormonk.ActionCreated {
						errs <- fmt.Errorf("worker %d: %s was %s", w, r.ID, r.Action)
					}
				}
			}
		}()
	}
	// Readers run alongside the writers.
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if _, err := s.Changes(ctxT(t), 0); err != nil {
					errs <- fmt.Errorf("Changes: %w", err)
					return
				}
				if _, err := s.CountRecipes(ctxT(t)); err != nil {
					errs <- fmt.Errorf("CountRecipes: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	const total = workers * batches * perBatch
	if n := count(t, s); n != total {
		t.Fatalf("CountRecipes = %d, want %d", n, total)
	}
	latest := revision(t, s)
	if latest < total {
		t.Fatalf("Revision = %d after %d creates, want ≥ %d", latest, total, total)
	}

	// Each recipe's revision r shows as the step where Changes(r-1) still
	// lists it and Changes(r) no longer does. Unique revisions mean the
	// list shrinks by at most one per step, and by total overall.
	prev := len(changes(t, s, 0).Upserted)
	if prev != total {
		t.Fatalf("Changes(0) lists %d recipes, want %d", prev, total)
	}
	for rev := int64(1); rev <= latest; rev++ {
		n := len(changes(t, s, rev).Upserted)
		if d := prev - n; d < 0 || d > 1 {
			t.Fatalf("Changes(%d) lists %d recipes, Changes(%d) %d: revisions are not unique", rev-1, prev, rev, n)
		}
		prev = n
	}
	if prev != 0 {
		t.Fatalf("Changes(latest) lists %d recipes", prev)
	}
}

// A reader following Changes while writers commit must see every change:
// revisions have to become visible in order (a store that hands out
// revision 6 before 5 commits lets a follower skip 5).
func testChangesFollowWriters(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	const writers, each = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := NewRecipe(fmt.Sprintf("w%d-%d", w, i))
				if _, err := s.UpsertRecipes(ctxT(t), []*flavormonk.Recipe{r}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen := map[string]bool{}
	var since int64
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true // one more read after the last commit
		default:
		}
		cs := changes(t, s, since)
		for _, r := range cs.Upserted {
			seen[r.ID] = true
		}
		since = cs.Revision
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != writers*each {
		t.Fatalf("a follower saw %d recipes, want %d", len(seen), writers*each)
	}
}

func testContextCanceled(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	upsert(t, s, NewRecipe("exists"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s with a canceled context: no error", what)
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("%s with a canceled context: %v, want one wrapping context.Canceled", what, err)
		}
	}
	r, err := s.Recipe(ctx, "exists")
	check("Recipe", err)
	if r != nil {
		t.Fatalf("Recipe with a canceled context returned %+v", r)
	}
	_, err = s.UpsertRecipes(ctx, []*flavormonk.Recipe{NewRecipe("never")})
	check("UpsertRecipes", err)
	_, err = s.Recipes(ctx, "", 10)
	check("Recipes", err)
	_, err = s.CountRecipes(ctx)
	check("CountRecipes", err)
	_, err = s.Changes(ctx, 0)
	check("Changes", err)
	_, err = s.Revision(ctx)
	check("Revision", err)
	check("DeleteRecipe", s.DeleteRecipe(ctx, "exists"))
	_, err = s.CreateVisitor(ctx)
	check("CreateVisitor", err)
	check("Ping", s.Ping(ctx))

	wantNotFound(t, s, "never")
	get(t, s, "exists")

	// A deadline that passes mid-way fails too, and leaves the store usable.
	dctx, dcancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer dcancel()
	<-dctx.Done()
	if _, err := s.UpsertRecipes(dctx, []*flavormonk.Recipe{NewRecipe("late")}); err == nil {
		t.Fatal("UpsertRecipes past its deadline: no error")
	}
	wantNotFound(t, s, "late")
	if n := count(t, s); n != 1 {
		t.Fatalf("CountRecipes = %d, want 1", n)
	}
}

func testPing(t *testing.T, s flavormonk.Store, clk *clocktest.Clock) {
	if err := s.Ping(ctxT(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Ping(ctxT(t)); err == nil {
		t.Fatal("Ping after Close: no error")
	}
}
