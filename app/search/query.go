package search

import (
	"encoding/base64"
	"encoding/binary"
	"hash/fnv"
	"math"
	"strings"
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

// filter is a query's filters compiled against a snapshot.
type filter struct {
	include  [][]string
	exclude  [][]string
	tags     []string
	dietMask uint8
	maxMin   int
	empty    bool // a filter no doc can pass (an unknown tag, an include nothing has)
}

func compileFilter(s *snapshot, include, exclude, tags []string, diets []flavormonk.Diet, maxMin int) *filter {
	f := &filter{maxMin: maxMin}
	for _, it := range include {
		if t := tokens(it); len(t) > 0 {
			f.include = append(f.include, t)
			for _, x := range t {
				if len(s.ingDocs[x]) == 0 {
					f.empty = true
				}
			}
		}
	}
	for _, it := range exclude {
		if t := tokens(it); len(t) > 0 {
			f.exclude = append(f.exclude, t)
		}
	}
	for _, tag := range tags {
		if k := normTag(tag); k != "" {
			f.tags = append(f.tags, k)
			if len(s.tagDocs[k]) == 0 {
				f.empty = true
			}
		}
	}
	for _, d := range diets {
		f.dietMask |= dietBit(d)
	}
	return f
}

func (f *filter) active() bool {
	return len(f.include)+len(f.exclude)+len(f.tags) > 0 || f.dietMask != 0 || f.maxMin > 0
}

func (f *filter) pass(d *doc) bool {
	if f.maxMin > 0 && (d.Minutes == 0 || d.Minutes > f.maxMin) {
		return false
	}
	if d.dietMask&f.dietMask != f.dietMask {
		return false
	}
	for _, t := range f.tags {
		if !containsStr(d.tagKeys, t) {
			return false
		}
	}
	for _, inc := range f.include {
		if !d.hasIngredient(inc) {
			return false
		}
	}
	for _, exc := range f.exclude {
		if d.hasIngredient(exc) {
			return false
		}
	}
	return true
}

// base returns the docs a filter can start from without a text query: the
// shortest posting list among its required tags and ingredients, or nil
// for "all docs".
func (f *filter) base(s *snapshot) []uint32 {
	var best []uint32
	found := false
	consider := func(l []uint32) {
		if !found || len(l) < len(best) {
			best, found = l, true
		}
	}
	for _, t := range f.tags {
		consider(s.tagDocs[t])
	}
	for _, inc := range f.include {
		for _, t := range inc {
			consider(s.ingDocs[t])
		}
	}
	if !found {
		return nil
	}
	if best == nil {
		best = []uint32{}
	}
	return best
}

// hasIngredient reports whether one of the doc's ingredients contains all
// the words of want ("soy sauce" matches "low-sodium soy sauce").
func (d *doc) hasIngredient(want []string) bool {
	for _, ing := range d.ingredients {
		if containsAll(ing, want) {
			return true
		}
	}
	return false
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !containsStr(have, w) {
			return false
		}
	}
	return true
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
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
	cuisine map[string]int
}

type cand struct {
	doc   uint32
	score float64
}

var scratchPool sync.Pool

func getScratch(n int) *scratch {
	sc, _ := scratchPool.Get().(*scratch)
	if sc == nil || len(sc.score) < n {
		sc = &scratch{score: make([]float64, n), best: make([]float64, n), hits: make([]uint8, n), cuisine: map[string]int{}}
	}
	sc.cands = sc.cands[:0]
	return sc
}

