package web

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/search"
)

// Vectors finds the recipes nearest to a query text (the vector half of
// hybrid search).
type Vectors interface {
	Nearest(ctx context.Context, text string, k int) ([]flavormonk.VectorHit, error)
	Ping(ctx context.Context) error
}

// vectorK is how many nearest neighbours are fused with the lexical ranking.
const vectorK = 50

// UseVectors turns on hybrid search. Each search gives the vector side at
// most timeout; when it fails or is late the search answers lexically
// within its deadline, marks the result degraded, and counts a fallback.
func (s *Server) UseVectors(v Vectors, timeout time.Duration) {
	s.vectors, s.vectorTimeout = v, timeout
}

func (s *Server) runSearch(ctx context.Context, q search.Query) (*search.Result, error) {
	if s.vectors == nil || q.Text == "" {
		return s.index.Search(q)
	}
	vctx, cancel := context.WithTimeout(ctx, s.vectorTimeout)
	start := time.Now()
	hits, err := s.vectors.Nearest(vctx, q.Text, vectorK)
	cancel()
	s.metrics.backend.WithLabelValues("vector_query").Observe(time.Since(start).Seconds())
	if err != nil {
		s.metrics.fallbacks.WithLabelValues("vector").Inc()
		s.log.WarnContext(ctx, "vector search failed; answering lexically", "err", err)
		res, err := s.index.Search(q)
		if res != nil {
			res.Degraded = true
		}
		return res, err
	}
	return s.index.SearchHybrid(q, hits)
}

func vectorMetrics(reg prometheus.Registerer) (*prometheus.CounterVec, *prometheus.HistogramVec, error) {
	fallbacks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flavormonk_fallbacks_total", Help: "Requests served without a backend that failed or was too slow, by backend.",
	}, []string{"backend"})
	backend := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "flavormonk_backend_duration_seconds", Help: "Latency of calls to backends (vector index, cache, store).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}, []string{"op"})
	for _, c := range []prometheus.Collector{fallbacks, backend} {
		if err := reg.Register(c); err != nil {
			return nil, nil, err
		}
	}
	return fallbacks, backend, nil
}
