package usage

import (
	"github.com/prometheus/client_golang/prometheus"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// metrics are the meter's Prometheus counters. Label values come from
// configuration (provider and model names) and error codes, never from
// users, so their number stays small.
type metrics struct {
	tokens     *prometheus.CounterVec
	cost       *prometheus.CounterVec
	estimated  *prometheus.CounterVec
	cacheHits  *prometheus.CounterVec
	unknown    *prometheus.CounterVec
	rejections *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flavormonk_usage_tokens_total", Help: "Tokens consumed by assistant calls, by provider, model and direction (in, out).",
		}, []string{"provider", "model", "direction"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flavormonk_usage_cost_micros_total", Help: "Cost of assistant calls in micro-USD, by provider and model.",
		}, []string{"provider", "model"}),
		estimated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flavormonk_usage_estimated_events_total", Help: "Metered calls whose token counts were estimated (the stream ended before the provider reported usage).",
		}, []string{"provider", "model"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flavormonk_usage_cache_hits_total", Help: "Assistant answers served from the cache, at no cost.",
		}, []string{"model"}),
		unknown: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flavormonk_usage_unpriced_events_total", Help: "Metered calls to models with no price in FLAVORMONK_PRICES, charged at the highest known price.",
		}, []string{"model"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flavormonk_usage_rejections_total", Help: "Reservations refused, by error code (budget_exhausted, quota_exceeded, ...).",
		}, []string{"code"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.tokens, m.cost, m.estimated, m.cacheHits, m.unknown, m.rejections} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) rejected(code string) { m.rejections.WithLabelValues(code).Inc() }

func (m *metrics) record(evs []flavormonk.UsageEvent, unknown []string) {
	for _, e := range evs {
		if e.CacheHit {
			m.cacheHits.WithLabelValues(e.Model).Inc()
			continue
		}
		m.tokens.WithLabelValues(e.Provider, e.Model, "in").Add(float64(e.InputTokens))
		m.tokens.WithLabelValues(e.Provider, e.Model, "out").Add(float64(e.OutputTokens))
		m.cost.WithLabelValues(e.Provider, e.Model).Add(float64(e.CostMicros))
		if e.Estimated {
			m.estimated.WithLabelValues(e.Provider, e.Model).Inc()
		}
	}
	for _, k := range unknown {
		m.unknown.WithLabelValues(k).Inc()
	}
}
