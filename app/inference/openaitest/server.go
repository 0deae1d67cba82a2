// Package openaitest is a local server that speaks OpenAI's chat
// completions wire protocol (POST /v1/chat/completions, streamed as
// Server-Sent Events of chat.completion.chunk objects, with the usage chunk
// of stream_options.include_usage and the closing data: [DONE]), in the
// dialects of OpenAI, vLLM-style compatible servers and Ollama. It answers a
// scripted text at a set pace, counts what it served, keeps the last
// requests, and injects faults (see script.Kind). Safe for hundreds of
// concurrent streams.
package openaitest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/inference/script"
	"github.com/flavormonk/flavormonk/app/tokens"
)

// Dialect is the flavour of OpenAI-compatible server imitated.
type Dialect int

const (
	OpenAI Dialect = iota // api.openai.com: usage: null on every chunk, system_fingerprint
	VLLM                  // vLLM and most compatible servers: no fingerprint, usage only at the end
	Ollama                // Ollama's /v1 API: fp_ollama, its error bodies
)

// MaxBody is the largest request body accepted (413 past it).
const MaxBody = 4 << 20

// Request is one chat completion request as the server received it.
type Request struct {
	Model        string
	Messages     []flavormonk.Message
	MaxTokens    int // max_completion_tokens, else max_tokens
	Temperature  *float64
	Stream       bool
	IncludeUsage bool
	// Authorization is the header as sent ("Bearer …"), for tests that
	// check the key reached the server.
	Authorization string
}

// Options configure a server. The zero value streams "Hello from the test
// server." with no delays, in OpenAI's dialect.
type Options struct {
	Dialect Dialect
	// Answer is the scripted answer; AnswerFunc, when set, computes it from
	// the request instead.
	Answer     string
	AnswerFunc func(Request) string
	Timing     script.Timing
	// APIKey, when set, is required as a Bearer token: other keys get 401,
	// whose message quotes the key received (as careless servers do), so
	// that clients prove they keep keys out of their errors.
	APIKey string
	// Models, when set, are the only models served: others get 404.
	Models []string
	// Usage computes the usage reported for a completed stream from the
	// request and the text sent. Default: OpenAI's counting (tokens package).
	Usage func(req Request, sent string) (in, out int)
}

// DefaultAnswer is the answer of a server with no Answer set.
const DefaultAnswer = "Hello from the test server."

// Server is a running test server.
type Server struct {
	ts       *httptest.Server
	mu       sync.RWMutex
	opts     Options
	faults   script.Faults
	counters script.Counters
	requests *script.Ring[Request]
	seq      atomic.Int64
	stop     chan struct{}
	stopOnce sync.Once
}

// New starts a server; Close it when done.
func New(opts Options) *Server {
	s := &Server{opts: opts, requests: script.NewRing[Request](32), stop: make(chan struct{})}
	s.ts = httptest.NewServer(s)
	return s
}

// URL is the API base URL, ending in /v1 (OPENAI_BASE_URL's form).
func (s *Server) URL() string { return s.ts.URL + "/v1" }

// Close ends open streams and stops the server.
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.ts.CloseClientConnections()
	s.ts.Close()
}

// Client is an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// SetAnswer scripts the answer text.
func (s *Server) SetAnswer(text string) {
	s.mu.Lock()
	s.opts.Answer, s.opts.AnswerFunc = text, nil
	s.mu.Unlock()
}

// SetAnswerFunc scripts the answer as a function of the request.
func (s *Server) SetAnswerFunc(f func(Request) string) {
	s.mu.Lock()
	s.opts.AnswerFunc = f
	s.mu.Unlock()
}

// SetTiming sets the first-token delay and the interval between tokens.
func (s *Server) SetTiming(t script.Timing) {
	s.mu.Lock()
	s.opts.Timing = t
	s.mu.Unlock()
}

// SetUsage makes the server report fixed token counts; (0, 0) goes back
// to the default counts.
func (s *Server) SetUsage(in, out int) {
	s.mu.Lock()
	if in == 0 && out == 0 {
		s.opts.Usage = nil
	} else {
		s.opts.Usage = func(Request, string) (int, int) { return in, out }
	}
	s.mu.Unlock()
}

// Inject makes the next requests fail with f (script.Fault{} clears it).
func (s *Server) Inject(f script.Fault) { s.faults.Set(f) }

// Stats returns the server's counters.
func (s *Server) Stats() script.Stats { return s.counters.Stats() }

// Requests returns the last requests received (up to 32), oldest first.
func (s *Server) Requests() []Request { return s.requests.All() }

// LastRequest returns the newest request received.
func (s *Server) LastRequest() (Request, bool) { return s.requests.Last() }

// LastPrompt is the newest request's messages as text, one
// "role: content" per line.
func (s *Server) LastPrompt() string {
	r, _ := s.requests.Last()
	var b strings.Builder
	for _, m := range r.Messages {
		b.WriteString(m.Role)
		b.WriteString(": ")
		b.WriteString(m.Content)
		b.WriteByte('\n')
	}
	return b.String()
}

