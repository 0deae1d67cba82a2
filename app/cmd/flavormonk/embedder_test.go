package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/config"
)

// fakeEmbeddings answers POST /v1/embeddings in the OpenAI wire format
// with vectors of dims (or the requested) dimensions.
func fakeEmbeddings(t *testing.T, dims int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
			http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
			return
		}
		var body struct {
			Model      string   `json:"model"`
			Input      []string `json:"input"`
			Dimensions int      `json:"dimensions"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("request body: %v", err)
		}
		n := dims
		if body.Dimensions > 0 {
			n = body.Dimensions
		}
		type item struct {
			Object    string    `json:"object"`
			Index     int       `json:"index"`
			Embedding []float32 `json:"embedding"`
		}
		data := make([]item, len(body.Input))
		for i, in := range body.Input {
			v := make([]float32, n)
			v[0] = float32(len(in))
			data[i] = item{"embedding", i, v}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": body.Model,
			"usage": map[string]int{"prompt_tokens": len(body.Input), "total_tokens": len(body.Input)}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestNewEmbedder(t *testing.T) {
	srv := fakeEmbeddings(t, 3)
	cases := []struct {
		name      string
		cfg       config.Config
		model     string
		errField  string
		wantError bool
	}{
		{"local", config.Config{EmbedProvider: config.EmbedLocal}, "local-hash-v2", "", false},
		{"local with another model", config.Config{EmbedProvider: config.EmbedLocal, EmbedModel: "x"}, "", "FLAVORMONK_EMBED_MODEL", true},
		{"local with dims", config.Config{EmbedProvider: config.EmbedLocal, EmbedDimensions: 100}, "", "FLAVORMONK_EMBED_DIMENSIONS", true},
		{"openai", config.Config{EmbedProvider: config.EmbedOpenAI, OpenAIAPIKey: "k", OpenAIBaseURL: srv.URL + "/v1"}, "openai/text-embedding-3-small", "", false},
		{"openai own key and url", config.Config{EmbedProvider: config.EmbedOpenAI, EmbedAPIKey: "k2", EmbedBaseURL: srv.URL + "/v1", EmbedModel: "text-embedding-3-large"}, "openai/text-embedding-3-large", "", false},
		{"openai without key", config.Config{EmbedProvider: config.EmbedOpenAI}, "", "FLAVORMONK_EMBED_API_KEY", true},
		{"ollama", config.Config{EmbedProvider: config.EmbedOllama, OllamaHost: srv.URL, EmbedModel: "mxbai-embed-large"}, "ollama/mxbai-embed-large", "", false},
		{"ollama dims", config.Config{EmbedProvider: config.EmbedOllama, OllamaHost: srv.URL, EmbedDimensions: 3}, "ollama/nomic-embed-text", "", false},
		{"ollama without host", config.Config{EmbedProvider: config.EmbedOllama}, "", "OLLAMA_HOST", true},
		{"unknown", config.Config{EmbedProvider: "bert"}, "", "FLAVORMONK_EMBED_PROVIDER", true},
	}
	for _, c := range cases {
		e, err := newEmbedder(&c.cfg)
		if c.wantError {
			var fe *flavormonk.Error
			if !errors.As(err, &fe) || fe.Code != flavormonk.EINVALID || fe.Field != c.errField {
				t.Errorf("%s: err = %v, want EINVALID on %s", c.name, err, c.errField)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if e.Model() != c.model {
			t.Errorf("%s: Model = %s, want %s", c.name, e.Model(), c.model)
		}
		if _, err := e.Embed(context.Background(), []string{"soup"}); err != nil {
			t.Errorf("%s: Embed: %v", c.name, err)
		}
	}
}
