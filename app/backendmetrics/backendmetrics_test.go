package backendmetrics

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// fallbacks returns the value of flavormonk_fallbacks_total{backend} and
// whether reg has that series at all.
func fallbacks(t *testing.T, reg *prometheus.Registry, backend string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "flavormonk_fallbacks_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "backend" && l.GetValue() == backend {
					return m.GetCounter().GetValue(), true
				}
			}
		}
	}
	return 0, false
}

// A backend's fallback series appears on its first fallback, not when its
// counter is wired: /metrics shows no zero series for backends that never
// failed.
func TestCounterLazy(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	count := m.Counter("x")
	if v, ok := fallbacks(t, reg, "x"); ok {
		t.Fatalf("series for backend x before any fallback (value %v)", v)
	}
	count(errors.New("down"))
	if v, ok := fallbacks(t, reg, "x"); !ok || v != 1 {
		t.Fatalf("after one fallback: %v (present %v), want 1", v, ok)
	}
}
