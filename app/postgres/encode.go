package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// decode rebuilds a recipe from its document and timestamp columns.
func decode(doc []byte, created, updated time.Time) (*flavormonk.Recipe, error) {
	r := new(flavormonk.Recipe)
	if err := json.Unmarshal(doc, r); err != nil {
		return nil, fmt.Errorf("postgres: decoding a stored recipe: %w", err)
	}
	r.CreatedAt, r.UpdatedAt = created.UTC(), updated.UTC()
	return r, nil
}