func (s *Server) options() Options {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.opts
}

type wireRequest struct {
	Model               string               `json:"model"`
	Messages            []flavormonk.Message `json:"messages"`
	MaxTokens           int                  `json:"max_tokens"`
	MaxCompletionTokens int                  `json:"max_completion_tokens"`
	Temperature         *float64             `json:"temperature"`
	Stream              bool                 `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// ServeHTTP serves the OpenAI API routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.counters.Request()
	opts := s.options()
	if r.URL.Path != "/v1/chat/completions" {
		s.fail(w, opts, http.StatusNotFound, "invalid_request_error", "unknown_url", fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path))
		return
	}
	if r.Method != http.MethodPost {
		s.fail(w, opts, http.StatusMethodNotAllowed, "invalid_request_error", "", "Method not allowed")
		return
	}
	if opts.APIKey != "" {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if got != opts.APIKey {
			s.fail(w, opts, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key",
				fmt.Sprintf("Incorrect API key provided: %s. You can find your API key at https://platform.openai.com/account/api-keys.", got))
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return
	}
	if len(body) > MaxBody {
		s.fail(w, opts, http.StatusRequestEntityTooLarge, "invalid_request_error", "", "Request too large")
		return
	}
	var wr wireRequest
	if err := json.Unmarshal(body, &wr); err != nil {
		s.fail(w, opts, http.StatusBadRequest, "invalid_request_error", "",
			"We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)")
		return
	}
	req := Request{
		Model: wr.Model, Messages: wr.Messages, MaxTokens: wr.MaxTokens, Temperature: wr.Temperature,
		Stream: wr.Stream, IncludeUsage: wr.StreamOptions != nil && wr.StreamOptions.IncludeUsage,
		Authorization: r.Header.Get("Authorization"),
	}
	if wr.MaxCompletionTokens > 0 {
		req.MaxTokens = wr.MaxCompletionTokens
	}
	s.requests.Add(req)
	switch {
	case req.Model == "":
		s.fail(w, opts, http.StatusBadRequest, "invalid_request_error", "", "you must provide a model parameter")
		return
	case len(req.Messages) == 0:
		s.fail(w, opts, http.StatusBadRequest, "invalid_request_error", "", "[] is too short - 'messages'")
		return
	case len(opts.Models) > 0 && !contains(opts.Models, req.Model):
		msg := fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", req.Model)
		if opts.Dialect == Ollama {
			msg = fmt.Sprintf("model %q not found, try pulling it first", req.Model)
		}
		s.fail(w, opts, http.StatusNotFound, "invalid_request_error", "model_not_found", msg)
		return
	}

	fault := s.faults.Next()
	switch fault.Kind {
	case script.None:
	case script.HTTP500:
		s.counters.Fault()
		s.fail(w, opts, http.StatusInternalServerError, "server_error", "", "The server had an error while processing your request. Sorry about that!")
		return
	case script.HTTP429:
		s.counters.Fault()
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		s.fail(w, opts, http.StatusTooManyRequests, "requests", "rate_limit_exceeded", "Rate limit reached for requests per min (RPM). Please try again later.")
		return
	default:
		s.counters.Fault()
	}

	answer := opts.Answer
	if opts.AnswerFunc != nil {
		answer = opts.AnswerFunc(req)
	} else if answer == "" {
		answer = DefaultAnswer
	}
	pieces := script.Split(answer)
	finish := "stop"
	if req.MaxTokens > 0 && len(pieces) > req.MaxTokens {
		pieces, finish = pieces[:req.MaxTokens], "length"
	}
	if !req.Stream {
		s.complete(w, r, opts, req, pieces, finish, fault)
		return
	}
	s.stream(w, r, opts, req, pieces, finish, fault)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (s *Server) fail(w http.ResponseWriter, opts Options, status int, typ, code, msg string) {
	e := map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}
	if code != "" {
		e["code"] = code
	}
	if opts.Dialect == Ollama {
		e["type"] = "api_error"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

type delta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type choice struct {
	Index        int     `json:"index"`
	Delta        delta   `json:"delta"`
	Logprobs     *int    `json:"logprobs"`
	FinishReason *string `json:"finish_reason"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type chunk struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	SystemFingerprint string   `json:"system_fingerprint,omitempty"`
	Choices           []choice `json:"choices"`
	// Usage is a pointer with no omitempty: OpenAI sends "usage": null on
	// every chunk when include_usage is set; the other dialects omit it.
	Usage *usage `json:"usage"`
}

