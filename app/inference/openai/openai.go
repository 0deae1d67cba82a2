// Package openai is the assistant's Provider for OpenAI's chat completions
// API and the servers that copy it: any OpenAI-compatible base URL (vLLM,
// LM Studio) and Ollama's /v1 API. Answers stream with
// stream_options.include_usage, so the provider's own token counts come in
// the last chunk; a stream that ends without them is metered with the
// tokens package and marked estimated.
package openai

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/inference/providerhttp"
	"github.com/flavormonk/flavormonk/app/tokens"
)

// Provider names this package serves (config's provider names).
const (
	NameOpenAI     = "openai"
	NameCompatible = "openai-compatible"
	NameOllama     = "ollama"
)

// ContinuePrompt is the user turn that follows a partial answer given as an
// assistant turn (ChatRequest.Continue).
const ContinuePrompt = "Your previous answer was cut off. Continue it exactly where it stopped, " +
	"mid-sentence if need be, without repeating any of it and without any preamble."

// Provider streams chat completions from one model at one base URL.
type Provider struct {
	name, model, key string
	client           *goopenai.Client
}

var _ flavormonk.Provider = (*Provider)(nil)

// New returns a provider called name (NameOpenAI, NameCompatible,
// NameOllama, or any config name) for model at baseURL, e.g.
// "https://api.openai.com/v1". apiKey may be empty for servers that need
// none (Ollama). hc carries the calls; it must have no overall Timeout, which
// would cut long streams (deadlines come from the context). nil: a client
// of http.DefaultTransport.
func New(name, baseURL, apiKey, model string, hc *http.Client) (*Provider, error) {
	if strings.TrimSpace(name) == "" {
		return nil, flavormonk.Errorf(flavormonk.EINVALID, "openai: provider name is empty")
	}
	if strings.TrimSpace(model) == "" {
		return nil, flavormonk.Errorf(flavormonk.EINVALID, "%s: model is empty", name)
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, flavormonk.Errorf(flavormonk.EINVALID, "%s: base URL %q is not an http(s) URL", name, redactURL(baseURL))
	}
	wrapped := providerhttp.Client(hc, false)
	cfg := goopenai.DefaultConfig(apiKey)
	cfg.BaseURL = strings.TrimRight(baseURL, "/")
	cfg.HTTPClient = wrapped
	return &Provider{name: name, model: model, key: apiKey, client: goopenai.NewClientWithConfig(cfg)}, nil
}

// OllamaBaseURL returns the OpenAI-compatible base URL of an Ollama server
// given as OLLAMA_HOST is: a URL, or host[:port] (http, port 11434 implied).
func OllamaBaseURL(host string) string {
	h := strings.TrimRight(strings.TrimSpace(host), "/")
	if h == "" {
		h = "127.0.0.1:11434"
	}
	if !strings.Contains(h, "://") {
		if _, _, err := splitHostPort(h); err != nil {
			h += ":11434"
		}
		h = "http://" + h
	}
	if !strings.HasSuffix(h, "/v1") {
		h += "/v1"
	}
	return h
}

func splitHostPort(h string) (string, string, error) {
	u, err := url.Parse("http://" + h)
	if err != nil {
		return "", "", err
	}
	if u.Port() == "" {
		return "", "", errors.New("no port")
	}
	return u.Hostname(), u.Port(), nil
}

func (p *Provider) Name() string  { return p.name }
func (p *Provider) Model() string { return p.model }

// Messages returns the chat sent for req: its messages, and for a
// continuation the partial answer as an assistant turn followed by
// ContinuePrompt.
func Messages(req flavormonk.ChatRequest) []flavormonk.Message {
	msgs := req.Messages
	if req.Continue != "" {
		msgs = append(msgs[:len(msgs):len(msgs)],
			flavormonk.Message{Role: flavormonk.RoleAssistant, Content: req.Continue},
			flavormonk.Message{Role: flavormonk.RoleUser, Content: ContinuePrompt})
	}
	return msgs
}

