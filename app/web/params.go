package web

import (
	"encoding/json"
	"io"
	"net/url"
	"strconv"
	"strings"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/search"
	"github.com/labstack/echo/v4"
)

// listParam reads a repeatable parameter whose values may also be
// comma-separated: ?include=a,b&include=c → [a b c].
func listParam(v url.Values, name string) []string {
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

func intParam(v url.Values, name string, min, max int, what string) (int, error) {
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

func dietParam(v url.Values) ([]flavormonk.Diet, error) {
	var out []flavormonk.Diet
	for _, s := range listParam(v, "diet") {
		d, ok := flavormonk.ParseDiet(s)
		if !ok {
			names := make([]string, len(flavormonk.Diets))
			for i, d := range flavormonk.Diets {
				names[i] = string(d)
			}
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "diet", "unknown diet %q; allowed: %s", truncate(s, 40), strings.Join(names, ", "))
		}
		out = append(out, d)
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// parseSearch reads a search query from URL parameters, the same for the
// HTML page and the API.
func parseSearch(v url.Values, maxLimit int) (search.Query, error) {
	q := search.Query{
		Text:    v.Get("q"),
		Include: listParam(v, "include"),
		Exclude: listParam(v, "exclude"),
		Tags:    listParam(v, "tag"),
		Cursor:  v.Get("cursor"),
	}
	var err error
	if q.Diets, err = dietParam(v); err != nil {
		return q, err
	}
	if q.MaxMinutes, err = intParam(v, "max_minutes", 1, search.MaxMinutes, "minutes"); err != nil {
		return q, err
	}
	if q.Limit, err = intParam(v, "limit", 1, maxLimit, "results"); err != nil {
		return q, err
	}
	switch strings.ToLower(v.Get("prefix")) {
	case "", "0", "false":
	case "1", "true":
		q.Prefix = true
	default:
		return q, flavormonk.FieldErrorf(flavormonk.EINVALID, "prefix", "must be true or false")
	}
	return q, q.Validate(maxLimit)
}

func parsePantry(v url.Values, maxLimit int) (search.PantryQuery, error) {
	q := search.PantryQuery{
		Have:    listParam(v, "have"),
		Exclude: listParam(v, "exclude"),
		Tags:    listParam(v, "tag"),
		Cursor:  v.Get("cursor"),
	}
	var err error
	if q.Diets, err = dietParam(v); err != nil {
		return q, err
	}
	if q.MaxMinutes, err = intParam(v, "max_minutes", 1, search.MaxMinutes, "minutes"); err != nil {
		return q, err
	}
	if q.MaxMissing, err = intParam(v, "max_missing", 0, 200, "ingredients"); err != nil {
		return q, err
	}
	if q.Limit, err = intParam(v, "limit", 1, maxLimit, "results"); err != nil {
		return q, err
	}
	switch strings.ToLower(v.Get("staples")) {
	case "", "1", "true":
	case "0", "false":
		q.NoStaples = true
	default:
		return q, flavormonk.FieldErrorf(flavormonk.EINVALID, "staples", "must be true or false")
	}
	return q, q.Validate(maxLimit)
}

// formValue is a field of a submitted form's body, never of the URL: a
// password or licence key in a query string lands in access logs, browser
// history and Referer headers, and a form that takes its fields from the
// URL can be submitted by a link.
func formValue(c echo.Context, name string) string {
	return c.Request().PostFormValue(name)
}

// trailingJSON reports whether anything but white space follows the value
// dec decoded: Decoder.More misses a stray closing bracket or brace.
func trailingJSON(dec *json.Decoder) bool {
	_, err := dec.Token()
	return err != io.EOF
}
