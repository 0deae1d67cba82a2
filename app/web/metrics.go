package web

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flavormonk/flavormonk/app/search"
)

type metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	fallbacks *prometheus.CounterVec
	backend   *prometheus.HistogramVec
	cache     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, ix *search.Index) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flavormonk_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "flavormonk_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
	}
	cs := []prometheus.Collector{m.requests, m.latency,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flavormonk_search_index_recipes", Help: "Recipes in the in-process search index."},
			func() float64 { return float64(ix.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "flavormonk_search_index_revision", Help: "Store revision the search index reflects."},
			func() float64 { return float64(ix.Revision()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "flavormonk_search_index_updates_total", Help: "Search index snapshots built."},
			func() float64 { return float64(ix.Updates()) }),
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	var err error
	if m.fallbacks, m.backend, err = vectorMetrics(reg); err != nil {
		return nil, err
	}
	m.cache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flavormonk_cache_requests_total", Help: "Search-result cache lookups by result (hit, miss); hit ratio = hit / (hit + miss).",
	}, []string{"result"})
	if err := reg.Register(m.cache); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route).Observe(d.Seconds())
}
