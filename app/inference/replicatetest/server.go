// Package replicatetest is a local server that speaks Replicate's HTTP API
// for language models: predictions created on a model
// (POST /v1/models/{owner}/{name}/predictions, with Prefer: wait), read
// (GET /v1/predictions/{id}) and cancelled (POST /v1/predictions/{id}/cancel),
// their output streamed as Server-Sent Events from urls.stream
// (event: output, event: error, event: done, with ids for Last-Event-ID),
// and token counts and predict_time in metrics. Like Replicate, a
// prediction runs whether or not anyone listens to its stream. It answers
// a scripted text at a set pace, counts what it served, keeps the last
// requests and injects faults (see script.Kind). Safe for hundreds of
// concurrent streams.
package replicatetest

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

	"github.com/flavormonk/flavormonk/app/inference/script"
	"github.com/flavormonk/flavormonk/app/tokens"
)

// MaxBody is the largest request body accepted.
const MaxBody = 4 << 20

// maxPredictions bounds the finished predictions kept for GET.
const maxPredictions = 4096

// Request is one prediction request as the server received it.
type Request struct {
	Owner, Name string
	Input       map[string]any
	Stream      bool
	// Prefer is the Prefer header ("wait", "wait=5").
	Prefer        string
	Authorization string
}

// Str returns a string input ("" when absent or not a string).
func (r Request) Str(key string) string {
	s, _ := r.Input[key].(string)
	return s
}

// Num returns a numeric input (0 when absent).
func (r Request) Num(key string) float64 {
	f, _ := r.Input[key].(float64)
	return f
}

// Options configure a server. The zero value streams "Hello from the test
// server." with no delays.
type Options struct {
	// Answer is the scripted answer; AnswerFunc, when set, computes it from
	// the request instead.
	Answer     string
	AnswerFunc func(Request) string
	Timing     script.Timing
	// APIKey, when set, is the only token accepted; others get 401, whose
	// detail quotes the token received, so that clients prove they keep
	// tokens out of their errors.
	APIKey string
	// Models ("owner/name"), when set, are the only models served.
	Models []string
	// Usage computes the token counts in a succeeded prediction's metrics
	// from the request and the output. Default: the tokens package's count
	// of prompt_template filled with system_prompt and prompt, and of the
	// output.
	Usage func(req Request, output string) (in, out int)
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

	pmu   sync.Mutex
	preds map[string]*prediction
	order []string
}

// New starts a server; Close it when done.
func New(opts Options) *Server {
	s := &Server{opts: opts, requests: script.NewRing[Request](32), stop: make(chan struct{}), preds: map[string]*prediction{}}
	s.ts = httptest.NewServer(s)
	return s
}

// URL is the API base URL, ending in /v1 (the client's base URL option).
func (s *Server) URL() string { return s.ts.URL + "/v1" }

// Client is an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close ends predictions and open streams and stops the server.
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.ts.CloseClientConnections()
	s.ts.Close()
}

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

// SetUsage makes metrics report fixed token counts; (0, 0) goes back to
// the default counts.
func (s *Server) SetUsage(in, out int) {
	s.mu.Lock()
	if in == 0 && out == 0 {
		s.opts.Usage = nil
	} else {
		s.opts.Usage = func(Request, string) (int, int) { return in, out }
	}
	s.mu.Unlock()
}

// Inject makes the next predictions fail with f (script.Fault{} clears it).
// HTTP500 and HTTP429 answer the create request; StreamError fails the
// prediction after f.After tokens; Cut and Malformed break its SSE stream;
// Hang keeps it processing, with no output, until it is cancelled.
func (s *Server) Inject(f script.Fault) { s.faults.Set(f) }

// Stats returns the server's counters.
func (s *Server) Stats() script.Stats { return s.counters.Stats() }

// Requests returns the last prediction requests (up to 32), oldest first.
func (s *Server) Requests() []Request { return s.requests.All() }

// LastRequest returns the newest prediction request.
func (s *Server) LastRequest() (Request, bool) { return s.requests.Last() }

// LastPrompt is the prompt of the newest request, with its system prompt
// and template filled in, as the model would read it.
func (s *Server) LastPrompt() string {
	r, _ := s.requests.Last()
	return Render(r)
}

