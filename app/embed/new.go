package embed

import (
	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/config"
)

// New returns the embedder cfg.EmbedProvider names:
//
//   - local: NewLocal (FLAVORMONK_EMBED_MODEL and _DIMENSIONS must be unset,
//     or name local-hash-v2 and 384).
//   - openai: FLAVORMONK_EMBED_BASE_URL, else OPENAI_BASE_URL; the key
//     FLAVORMONK_EMBED_API_KEY, else OPENAI_API_KEY; FLAVORMONK_EMBED_MODEL
//     (text-embedding-3-small by default) and FLAVORMONK_EMBED_DIMENSIONS.
//   - ollama: FLAVORMONK_EMBED_BASE_URL, else OLLAMA_HOST + "/v1";
//     FLAVORMONK_EMBED_MODEL (nomic-embed-text by default); a key only when
//     FLAVORMONK_EMBED_API_KEY is set (e.g. behind an authenticating proxy).
func New(cfg *config.Config) (flavormonk.Embedder, error) {
	switch cfg.EmbedProvider {
	case config.EmbedLocal, "":
		if cfg.EmbedModel != "" && cfg.EmbedModel != LocalModel {
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_EMBED_MODEL",
				"is %q, but the local embedder is %s; unset it or choose FLAVORMONK_EMBED_PROVIDER=openai|ollama", cfg.EmbedModel, LocalModel)
		}
		if cfg.EmbedDimensions != 0 && cfg.EmbedDimensions != LocalDimensions {
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_EMBED_DIMENSIONS",
				"is %d, but the local embedder has %d dimensions; unset it", cfg.EmbedDimensions, LocalDimensions)
		}
		return NewLocal(), nil
	case config.EmbedOpenAI:
		base := cfg.EmbedBaseURL
		if base == "" {
			base = cfg.OpenAIBaseURL
		}
		key := cfg.EmbedAPIKey
		if key == "" {
			key = cfg.OpenAIAPIKey
		}
		if key == "" {
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_EMBED_API_KEY",
				"must be set (or OPENAI_API_KEY) when FLAVORMONK_EMBED_PROVIDER=openai")
		}
		return NewOpenAI(OpenAIOptions{BaseURL: base, APIKey: key, Model: cfg.EmbedModel, Dimensions: cfg.EmbedDimensions})
	case config.EmbedOllama:
		base := cfg.EmbedBaseURL
		if base == "" {
			if cfg.OllamaHost == "" {
				return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "OLLAMA_HOST",
					"must be set (or FLAVORMONK_EMBED_BASE_URL) when FLAVORMONK_EMBED_PROVIDER=ollama")
			}
			e, err := NewOllama(cfg.OllamaHost, cfg.EmbedModel)
			if err != nil || (cfg.EmbedDimensions == 0 && cfg.EmbedAPIKey == "") {
				return e, err
			}
			base = e.baseURL
		}
		return newOpenAI(OpenAIOptions{BaseURL: base, APIKey: cfg.EmbedAPIKey, Model: cfg.EmbedModel, Dimensions: cfg.EmbedDimensions, BatchSize: 32}, "ollama", DefaultOllamaModel)
	}
	return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_EMBED_PROVIDER",
		"is %q; must be one of local, openai, ollama", cfg.EmbedProvider)
}
