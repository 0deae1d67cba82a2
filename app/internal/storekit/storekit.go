// Package storekit holds what both stores must do identically: validating
// and encoding a batch before any write, timestamps, visitor ids. Both the
// sqlite and postgres packages use it, so they accept and reject exactly the
// same recipes.
package storekit

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

// Prepared is a validated recipe ready to write.
type Prepared struct {
	R    *flavormonk.Recipe
	Doc  []byte // JSON without timestamps, which live in their own columns
	Hash string
}

// Prepare validates a batch before any write, so that one bad recipe fails
// the batch with an EINVALID error naming its position.
func Prepare(recipes []*flavormonk.Recipe) ([]Prepared, error) {
	ps := make([]Prepared, len(recipes))
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
		if HasNUL(doc) {
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, field, "recipe %q contains a NUL character", r.Name)
		}
		ps[i] = Prepared{R: r, Doc: doc, Hash: r.ContentHash()}
	}
	return ps, nil
}

// HasNUL reports whether JSON text encodes a NUL character (\u0000 preceded
// by an even number of backslashes). Postgres cannot store one, so neither
// store accepts it.
func HasNUL(doc []byte) bool {
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

// Timestamp reads the store's clock: timestamps are kept to the
// microsecond, in UTC, like Postgres keeps them, whatever zone a faked
// clock stands in.
func Timestamp(c flavormonk.Clock) time.Time { return c.Now().UTC().Truncate(time.Microsecond) }

// NewVisitorID returns 192 random bits, base64url without padding.
func NewVisitorID() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}
