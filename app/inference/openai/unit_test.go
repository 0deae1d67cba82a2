package openai_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/inference/openai"
	"github.com/flavormonk/flavormonk/app/inference/openaitest"
	"github.com/flavormonk/flavormonk/app/inference/script"
)

func TestNewRejectsBadInput(t *testing.T) {
	for _, c := range []struct{ name, base, model string }{
		{"", "https://api.openai.com/v1", "gpt-4o-mini"},
		{"openai", "https://api.openai.com/v1", " "},
		{"openai", "api.openai.com/v1", "gpt-4o-mini"},
		{"openai", "file:///etc/passwd", "gpt-4o-mini"},
		{"openai", "https://user:" + testKey + "@/v1", "gpt-4o-mini"},
	} {
		p, err := openai.New(c.name, c.base, testKey, c.model, nil)
		if err == nil || p != nil {
			t.Errorf("New(%q, %q, %q) succeeded", c.name, c.base, c.model)
			continue
		}
		if flavormonk.ErrorCode(err) != flavormonk.EINVALID || strings.Contains(err.Error(), testKey) {
			t.Errorf("New(%q, %q, %q): %v (code %s)", c.name, c.base, c.model, err, flavormonk.ErrorCode(err))
		}
	}
	p, err := openai.New(openai.NameOpenAI, "https://api.openai.com/v1/", testKey, "gpt-4o-mini", nil)
	if err != nil || p.Name() != "openai" || p.Model() != "gpt-4o-mini" {
		t.Fatalf("New: %v", err)
	}
}

func TestOllamaBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "http://127.0.0.1:11434/v1",
		"localhost":                 "http://localhost:11434/v1",
		"gpu-box:8080":              "http://gpu-box:8080/v1",
		"[::1]":                     "http://[::1]:11434/v1",
		"http://ollama.internal":    "http://ollama.internal/v1",
		"https://ollama.example/":   "https://ollama.example/v1",
		"http://127.0.0.1:11434/v1": "http://127.0.0.1:11434/v1",
	} {
		if got := openai.OllamaBaseURL(in); got != want {
			t.Errorf("OllamaBaseURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMessagesContinueKeepsCallersSlice(t *testing.T) {
	msgs := make([]flavormonk.Message, 2, 8)
	msgs[0] = flavormonk.Message{Role: "system", Content: "s"}
	msgs[1] = flavormonk.Message{Role: "user", Content: "q"}
	req := flavormonk.ChatRequest{Messages: msgs, Continue: "partial"}
	got := openai.Messages(req)
	if len(got) != 4 || got[2].Content != "partial" || got[3].Content != openai.ContinuePrompt {
		t.Fatalf("Messages = %+v", got)
	}
	if spare := msgs[:3]; spare[2].Content != "" {
		t.Error("Messages wrote into the caller's backing array")
	}
	if len(openai.Messages(flavormonk.ChatRequest{Messages: msgs})) != 2 {
		t.Error("no Continue: the messages as they are")
	}
}

func TestReasoningModels(t *testing.T) {
	for _, model := range []string{"o3-mini", "gpt-5-mini", "o1"} {
		srv := openaitest.New(openaitest.Options{Answer: "Bake it."})
		p, err := openai.New(openai.NameCompatible, srv.URL(), testKey, model, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		_, err = p.Stream(context.Background(), flavormonk.ChatRequest{
			Messages: []flavormonk.Message{{Role: "user", Content: "x"}}, Temperature: 0.2, MaxTokens: 50,
		}, func(s string) error { got.WriteString(s); return nil })
		if err != nil || got.String() != "Bake it." {
			t.Errorf("%s: %v, %q", model, err, got.String())
		}
		r, _ := srv.LastRequest()
		if r.Temperature != nil || r.MaxTokens != 50 {
			t.Errorf("%s: sent temperature %v, max tokens %d", model, r.Temperature, r.MaxTokens)
		}
		srv.Close()
	}
}

func TestTemperatureZeroIsSent(t *testing.T) {
	srv := openaitest.New(openaitest.Options{})
	defer srv.Close()
	p, _ := openai.New(openai.NameOpenAI, srv.URL(), testKey, "gpt-4o-mini", srv.Client())
	if _, err := p.Stream(context.Background(), flavormonk.ChatRequest{Messages: []flavormonk.Message{{Role: "user", Content: "x"}}},
		func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if r, _ := srv.LastRequest(); r.Temperature == nil || *r.Temperature > 1e-6 {
		t.Errorf("temperature %v, want 0 sent, not the server's default", r.Temperature)
	}
}

func TestRefusedLocallyIsNotRetryable(t *testing.T) {
	p, _ := openai.New(openai.NameOpenAI, "http://127.0.0.1:9/v1", testKey, "code-davinci-002", nil)
	_, err := p.Stream(context.Background(), flavormonk.ChatRequest{Messages: []flavormonk.Message{{Role: "user", Content: "x"}}},
		func(string) error { return nil })
	var pe *flavormonk.ProviderError
	if !errors.As(err, &pe) || pe.Retryable || pe.Status != 0 {
		t.Fatalf("err %v: want a non-retryable ProviderError", err)
	}
}

// A reasoning model's cut stream is estimated at its whole output
// allowance: its reasoning tokens are billed but never streamed.
func TestReasoningModelCutEstimatesTheAllowance(t *testing.T) {
	srv := openaitest.New(openaitest.Options{Answer: "one two three four five six"})
	defer srv.Close()
	srv.Inject(script.Fault{Kind: script.Cut, After: 2})
	p, _ := openai.New(openai.NameOpenAI, srv.URL(), testKey, "o3-mini", srv.Client())
	u, err := p.Stream(context.Background(), flavormonk.ChatRequest{Messages: []flavormonk.Message{{Role: "user", Content: "x"}}, MaxTokens: 500},
		func(string) error { return nil })
	if err == nil || !u.Estimated || u.OutputTokens != 500 {
		t.Fatalf("usage %+v err %v: want 500 estimated output tokens", u, err)
	}
}
