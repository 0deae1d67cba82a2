package search

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Search results are encoded by hand: each doc's summary is encoded once
// when it is indexed, so answering a query copies bytes instead of walking
// structs by reflection (which was a fifth of a search request's CPU).
// TestAppendJSONMatchesEncodingJSON keeps this equal to encoding/json.

// summaryJSON encodes a summary without its closing brace, so a hit can
// append its score.
func summaryJSON(s *Summary) []byte {
	b, err := json.Marshal(s)
	if err != nil || len(b) < 2 {
		return nil
	}
	return b[:len(b)-1]
}

// AppendJSON appends the result as JSON, the same document encoding/json
// would produce.
func (r *Result) AppendJSON(b []byte) []byte {
	b = append(b, `{"hits":[`...)
	for i := range r.Hits {
		if i > 0 {
			b = append(b, ',')
		}
		b = r.Hits[i].appendJSON(b)
	}
	b = append(b, `],"total":`...)
	b = strconv.AppendInt(b, int64(r.Total), 10)
	if r.NextCursor != "" {
		b = append(b, `,"next_cursor":`...)
		b = appendString(b, r.NextCursor)
	}
	b = append(b, `,"facets":{`...)
	first := true
	for _, k := range []string{"cuisine", "diet", "tag"} { // encoding/json sorts map keys
		fs, ok := r.Facets[k]
		if !ok {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
		b = appendFacets(b, fs)
	}
	b = append(b, '}')
	if len(r.Corrections) > 0 {
		b = append(b, `,"corrections":`...)
		c, _ := json.Marshal(r.Corrections)
		b = append(b, c...)
	}
	if r.Relaxed {
		b = append(b, `,"relaxed":true`...)
	}
	if r.Mode != "" {
		b = append(b, `,"mode":`...)
		b = appendString(b, r.Mode)
	}
	if r.Degraded {
		b = append(b, `,"degraded":true`...)
	}
	return append(b, '}')
}

func (h *Hit) appendJSON(b []byte) []byte {
	raw := h.raw
	if raw == nil {
		raw = summaryJSON(&h.Summary)
	}
	b = append(b, raw...)
	b = append(b, `,"score":`...)
	b = appendFloat(b, h.Score)
	return append(b, '}')
}

func appendFacets(b []byte, fs []Facet) []byte {
	b = append(b, '[')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"value":`...)
		b = appendString(b, f.Value)
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, int64(f.Count), 10)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendFloat formats like encoding/json.
func appendFloat(b []byte, f float64) []byte {
	abs := f
	if abs < 0 {
		abs = -abs
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	n := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		if m := len(b) - n; m >= 4 && b[len(b)-4] == 'e' && b[len(b)-3] == '-' && b[len(b)-2] == '0' {
			b[len(b)-2] = b[len(b)-1]
			b = b[:len(b)-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json does
// (HTML-safe, invalid UTF-8 as U+FFFD).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