// Render fills the request's prompt_template (or the Llama 3 instruct
// template when it has none) with its system_prompt and prompt.
func Render(r Request) string {
	tmpl := r.Str("prompt_template")
	if tmpl == "" {
		tmpl = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{system_prompt}<|eot_id|>" +
			"<|start_header_id|>user<|end_header_id|>\n\n{prompt}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
	}
	return strings.NewReplacer("{system_prompt}", r.Str("system_prompt"), "{prompt}", r.Str("prompt")).Replace(tmpl)
}

func (s *Server) options() Options {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.opts
}

// ServeHTTP serves the API routes and the stream URLs.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.counters.Request()
	opts := s.options()
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) == 2 && parts[0] == "stream" && r.Method == http.MethodGet {
		s.serveStream(w, r, parts[1])
		return
	}
	if len(parts) < 2 || parts[0] != "v1" {
		apiError(w, http.StatusNotFound, "Not found", "The requested resource could not be found.")
		return
	}
	if opts.APIKey != "" {
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		got = strings.TrimPrefix(got, "Token ")
		if got != opts.APIKey {
			apiError(w, http.StatusUnauthorized, "Unauthenticated", "Invalid token: "+got)
			return
		}
	}
	switch {
	case len(parts) == 5 && parts[1] == "models" && parts[4] == "predictions" && r.Method == http.MethodPost:
		s.create(w, r, opts, parts[2], parts[3])
	case len(parts) == 3 && parts[1] == "predictions" && r.Method == http.MethodGet:
		s.get(w, parts[2])
	case len(parts) == 4 && parts[1] == "predictions" && parts[3] == "cancel" && r.Method == http.MethodPost:
		s.cancel(w, parts[2])
	default:
		apiError(w, http.StatusNotFound, "Not found", "The requested resource could not be found.")
	}
}

func apiError(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"title": title, "detail": detail, "status": status})
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, opts Options, owner, name string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return
	}
	if len(body) > MaxBody {
		apiError(w, http.StatusRequestEntityTooLarge, "Request too large", "The request body is too large.")
		return
	}
	var wire struct {
		Input  map[string]any `json:"input"`
		Stream bool           `json:"stream"`
	}
	if err := json.Unmarshal(body, &wire); err != nil {
		apiError(w, http.StatusBadRequest, "Invalid JSON", "The request body is not valid JSON.")
		return
	}
	req := Request{Owner: owner, Name: name, Input: wire.Input, Stream: wire.Stream,
		Prefer: r.Header.Get("Prefer"), Authorization: r.Header.Get("Authorization")}
	s.requests.Add(req)
	model := owner + "/" + name
	if len(opts.Models) > 0 && !contains(opts.Models, model) {
		apiError(w, http.StatusNotFound, "Not found", "The requested resource could not be found.")
		return
	}
	if req.Str("prompt") == "" {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_ = json.NewEncoder(w).Encode(map[string]any{"title": "Input validation failed", "status": 422,
			"detail": "- input: prompt is required", "invalid_fields": []map[string]string{{"type": "required", "field": "input", "description": "prompt is required"}}})
		return
	}
	fault := s.faults.Next()
	switch fault.Kind {
	case script.None:
	case script.HTTP500:
		s.counters.Fault()
		apiError(w, http.StatusInternalServerError, "Internal Server Error", "Something went wrong on our end.")
		return
	case script.HTTP429:
		s.counters.Fault()
		if fault.RetryAfter != "" {
			w.Header().Set("Retry-After", fault.RetryAfter)
		}
		apiError(w, http.StatusTooManyRequests, "Request was throttled.", "Request was throttled. Your rate limit resets shortly.")
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
	maxTokens := int(req.Num("max_tokens"))
	if maxTokens == 0 {
		maxTokens = int(req.Num("max_new_tokens"))
	}
	if maxTokens > 0 && len(pieces) > maxTokens {
		pieces = pieces[:maxTokens]
	}
	p := &prediction{
		id: s.newID(), model: model, req: req, base: s.URL(), streamBase: s.ts.URL + "/stream/",
		status: "starting", created: time.Now().UTC(), changed: make(chan struct{}),
		cancelled: make(chan struct{}), fault: fault,
	}
	s.add(p)
	go s.run(p, opts, pieces)

	if wait, ok := preferWait(req.Prefer); ok {
		t := time.NewTimer(wait)
		defer t.Stop()
		for {
			p.mu.Lock()
			done, ch := p.terminal(), p.changed
			p.mu.Unlock()
			if done {
				break
			}
			select {
			case <-ch:
				continue
			case <-t.C:
			case <-r.Context().Done():
				return
			case <-s.stop:
			}
			break
		}
	}
	writeJSON(w, http.StatusCreated, p)
}

