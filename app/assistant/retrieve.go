package assistant

import (
	"context"
	"strings"
	"sync"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/search"
)

// SearchRetriever retrieves with the tier's search: recipes must match the
// question's words lexically; when Hybrid is set (vectors on), the hybrid
// ranking orders those matches.
type SearchRetriever struct {
	Index *search.Index
	// Hybrid is the tier's hybrid search (search.Hybrid, uncached: a
	// question rarely repeats a search); nil for lexical only.
	Hybrid search.Searcher
	// Load reads a whole recipe from the store.
	Load func(ctx context.Context, id string) (*flavormonk.Recipe, error)

	// Recipes loaded at the index's current revision: a store read costs
	// more than the search itself. Any change to the collection empties it.
	mu       sync.Mutex
	revision int64
	loaded   map[string]*flavormonk.Recipe
}

// maxLoaded bounds the recipes kept between changes.
const maxLoaded = 2048

// Recipe implements Retriever.
func (r *SearchRetriever) Recipe(ctx context.Context, id string) (*flavormonk.Recipe, error) {
	rev := r.Index.Revision()
	r.mu.Lock()
	if r.revision != rev || r.loaded == nil {
		r.revision, r.loaded = rev, map[string]*flavormonk.Recipe{}
	}
	rec, ok := r.loaded[id]
	r.mu.Unlock()
	if ok {
		return rec, nil
	}
	rec, err := r.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.revision == rev && len(r.loaded) < maxLoaded {
		r.loaded[id] = rec
	}
	r.mu.Unlock()
	return rec, nil
}

// Retrieve implements Retriever.
func (r *SearchRetriever) Retrieve(ctx context.Context, text string, k int) ([]*flavormonk.Recipe, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	q := search.Query{Text: text, Limit: search.MaxLimit}
	lex, err := r.Index.Search(q)
	if err != nil {
		// A question is not a search box: words the index refuses mean no match.
		if flavormonk.ErrorCode(err) == flavormonk.EINVALID {
			return nil, nil
		}
		return nil, err
	}
	if len(lex.Hits) == 0 || (lex.Relaxed && !r.anyExact(text)) {
		return nil, nil
	}
	hits := lex.Hits
	if r.Hybrid != nil {
		if res, err := r.Hybrid.Search(ctx, q); err == nil && !res.Degraded {
			matched := make(map[string]bool, len(lex.Hits))
			for _, h := range lex.Hits {
				matched[h.ID] = true
			}
			hits = nil
			for _, h := range res.Hits {
				if matched[h.ID] {
					hits = append(hits, h)
				}
			}
		}
	}
	var out []*flavormonk.Recipe
	for _, h := range hits {
		if len(out) == k {
			break
		}
		rec, err := r.Recipe(ctx, h.ID)
		if err != nil {
			if flavormonk.ErrorCode(err) == flavormonk.ENOTFOUND {
				continue // deleted since the index saw it
			}
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// anyExact reports whether some word of text matches a recipe as written,
// not only through a typo correction: a relaxed match on corrections alone
// ("build a spaceship" → "built") is no evidence the collection has it.
func (r *SearchRetriever) anyExact(text string) bool {
	for _, w := range strings.Fields(text) {
		res, err := r.Index.Search(search.Query{Text: w, Limit: 1})
		if err == nil && len(res.Hits) > 0 && len(res.Corrections) == 0 {
			return true
		}
	}
	return false
}
