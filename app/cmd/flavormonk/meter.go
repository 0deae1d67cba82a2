package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/assistant"
	"github.com/flavormonk/flavormonk/app/config"
	metering "github.com/flavormonk/flavormonk/app/usage"
	"github.com/flavormonk/flavormonk/app/usage/pricing"
)

// newMeter builds the usage meter the assistant reserves and settles
// through.
func (m *Main) newMeter(reg prometheus.Registerer) (assistant.Meter, error) {
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
	return assistantMeter{m: um, maxSeconds: m.Config.InferenceTimeout.Seconds()}, nil
}

// meterConfig is the Meter's Config the configuration asks for. The hold
// outlasts the assistant's whole deadline.
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
		Registerer: reg,
	}, nil
}

// assistantMeter is a metering.Meter as the assistant wants it.
type assistantMeter struct {
	m *metering.Meter
	// maxSeconds bounds the compute time of models billed per second:
	// no call outlives the answer's deadline.
	maxSeconds float64
}

var _ assistant.Meter = assistantMeter{}

func (a assistantMeter) Worst(provider, model string, inTokens, maxOut int) int64 {
	return a.m.Prices().Worst(provider, model, inTokens, maxOut, a.maxSeconds)
}

func (a assistantMeter) Cost(provider, model string, u flavormonk.Usage) int64 {
	c, _ := a.m.Prices().Cost(provider, model, u)
	return c
}

func (a assistantMeter) Reserve(ctx context.Context, who assistant.Who, worst int64) (assistant.Reservation, error) {
	s := metering.Subject{UserID: who.UserID, Visitor: who.Visitor, Plan: who.Plan, Client: who.Client}
	if s.UserID != 0 {
		s.Visitor = "" // a logged-in visitor is metered as the user
	}
	r, err := a.m.Reserve(ctx, s, worst)
	if err != nil {
		return nil, err
	}
	return reservation{r}, nil
}

type reservation struct{ r *metering.Reservation }

// Settle records the charges; their cost is left for the meter to price
// (from the same table), so that unpriced models are counted as such.
func (r reservation) Settle(ctx context.Context, _ assistant.Who, charges []assistant.Charge) error {
	evs := make([]flavormonk.UsageEvent, len(charges))
	for i, c := range charges {
		evs[i] = flavormonk.UsageEvent{Provider: c.Provider, Model: c.Model,
			InputTokens: c.Usage.InputTokens, OutputTokens: c.Usage.OutputTokens, Seconds: c.Usage.Seconds,
			Estimated: c.Usage.Estimated, CacheHit: c.CacheHit}
	}
	return r.r.Settle(ctx, evs)
}
