package search

import (
	"encoding/base64"
	"encoding/binary"
	"hash/fnv"
	"math"
	"strings"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// cursor is the position after the last hit of a page: results are ordered
// by score descending, then id ascending.
type cursor struct {
	score float64
	id    string
}

// page selects the hits after cur, up to limit, into res.
func page(cands []cand, cur *cursor, limit int, s *snapshot, res *Result, fp uint64) {
	if cur != nil {
		after := cands[:0]
		for _, c := range cands {
			if before(cur.score, cur.id, c.score, s.docs[c.doc].ID) {
				after = append(after, c)
			}
		}
		cands = after
	}
	top := selectTop(cands, limit+1)
	more := len(top) > limit
	if more {
		top = top[:limit]
	}
	res.Hits = make([]Hit, len(top))
	for i, c := range top {
		d := s.docs[c.doc]
		res.Hits[i] = Hit{Summary: d.Summary, Score: round(c.score), raw: d.json}
	}
	if more {
		last := top[len(top)-1]
		res.NextCursor = encodeCursor(fp, cursor{last.score, s.docs[last.doc].ID})
	}
}

// before reports whether (s1,id1) sorts before (s2,id2).
func before(s1 float64, id1 string, s2 float64, id2 string) bool {
	if s1 != s2 {
		return s1 > s2
	}
	return id1 < id2
}

// worse reports whether a ranks below b: lower score, or the same score and
// a later id (doc numbers follow ids).
func worse(a, b cand) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return a.doc > b.doc
}

// selectTop returns the k best candidates in order, with a bounded heap so
// a query matching everything costs O(n log k).
func selectTop(cs []cand, k int) []cand {
	h := make([]cand, 0, k)
	down := func(i int) {
		for {
			l, m := 2*i+1, i
			if l < len(h) && worse(h[l], h[m]) {
				m = l
			}
			if r := l + 1; r < len(h) && worse(h[r], h[m]) {
				m = r
			}
			if m == i {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for _, c := range cs {
		if len(h) < k {
			h = append(h, c)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if !worse(h[i], h[p]) {
					break
				}
				h[i], h[p] = h[p], h[i]
				i = p
			}
		} else if worse(h[0], c) {
			h[0] = c
			down(0)
		}
	}
	out := make([]cand, len(h))
	for i := len(h) - 1; i >= 0; i-- {
		out[i] = h[0]
		h[0] = h[len(h)-1]
		h = h[:len(h)-1]
		down(0)
	}
	return out
}

func round(f float64) float64 { return math.Round(f*1e4) / 1e4 }

// fingerprint identifies what a query asks, so a cursor cannot be replayed
// against another query.
func (q *Query) fingerprint() uint64 {
	h := fnv.New64a()
	w := func(parts ...string) {
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	w(strings.Join(tokens(q.Text), " "))
	w(q.Include...)
	w(q.Exclude...)
	w(q.Tags...)
	for _, d := range q.Diets {
		w(string(d))
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(q.MaxMinutes))
	h.Write(b[:])
	return h.Sum64()
}

const cursorVersion = 1

func encodeCursor(fp uint64, c cursor) string {
	b := make([]byte, 0, 17+len(c.id))
	b = append(b, cursorVersion)
	b = binary.LittleEndian.AppendUint64(b, fp)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c.score))
	b = append(b, c.id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, fp uint64) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	bad := flavormonk.FieldErrorf(flavormonk.EINVALID, "cursor", "is malformed; pass next_cursor from the previous page unchanged")
	if len(s) > 300 {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 18 || b[0] != cursorVersion {
		return nil, bad
	}
	if binary.LittleEndian.Uint64(b[1:9]) != fp {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "cursor", "belongs to another query; start again without a cursor")
	}
	score := math.Float64frombits(binary.LittleEndian.Uint64(b[9:17]))
	id := string(b[17:])
	if math.IsNaN(score) || math.IsInf(score, 0) || !flavormonk.ValidID(id) {
		return nil, bad
	}
	return &cursor{score, id}, nil
}
