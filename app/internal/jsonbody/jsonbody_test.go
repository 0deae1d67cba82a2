package jsonbody_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flavormonk/flavormonk/app/internal/jsonbody"
	"github.com/flavormonk/flavormonk/app/search"
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
		var b search.PantryJSON
		err := json.NewDecoder(strings.NewReader(body)).Decode(&b)
		if err == nil {
			t.Fatalf("%s: decoded", body)
		}
		if got := jsonbody.Describe(err); got != want {
			t.Errorf("%s: %q, want %q", body, got, want)
		}
	}
}

func TestDescribeUnknownFieldAndSyntax(t *testing.T) {
	for body, want := range map[string]string{
		`{"hav":["egg"]}`: `unknown field "hav"`,
		`{"have":[}`:      `malformed JSON`,
	} {
		var b search.PantryJSON
		dec := json.NewDecoder(strings.NewReader(body))
		dec.DisallowUnknownFields()
		if got := jsonbody.Describe(dec.Decode(&b)); got != want {
			t.Errorf("%s: %q, want %q", body, got, want)
		}
	}
}

func TestBrief(t *testing.T) {
	var v struct{ Note string }
	err := json.Unmarshal([]byte(`{"Note": 1}`), &v)
	if got := jsonbody.Brief(err); strings.HasPrefix(got, "json: ") || !strings.Contains(got, "Note") {
		t.Errorf("Brief = %q", got)
	}
	long := strings.Repeat("x", 300)
	if got := jsonbody.Brief(&json.UnsupportedValueError{Str: long}); len(got) != 120 {
		t.Errorf("Brief of a long message is %d bytes, want 120", len(got))
	}
}

func TestTrailing(t *testing.T) {
	for body, want := range map[string]bool{`{} `: false, `{}}`: true, `{} {}`: true, `{}]`: true} {
		dec := json.NewDecoder(strings.NewReader(body))
		var v map[string]any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if got := jsonbody.Trailing(dec); got != want {
			t.Errorf("%q: Trailing = %v, want %v", body, got, want)
		}
	}
}
