package main

import (
	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/embed"
)

// newEmbedder is the embedder factory, on cfg.EmbedProvider:
//
//   - local: embed.NewLocal (FLAVORMONK_EMBED_MODEL and _DIMENSIONS must be
//     unset, or name local-hash-v2 and 384).
//   - openai: FLAVORMONK_EMBED_BASE_URL, else OPENAI_BASE_URL; the key
//     FLAVORMONK_EMBED_API_KEY, else OPENAI_API_KEY; FLAVORMONK_EMBED_MODEL
//     (text-embedding-3-small by default) and FLAVORMONK_EMBED_DIMENSIONS.
//   - ollama: FLAVORMONK_EMBED_BASE_URL, else OLLAMA_HOST + "/v1";
//     FLAVORMONK_EMBED_MODEL (nomic-embed-text by default); a key only when
//     FLAVORMONK_EMBED_API_KEY is set (e.g. behind an authenticating proxy).
func newEmbedder(cfg *config.Config) (flavormonk.Embedder, error) {
	switch cfg.EmbedProvider {
	case config.EmbedLocal, "":
		if cfg.EmbedModel != "" && cfg.EmbedModel != embed.LocalModel {
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_EMBED_MODEL",
				"is %q, but the local embedder is %s; unset it or choose FLAVORMONK_EMBED_PROVIDER=openai|ollama", cfg.EmbedModel, embed.LocalModel)
		}
		if cfg.EmbedDimensions != 0 && cfg.EmbedDimensions != embed.LocalDimensions {
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_EMBED_DIMENSIONS",
				"is %d, but the local embedder has %d dimensions; unset it", cfg.EmbedDimensions, embed.LocalDimensions)
		}
		return embed.NewLocal(), nil
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
		return embed.NewOpenAI(embed.OpenAIOptions{BaseURL: base, APIKey: key, Model: cfg.EmbedModel, Dimensions: cfg.EmbedDimensions})
	case config.EmbedOllama:
		base := cfg.EmbedBaseURL
		if base == "" {
			if cfg.OllamaHost == "" {
				return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "OLLAMA_HOST",
					"must be set (or FLAVORMONK_EMBED_BASE_URL) when FLAVORMONK_EMBED_PROVIDER=ollama")
			}
			base = embed.OllamaBaseURL(cfg.OllamaHost)
		}
		return embed.NewOllamaAPI(embed.OpenAIOptions{BaseURL: base, APIKey: cfg.EmbedAPIKey, Model: cfg.EmbedModel, Dimensions: cfg.EmbedDimensions})
	}
	return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_EMBED_PROVIDER",
		"is %q; must be one of local, openai, ollama", cfg.EmbedProvider)
}
