package postgres

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// The sqlite package has a twin of this file: both stores must accept and
// reject exactly the same recipes.

// prepared is a validated recipe ready to write.
type prepared struct {
	r    *flavormonk.Recipe
	doc  []byte // JSON without timestamps, which live in their own columns
	hash string
}

// prepare validates a batch before any write, so that one bad recipe fails
// the batch with an EINVALID error naming its position.
func prepare(recipes []*flavormonk.Recipe) ([]prepared, error) {
	ps := make([]prepared, len(recipes))
	for i, r := range recipes {
		field := fmt.Sprintf("recipes[%d]", i)
		if r == nil {
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, field, "recipe is missing")
		}
		if err := r.Validate(); err != nil {
			var e *flavormonk.Error
			if errors.As(err, &e) {
				return nil, &flavormonk.Error{Code: e.Code, Field: field, Message: e.Message}
			}
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, field, "%v", err)
		}
		c := *r
		c.CreatedAt, c.UpdatedAt = time.Time{}, time.Time{}
		doc, err := json.Marshal(&c)
		if err != nil { // NaN or ±Inf quantities
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, field, "recipe %q cannot be stored: a quantity is not a finite number", r.Name)
		}
		if hasNUL(doc) {
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, field, "recipe %q contains a NUL character", r.Name)
		}
		ps[i] = prepared{r: r, doc: doc, hash: r.ContentHash()}
	}
	return ps, nil
}

// hasNUL reports whether JSON text encodes a NUL character (\u0000 preceded
// by an even number of backslashes). Postgres cannot store one, so neither
// store accepts it.
func hasNUL(doc []byte) bool {
	esc := []byte(`\u0000`)
	for i := 0; ; {
		j := bytes.Index(doc[i:], esc)
		if j < 0 {
			return false
		}
		j += i
		n := 0
		for k := j; k >= 0 && doc[k] == '\\'; k-- {
			n++
		}
		if n%2 == 1 {
			return true
		}
		i = j + 1
	}
}

// decode rebuilds a recipe from its document and timestamp columns.
func decode(doc []byte, created, updated time.Time) (*flavormonk.Recipe, error) {
	r := new(flavormonk.Recipe)
	if err := json.Unmarshal(doc, r); err != nil {
		return nil, fmt.Errorf("postgres: decoding a stored recipe: %w", err)
	}
	r.CreatedAt, r.UpdatedAt = created.UTC(), updated.UTC()
	return r, nil
}

// Timestamps are kept to the microsecond, in UTC, like Postgres keeps them.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// newVisitorID returns 192 random bits, base64url without padding.
func newVisitorID() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}
