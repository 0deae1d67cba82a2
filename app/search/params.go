package search

import (
	"net/url"
	"strings"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/urlparam"
)

// ParseQuery reads a search from URL parameters (q, include, exclude, tag,
// diet, max_minutes, limit, cursor, prefix), the same for the HTML page
// and the API, and validates it. Errors are EINVALID with the parameter
// named.
func ParseQuery(v url.Values, maxLimit int) (Query, error) {
	q := Query{
		Text:    v.Get("q"),
		Include: urlparam.List(v, "include"),
		Exclude: urlparam.List(v, "exclude"),
		Tags:    urlparam.List(v, "tag"),
		Cursor:  v.Get("cursor"),
	}
	var err error
	if q.Diets, err = dietParam(v); err != nil {
		return q, err
	}
	if q.MaxMinutes, err = urlparam.Int(v, "max_minutes", 1, MaxMinutes, "minutes"); err != nil {
		return q, err
	}
	if q.Limit, err = urlparam.Int(v, "limit", 1, maxLimit, "results"); err != nil {
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

// ParsePantry reads a pantry query from URL parameters (have, exclude,
// tag, diet, max_minutes, max_missing, limit, cursor, staples) and
// validates it, as ParseQuery does.
func ParsePantry(v url.Values, maxLimit int) (PantryQuery, error) {
	q := PantryQuery{
		Have:    urlparam.List(v, "have"),
		Exclude: urlparam.List(v, "exclude"),
		Tags:    urlparam.List(v, "tag"),
		Cursor:  v.Get("cursor"),
	}
	var err error
	if q.Diets, err = dietParam(v); err != nil {
		return q, err
	}
	if q.MaxMinutes, err = urlparam.Int(v, "max_minutes", 1, MaxMinutes, "minutes"); err != nil {
		return q, err
	}
	if q.MaxMissing, err = urlparam.Int(v, "max_missing", 0, 200, "ingredients"); err != nil {
		return q, err
	}
	if q.Limit, err = urlparam.Int(v, "limit", 1, maxLimit, "results"); err != nil {
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

func dietParam(v url.Values) ([]flavormonk.Diet, error) {
	var out []flavormonk.Diet
	for _, s := range urlparam.List(v, "diet") {
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

// PantryJSON is a pantry query as the API takes it in a JSON body (POST
// /api/v1/pantry).
type PantryJSON struct {
	Have       []string `json:"have"`
	Exclude    []string `json:"exclude"`
	Tags       []string `json:"tags"`
	Diets      []string `json:"diets"`
	MaxMinutes int      `json:"max_minutes"`
	MaxMissing int      `json:"max_missing"`
	Staples    *bool    `json:"staples"`
	Limit      int      `json:"limit"`
	Cursor     string   `json:"cursor"`
}

// Query is the body's pantry query, validated; an unknown diet is an
// EINVALID error on "diets".
func (b PantryJSON) Query(maxLimit int) (PantryQuery, error) {
	q := PantryQuery{Have: b.Have, Exclude: b.Exclude, Tags: b.Tags, MaxMinutes: b.MaxMinutes,
		MaxMissing: b.MaxMissing, Limit: b.Limit, Cursor: b.Cursor, NoStaples: b.Staples != nil && !*b.Staples}
	for _, d := range b.Diets {
		diet, ok := flavormonk.ParseDiet(d)
		if !ok {
			return q, flavormonk.FieldErrorf(flavormonk.EINVALID, "diets", "unknown diet %q", truncate(d, 40))
		}
		q.Diets = append(q.Diets, diet)
	}
	return q, q.Validate(maxLimit)
}

// truncate shortens a value from the request for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
