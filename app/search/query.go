package search

import (
	"sort"
	"sync"
	"unicode/utf8"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Limits on what a query may ask, so no query costs much more than another.
const (
	MaxTextBytes   = 512
	MaxTerms       = 16
	MaxListItems   = 20
	MaxItemBytes   = 100
	MaxMinutes     = 60 * 24 * 14
	DefaultLimit   = 20
	MaxLimit       = 100
	maxFacetValues = 30
)

// Query is a recipe search. The zero Query matches every recipe.
type Query struct {
	Text       string            // free text, ranked
	Include    []string          // ingredients the recipe must have (all of)
	Exclude    []string          // ingredients it must not have
	Tags       []string          // tags, cuisines or categories it must have (all of)
	Diets      []flavormonk.Diet // diets it must suit (all of)
	MaxMinutes int               // total time at most; 0 = any
	Limit      int               // page size; 0 = DefaultLimit
	Cursor     string            // from a previous Result.NextCursor
	Prefix     bool              // the last word is being typed: complete it
}

// Hit is one result.
type Hit struct {
	Summary
	Score float64 `json:"score"`
	raw   []byte  // the summary's JSON, without its closing brace
}

// Facet is one value of a facet and how many matching recipes have it.
type Facet struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// Result is one page of a search.
type Result struct {
	Hits       []Hit              `json:"hits"`
	Total      int                `json:"total"`
	NextCursor string             `json:"next_cursor,omitempty"`
	Facets     map[string][]Facet `json:"facets"`
	// Corrections maps query words that matched nothing to the words
	// searched instead ("chiken" → "chicken").
	Corrections map[string]string `json:"corrections,omitempty"`
	// Relaxed is set when no recipe matched every word, and the results
	// match only some of them.
	Relaxed bool `json:"relaxed,omitempty"`
	// Mode is "lexical" or "hybrid" (lexical and vector ranks fused).
	Mode string `json:"mode,omitempty"`
	// Degraded is set when the vector part was wanted but failed or was too
	// slow, so the results are lexical only.
	Degraded bool `json:"degraded,omitempty"`
}

// Validate checks a query's bounds. Errors are EINVALID with the field named
// as the API's query parameter.
func (q *Query) Validate(maxLimit int) error {
	if maxLimit <= 0 || maxLimit > MaxLimit {
		maxLimit = MaxLimit
	}
	switch {
	case !utf8.ValidString(q.Text):
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "q", "is not valid UTF-8")
	case len(q.Text) > MaxTextBytes:
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "q", "is longer than %d bytes", MaxTextBytes)
	case q.Limit < 0 || q.Limit > maxLimit:
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "limit", "must be between 1 and %d", maxLimit)
	case q.MaxMinutes < 0 || q.MaxMinutes > MaxMinutes:
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "max_minutes", "must be between 1 and %d", MaxMinutes)
	}
	for _, l := range []struct {
		name  string
		items []string
	}{{"include", q.Include}, {"exclude", q.Exclude}, {"tag", q.Tags}} {
		if len(l.items) > MaxListItems {
			return flavormonk.FieldErrorf(flavormonk.EINVALID, l.name, "has more than %d values", MaxListItems)
		}
		for _, it := range l.items {
			if !utf8.ValidString(it) {
				return flavormonk.FieldErrorf(flavormonk.EINVALID, l.name, "is not valid UTF-8")
			}
			if len(it) > MaxItemBytes {
				return flavormonk.FieldErrorf(flavormonk.EINVALID, l.name, "has a value longer than %d bytes", MaxItemBytes)
			}
		}
	}
	for _, d := range q.Diets {
		if dietBit(d) == 0 {
			return flavormonk.FieldErrorf(flavormonk.EINVALID, "diet", "unknown diet %q", d)
		}
	}
	return nil
}

// scratch holds per-query arrays sized to the index, reused across queries.
type scratch struct {
	score   []float64
	best    []float64
	hits    []uint8
	touched []uint32
	group   []uint32
	cands   []cand
	tagN    []int32
	cuisN   []int32
}

type cand struct {
	doc   uint32
	score float64
}

var scratchPool sync.Pool

func getScratch(n int) *scratch {
	sc, _ := scratchPool.Get().(*scratch)
	if sc == nil || len(sc.score) < n {
		sc = &scratch{score: make([]float64, n), best: make([]float64, n), hits: make([]uint8, n)}
	}
	sc.cands = sc.cands[:0]
	return sc
}

// Search runs a query against the current snapshot.
func (ix *Index) Search(q Query) (*Result, error) { return ix.search(q, nil) }

// rrfK is reciprocal rank fusion's constant: a document ranked r by one
// list contributes 1/(rrfK+r).
const rrfK = 60

// SearchHybrid runs a query and fuses its lexical ranking with the vector
// index's nearest neighbours (best first) by reciprocal rank fusion. Vector
// hits that match no query word still count if they pass the filters; facets
// and totals cover the fused set.
func (ix *Index) SearchHybrid(q Query, vec []flavormonk.VectorHit) (*Result, error) {
	if vec == nil {
		vec = []flavormonk.VectorHit{}
	}
	return ix.search(q, vec)
}

