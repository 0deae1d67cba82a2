// Package search is Flavor Monk's lexical search: an in-process index built
// from the store and kept current by following its revisions. Ranking (BM25
// over weighted fields), typo tolerance, filters, facets, cursor pagination
// and pantry matching live here once, for every store.
//
// Queries read an immutable snapshot through an atomic pointer, so they
// never wait for an update; updates build a new snapshot and swap it in.
package search

import (
	"context"
	"log/slog"
	"maps"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Field weights in the ranking: a word in the name counts three times one in
// the description.
const (
	weightName        = 3.0
	weightTag         = 2.0
	weightIngredient  = 2.0
	weightDescription = 1.0

	bm25K1 = 1.2
	bm25B  = 0.75

	maxDescription = 240
)

// Summary is what search results show of a recipe.
type Summary struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Minutes     int               `json:"total_minutes,omitempty"`
	Servings    int               `json:"servings,omitempty"`
	Cuisine     string            `json:"cuisine,omitempty"`
	Category    string            `json:"category,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Diets       []flavormonk.Diet `json:"diets,omitempty"`
	ImageURL    string            `json:"image_url,omitempty"`
}

// termTF is one term of a doc with its field-weighted frequency.
type termTF struct {
	id uint32
	tf float32
}

// doc is one recipe as the index holds it.
type doc struct {
	Summary
	ingredients [][]uint32 // each ingredient's item as term ids
	ingNames    []string   // each ingredient's item as written, for "missing" lists
	terms       []termTF
	length      float32
	dietMask    uint8
	tagKeys     []string // normalised tags, cuisine and category
	json        []byte   // summaryJSON(&Summary)
}

// dict interns terms: every distinct term is stored once and known by a
// dense id. It only grows (until the next full Load), under Index.mu, so a
// snapshot can share its prefix.
type dict struct {
	ids   map[string]uint32
	terms []string
}

func newDict() *dict { return &dict{ids: map[string]uint32{}} }

func (d *dict) id(t string) uint32 {
	if id, ok := d.ids[t]; ok {
		return id
	}
	t = strings.Clone(t)
	id := uint32(len(d.terms))
	d.ids[t] = id
	d.terms = append(d.terms, t)
	return id
}

func newDoc(r *flavormonk.Recipe, dc *dict) *doc {
	d := &doc{}
	tfs := map[uint32]float32{}
	desc := r.Description
	if len(desc) > maxDescription {
		cut := strings.LastIndexByte(desc[:maxDescription], ' ')
		if cut < maxDescription/2 {
			cut = maxDescription
		}
		desc = strings.ToValidUTF8(desc[:cut], "") + "…"
	}
	d.Summary = Summary{ID: r.ID, Name: r.Name, Description: strings.Clone(desc), Minutes: r.Minutes(), Servings: r.Servings,
		Cuisine: r.Cuisine, Category: r.Category, Tags: r.Tags, Diets: r.Diets, ImageURL: r.ImageURL}
	d.json = summaryJSON(&d.Summary)
	var buf []string
	add := func(text string, w float32) {
		buf = appendTokens(buf[:0], text)
		for _, t := range buf {
			tfs[dc.id(t)] += w
			d.length += w
		}
	}
	add(r.Name, weightName)
	add(r.Description, weightDescription)
	add(r.Cuisine, weightTag)
	add(r.Category, weightTag)
	seen := map[string]bool{}
	for _, t := range append(append([]string{}, r.Tags...), r.Cuisine, r.Category) {
		if k := normTag(t); k != "" && !seen[k] {
			seen[k] = true
			d.tagKeys = append(d.tagKeys, k)
		}
	}
	for _, t := range r.Tags {
		add(t, weightTag)
	}
	for _, ing := range r.Ingredients {
		item := ing.Item
		if item == "" {
			item = ing.Text
		}
		buf = appendTokens(buf[:0], item)
		if len(buf) == 0 {
			continue
		}
		ids := make([]uint32, len(buf))
		for i, t := range buf {
			ids[i] = dc.id(t)
			tfs[ids[i]] += weightIngredient
			d.length += weightIngredient
		}
		d.ingredients = append(d.ingredients, ids)
		d.ingNames = append(d.ingNames, item)
	}
	d.terms = make([]termTF, 0, len(tfs))
	for id, tf := range tfs {
		d.terms = append(d.terms, termTF{id, tf})
	}
	sort.Slice(d.terms, func(i, j int) bool { return d.terms[i].id < d.terms[j].id })
	for _, diet := range r.Diets {
		d.dietMask |= dietBit(diet)
	}
	if d.dietMask&dietBit(flavormonk.DietVegan) != 0 {
		d.dietMask |= dietBit(flavormonk.DietVegetarian)
	}
	return d
}

func dietBit(d flavormonk.Diet) uint8 {
	for i, x := range flavormonk.Diets {
		if x == d {
			return 1 << i
		}
	}
	return 0
}

// posting is one doc containing a term, with the term's BM25 saturation
// for that doc precomputed: tf·(k1+1) / (tf + k1·(1 − b + b·len/avglen)).
type posting struct {
	doc uint32
	w   float32
}

// snapshot is an immutable index over a set of docs. Doc numbers are
// positions in docs, which is sorted by id, so comparing doc numbers
// compares ids.
type snapshot struct {
	docs       []*doc
	ids        map[string]uint32 // term → id (a copy: the Index's grows)
	vocab      []string          // id → term
	postings   [][]posting       // by term id
	ingDocs    [][]uint32        // by term id: docs with an ingredient containing it
	ingLines   [][]uint64        // parallel to ingDocs: which ingredient lines (bit i = line i, 63 = line ≥ 63)
	tagDocs    map[string][]uint32
	tagNames   []string  // tag id → display name
	docTags    [][]int32 // doc → tag ids (tags only, not cuisine/category)
	cuisines   []string  // cuisine id → name
	docCuisine []int32   // doc → cuisine id, -1 for none
	docMinutes []int32
	docDiet    []uint8
	sorted     []uint32            // ids of indexed terms, sorted by term, for prefix completion
	grams      map[string][]uint32 // trigram → ids of indexed terms
	revision   int64
	fuzzyMemo  sync.Map // term → []expansion
	fuzzyN     atomic.Int32
}

// term returns the id of an indexed term.
func (s *snapshot) term(t string) (uint32, bool) {
	id, ok := s.ids[t]
	if !ok || int(id) >= len(s.postings) || len(s.postings[id]) == 0 {
		return 0, false
	}
	return id, true
}

func buildSnapshot(docs map[string]*doc, dc *dict, rev int64) *snapshot {
	n := len(docs)
	s := &snapshot{
		docs:       make([]*doc, 0, n),
		ids:        maps.Clone(dc.ids),
		vocab:      dc.terms[:len(dc.terms):len(dc.terms)],
		postings:   make([][]posting, len(dc.terms)),
		ingDocs:    make([][]uint32, len(dc.terms)),
		ingLines:   make([][]uint64, len(dc.terms)),
		tagDocs:    map[string][]uint32{},
		docTags:    make([][]int32, n),
		docCuisine: make([]int32, n),
		docMinutes: make([]int32, n),
		docDiet:    make([]uint8, n),
		grams:      map[string][]uint32{},
		revision:   rev,
	}
	for _, d := range docs {
		s.docs = append(s.docs, d)
	}
	sort.Slice(s.docs, func(i, j int) bool { return s.docs[i].ID < s.docs[j].ID })
	var total float64
	df := make([]int32, len(dc.terms))
	for _, d := range s.docs {
		total += float64(d.length)
		for _, t := range d.terms {
			df[t.id]++
		}
	}
	for id, c := range df {
		if c > 0 {
			s.postings[id] = make([]posting, 0, c)
		}
	}
	avg := float32(1)
	if n > 0 && total > 0 {
		avg = float32(total / float64(n))
	}
	tagIDs := map[string]int32{}
	cuisineIDs := map[string]int32{}
	for num, d := range s.docs {
		dn := uint32(num)
		norm := bm25K1 * (1 - bm25B + bm25B*d.length/avg)
		for _, t := range d.terms {
			s.postings[t.id] = append(s.postings[t.id], posting{doc: dn, w: t.tf * (bm25K1 + 1) / (t.tf + norm)})
		}
		for line, ing := range d.ingredients {
			bit := uint64(1) << min(line, 63)
			for _, id := range ing {
				l := s.ingDocs[id]
				if len(l) == 0 || l[len(l)-1] != dn {
					s.ingDocs[id] = append(l, dn)
					s.ingLines[id] = append(s.ingLines[id], bit)
				} else {
					s.ingLines[id][len(l)-1] |= bit
				}
			}
		}
		for _, k := range d.tagKeys {
			s.tagDocs[k] = append(s.tagDocs[k], dn)
		}
		for _, tag := range d.Tags {
			k := normTag(tag)
			if k == "" {
				continue
			}
			id, ok := tagIDs[k]
			if !ok {
				id = int32(len(s.tagNames))
				tagIDs[k] = id
				s.tagNames = append(s.tagNames, strings.ToLower(strings.TrimSpace(tag)))
			}
			s.docTags[num] = append(s.docTags[num], id)
		}
		s.docCuisine[num] = -1
		if d.Cuisine != "" {
			id, ok := cuisineIDs[d.Cuisine]
			if !ok {
				id = int32(len(s.cuisines))
				cuisineIDs[d.Cuisine] = id
				s.cuisines = append(s.cuisines, d.Cuisine)
			}
			s.docCuisine[num] = id
		}
		s.docMinutes[num] = int32(d.Minutes)
		s.docDiet[num] = d.dietMask
	}
	for id, ps := range s.postings {
		if len(ps) == 0 {
			continue
		}
		s.sorted = append(s.sorted, uint32(id))
		for _, g := range trigrams(s.vocab[id]) {
			s.grams[g] = append(s.grams[g], uint32(id))
		}
	}
	sort.Slice(s.sorted, func(i, j int) bool { return s.vocab[s.sorted[i]] < s.vocab[s.sorted[j]] })
	return s
}

func (s *snapshot) idf(df int) float64 {
	n := float64(len(s.docs))
	return math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5))
}

// Index is the in-process search index. It is safe for concurrent use.
type Index struct {
	snap atomic.Pointer[snapshot]

	mu   sync.Mutex // serialises updates
	docs map[string]*doc
	dict *dict

	updates atomic.Int64 // snapshots built, for metrics and tests
}

// New returns an empty index.
func New() *Index {
	ix := &Index{docs: map[string]*doc{}, dict: newDict()}
	ix.snap.Store(buildSnapshot(ix.docs, ix.dict, 0))
	return ix
}

// Len is the number of indexed recipes.
func (ix *Index) Len() int { return len(ix.snap.Load().docs) }

// Revision is the store revision the index reflects.
func (ix *Index) Revision() int64 { return ix.snap.Load().revision }

// Apply adds or replaces recipes, removes deleted ids, and publishes a new
// snapshot at revision rev.
func (ix *Index) Apply(upserted []*flavormonk.Recipe, deleted []string, rev int64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, r := range upserted {
		ix.docs[r.ID] = newDoc(r, ix.dict)
	}
	for _, id := range deleted {
		delete(ix.docs, id)
	}
	if cur := ix.snap.Load().revision; rev < cur {
		rev = cur
	}
	ix.snap.Store(buildSnapshot(ix.docs, ix.dict, rev))
	ix.updates.Add(1)
}

// Load fills the index from the store, replacing what it held, reading the
// recipes in pages so memory stays flat.
func (ix *Index) Load(ctx context.Context, st flavormonk.Store) error {
	rev, err := st.Revision(ctx)
	if err != nil {
		return err
	}
	docs := map[string]*doc{}
	dc := newDict()
	after := ""
	for {
		page, err := st.Recipes(ctx, after, 500)
		if err != nil {
			return err
		}
		for _, r := range page {
			docs[r.ID] = newDoc(r, dc)
		}
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	ix.mu.Lock()
	ix.docs, ix.dict = docs, dc
	ix.snap.Store(buildSnapshot(docs, dc, rev))
	ix.updates.Add(1)
	ix.mu.Unlock()
	return nil
}

// Refresh applies the store's changes since the index's revision. It
// returns whether anything changed.
func (ix *Index) Refresh(ctx context.Context, st flavormonk.Store) (bool, error) {
	cur := ix.Revision()
	rev, err := st.Revision(ctx)
	if err != nil || rev <= cur {
		return false, err
	}
	cs, err := st.Changes(ctx, cur)
	if err != nil {
		return false, err
	}
	ix.Apply(cs.Upserted, cs.Deleted, cs.Revision)
	return true, nil
}

// Follow keeps the index current until ctx ends: it refreshes every
// interval, and at once when Notify is called. Errors are logged and
// retried; search keeps serving the last snapshot meanwhile.
func (ix *Index) Follow(ctx context.Context, st flavormonk.Store, interval time.Duration, notify <-chan struct{}, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	// While the store is down every poll fails: log the first failure and
	// then one per minute's worth of polls, not one per poll.
	every := max(1, int(time.Minute/max(interval, time.Millisecond)))
	failed := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-notify:
		}
		_, err := ix.Refresh(ctx, st)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			if failed%every == 0 {
				log.Warn("search index refresh failed; serving the last loaded index", "err", err, "failed_polls", failed+1)
			}
			failed++
		case failed > 0:
			log.Info("search index refresh works again", "failed_polls", failed)
			failed = 0
		}
	}
}

// Updated is when the index last changed and how often it has.
func (ix *Index) Updates() int64 { return ix.updates.Load() }
