package main

import (
	"github.com/prometheus/client_golang/prometheus"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/config"
	metering "github.com/flavormonk/flavormonk/app/usage"
	"github.com/flavormonk/flavormonk/app/usage/pricing"
)

// newMeter builds the usage meter the assistant reserves and settles
// through.
func (m *Main) newMeter(reg prometheus.Registerer) (*metering.Meter, error) {
	cfg, err := meterConfig(m.Config, reg)
	if err != nil {
		return nil, err
	}
	cfg.Now = m.Clock
	um, err := metering.New(m.Store, cfg)
	if err != nil {
		return nil, err
	}
	m.meter = um
	return um, nil
}

// meterConfig is the Meter's Config the configuration asks for. The hold
// outlasts the assistant's whole deadline, and no call is billed for more
// compute than that deadline allows.
func meterConfig(c *config.Config, reg prometheus.Registerer) (metering.Config, error) {
	prices, err := pricing.New(c.Prices)
	if err != nil {
		return metering.Config{}, err
	}
	return metering.Config{
		Prices: prices,
		Budget: c.BudgetMicros,
		Quotas: map[string]int64{
			"":                  c.QuotaAnonMicros,
			flavormonk.PlanFree: c.QuotaFreeMicros,
			flavormonk.PlanChef: c.QuotaChefMicros,
		},
		Hold:       max(metering.DefaultHold, 2*c.InferenceTimeout),
		MaxCall:    c.InferenceTimeout,
		Registerer: reg,
	}, nil
}
