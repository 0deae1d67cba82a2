package embed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	openai "github.com/sashabaranov/go-openai"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Defaults of the OpenAI-compatible embedder.
const (
	DefaultOpenAIBaseURL = "https://api.openai.com/v1"
	DefaultOpenAIModel   = "text-embedding-3-small"
	DefaultOllamaModel   = "nomic-embed-text"
	DefaultBatchSize     = 128
	// MaxAttempts bounds the tries of one batch (the first and the retries).
	MaxAttempts = 4
	// maxRetryAfter caps how long a Retry-After is honoured.
	maxRetryAfter = 30 * time.Second
)

// OpenAIOptions configure an OpenAI-compatible embedder.
type OpenAIOptions struct {
	// BaseURL is the API base, e.g. https://api.openai.com/v1 (the default)
	// or http://localhost:11434/v1 for Ollama.
	BaseURL string
	// APIKey is sent as a bearer token when set.
	APIKey string
	// Model is the embedding model; text-embedding-3-small by default.
	Model string
	// Dimensions asks the model for vectors of this size (models that
	// support it, e.g. text-embedding-3-*); 0 takes the model's own size,
	// learned from the first response.
	Dimensions int
	// HTTPClient makes the requests; a client with a 2-minute timeout by
	// default. Deadlines come from the context.
	HTTPClient *http.Client
	// BatchSize is how many texts go in one request; DefaultBatchSize by
	// default.
	BatchSize int
}

// OpenAI embeds through the OpenAI embeddings API or any endpoint that
// speaks it. It is safe for concurrent use.
type OpenAI struct {
	client   *openai.Client
	model    string // as sent to the API
	name     string // as reported by Model(): provider/model
	baseURL  string
	reqDims  int
	dims     atomic.Int64
	batch    int
	backoff  time.Duration // first retry's backoff scale
	attempts int
}

var _ flavormonk.Embedder = (*OpenAI)(nil)

// NewOpenAI returns an embedder for the OpenAI embeddings API at
// opts.BaseURL.
func NewOpenAI(opts OpenAIOptions) (*OpenAI, error) {
	return newOpenAI(opts, "openai", DefaultOpenAIModel)
}

// NewOllama returns an embedder for an Ollama server (host as in
// OLLAMA_HOST's URL form, e.g. http://localhost:11434) through its
// OpenAI-compatible /v1/embeddings endpoint; model defaults to
// nomic-embed-text.
func NewOllama(host, model string) (*OpenAI, error) {
	if host == "" {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "OLLAMA_HOST", "must be set for Ollama embeddings")
	}
	return NewOllamaAPI(OpenAIOptions{BaseURL: OllamaBaseURL(host), Model: model})
}

// OllamaBaseURL is the OpenAI-compatible API base of the Ollama server at
// host.
func OllamaBaseURL(host string) string { return strings.TrimRight(host, "/") + "/v1" }

// NewOllamaAPI returns an embedder for Ollama's OpenAI-compatible API at
// opts.BaseURL: OllamaBaseURL, or a proxy in front of it (with an APIKey
// when it authenticates). The model defaults to nomic-embed-text and a
// batch to 32 texts, as a local server is slower than a hosted API.
func NewOllamaAPI(opts OpenAIOptions) (*OpenAI, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 32
	}
	return newOpenAI(opts, "ollama", DefaultOllamaModel)
}

func newOpenAI(opts OpenAIOptions, provider, defaultModel string) (*OpenAI, error) {
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultOpenAIBaseURL
	}
	if !strings.HasPrefix(opts.BaseURL, "http://") && !strings.HasPrefix(opts.BaseURL, "https://") {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_EMBED_BASE_URL", "must be an http(s) URL, got %q", opts.BaseURL)
	}
	if opts.Model == "" {
		opts.Model = defaultModel
	}
	if opts.Dimensions < 0 {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_EMBED_DIMENSIONS", "must not be negative")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	cfg := openai.DefaultConfig(opts.APIKey)
	cfg.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	cfg.HTTPClient = retryAfterDoer{hc}
	e := &OpenAI{
		client:   openai.NewClientWithConfig(cfg),
		model:    opts.Model,
		name:     provider + "/" + opts.Model,
		baseURL:  cfg.BaseURL,
		reqDims:  opts.Dimensions,
		batch:    opts.BatchSize,
		backoff:  500 * time.Millisecond,
		attempts: MaxAttempts,
	}
	e.dims.Store(int64(opts.Dimensions))
	return e, nil
}

// Model implements flavormonk.Embedder: "openai/<model>" or "ollama/<model>".
func (e *OpenAI) Model() string { return e.name }

// Dimensions implements flavormonk.Embedder: the configured size, else the
// size learned from the first response (0 before it).
func (e *OpenAI) Dimensions() int { return int(e.dims.Load()) }

// Embed implements flavormonk.Embedder, in batches of BatchSize texts.
func (e *OpenAI) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += e.batch {
		end := min(start+e.batch, len(texts))
		vs, err := e.embedBatch(ctx, texts[start:end])
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

func (e *OpenAI) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	input := make([]string, len(texts))
	for i, t := range texts {
		if strings.TrimSpace(t) == "" {
			t = " " // the API refuses empty strings
		}
		input[i] = t
	}
	req := openai.EmbeddingRequest{
		Input:          input,
		Model:          openai.EmbeddingModel(e.model),
		EncodingFormat: openai.EmbeddingEncodingFormatFloat,
		Dimensions:     e.reqDims,
	}
	var lastErr error
	for attempt := 1; ; attempt++ {
		hint := &retryHint{}
		res, err := e.client.CreateEmbeddings(context.WithValue(ctx, retryHintKey{}, hint), req)
		if err == nil {
			return e.check(res, len(texts))
		}
		retry, mapped := e.classify(ctx, err)
		if !retry {
			return nil, mapped
		}
		lastErr = mapped
		if attempt >= e.attempts {
			break
		}
		wait := e.backoffFor(attempt, hint.after)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			break // waiting would outlive the caller
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, e.ctxError(ctx)
		case <-t.C:
		}
	}
	return nil, lastErr
}

