package search

import (
	"encoding/base64"
	"encoding/binary"
	"hash/fnv"
	"math"
	"slices"
	"sort"
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

// bitset is a set of doc numbers.
type bitset []uint64

func newBitset(n int) bitset       { return make(bitset, (n+63)/64) }
func (b bitset) set(i uint32)      { b[i>>6] |= 1 << (i & 63) }
func (b bitset) has(i uint32) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func bitsetOf(n int, l []uint32) bitset {
	b := newBitset(n)
	for _, d := range l {
		b.set(d)
	}
	return b
}
func (b bitset) and(o bitset) {
	for i := range b {
		b[i] &= o[i]
	}
}
func (b bitset) or(o bitset) {
	for i := range b {
		b[i] |= o[i]
	}
}

// filter is a query's filters compiled against a snapshot: the set-valued
// ones (tags, ingredients) into bitsets over docs, so checking a doc costs
// a few bit tests whatever the query.
type filter struct {
	allow    bitset // nil: no set-valued requirement
	deny     bitset // nil: nothing excluded
	dietMask uint8
	maxMin   int32
	empty    bool // no doc can pass (an unknown tag, an ingredient nothing has)
	any      bool // any filter at all
}

// ingredientSet returns the docs having an ingredient that contains every
// word of want, or nil when a word is not indexed at all. Each doc's
// ingredient lines per word are kept as a bit mask, so a phrase ("olive
// oil") is an intersection of posting lists and masks, with no string work.
func (s *snapshot) ingredientSet(want []string) bitset {
	ids := make([]uint32, len(want))
	short := -1
	for i, w := range want {
		id, ok := s.term(w)
		if !ok || len(s.ingDocs[id]) == 0 {
			return nil
		}
		ids[i] = id
		if short < 0 || len(s.ingDocs[id]) < len(s.ingDocs[ids[short]]) {
			short = i
		}
	}
	docs := s.ingDocs[ids[short]]
	b := newBitset(len(s.docs))
	if len(ids) == 1 {
		for _, d := range docs {
			b.set(d)
		}
		return b
	}
	lines := s.ingLines[ids[short]]
	for k, d := range docs {
		m := lines[k]
		for i, id := range ids {
			if i == short || m == 0 {
				continue
			}
			j, found := slices.BinarySearch(s.ingDocs[id], d)
			if !found {
				m = 0
				break
			}
			m &= s.ingLines[id][j]
		}
		switch {
		case m == 0:
		case m == 1<<63: // only lines past the 63rd can match: check them
			if s.docs[d].hasIngredient(ids) {
				b.set(d)
			}
		default:
			b.set(d)
		}
	}
	return b
}

func compileFilter(s *snapshot, include, exclude, tags []string, diets []flavormonk.Diet, maxMin int) *filter {
	f := &filter{maxMin: int32(maxMin)}
	restrict := func(b bitset) {
		if f.allow == nil {
			f.allow = b
		} else {
			f.allow.and(b)
		}
	}
	for _, it := range include {
		t := tokens(it)
		if len(t) == 0 {
			continue
		}
		f.any = true
		b := s.ingredientSet(t)
		if b == nil {
			f.empty = true
			return f
		}
		restrict(b)
	}
	for _, it := range exclude {
		t := tokens(it)
		if len(t) == 0 {
			continue
		}
		f.any = true
		if b := s.ingredientSet(t); b != nil {
			if f.deny == nil {
				f.deny = b
			} else {
				f.deny.or(b)
			}
		}
	}
	for _, tag := range tags {
		k := normTag(tag)
		if k == "" {
			continue
		}
		f.any = true
		l := s.tagDocs[k]
		if len(l) == 0 {
			f.empty = true
			return f
		}
		restrict(bitsetOf(len(s.docs), l))
	}
	for _, d := range diets {
		f.dietMask |= dietBit(d)
	}
	f.any = f.any || f.dietMask != 0 || f.maxMin > 0
	return f
}

func (f *filter) pass(s *snapshot, n uint32) bool {
	if f.maxMin > 0 {
		if m := s.docMinutes[n]; m == 0 || m > f.maxMin {
			return false
		}
	}
	return s.docDiet[n]&f.dietMask == f.dietMask &&
		(f.allow == nil || f.allow.has(n)) &&
		(f.deny == nil || !f.deny.has(n))
}

// hasIngredient reports whether one of the doc's ingredients contains all
// the words of want ("soy sauce" matches "low-sodium soy sauce").
func (d *doc) hasIngredient(want []uint32) bool {
	for _, ing := range d.ingredients {
		if containsAllIDs(ing, want) {
			return true
		}
	}
	return false
}

func containsAllIDs(have, want []uint32) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w {
				found = true
				break
			}
		}
		if !found {
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

// facets counts tags, cuisines and diets over every candidate, into
// arrays indexed by dense ids.
func (s *snapshot) facets(sc *scratch, res *Result) {
	tagN := growZero(&sc.tagN, len(s.tagNames))
	cuisN := growZero(&sc.cuisN, len(s.cuisines))
	var masks [256]int32
	for _, c := range sc.cands {
		for _, id := range s.docTags[c.doc] {
			tagN[id]++
		}
		if id := s.docCuisine[c.doc]; id >= 0 {
			cuisN[id]++
		}
		masks[s.docDiet[c.doc]]++
	}
	res.Facets["tag"] = countsToFacets(tagN, s.tagNames)
	res.Facets["cuisine"] = countsToFacets(cuisN, s.cuisines)
	var diets [8]int32
	for m, n := range masks {
		if n == 0 {
			continue
		}
		for i := range flavormonk.Diets {
			if m&(1<<i) != 0 {
				diets[i] += n
			}
		}
	}
	names := make([]string, len(flavormonk.Diets))
	for i, d := range flavormonk.Diets {
		names[i] = string(d)
	}
	res.Facets["diet"] = countsToFacets(diets[:len(names)], names)
}

func growZero(p *[]int32, n int) []int32 {
	if cap(*p) < n {
		*p = make([]int32, n)
	}
	b := (*p)[:n]
	clear(b)
	return b
}

// countsToFacets keeps the most frequent values, most frequent first, ties
// by name, with a bounded selection rather than a full sort.
func countsToFacets(counts []int32, names []string) []Facet {
	out := make([]Facet, 0, maxFacetValues)
	worse := func(a, b Facet) bool { // a ranks below b
		if a.Count != b.Count {
			return a.Count < b.Count
		}
		return a.Value > b.Value
	}
	for id, n := range counts {
		if n == 0 {
			continue
		}
		f := Facet{names[id], int(n)}
		if len(out) == maxFacetValues && !worse(out[len(out)-1], f) {
			continue
		}
		i := len(out)
		if i < maxFacetValues {
			out = append(out, f)
		} else {
			i--
		}
		for ; i > 0 && worse(out[i-1], f); i-- {
			out[i] = out[i-1]
		}
		out[i] = f
	}
	return out
}

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
