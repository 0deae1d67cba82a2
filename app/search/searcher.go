package search

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// A Searcher answers recipe searches. The index answers lexically (Lexical);
// cross-cutting behaviour wraps a Searcher: Hybrid fuses the vector index's
// neighbours into the lexical ranking, Cached keeps encoded answers in the
// tier's cache. Main composes them once; the web handlers and the
// assistant's retrieval call the result.
type Searcher interface {
	Search(ctx context.Context, q Query) (*Result, error)
}

// An Encoder answers a search with the result's JSON (Result.AppendJSON
// followed by a newline) without building a Result: Cached keeps answers
// encoded, and re-encoding a cached answer would cost most of what the
// cache saves. Callers that only send JSON prefer it when a Searcher has it.
type Encoder interface {
	SearchJSON(ctx context.Context, q Query) ([]byte, error)
}

// Lexical is the index as a Searcher.
func Lexical(ix *Index) Searcher { return lexical{ix} }

type lexical struct{ ix *Index }

// Search ignores ctx: a lexical search reads one in-memory snapshot and
// takes microseconds.
func (l lexical) Search(_ context.Context, q Query) (*Result, error) { return l.ix.Search(q) }

// RegisterMetrics registers gauges of ix's size, revision and updates.
func RegisterMetrics(reg prometheus.Registerer, ix *Index) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flavormonk_search_index_recipes", Help: "Recipes in the in-process search index."},
			func() float64 { return float64(ix.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flavormonk_search_index_revision", Help: "Store revision the search index reflects."},
			func() float64 { return float64(ix.Revision()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "flavormonk_search_index_updates_total", Help: "Search index snapshots built."},
			func() float64 { return float64(ix.Updates()) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
