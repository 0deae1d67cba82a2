package sqlite

import (
	"encoding/json"
	"fmt"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// decode rebuilds a recipe from its document and timestamp columns.
func decode(doc []byte, created, updated int64) (*flavormonk.Recipe, error) {
	r := new(flavormonk.Recipe)
	if err := json.Unmarshal(doc, r); err != nil {
		return nil, fmt.Errorf("sqlite: decoding a stored recipe: %w", err)
	}
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	return r, nil
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
