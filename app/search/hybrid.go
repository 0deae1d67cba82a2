package search

import (
	"context"
	"log/slog"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/backendmetrics"
)

// Vectors finds the recipes nearest to a query text (the vector half of
// hybrid search).
type Vectors interface {
	Nearest(ctx context.Context, text string, k int) ([]flavormonk.VectorHit, error)
}

// vectorK is how many nearest neighbours are fused with the lexical ranking.
const vectorK = 50

// HybridOptions configure Hybrid.
type HybridOptions struct {
	// Timeout is the vector side's share of a search's time: past it, the
	// search answers lexically.
	Timeout time.Duration
	Log     *slog.Logger
	// Metrics receive the vector query's latency (op "vector_query") and
	// its fallbacks (backend "vector").
	Metrics *backendmetrics.Metrics
}

// Hybrid searches ix and the vector index v and fuses the two rankings.
// When the vector side fails or is late the search answers lexically
// within its deadline, marks the result Degraded, and counts a fallback.
// Queries without text are lexical: there is nothing to embed.
func Hybrid(ix *Index, v Vectors, o HybridOptions) Searcher {
	return &hybrid{ix: ix, vectors: v, o: o}
}

type hybrid struct {
	ix      *Index
	vectors Vectors
	o       HybridOptions
}

func (h *hybrid) Search(ctx context.Context, q Query) (*Result, error) {
	if q.Text == "" {
		return h.ix.Search(q)
	}
	vctx, cancel := context.WithTimeout(ctx, h.o.Timeout)
	start := time.Now()
	hits, err := h.vectors.Nearest(vctx, q.Text, vectorK)
	cancel()
	h.o.Metrics.Observe("vector_query", time.Since(start))
	if err != nil {
		h.o.Metrics.Fallback("vector")
		h.o.Log.WarnContext(ctx, "vector search failed; answering lexically", "err", err)
		res, err := h.ix.Search(q)
		if res != nil {
			res.Degraded = true
		}
		return res, err
	}
	return h.ix.SearchHybrid(q, hits)
}
