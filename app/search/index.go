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

// doc is one recipe as the index holds it.
type doc struct {
	Summary
	ingredients [][]string // each ingredient's item as terms
	ingNames    []string   // each ingredient's item as written, for "missing" lists
	terms       map[string]float32
	length      float32
	dietMask    uint8
	tagKeys     []string // normalised tags, cuisine and category
}

func newDoc(r *flavormonk.Recipe) *doc {
	d := &doc{terms: map[string]float32{}}
	desc := r.Description
	if len(desc) > maxDescription {
		cut := strings.LastIndexByte(desc[:maxDescription], ' ')
		if cut < maxDescription/2 {
			cut = maxDescription
		}
		desc = strings.ToValidUTF8(desc[:cut], "") + "…"
	}
	d.Summary = Summary{ID: r.ID, Name: r.Name, Description: desc, Minutes: r.Minutes(), Servings: r.Servings,
		Cuisine: r.Cuisine, Category: r.Category, Tags: r.Tags, Diets: r.Diets, ImageURL: r.ImageURL}
	add := func(text string, w float32) {
		for _, t := range tokens(text) {
			d.terms[t] += w
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
		toks := tokens(item)
		if len(toks) == 0 {
			continue
		}
		d.ingredients = append(d.ingredients, toks)
		d.ingNames = append(d.ingNames, item)
		for _, t := range toks {
			d.terms[t] += weightIngredient
			d.length += weightIngredient
		}
	}
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

type posting struct {
	doc uint32
	tf  float32
}

// snapshot is an immutable index over a set of docs.
type snapshot struct {
	docs      []*doc // sorted by id; doc numbers are positions here
	postings  map[string][]posting
	ingDocs   map[string][]uint32 // ingredient term → docs containing it
	tagDocs   map[string][]uint32 // normalised tag → docs
	tagIDs    map[string]int      // normalised tag → dense id, for facet counting
	tagNames  []string            // dense id → display name
	docTags   [][]int32           // doc → tag ids (tags only, not cuisine/category)
	vocab     []string            // all terms, sorted
	grams     map[string][]int32  // trigram → vocab ids
	avgLen    float32
	revision  int64
	fuzzyMemo sync.Map // term → []expansion
	fuzzyN    atomic.Int32
}

func buildSnapshot(docs map[string]*doc, rev int64) *snapshot {
	s := &snapshot{
		docs:     make([]*doc, 0, len(docs)),
		postings: map[string][]posting{},
		ingDocs:  map[string][]uint32{},
		tagDocs:  map[string][]uint32{},
		tagIDs:   map[string]int{},
		grams:    map[string][]int32{},
		revision: rev,
	}
	for _, d := range docs {
		s.docs = append(s.docs, d)
	}
	sort.Slice(s.docs, func(i, j int) bool { return s.docs[i].ID < s.docs[j].ID })
	var total float64
	s.docTags = make([][]int32, len(s.docs))
	for n, d := range s.docs {
		num := uint32(n)
		total += float64(d.length)
		for t, tf := range d.terms {
			s.postings[t] = append(s.postings[t], posting{doc: num, tf: tf})
		}
		seen := map[string]bool{}
		for _, ing := range d.ingredients {
			for _, t := range ing {
				if !seen[t] {
					seen[t] = true
					s.ingDocs[t] = append(s.ingDocs[t], num)
				}
			}
		}
		for _, k := range d.tagKeys {
			s.tagDocs[k] = append(s.tagDocs[k], num)
		}
		for _, tag := range d.Tags {
			k := normTag(tag)
			if k == "" {
				continue
			}
			id, ok := s.tagIDs[k]
			if !ok {
				id = len(s.tagNames)
				s.tagIDs[k] = id
				s.tagNames = append(s.tagNames, strings.ToLower(strings.TrimSpace(tag)))
			}
			s.docTags[n] = append(s.docTags[n], int32(id))
		}
	}
	// Postings were appended in doc order, so each list is sorted by doc.
	if len(s.docs) > 0 {
		s.avgLen = float32(total / float64(len(s.docs)))
	}
	s.vocab = make([]string, 0, len(s.postings))
	for t := range s.postings {
		s.vocab = append(s.vocab, t)
	}
	sort.Strings(s.vocab)
	for id, t := range s.vocab {
		for _, g := range trigrams(t) {
			s.grams[g] = append(s.grams[g], int32(id))
		}
	}
	return s
}

func (s *snapshot) idf(df int) float64 {
	n := float64(len(s.docs))
	return math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5))
}

func (s *snapshot) bm25(p posting, idf float64) float64 {
	d := s.docs[p.doc]
	tf := float64(p.tf)
	norm := bm25K1 * (1 - bm25B + bm25B*float64(d.length)/float64(s.avgLen))
	return idf * tf * (bm25K1 + 1) / (tf + norm)
}

// Index is the in-process search index. It is safe for concurrent use.
type Index struct {
	snap atomic.Pointer[snapshot]

	mu   sync.Mutex // serialises updates
	docs map[string]*doc

	updates atomic.Int64 // snapshots built, for metrics and tests
}

// New returns an empty index.
func New() *Index {
	ix := &Index{docs: map[string]*doc{}}
	ix.snap.Store(buildSnapshot(ix.docs, 0))
	return ix
}

// Len is the number of indexed recipes.
func (ix *Index) Len() int { return len(ix.snap.Load().docs) }

// Revision is the store revision the index reflects.
func (ix *Index) Revision() int64 { return ix.snap.Load().revision }

// Apply adds or replaces recipes, removes deleted ids, and publishes a new
// snapshot at revision rev.
func (ix *Index) Apply(upserted []*flavormonk.Recipe, deleted []string, rev int64) {
	built := make([]*doc, len(upserted))
	for i, r := range upserted {
		built[i] = newDoc(r)
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, d := range built {
		ix.docs[d.ID] = d
	}
	for _, id := range deleted {
		delete(ix.docs, id)
	}
	if cur := ix.snap.Load().revision; rev < cur {
		rev = cur
	}
	ix.snap.Store(buildSnapshot(ix.docs, rev))
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
	after := ""
	for {
		page, err := st.Recipes(ctx, after, 500)
		if err != nil {
			return err
		}
		for _, r := range page {
			docs[r.ID] = newDoc(r)
		}
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	ix.mu.Lock()
	ix.docs = docs
	ix.snap.Store(buildSnapshot(docs, rev))
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
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-notify:
		}
		if _, err := ix.Refresh(ctx, st); err != nil && ctx.Err() == nil {
			log.Warn("search index refresh failed", "err", err)
		}
	}
}

// Updated is when the index last changed and how often it has.
func (ix *Index) Updates() int64 { return ix.updates.Load() }