// preferWait parses "wait" or "wait=N" (1 to 60 seconds).
func preferWait(h string) (time.Duration, bool) {
	for _, part := range strings.Split(h, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if k != "wait" {
			continue
		}
		n := 60
		if v != "" {
			if m, err := strconv.Atoi(v); err == nil && m >= 1 && m <= 60 {
				n = m
			}
		}
		return time.Duration(n) * time.Second, true
	}
	return 0, false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (s *Server) newID() string {
	// Replicate ids are 26 lower-case base-32 characters.
	id := strconv.FormatInt(s.seq.Add(1), 32)
	return strings.Repeat("0", 26-len(id)) + id
}

func (s *Server) add(p *prediction) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	s.preds[p.id] = p
	s.order = append(s.order, p.id)
	if len(s.order) > maxPredictions {
		// Forget the oldest finished predictions.
		kept := s.order[:0]
		for i, id := range s.order {
			q := s.preds[id]
			q.mu.Lock()
			old := q.terminal() && i < len(s.order)-maxPredictions/2
			q.mu.Unlock()
			if old {
				delete(s.preds, id)
			} else {
				kept = append(kept, id)
			}
		}
		s.order = kept
	}
}

func (s *Server) lookup(id string) *prediction {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	return s.preds[id]
}

func (s *Server) get(w http.ResponseWriter, id string) {
	p := s.lookup(id)
	if p == nil {
		apiError(w, http.StatusNotFound, "Not found", "The requested resource could not be found.")
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (s *Server) cancel(w http.ResponseWriter, id string) {
	p := s.lookup(id)
	if p == nil {
		apiError(w, http.StatusNotFound, "Not found", "The requested resource could not be found.")
		return
	}
	s.counters.Cancel()
	p.mu.Lock()
	if !p.terminal() {
		p.status = "canceled"
		p.completed = time.Now().UTC()
		close(p.cancelled)
		p.notify()
	}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, p)
}

func writeJSON(w http.ResponseWriter, status int, p *prediction) {
	p.mu.Lock()
	b, _ := json.Marshal(p.wire())
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// run is the model: it produces the output at the scripted pace until the
// prediction succeeds, fails (StreamError) or is cancelled.
func (s *Server) run(p *prediction, opts Options, pieces []string) {
	wait := func(d time.Duration) bool {
		if d <= 0 {
			return true
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-p.cancelled:
		case <-s.stop:
		}
		return false
	}
	p.mu.Lock()
	p.status, p.started = "processing", time.Now().UTC()
	p.notify()
	p.mu.Unlock()
	if p.fault.Kind == script.Hang {
		select {
		case <-p.cancelled:
		case <-s.stop:
		}
		return
	}
	if !wait(script.FirstDelay(p.fault, opts.Timing)) {
		return
	}
	for i, piece := range pieces {
		if i > 0 && !wait(opts.Timing.Interval) {
			return
		}
		p.mu.Lock()
		if p.terminal() {
			p.mu.Unlock()
			return
		}
		if p.fault.Kind == script.StreamError && i == p.fault.After {
			p.status, p.errMsg, p.completed = "failed", "CUDA error: an illegal memory access was encountered", time.Now().UTC()
			p.notify()
			p.mu.Unlock()
			return
		}
		if i == 0 {
			p.firstToken = time.Now()
		}
		p.output = append(p.output, piece)
		p.notify()
		p.mu.Unlock()
	}
	text := strings.Join(pieces, "")
	var in, out int
	if opts.Usage != nil {
		in, out = opts.Usage(p.req, text)
	} else {
		in, out = tokens.Count(p.model, Render(p.req)), tokens.Count(p.model, text)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminal() {
		return
	}
	p.status, p.completed = "succeeded", time.Now().UTC()
	p.inTokens, p.outTokens = in, out
	p.notify()
	s.counters.Reported(in, out, p.completed.Sub(p.started).Seconds())
}

// serveStream is the SSE stream of a prediction's output.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request, id string) {
	p := s.lookup(id)
	if p == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	ctx := r.Context()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	closed := s.counters.StreamOpened()
	defer closed()

	next := 0
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		if n, err := strconv.Atoi(last); err == nil && n >= 0 {
			next = n + 1
		}
	}
	sent := 0 // output events sent on this connection
	for {
		p.mu.Lock()
		pending := append([]string(nil), p.output[min(next, len(p.output)):]...)
		status, errMsg, ch := p.status, p.errMsg, p.changed
		terminal := p.terminal()
		p.mu.Unlock()

		for _, piece := range pending {
			if p.fault.After == sent {
				switch p.fault.Kind {
				case script.Cut:
					panic(http.ErrAbortHandler)
				case script.Malformed:
					fmt.Fprintf(w, "event: output\nid: %d\ndata: \xff\xfe\xfd\n\n", next)
					_ = rc.Flush()
					panic(http.ErrAbortHandler)
				}
			}
			if err := writeEvent(w, "output", strconv.Itoa(next), piece); err != nil || rc.Flush() != nil {
				s.counters.ClientGone()
				return
			}
			next++
			sent++
		}
		if terminal && next >= len(p.output) {
			if (p.fault.Kind == script.Cut || p.fault.Kind == script.Malformed) && p.fault.After >= sent {
				panic(http.ErrAbortHandler)
			}
			switch status {
			case "failed":
				b, _ := json.Marshal(map[string]string{"detail": errMsg})
				_ = writeEvent(w, "error", "", string(b))
				_ = writeEvent(w, "done", "", `{"reason":"error"}`)
			case "canceled":
				_ = writeEvent(w, "done", "", `{"reason":"canceled"}`)
			default:
				s.counters.Completed()
				_ = writeEvent(w, "done", "", "{}")
			}
			_ = rc.Flush()
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			s.counters.ClientGone()
			return
		case <-s.stop:
			return
		}
	}
}

// writeEvent writes one SSE event; data with newlines becomes several data
// lines, as the SSE format requires.
func writeEvent(w io.Writer, event, id, data string) error {
	var b strings.Builder
	b.WriteString("event: ")
	b.WriteString(event)
	b.WriteByte('\n')
	if id != "" {
		b.WriteString("id: ")
		b.WriteString(id)
		b.WriteByte('\n')
	}
	for _, line := range strings.Split(data, "\n") {
		b.WriteString("data: ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

type prediction struct {
	mu                    sync.Mutex
	id, model, base       string
	streamBase            string
	req                   Request
	status, errMsg        string
	output                []string
	created, started      time.Time
	completed, firstToken time.Time
	inTokens, outTokens   int
	changed, cancelled    chan struct{}
	fault                 script.Fault
}

func (p *prediction) terminal() bool {
	return p.status == "succeeded" || p.status == "failed" || p.status == "canceled"
}

// notify wakes whoever waits on the prediction; p.mu is held.
func (p *prediction) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

const timeFormat = "2006-01-02T15:04:05.000000Z"

// wire is the prediction as the API returns it; p.mu is held.
func (p *prediction) wire() map[string]any {
	urls := map[string]string{
		"get":    p.base + "/predictions/" + p.id,
		"cancel": p.base + "/predictions/" + p.id + "/cancel",
		"web":    "https://replicate.com/p/" + p.id,
	}
	if p.req.Stream {
		urls["stream"] = p.streamBase + p.id
	}
	m := map[string]any{
		"id": p.id, "model": p.model, "version": "hidden", "input": p.req.Input,
		"logs": "", "error": nil, "status": p.status, "source": "api", "data_removed": false,
		"created_at": p.created.Format(timeFormat), "urls": urls,
	}
	if p.errMsg != "" {
		m["error"] = p.errMsg
	}
	if len(p.output) > 0 {
		m["output"] = p.output
	} else {
		m["output"] = nil
	}
	if !p.started.IsZero() {
		m["started_at"] = p.started.Format(timeFormat)
	}
	if !p.completed.IsZero() {
		m["completed_at"] = p.completed.Format(timeFormat)
		metrics := map[string]any{"predict_time": p.completed.Sub(p.started).Seconds(), "total_time": p.completed.Sub(p.created).Seconds()}
		if p.status == "succeeded" {
			metrics["input_token_count"] = p.inTokens
			metrics["output_token_count"] = p.outTokens
			if !p.firstToken.IsZero() {
				metrics["time_to_first_token"] = p.firstToken.Sub(p.started).Seconds()
			}
			if d := p.completed.Sub(p.started).Seconds(); d > 0 {
				metrics["tokens_per_second"] = float64(p.outTokens) / d
			}
		}
		m["metrics"] = metrics
	}
	return m
}