// backoffFor is the wait before retry number attempt: the server's
// Retry-After when it sent one (capped), else exponential with full jitter.
func (e *OpenAI) backoffFor(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		// A little jitter on top, so that replicas do not retry in lockstep.
		return min(retryAfter, maxRetryAfter) + rand.N(e.backoff/4+1)
	}
	ceil := e.backoff << (attempt - 1)
	return ceil/2 + rand.N(ceil/2+1)
}

func (e *OpenAI) ctxError(ctx context.Context) error {
	code := flavormonk.ETIMEOUT
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		code = flavormonk.EUNAVAILABLE
	}
	return fmt.Errorf("%w: %w", flavormonk.Errorf(code, "embeddings API at %s: no answer in time", e.baseURL), ctx.Err())
}

// classify maps an API error to a flavormonk error and says whether to retry.
func (e *OpenAI) classify(ctx context.Context, err error) (retry bool, mapped error) {
	if ctx.Err() != nil {
		return false, e.ctxError(ctx)
	}
	status, msg := 0, ""
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &apiErr):
		status, msg = apiErr.HTTPStatusCode, apiErr.Message
	case errors.As(err, &reqErr):
		status = reqErr.HTTPStatusCode
		msg = strings.TrimSpace(string(reqErr.Body))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
	}
	where := fmt.Sprintf("embeddings API at %s (model %s)", e.baseURL, e.model)
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return false, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_EMBED_API_KEY",
			"%s refused the request (HTTP %d: %s): check the API key (FLAVORMONK_EMBED_API_KEY or OPENAI_API_KEY)", where, status, msg)
	case status == http.StatusTooManyRequests:
		return true, flavormonk.Errorf(flavormonk.EUNAVAILABLE, "%s is rate limiting us (HTTP 429: %s); try again later", where, msg)
	case status >= 500:
		return true, flavormonk.Errorf(flavormonk.EUNAVAILABLE, "%s failed (HTTP %d: %s); try again later", where, status, msg)
	case status == http.StatusNotFound:
		return false, flavormonk.Errorf(flavormonk.EINVALID, "%s: not found (HTTP 404: %s); check FLAVORMONK_EMBED_BASE_URL and FLAVORMONK_EMBED_MODEL (Ollama: pull the model first)", where, msg)
	case status >= 400:
		return false, flavormonk.Errorf(flavormonk.EINVALID, "%s rejected the request (HTTP %d: %s)", where, status, msg)
	}
	var netErr net.Error
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr), errors.As(err, &typeErr):
		return false, flavormonk.Errorf(flavormonk.EUNAVAILABLE, "%s answered with malformed JSON: %v", where, err)
	case errors.As(err, &netErr):
		return true, flavormonk.Errorf(flavormonk.EUNAVAILABLE, "%s is unreachable: %v", where, err)
	}
	return false, flavormonk.Errorf(flavormonk.EUNAVAILABLE, "%s: %v", where, err)
}

// check validates a response: one vector per input, each index once, all of
// one size (the configured one, when set), finite.
func (e *OpenAI) check(res openai.EmbeddingResponse, n int) ([][]float32, error) {
	where := fmt.Sprintf("embeddings API at %s (model %s)", e.baseURL, e.model)
	if len(res.Data) != n {
		return nil, flavormonk.Errorf(flavormonk.EUNAVAILABLE, "%s returned %d vectors for %d texts", where, len(res.Data), n)
	}
	out := make([][]float32, n)
	want := int(e.dims.Load())
	for _, d := range res.Data {
		if d.Index < 0 || d.Index >= n || out[d.Index] != nil {
			return nil, flavormonk.Errorf(flavormonk.EUNAVAILABLE, "%s returned a bad or repeated index %d", where, d.Index)
		}
		if len(d.Embedding) == 0 {
			return nil, flavormonk.Errorf(flavormonk.EUNAVAILABLE, "%s returned an empty vector", where)
		}
		if want == 0 {
			want = len(d.Embedding)
		}
		if len(d.Embedding) != want {
			if e.reqDims > 0 {
				return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_EMBED_DIMENSIONS",
					"is %d but %s returned vectors of %d (does the model support choosing dimensions?)", e.reqDims, where, len(d.Embedding))
			}
			return nil, flavormonk.Errorf(flavormonk.EUNAVAILABLE, "%s returned vectors of %d dimensions, expected %d", where, len(d.Embedding), want)
		}
		for _, x := range d.Embedding {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return nil, flavormonk.Errorf(flavormonk.EUNAVAILABLE, "%s returned a vector that is not finite", where)
			}
		}
		out[d.Index] = d.Embedding
	}
	e.dims.CompareAndSwap(0, int64(want))
	return out, nil
}

// retryHint carries a response's Retry-After from the HTTP layer (which
// go-openai does not expose on errors) back to the retry loop.
type retryHint struct{ after time.Duration }

type retryHintKey struct{}

// retryAfterDoer records Retry-After of 429 and 503 answers in the
// request's retryHint.
type retryAfterDoer struct{ c *http.Client }

func (d retryAfterDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.c.Do(req)
	if err == nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if h, ok := req.Context().Value(retryHintKey{}).(*retryHint); ok {
			h.after = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
	}
	return resp, err
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 || math.IsNaN(s) {
			return 0
		}
		return min(time.Duration(s*float64(time.Second)), maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}
