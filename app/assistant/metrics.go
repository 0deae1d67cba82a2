package assistant

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flavormonk/flavormonk/app/inference/router"
)

// Metrics are the assistant's Prometheus series. A nil *Metrics records
// nothing.
type Metrics struct {
	answers  *prometheus.CounterVec
	ttft     prometheus.Histogram
	streams  prometheus.Gauge
	attempts *prometheus.CounterVec
	rejects  *prometheus.CounterVec
}

// NewMetrics registers the series with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		answers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flavormonk_assistant_answers_total", Help: "Assistant answers by outcome (ok, cache_hit, no_match, error, cancelled).",
		}, []string{"outcome"}),
		ttft: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "flavormonk_assistant_first_token_seconds", Help: "Time from the request to the first token of the answer.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2, 5, 10, 30},
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "flavormonk_assistant_open_streams", Help: "Answers being streamed now.",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flavormonk_inference_attempts_total", Help: "Provider calls by provider and outcome (ok, failed, cancelled, skipped_cooldown, skipped_busy).",
		}, []string{"provider", "outcome"}),
		rejects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flavormonk_assistant_rejected_total", Help: "Questions refused before answering, by error code (quota_exceeded, budget_exhausted).",
		}, []string{"code"}),
	}
	for _, c := range []prometheus.Collector{m.answers, m.ttft, m.streams, m.attempts, m.rejects} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) answered(outcome string) {
	if m != nil {
		m.answers.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) firstToken(d time.Duration) {
	if m != nil {
		m.ttft.Observe(d.Seconds())
	}
}

func (m *Metrics) open(n float64) {
	if m != nil {
		m.streams.Add(n)
	}
}

func (m *Metrics) rejected(code string) {
	if m != nil {
		m.rejects.WithLabelValues(code).Inc()
	}
}

// ObserveAttempt counts a router attempt; pass it as router.Options.Observe.
func (m *Metrics) ObserveAttempt(a router.Attempt) {
	if m == nil {
		return
	}
	outcome := "ok"
	switch {
	case a.Skipped != "":
		outcome = "skipped_" + a.Skipped
	case a.Err != nil && isCancel(a.Err):
		outcome = "cancelled"
	case a.Err != nil:
		outcome = "failed"
	}
	m.attempts.WithLabelValues(a.Provider, outcome).Inc()
}

func isCancel(err error) bool {
	return errors.Is(err, context.Canceled)
}
