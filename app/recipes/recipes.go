// Package recipes holds the bundled demo recipes, written for Flavor Monk
// and embedded in the binary as schema.org Recipe JSON-LD, so they also
// exercise the importer's parsing on every start of an empty store.
package recipes

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/jsonld"
)

//go:embed data/*.json
var data embed.FS

// Bundled parses every bundled recipe. An unparseable file is a build
// defect, so it is an error here (and in this package's test).
func Bundled() ([]*flavormonk.Recipe, error) {
	names, err := fs.Glob(data, "data/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []*flavormonk.Recipe
	for _, n := range names {
		b, err := data.ReadFile(n)
		if err != nil {
			return nil, err
		}
		rs, rejects, err := jsonld.Parse(b, "")
		if err != nil {
			return nil, fmt.Errorf("recipes: %s: %w", n, err)
		}
		if len(rejects) > 0 {
			return nil, fmt.Errorf("recipes: %s: rejected: %s", n, rejects[0].Reason)
		}
		out = append(out, rs...)
	}
	return out, nil
}

// Seed stores the bundled recipes when the store holds none. It returns how
// many it stored.
func Seed(ctx context.Context, st flavormonk.Store) (int, error) {
	n, err := st.CountRecipes(ctx)
	if err != nil || n > 0 {
		return 0, err
	}
	rs, err := Bundled()
	if err != nil {
		return 0, err
	}
	if _, err := st.UpsertRecipes(ctx, rs); err != nil {
		return 0, fmt.Errorf("recipes: seeding: %w", err)
	}
	return len(rs), nil
}