// Search runs a query against the current snapshot.
func (ix *Index) Search(q Query) (*Result, error) {
	if err := q.Validate(MaxLimit); err != nil {
		return nil, err
	}
	s := ix.snap.Load()
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	cur, err := decodeCursor(q.Cursor, q.fingerprint())
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
		base := f.base(s)
		if base == nil {
			for n, d := range s.docs {
				if !f.active() || f.pass(d) {
					sc.cands = append(sc.cands, cand{uint32(n), 0})
				}
			}
		} else {
			for _, n := range base {
				if f.pass(s.docs[n]) {
					sc.cands = append(sc.cands, cand{n, 0})
				}
			}
		}
	default:
		res.Relaxed = s.score(terms, q.Prefix, f, sc, res)
	}
	res.Total = len(sc.cands)
	s.facets(sc, res)
	page(sc.cands, cur, limit, s, res, q.fingerprint())
	return res, nil
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
		if exps[0].term != t && exps[0].weight <= fuzzyWeight {
			if res.Corrections == nil {
				res.Corrections = map[string]string{}
			}
			res.Corrections[t] = exps[0].term
		}
		for _, e := range exps {
			ps := s.postings[e.term]
			idf := s.idf(len(ps)) * e.weight
			for _, p := range ps {
				v := s.bm25(p, idf)
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
	unmatched := len(terms) - groups
	active := f.active()
	for _, d := range sc.touched {
		if int(sc.hits[d]) == groups && unmatched == 0 && (!active || f.pass(s.docs[d])) {
			sc.cands = append(sc.cands, cand{d, sc.score[d]})
		}
	}
	if len(sc.cands) == 0 && len(terms) > 1 {
		relaxed = true
		for _, d := range sc.touched {
			if !active || f.pass(s.docs[d]) {
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

// facets counts tags, cuisines and diets over every candidate.
func (s *snapshot) facets(sc *scratch, res *Result) {
	if cap(sc.tagN) < len(s.tagNames) {
		sc.tagN = make([]int32, len(s.tagNames))
	}
	tagN := sc.tagN[:len(s.tagNames)]
	for i := range tagN {
		tagN[i] = 0
	}
	clear(sc.cuisine)
	var diets [8]int
	for _, c := range sc.cands {
		d := s.docs[c.doc]
		for _, id := range s.docTags[c.doc] {
			tagN[id]++
		}
		if d.Cuisine != "" {
			sc.cuisine[d.Cuisine]++
		}
		for i := range flavormonk.Diets {
			if d.dietMask&(1<<i) != 0 {
				diets[i]++
			}
		}
	}
	var tags []Facet
	for id, n := range tagN {
		if n > 0 {
			tags = append(tags, Facet{s.tagNames[id], int(n)})
		}
	}
	res.Facets["tag"] = topFacets(tags)
	var cuisines []Facet
	for v, n := range sc.cuisine {
		cuisines = append(cuisines, Facet{v, n})
	}
	res.Facets["cuisine"] = topFacets(cuisines)
	var ds []Facet
	for i, d := range flavormonk.Diets {
		if diets[i] > 0 {
			ds = append(ds, Facet{string(d), diets[i]})
		}
	}
	res.Facets["diet"] = topFacets(ds)
}

func topFacets(fs []Facet) []Facet {
	sortFacets(fs)
	if len(fs) > maxFacetValues {
		fs = fs[:maxFacetValues]
	}
	if fs == nil {
		fs = []Facet{}
	}
	return fs
}

// cursor is the position after the last hit of a page: results are ordered
// by score descending, then id ascending.
type cursor struct {
	score float64
	id    string
}

// page selects the hits after cur, up to limit, into res.
func page(cands []cand, cur *cursor, limit int, s *snapshot, res *Result, fp uint64) {
	after := cands[:0]
	for _, c := range cands {
		if cur == nil || before(cur.score, cur.id, c.score, s.docs[c.doc].ID) {
			after = append(after, c)
		}
	}
	top := selectTop(after, limit+1, s)
	more := len(top) > limit
	if more {
		top = top[:limit]
	}
	for _, c := range top {
		res.Hits = append(res.Hits, Hit{Summary: s.docs[c.doc].Summary, Score: round(c.score)})
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

// selectTop returns the k best candidates in order, with a bounded heap so
// a query matching everything costs O(n log k).
func selectTop(cs []cand, k int, s *snapshot) []cand {
	less := func(a, b cand) bool { // a ranks worse than b
		return before(b.score, s.docs[b.doc].ID, a.score, s.docs[a.doc].ID)
	}
	h := make([]cand, 0, k)
	down := func(i int) {
		for {
			l, m := 2*i+1, i
			if l < len(h) && less(h[l], h[m]) {
				m = l
			}
			if r := l + 1; r < len(h) && less(h[r], h[m]) {
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
				if !less(h[i], h[p]) {
					break
				}
				h[i], h[p] = h[p], h[i]
				i = p
			}
		} else if less(h[0], c) {
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
