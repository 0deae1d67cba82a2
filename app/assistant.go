package flavormonk

import (
	"context"
	"fmt"
	"time"
)

// Chat roles.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one turn of a chat.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatRequest is what one provider call is asked.
type ChatRequest struct {
	// Messages: a system message first, then alternating user/assistant
	// turns, ending with the user's question.
	Messages []Message
	// MaxTokens caps the output tokens of this call (0: the provider's default).
	MaxTokens   int
	Temperature float64
	// Continue is a partial answer that another provider already streamed
	// to the user before it failed. The provider continues it: what it
	// emits is appended to Continue, never a repetition of it. Providers
	// that take a raw prompt prefill it; chat APIs get it as an assistant
	// turn plus an instruction to continue.
	Continue string
	// Sources are the recipes retrieval found, numbered as the messages
	// cite them. Model providers read them from the messages, where they
	// are fenced as data; the offline provider answers from them alone.
	Sources []Source
}

// Source is one retrieved recipe, numbered from 1 as the answer cites it.
type Source struct {
	N      int
	Recipe *Recipe
	// Servings is the number of people the question asked for (0: not asked).
	Servings int
	// Swap names an ingredient of the recipe the question wants replaced,
	// with the substitutes we know for it.
	Swap *Substitution
	// Timing is set when the question is about time.
	Timing bool
}

// Substitution is a known replacement for an ingredient.
type Substitution struct {
	Item    string
	Options []string
}

// Usage is what one provider call consumed.
type Usage struct {
	InputTokens  int `json:"tokens_in"`
	OutputTokens int `json:"tokens_out"`
	// Seconds is billed compute time, for models priced per second
	// (Replicate's metrics.predict_time).
	Seconds float64 `json:"seconds,omitempty"`
	// Estimated is set when some counts come from our tokenizer rather
	// than the provider (a stream cut or cancelled before its usage arrived).
	Estimated bool `json:"estimated,omitempty"`
}

// Add returns the sum of two usages; estimated if either is.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		InputTokens:  u.InputTokens + v.InputTokens,
		OutputTokens: u.OutputTokens + v.OutputTokens,
		Seconds:      u.Seconds + v.Seconds,
		Estimated:    u.Estimated || v.Estimated,
	}
}

// Provider streams one chat completion from one model. Implementations:
// offline (no model), OpenAI and OpenAI-compatible endpoints (openai
// package), Replicate; all pass providertest.Run.
type Provider interface {
	// Name is the provider's config name: "offline", "openai",
	// "openai-compatible", "ollama", "replicate".
	Name() string
	// Model is the model reference, e.g. "gpt-4o-mini" or
	// "meta/meta-llama-3-70b-instruct".
	Model() string
	// Stream sends the answer's text to emit as it arrives and returns
	// what the call consumed. An error from emit aborts the call and is
	// returned as is. On any error the returned Usage still covers what
	// was consumed (estimated where the provider did not report it), so
	// that a failed or cancelled call is metered. Failures of the
	// provider are *ProviderError.
	Stream(ctx context.Context, req ChatRequest, emit func(text string) error) (Usage, error)
}

// ProviderError is a failed provider call.
type ProviderError struct {
	Provider string
	// Status is the HTTP status, or 0 for a transport error, a timeout, a
	// malformed or broken stream.
	Status int
	// RetryAfter is the provider's Retry-After, 0 when it sent none.
	RetryAfter time.Duration
	// Retryable: 408, 409, 429, 5xx, transport errors, timeouts and broken
	// streams. 4xx answers about the request itself are not.
	Retryable bool
	Err       error
}

func (e *ProviderError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s: HTTP %d: %v", e.Provider, e.Status, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Provider, e.Err)
}

func (e *ProviderError) Unwrap() error { return e.Err }
