// Package urlparam reads the query-string syntax the site's URLs share:
// lists that may repeat and be comma-separated, and bounded whole numbers,
// with errors that name the parameter. The search parameters and the
// recipe page's servings read the same way through it.
package urlparam

import (
	"net/url"
	"strconv"
	"strings"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// List reads a repeatable parameter whose values may also be
// comma-separated: ?include=a,b&include=c → [a b c].
func List(v url.Values, name string) []string {
	var out []string
	for _, raw := range v[name] {
		for _, p := range strings.Split(raw, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// Int reads a whole number between min and max; an absent or blank
// parameter is 0. The EINVALID error names the parameter and says what it
// counts (what: "minutes", "servings").
func Int(v url.Values, name string, min, max int, what string) (int, error) {
	s := strings.TrimSpace(v.Get(name))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, flavormonk.FieldErrorf(flavormonk.EINVALID, name, "must be a whole number of %s between %d and %d", what, min, max)
	}
	return n, nil
}
