// Package backendmetrics holds the two metric families every caller of a
// backend counts into: requests served without a backend that failed or
// was too slow, and the latency of backend calls. Search, the web server
// and the limiters share them, so main registers them once and hands the
// one *Metrics to each (a second registration of a family is an error).
package backendmetrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the shared families.
type Metrics struct {
	// Fallbacks is flavormonk_fallbacks_total by backend ("vector",
	// "session_cache", "rate_limit", ...).
	Fallbacks *prometheus.CounterVec
	// Latency is flavormonk_backend_duration_seconds by op
	// ("vector_query", "cached_search", ...).
	Latency *prometheus.HistogramVec
}

// New makes the families and registers them with reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flavormonk_fallbacks_total", Help: "Requests served without a backend that failed or was too slow, by backend.",
		}, []string{"backend"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "flavormonk_backend_duration_seconds", Help: "Latency of calls to backends (vector index, cache, store).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"op"}),
	}
	for _, c := range []prometheus.Collector{m.Fallbacks, m.Latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Fallback counts one request served without backend.
func (m *Metrics) Fallback(backend string) { m.Fallbacks.WithLabelValues(backend).Inc() }

// Observe records the latency of one call of op.
func (m *Metrics) Observe(op string, d time.Duration) {
	m.Latency.WithLabelValues(op).Observe(d.Seconds())
}

// Counter returns what counts backend's fallbacks, in the shape the
// limiters and the session cache report a failed call. The series is
// created on the first fallback, not here, so that /metrics shows no zero
// series for a backend that never failed.
func (m *Metrics) Counter(backend string) func(error) {
	return func(error) { m.Fallbacks.WithLabelValues(backend).Inc() }
}