type chunkNoUsage struct {
	ID                string   `json:"id"`
	Object            string   `json:"object"`
	Created           int64    `json:"created"`
	Model             string   `json:"model"`
	SystemFingerprint string   `json:"system_fingerprint,omitempty"`
	Choices           []choice `json:"choices"`
	Usage             *usage   `json:"usage,omitempty"`
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, opts Options, req Request, pieces []string, finish string, fault script.Fault) {
	ctx := r.Context()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Request-Id", "req_"+strconv.FormatInt(s.seq.Add(1), 10))
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	closed := s.counters.StreamOpened()
	defer closed()

	gone := func() { s.counters.ClientGone() }
	wait := func(d time.Duration) bool {
		select {
		case <-s.stop:
			return false
		default:
		}
		return script.Sleep(ctx, d)
	}
	if fault.Kind == script.Hang {
		select {
		case <-ctx.Done():
			gone()
		case <-s.stop:
		}
		return
	}
	if !wait(script.FirstDelay(fault, opts.Timing)) {
		gone()
		return
	}

	id := "chatcmpl-" + strconv.FormatInt(s.seq.Add(1), 36)
	created := time.Now().Unix()
	fp := ""
	switch opts.Dialect {
	case OpenAI:
		fp = "fp_f85bea6784"
	case Ollama:
		fp = "fp_ollama"
	}
	write := func(choices []choice, u *usage) bool {
		var b []byte
		if opts.Dialect == OpenAI && req.IncludeUsage {
			b, _ = json.Marshal(chunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model, SystemFingerprint: fp, Choices: choices, Usage: u})
		} else {
			b, _ = json.Marshal(chunkNoUsage{ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model, SystemFingerprint: fp, Choices: choices, Usage: u})
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	empty := ""
	if !write([]choice{{Delta: delta{Role: flavormonk.RoleAssistant, Content: &empty}}}, nil) {
		gone()
		return
	}
	var sent strings.Builder
	for i, p := range pieces {
		if i == fault.After {
			switch fault.Kind {
			case script.Cut:
				// Abort: the connection closes with no terminating chunk.
				panic(http.ErrAbortHandler)
			case script.Malformed:
				fmt.Fprintf(w, "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\n\n", id)
				_ = rc.Flush()
				panic(http.ErrAbortHandler)
			case script.StreamError:
				fmt.Fprint(w, "data: {\"error\":{\"message\":\"The server had an error while processing your request. Sorry about that!\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n")
				_ = rc.Flush()
				return
			}
		}
		if i > 0 && !wait(opts.Timing.Interval) {
			gone()
			return
		}
		piece := p
		if !write([]choice{{Delta: delta{Content: &piece}}}, nil) {
			gone()
			return
		}
		sent.WriteString(p)
	}
	if fault.After >= len(pieces) && (fault.Kind == script.Cut || fault.Kind == script.Malformed) {
		panic(http.ErrAbortHandler)
	}
	if !write([]choice{{Delta: delta{}, FinishReason: &finish}}, nil) {
		gone()
		return
	}
	if req.IncludeUsage {
		in, out := s.usage(opts, req, sent.String())
		// Counted before it is sent, so that a client never holds usage
		// the counters lack.
		s.counters.Reported(in, out, 0)
		if !write([]choice{}, &usage{PromptTokens: in, CompletionTokens: out, TotalTokens: in + out}) {
			gone()
			return
		}
	}
	s.counters.Completed()
	if _, err := io.WriteString(w, "data: [DONE]\n\n"); err != nil {
		return
	}
	_ = rc.Flush()
}

func (s *Server) usage(opts Options, req Request, sent string) (in, out int) {
	if opts.Usage != nil {
		return opts.Usage(req, sent)
	}
	return tokens.CountMessages(req.Model, req.Messages), tokens.Count(req.Model, sent)
}

// complete answers a request without stream: true in one JSON object.
// Hang waits for the client to leave; Cut, Malformed and StreamError close
// the connection with no answer.
func (s *Server) complete(w http.ResponseWriter, r *http.Request, opts Options, req Request, pieces []string, finish string, fault script.Fault) {
	delay := script.FirstDelay(fault, opts.Timing)
	switch fault.Kind {
	case script.Hang:
		delay = 24 * time.Hour
	case script.Cut, script.Malformed, script.StreamError:
		panic(http.ErrAbortHandler)
	}
	select {
	case <-s.stop:
		return
	default:
	}
	if !script.Sleep(r.Context(), delay) {
		s.counters.ClientGone()
		return
	}
	text := strings.Join(pieces, "")
	in, out := s.usage(opts, req, text)
	s.counters.Reported(in, out, 0)
	s.counters.Completed()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "chatcmpl-" + strconv.FormatInt(s.seq.Add(1), 36), "object": "chat.completion",
		"created": time.Now().Unix(), "model": req.Model,
		"choices": []map[string]any{{"index": 0, "finish_reason": finish,
			"message": map[string]any{"role": flavormonk.RoleAssistant, "content": text}}},
		"usage": usage{PromptTokens: in, CompletionTokens: out, TotalTokens: in + out},
	})
}
