package web

import (
	"encoding/json"
	"strings"
	"testing"
)

// A body of the wrong JSON type is described by what was expected, never
// as "member  has the wrong type".
func TestJSONErrMessages(t *testing.T) {
	for body, want := range map[string]string{
		`{"have":"egg"}`:               `member "have" holds a JSON string where a list of strings belongs`,
		`{"have":["egg"],"limit":"5"}`: `member "limit" holds a JSON string where a whole number belongs`,
		`{"have":[1]}`:                 `member "have" holds a JSON number where a string belongs`,
		`[]`:                           `the body must be a JSON object, not a JSON array`,
		`"egg"`:                        `the body must be a JSON object, not a JSON string`,
		`{"have":`:                     `the body is empty or cut short`,
	} {
		var b pantryBody
		err := json.NewDecoder(strings.NewReader(body)).Decode(&b)
		if err == nil {
			t.Fatalf("%s: decoded", body)
		}
		if got := jsonErr(err); got != want {
			t.Errorf("%s: %q, want %q", body, got, want)
		}
	}
}
