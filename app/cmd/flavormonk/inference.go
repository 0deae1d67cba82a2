package main

import (
	"github.com/prometheus/client_golang/prometheus"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/assistant"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/embed"
	"github.com/flavormonk/flavormonk/app/offline"
	"github.com/flavormonk/flavormonk/app/router"
)

// newProvider is the inference provider factory.
func newProvider(cfg *config.Config, name string) (flavormonk.Provider, error) {
	switch name {
	case config.ProviderOffline:
		return offline.Provider{}, nil
	}
	return nil, config.NotImplemented("FLAVORMONK_INFERENCE", name)
}

// newAssistant builds the provider chain, the router and the assistant.
func (m *Main) newAssistant(reg prometheus.Registerer) (*assistant.Assistant, error) {
	cfg := m.Config
	var ps []flavormonk.Provider
	for _, name := range cfg.InferenceChain {
		p, err := newProvider(cfg, name)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	met, err := assistant.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	rt, err := router.New(router.Options{
		Retries:     cfg.InferenceRetries,
		Concurrency: cfg.InferenceConcurrency,
		Cooldown:    cfg.InferenceCooldown,
		Observe:     met.ObserveAttempt,
	}, ps...)
	if err != nil {
		return nil, err
	}
	m.Log.Info("assistant providers", "chain", rt.String())
	opts := assistant.Options{
		MaxTokens:         cfg.AskMaxTokens,
		Timeout:           cfg.InferenceTimeout,
		HistoryTurns:      cfg.AskHistoryTurns,
		CacheTTL:          cfg.AnswerCacheTTL,
		SemanticThreshold: cfg.SemanticCache,
		Log:               m.Log,
	}
	if cfg.SemanticCache > 0 {
		if opts.Embedder, err = embed.New(cfg); err != nil {
			return nil, err
		}
	}
	return assistant.New(opts, m.Server.Retriever(), rt, m.Cache, nil, met), nil
}