func (ix *Index) search(q Query, vec []flavormonk.VectorHit) (*Result, error) {
	if err := q.Validate(MaxLimit); err != nil {
		return nil, err
	}
	s := ix.snap.Load()
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	fp := q.fingerprint()
	if vec != nil {
		fp ^= 0x9e3779b97f4a7c15 // hybrid cursors are not lexical ones
	}
	cur, err := decodeCursor(q.Cursor, fp)
	if err != nil {
		return nil, err
	}
	f := compileFilter(s, q.Include, q.Exclude, q.Tags, q.Diets, q.MaxMinutes)
	res := &Result{Hits: []Hit{}, Facets: map[string][]Facet{}}
	sc := getScratch(len(s.docs))
	defer scratchPool.Put(sc)

	terms := uniqueTerms(tokens(q.Text))
	switch {
	case f.empty:
	case len(terms) == 0:
		for n := range s.docs {
			if !f.any || f.pass(s, uint32(n)) {
				sc.cands = append(sc.cands, cand{uint32(n), 0})
			}
		}
	default:
		res.Relaxed = s.score(terms, q.Prefix, f, sc, res)
	}
	res.Mode = "lexical"
	if vec != nil && len(terms) > 0 && !f.empty {
		res.Mode = "hybrid"
		sc.cands = s.fuse(sc.cands, vec, f)
	}
	res.Total = len(sc.cands)
	s.facets(sc, res)
	page(sc.cands, cur, limit, s, res, fp)
	return res, nil
}

// fuse replaces lexical scores by reciprocal-rank-fusion scores of the
// lexical and vector rankings, adding vector hits that pass the filters.
func (s *snapshot) fuse(cands []cand, vec []flavormonk.VectorHit, f *filter) []cand {
	ranked := append([]cand(nil), cands...)
	sort.Slice(ranked, func(i, j int) bool { return worse(ranked[j], ranked[i]) })
	fused := make(map[uint32]float64, len(ranked)+len(vec))
	for r, c := range ranked {
		fused[c.doc] = 1 / float64(rrfK+r+1)
	}
	r := 0
	for _, h := range vec {
		n, ok := s.docNum(h.ID)
		if !ok || (f.any && !f.pass(s, n)) {
			continue
		}
		r++
		fused[n] += 1 / float64(rrfK+r)
	}
	out := cands[:0]
	for n, sc := range fused {
		out = append(out, cand{n, round(sc * 1000)})
	}
	return out
}

// docNum finds a doc by id (docs are sorted by id).
func (s *snapshot) docNum(id string) (uint32, bool) {
	i := sort.Search(len(s.docs), func(i int) bool { return s.docs[i].ID >= id })
	if i < len(s.docs) && s.docs[i].ID == id {
		return uint32(i), true
	}
	return 0, false
}

func uniqueTerms(ts []string) []string {
	out := ts[:0]
	for _, t := range ts {
		if !containsStr(out, t) {
			out = append(out, t)
		}
		if len(out) == MaxTerms {
			break
		}
	}
	return out
}

// score ranks the docs matching the terms (all of them, or when none match
// them all, any) with BM25, leaving the candidates in sc.cands.
func (s *snapshot) score(terms []string, prefix bool, f *filter, sc *scratch, res *Result) (relaxed bool) {
	groups := 0
	for i, t := range terms {
		exps := s.expand(t, prefix && i == len(terms)-1)
		if len(exps) == 0 {
			continue
		}
		groups++
		if s.vocab[exps[0].id] != t && exps[0].weight <= fuzzyWeight {
			if res.Corrections == nil {
				res.Corrections = map[string]string{}
			}
			res.Corrections[t] = s.vocab[exps[0].id]
		}
		for _, e := range exps {
			ps := s.postings[e.id]
			idf := s.idf(len(ps)) * e.weight
			for _, p := range ps {
				v := idf * float64(p.w)
				if sc.best[p.doc] == 0 {
					sc.group = append(sc.group, p.doc)
				}
				if v > sc.best[p.doc] {
					sc.best[p.doc] = v
				}
			}
		}
		for _, d := range sc.group {
			if sc.hits[d] == 0 {
				sc.touched = append(sc.touched, d)
			}
			sc.hits[d]++
			sc.score[d] += sc.best[d]
			sc.best[d] = 0
		}
		sc.group = sc.group[:0]
	}
	complete := len(terms) == groups
	for _, d := range sc.touched {
		if complete && int(sc.hits[d]) == groups && (!f.any || f.pass(s, d)) {
			sc.cands = append(sc.cands, cand{d, sc.score[d]})
		}
	}
	if len(sc.cands) == 0 && len(terms) > 1 {
		relaxed = true
		for _, d := range sc.touched {
			if !f.any || f.pass(s, d) {
				coord := float64(sc.hits[d]) / float64(len(terms))
				sc.cands = append(sc.cands, cand{d, sc.score[d] * coord})
			}
		}
	}
	for _, d := range sc.touched {
		sc.hits[d], sc.score[d] = 0, 0
	}
	sc.touched = sc.touched[:0]
	return relaxed && len(sc.cands) > 0
}
