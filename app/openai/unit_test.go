package openai_test

import (
	"strings"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/openai"
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