// Stream implements flavormonk.Provider.
func (p *Provider) Stream(ctx context.Context, req flavormonk.ChatRequest, emit func(string) error) (flavormonk.Usage, error) {
	msgs := Messages(req)
	cr := goopenai.ChatCompletionRequest{
		Model:         p.model,
		Messages:      make([]goopenai.ChatCompletionMessage, len(msgs)),
		Stream:        true,
		StreamOptions: &goopenai.StreamOptions{IncludeUsage: true},
		// go-openai omits a zero temperature, which servers read as their
		// default (1); the smallest float keeps the caller's 0.
		Temperature: float32(req.Temperature),
	}
	reasoning := isReasoningModel(p.model)
	switch {
	case reasoning:
		// Reasoning models refuse any temperature but their own.
		cr.Temperature = 0
	case cr.Temperature == 0:
		cr.Temperature = math.SmallestNonzeroFloat32
	}
	if req.MaxTokens > 0 {
		// OpenAI's newer models take only max_completion_tokens; compatible
		// servers (vLLM, Ollama) know max_tokens.
		if p.name == NameOpenAI || reasoning {
			cr.MaxCompletionTokens = req.MaxTokens
		} else {
			cr.MaxTokens = req.MaxTokens
		}
	}
	for i, m := range msgs {
		cr.Messages[i] = goopenai.ChatCompletionMessage{Role: m.Role, Content: m.Content}
	}

	capt := &providerhttp.Capture{}
	stream, err := p.client.CreateChatCompletionStream(providerhttp.WithCapture(ctx, capt), cr)
	if err != nil {
		var u flavormonk.Usage
		if ctx.Err() != nil {
			// The server may have read the prompt before we left.
			u = p.estimate(msgs, "", req.MaxTokens)
		}
		return u, p.fail(ctx, capt, err)
	}
	defer stream.Close()

	var out strings.Builder
	var usage *goopenai.Usage
	finished := false
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return p.estimate(msgs, out.String(), req.MaxTokens), p.fail(ctx, capt, err)
		}
		if chunk.Usage != nil {
			usage = chunk.Usage
		}
		for _, c := range chunk.Choices {
			if c.Index != 0 {
				continue
			}
			if c.FinishReason != "" {
				finished = true
			}
			if c.Delta.Content == "" {
				continue
			}
			out.WriteString(c.Delta.Content)
			if err := emit(c.Delta.Content); err != nil {
				return p.estimate(msgs, out.String(), req.MaxTokens), err
			}
			if ctx.Err() != nil {
				// Stop now rather than at the next read: chunks may be buffered.
				return p.estimate(msgs, out.String(), req.MaxTokens), p.fail(ctx, capt, ctx.Err())
			}
		}
	}
	if usage == nil || (usage.PromptTokens == 0 && usage.CompletionTokens == 0) {
		u := p.estimate(msgs, out.String(), req.MaxTokens)
		if !finished {
			// go-openai reads a connection closed between two chunks as the
			// end of the stream: without a finish_reason or usage it was cut.
			return u, &flavormonk.ProviderError{Provider: p.name, Retryable: true,
				Err: errors.New("stream ended before the answer was finished")}
		}
		// A server that does not honour include_usage (older compatible ones).
		return u, nil
	}
	return flavormonk.Usage{InputTokens: usage.PromptTokens, OutputTokens: usage.CompletionTokens}, nil
}

func (p *Provider) estimate(msgs []flavormonk.Message, out string, maxTokens int) flavormonk.Usage {
	u := flavormonk.Usage{
		InputTokens:  tokens.CountMessages(p.model, msgs),
		OutputTokens: tokens.Count(p.model, out),
		Estimated:    true,
	}
	if isReasoningModel(p.model) && maxTokens > u.OutputTokens {
		// Reasoning tokens are billed but never streamed: a cut call may
		// have spent up to its whole allowance on them.
		u.OutputTokens = maxTokens
	}
	return u
}

// fail maps an error of go-openai or the transport to *ProviderError, with
// the API key scrubbed from its text.
func (p *Provider) fail(ctx context.Context, capt *providerhttp.Capture, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return &flavormonk.ProviderError{Provider: p.name, Retryable: errors.Is(cerr, context.DeadlineExceeded), Err: cerr}
	}
	pe := &flavormonk.ProviderError{Provider: p.name}
	for _, local := range refused {
		if errors.Is(err, local) {
			// go-openai refused the request before sending it: sending it
			// again will not help.
			pe.Err = errors.New("request refused: " + err.Error())
			return pe
		}
	}
	var apiErr *goopenai.APIError
	var reqErr *goopenai.RequestError
	var msg string
	switch {
	case errors.As(err, &apiErr):
		pe.Status = apiErr.HTTPStatusCode
		msg = apiErr.Message
		if pe.Status == 0 {
			// An error sent inside the stream.
			msg = "error in stream: " + msg
		}
	case errors.As(err, &reqErr):
		pe.Status = reqErr.HTTPStatusCode
		msg = "unexpected response"
		if b := strings.TrimSpace(string(reqErr.Body)); b != "" {
			msg += ": " + providerhttp.Truncate(b, 200)
		}
	default:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its URL adds nothing the provider name does not say
		}
		msg = err.Error()
		if isMalformed(err) {
			msg = "malformed stream chunk: " + msg
		}
	}
	if pe.Status != 0 && pe.Status == capt.Status {
		pe.RetryAfter = providerhttp.ParseRetryAfter(capt.RetryAfter, time.Now())
	}
	pe.Retryable = providerhttp.Retryable(pe.Status)
	pe.Err = errors.New(providerhttp.Redact(msg, p.key))
	return pe
}

// refused are go-openai's errors about a request it will not send.
var refused = []error{
	goopenai.ErrChatCompletionInvalidModel, goopenai.ErrReasoningModelMaxTokensDeprecated,
	goopenai.ErrReasoningModelLimitationsLogprobs, goopenai.ErrReasoningModelLimitationsOther,
	goopenai.ErrReasoningEffortUnsupported, goopenai.ErrReasoningSamplingUnsupported,
	goopenai.ErrReasoningToolsRequireResponses,
}

// isReasoningModel reports whether model is of OpenAI's reasoning families,
// whose temperature is fixed and which take only max_completion_tokens.
func isReasoningModel(model string) bool {
	for _, prefix := range []string{"o1", "o3", "o4", "gpt-5", "gpt-6"} {
		if strings.HasPrefix(model, prefix) {
			return true
		}
	}
	return false
}

func isMalformed(err error) bool {
	return strings.Contains(err.Error(), "json") || strings.Contains(err.Error(), "JSON") ||
		errors.Is(err, goopenai.ErrTooManyEmptyStreamMessages)
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}
