package main

import (
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/assistant"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/inference/offline"
	"github.com/flavormonk/flavormonk/app/inference/openai"
	"github.com/flavormonk/flavormonk/app/inference/replicate"
	"github.com/flavormonk/flavormonk/app/inference/router"
)

// inferenceClient is the HTTP client of every provider: no overall timeout
// (answers stream for a long time; the assistant's deadline bounds them),
// but bounded connection set-up and enough idle connections for many
// concurrent streams.
func inferenceClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 90 * time.Second, // Replicate's Prefer: wait holds headers up to 60 s
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}}
}

// newProvider is the inference provider factory.
func newProvider(cfg *config.Config, name string, hc *http.Client) (flavormonk.Provider, error) {
	switch name {
	case config.ProviderOffline:
		return offline.Provider{}, nil
	case config.ProviderOpenAI:
		return openai.New(openai.NameOpenAI, cfg.OpenAIBaseURL, cfg.OpenAIAPIKey, cfg.OpenAIModel, hc)
	case config.ProviderCompatible:
		return openai.New(openai.NameCompatible, cfg.CompatibleBaseURL, cfg.CompatibleAPIKey, cfg.CompatibleModel, hc)
	case config.ProviderOllama:
		return openai.New(openai.NameOllama, openai.OllamaBaseURL(cfg.OllamaHost), "", cfg.OllamaModel, hc)
	case config.ProviderReplicate:
		return replicate.New(cfg.ReplicateBaseURL, cfg.ReplicateAPIToken, cfg.ReplicateModel, hc)
	}
	return nil, config.NotImplemented("FLAVORMONK_INFERENCE", name)
}

// newAssistant builds the provider chain, the router and the assistant.
func (m *Main) newAssistant(reg prometheus.Registerer) (*assistant.Assistant, error) {
	cfg := m.Config
	var ps []flavormonk.Provider
	hc := inferenceClient()
	for _, name := range cfg.InferenceChain {
		p, err := newProvider(cfg, name, hc)
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
		Retries:      cfg.InferenceRetries,
		Concurrency:  cfg.InferenceConcurrency,
		Cooldown:     cfg.InferenceCooldown,
		StallTimeout: cfg.InferenceStall,
		Observe:      met.ObserveAttempt,
	}, ps...)
	if err != nil {
		return nil, err
	}
	m.Log.Info("assistant providers", "chain", rt.String())
	opts := assistant.Options{
		MaxTokens:         cfg.AskMaxTokens,
		Retries:           cfg.InferenceRetries,
		Timeout:           cfg.InferenceTimeout,
		HistoryTurns:      cfg.AskHistoryTurns,
		CacheTTL:          cfg.AnswerCacheTTL,
		SemanticThreshold: cfg.SemanticCache,
		Log:               m.Log,
	}
	if cfg.SemanticCache > 0 {
		if opts.Embedder, err = newEmbedder(cfg); err != nil {
			return nil, err
		}
	}
	meter, err := m.newMeter(reg)
	if err != nil {
		return nil, err
	}
	return assistant.New(opts, m.retriever, rt, m.Cache, meter, met), nil
}
