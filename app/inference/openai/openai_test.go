package openai_test

import (
	"strings"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/inference/openai"
	"github.com/flavormonk/flavormonk/app/inference/openaitest"
	"github.com/flavormonk/flavormonk/app/inference/providertest"
)

const testKey = "sk-test-0123456789abcdefFLAVORMONK"

func harness(name string, dialect openaitest.Dialect, model, key string) providertest.Harness {
	newProvider := func(t *testing.T, providerKey string) (providertest.Server, flavormonk.Provider) {
		srv := openaitest.New(openaitest.Options{Dialect: dialect, APIKey: key, Models: []string{model}})
		base := srv.URL()
		if name == openai.NameOllama {
			// Ollama is configured by OLLAMA_HOST, a bare host:port.
			base = openai.OllamaBaseURL(strings.TrimSuffix(strings.TrimPrefix(base, "http://"), "/v1"))
		}
		p, err := openai.New(name, base, providerKey, model, srv.Client())
		if err != nil {
			srv.Close()
			t.Fatal(err)
		}
		return srv, p
	}
	h := providertest.Harness{
		New: func(t *testing.T) (providertest.Server, flavormonk.Provider) { return newProvider(t, key) },
		Key: key,
		CheckContinue: func(t *testing.T, s providertest.Server, partial string) {
			req, _ := s.(*openaitest.Server).LastRequest()
			n := len(req.Messages)
			want := len(providertest.Request().Messages) + 2
			if n != want {
				t.Fatalf("sent %d messages, want %d: %+v", n, want, req.Messages)
			}
			if m := req.Messages[n-2]; m.Role != flavormonk.RoleAssistant || m.Content != partial {
				t.Errorf("second last message %+v, want the partial answer as an assistant turn", m)
			}
			if m := req.Messages[n-1]; m.Role != flavormonk.RoleUser || m.Content != openai.ContinuePrompt {
				t.Errorf("last message %+v, want the continue instruction", m)
			}
		},
	}
	if key != "" {
		h.NewBadKey = func(t *testing.T, badKey string) (providertest.Server, flavormonk.Provider) {
			return newProvider(t, badKey)
		}
	}
	return h
}

func TestOpenAI(t *testing.T) {
	providertest.Run(t, harness(openai.NameOpenAI, openaitest.OpenAI, "gpt-4o-mini", testKey))
}

func TestCompatible(t *testing.T) {
	providertest.Run(t, harness(openai.NameCompatible, openaitest.VLLM, "meta-llama/Llama-3.1-8B-Instruct", testKey))
}

func TestOllama(t *testing.T) {
	providertest.Run(t, harness(openai.NameOllama, openaitest.Ollama, "llama3.1:8b", ""))
}
