package search

import (
	flavormonk "github.com/flavormonk/flavormonk/app"
)

// PantryQuery asks what can be cooked with what one has.
type PantryQuery struct {
	Have       []string          // ingredients at hand
	Exclude    []string          // ingredients to avoid
	Tags       []string          // required tags, cuisines or categories
	Diets      []flavormonk.Diet // required diets
	MaxMinutes int
	// MaxMissing drops recipes missing more than this many ingredients; 0 = no limit.
	MaxMissing int
	// NoStaples counts salt, pepper, oil and water as ingredients to have;
	// by default a pantry is assumed to hold them.
	NoStaples bool
	Limit     int
	Cursor    string
}

// PantryHit is a recipe with what the pantry covers of it.
type PantryHit struct {
	Summary
	Coverage   float64  `json:"coverage"` // share of its ingredients at hand, 0..1
	Have       []string `json:"have"`
	Missing    []string `json:"missing"`
	Ingredient int      `json:"ingredient_count"`
}

// PantryResult is one page of a pantry search.
type PantryResult struct {
	Hits       []PantryHit `json:"hits"`
	Total      int         `json:"total"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

// Validate checks a pantry query's bounds.
func (q *PantryQuery) Validate(maxLimit int) error {
	if len(q.Have) == 0 {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "have", "list at least one ingredient you have")
	}
	if q.MaxMissing < 0 || q.MaxMissing > 200 {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "max_missing", "must be between 0 and 200")
	}
	if len(q.Have) > 50 {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "have", "has more than 50 values")
	}
	sub := Query{Include: nil, Exclude: q.Exclude, Tags: q.Tags, Diets: q.Diets, MaxMinutes: q.MaxMinutes, Limit: q.Limit}
	if err := sub.Validate(maxLimit); err != nil {
		return err
	}
	for _, h := range q.Have {
		if len(h) > MaxItemBytes {
			return flavormonk.FieldErrorf(flavormonk.EINVALID, "have", "has a value longer than %d bytes", MaxItemBytes)
		}
	}
	return (&Query{Include: q.Have[:min(len(q.Have), MaxListItems)]}).Validate(maxLimit)
}

// staples are assumed in every pantry unless NoStaples is set.
var staples = map[string]bool{
	"salt": true, "pepper": true, "black": true, "water": true, "oil": true, "olive": true,
	"vegetable": true, "neutral": true, "kosher": true, "sea": true, "freshly": true,
	"ground": true, "cooking": true, "spray": true, "ice": true, "cold": true, "warm": true, "hot": true,
}

func isStaple(ing []uint32, staple map[uint32]bool) bool {
	if len(staple) == 0 {
		return false
	}
	for _, t := range ing {
		if !staple[t] {
			return false
		}
	}
	return true
}

// Pantry ranks recipes by the share of their ingredients the pantry
// covers, listing what is missing.
func (ix *Index) Pantry(q PantryQuery) (*PantryResult, error) {
	if err := q.Validate(MaxLimit); err != nil {
		return nil, err
	}
	s := ix.snap.Load()
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	fp := (&Query{Text: "\x00pantry", Include: q.Have, Exclude: q.Exclude, Tags: q.Tags, Diets: q.Diets, MaxMinutes: q.MaxMinutes}).fingerprint()
	fp ^= uint64(q.MaxMissing)<<1 | boolBit(q.NoStaples)
	cur, err := decodeCursor(q.Cursor, fp)
	if err != nil {
		return nil, err
	}
	var have [][]uint32
	for _, h := range q.Have {
		t := tokens(h)
		if len(t) == 0 {
			continue
		}
		ids := make([]uint32, 0, len(t))
		for _, w := range t {
			if id, ok := s.term(w); ok {
				ids = append(ids, id)
			}
		}
		if len(ids) == len(t) { // a word nothing has cannot match anything
			have = append(have, ids)
		}
	}
	staple := map[uint32]bool{}
	if !q.NoStaples {
		for w := range staples {
			if id, ok := s.term(w); ok {
				staple[id] = true
			}
		}
	}
	f := compileFilter(s, nil, q.Exclude, q.Tags, q.Diets, q.MaxMinutes)
	// Candidates: docs with an ingredient containing the first word of
	// something at hand; each is then checked ingredient by ingredient.
	seen := newBitset(len(s.docs))
	var cands []cand
	type detail struct{ have, missing []string }
	details := map[uint32]detail{}
	for _, h := range have {
		if f.empty || int(h[0]) >= len(s.ingDocs) {
			break
		}
		for _, n := range s.ingDocs[h[0]] {
			if seen.has(n) {
				continue
			}
			seen.set(n)
			if f.any && !f.pass(s, n) {
				continue
			}
			d := s.docs[n]
			var got, miss []string
			covered, total := 0, 0
			for i, ing := range d.ingredients {
				matched := false
				for _, h := range have {
					if containsAllIDs(ing, h) {
						matched = true
						break
					}
				}
				switch {
				case matched:
					covered++
					total++
					got = append(got, d.ingNames[i])
				case isStaple(ing, staple):
				default:
					total++
					miss = append(miss, d.ingNames[i])
				}
			}
			if covered == 0 || (q.MaxMissing > 0 && len(miss) > q.MaxMissing) {
				continue
			}
			cov := float64(covered) / float64(total)
			// Equal coverage: the recipe needing fewer extra things first.
			score := cov - float64(len(miss))*1e-4
			cands = append(cands, cand{n, score})
			details[n] = detail{got, miss}
		}
	}
	res := &PantryResult{Hits: []PantryHit{}, Total: len(cands)}
	after := cands[:0]
	for _, c := range cands {
		if cur == nil || before(cur.score, cur.id, c.score, s.docs[c.doc].ID) {
			after = append(after, c)
		}
	}
	after = selectTop(after, limit+1)
	more := len(after) > limit
	if more {
		after = after[:limit]
	}
	for _, c := range after {
		dt := details[c.doc]
		d := s.docs[c.doc]
		total := len(dt.have) + len(dt.missing)
		res.Hits = append(res.Hits, PantryHit{Summary: d.Summary, Coverage: round(float64(len(dt.have)) / float64(total)),
			Have: nonNil(dt.have), Missing: nonNil(dt.missing), Ingredient: len(d.ingredients)})
	}
	if more {
		last := after[len(after)-1]
		res.NextCursor = encodeCursor(fp, cursor{last.score, s.docs[last.doc].ID})
	}
	return res, nil
}

func boolBit(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
