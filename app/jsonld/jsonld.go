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
	"fmt"
	"net/url"

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
