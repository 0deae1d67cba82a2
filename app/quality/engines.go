package quality

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/search"
)

// Lexical returns a search function for Evaluate that runs the in-process
// lexical index and returns the ids of its first k hits.
func Lexical(ix *search.Index, k int) func(q string) ([]string, error) {
	return func(q string) ([]string, error) {
		r, err := ix.Search(search.Query{Text: q, Limit: k})
		if err != nil {
			return nil, err
		}
		return hitIDs(r), nil
	}
}

// Hybrid returns a search function for Evaluate that embeds the query,
// takes its neighbours nearest recipes from vs by cosine and fuses them with
// the lexical ranking (search.Index.SearchHybrid), returning the first k ids.
func Hybrid(ctx context.Context, ix *search.Index, vs *Vectors, k, neighbours int) func(q string) ([]string, error) {
	return func(q string) ([]string, error) {
		vec, err := vs.Nearest(ctx, q, neighbours)
		if err != nil {
			return nil, err
		}
		r, err := ix.SearchHybrid(search.Query{Text: q, Limit: k}, vec)
		if err != nil {
			return nil, err
		}
		return hitIDs(r), nil
	}
}

func hitIDs(r *search.Result) []string {
	out := make([]string, len(r.Hits))
	for i, h := range r.Hits {
		out[i] = h.ID
	}
	return out
}

// Vectors is an in-memory vector index of recipes: exact cosine nearest
// neighbours, enough for an evaluation over a few hundred recipes without a
// vector store.
type Vectors struct {
	emb  flavormonk.Embedder
	ids  []string
	vecs [][]float32 // unit length (or zero)
}

// EmbedRecipes embeds text(r) for every recipe, batch texts per call.
func EmbedRecipes(ctx context.Context, emb flavormonk.Embedder, rs []*flavormonk.Recipe, text func(*flavormonk.Recipe) string, batch int) (*Vectors, error) {
	if batch <= 0 {
		batch = 64
	}
	vs := &Vectors{emb: emb}
	for start := 0; start < len(rs); start += batch {
		end := min(start+batch, len(rs))
		texts := make([]string, 0, end-start)
		for _, r := range rs[start:end] {
			texts = append(texts, text(r))
		}
		got, err := emb.Embed(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("quality: embedding recipes: %w", err)
		}
		if len(got) != len(texts) {
			return nil, fmt.Errorf("quality: embedder returned %d vectors for %d texts", len(got), len(texts))
		}
		for i, v := range got {
			if err := vs.check(v); err != nil {
				return nil, err
			}
			vs.ids = append(vs.ids, rs[start+i].ID)
			vs.vecs = append(vs.vecs, unit(v))
		}
	}
	return vs, nil
}

func (vs *Vectors) check(v []float32) error {
	if d := vs.emb.Dimensions(); d > 0 && len(v) != d {
		return fmt.Errorf("quality: embedder %s returned %d dimensions, says %d", vs.emb.Model(), len(v), d)
	}
	if len(vs.vecs) > 0 && len(v) != len(vs.vecs[0]) {
		return fmt.Errorf("quality: embedder %s returned %d dimensions, earlier %d", vs.emb.Model(), len(v), len(vs.vecs[0]))
	}
	return nil
}

// Len is how many recipes vs holds.
func (vs *Vectors) Len() int { return len(vs.ids) }

// Nearest embeds q and returns up to n recipes by cosine similarity, best
// first (ties by id, so runs are repeatable).
func (vs *Vectors) Nearest(ctx context.Context, q string, n int) ([]flavormonk.VectorHit, error) {
	got, err := vs.emb.Embed(ctx, []string{q})
	if err != nil {
		return nil, fmt.Errorf("quality: embedding query: %w", err)
	}
	if len(got) != 1 {
		return nil, errors.New("quality: embedder returned no query vector")
	}
	if err := vs.check(got[0]); err != nil {
		return nil, err
	}
	qv := unit(got[0])
	hits := make([]flavormonk.VectorHit, len(vs.ids))
	for i, v := range vs.vecs {
		hits[i] = flavormonk.VectorHit{ID: vs.ids[i], Score: dot(qv, v)}
	}
	sort.Slice(hits, func(a, b int) bool {
		if hits[a].Score != hits[b].Score {
			return hits[a].Score > hits[b].Score
		}
		return hits[a].ID < hits[b].ID
	})
	if n >= 0 && len(hits) > n {
		hits = hits[:n]
	}
	return hits, nil
}

func unit(v []float32) []float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if ss == 0 {
		return out
	}
	inv := 1 / math.Sqrt(ss)
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
