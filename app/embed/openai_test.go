package embed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// fakeAPI speaks the OpenAI embeddings wire format. Each request takes the
// next fault from the script (none: a correct answer).
type fakeAPI struct {
	t      *testing.T
	dims   int
	mu     sync.Mutex
	script []func(w http.ResponseWriter, r *http.Request, inputs []string) bool // true: handled
	reqs   []fakeReq
	// reverse answers data items in reverse order (index tells the order).
	reverse bool
}

type fakeReq struct {
	Path   string
	Auth   string
	Model  string
	Inputs []string
	Format string
	Dims   int
	At     time.Time
}

func newFake(t *testing.T, dims int) (*fakeAPI, *httptest.Server) {
	f := &fakeAPI{t: t, dims: dims}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeAPI) then(h ...func(w http.ResponseWriter, r *http.Request, inputs []string) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script = append(f.script, h...)
}

func (f *fakeAPI) requests() []fakeReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeReq(nil), f.reqs...)
}

// vectorFor is the fake model: a deterministic vector of the text.
func vectorFor(text string, dims int) []float32 {
	v := make([]float32, dims)
	for i := range v {
		v[i] = float32(len(text)%7+i) / 10
	}
	v[0] = float32(len(text))
	return v
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		EncodingFormat string          `json:"encoding_format"`
		Dimensions     int             `json:"dimensions"`
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/embeddings" {
		http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.t.Errorf("request body: %v", err)
	}
	var inputs []string
	if err := json.Unmarshal(body.Input, &inputs); err != nil {
		f.t.Errorf("input is not an array of strings: %s", body.Input)
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, fakeReq{r.URL.Path, r.Header.Get("Authorization"), body.Model, inputs, body.EncodingFormat, body.Dimensions, time.Now()})
	var h func(w http.ResponseWriter, r *http.Request, inputs []string) bool
	if len(f.script) > 0 {
		h, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	if h != nil && h(w, r, inputs) {
		return
	}
	dims := f.dims
	if body.Dimensions > 0 {
		dims = body.Dimensions
	}
	writeEmbeddings(w, body.Model, inputs, dims, f.reverse)
}

func writeEmbeddings(w http.ResponseWriter, model string, inputs []string, dims int, reverse bool) {
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	data := make([]item, len(inputs))
	for i, in := range inputs {
		j := i
		if reverse {
			j = len(inputs) - 1 - i
		}
		data[j] = item{"embedding", i, vectorFor(in, dims)}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"object": "list",
		"data":   data,
		"model":  model,
		"usage":  map[string]int{"prompt_tokens": 3 * len(inputs), "total_tokens": 3 * len(inputs)},
	})
}

func apiError(status int, header map[string]string) func(http.ResponseWriter, *http.Request, []string) bool {
	return func(w http.ResponseWriter, _ *http.Request, _ []string) bool {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"message":"fake error %d","type":"server_error","param":null,"code":null}}`, status)
		return true
	}
}

func newTestOpenAI(t *testing.T, srv *httptest.Server, opts OpenAIOptions) *OpenAI {
	t.Helper()
	opts.BaseURL = srv.URL + "/v1"
	if opts.APIKey == "" {
		opts.APIKey = "sk-test"
	}
	e, err := NewOpenAI(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.backoff = 5 * time.Millisecond // fast retries in tests
	return e
}

func TestOpenAIWireFormatAndBatching(t *testing.T) {
	f, srv := newFake(t, 5)
	f.reverse = true
	e := newTestOpenAI(t, srv, OpenAIOptions{Model: "text-embedding-3-small", BatchSize: 2})
	if e.Model() != "openai/text-embedding-3-small" {
		t.Errorf("Model = %s", e.Model())
	}
	if e.Dimensions() != 0 {
		t.Errorf("Dimensions before any call = %d, want 0 (learned)", e.Dimensions())
	}
	texts := []string{"a", "bb", "ccc", "", "eeeee"}
	vs, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 5 {
		t.Fatalf("%d vectors", len(vs))
	}
	for i, v := range vs {
		want := vectorFor(texts[i], 5)
		if texts[i] == "" {
			want = vectorFor(" ", 5)
		}
		if fmt.Sprint(v) != fmt.Sprint(want) {
			t.Errorf("vector %d = %v, want %v (order by index)", i, v, want)
		}
	}
	if e.Dimensions() != 5 {
		t.Errorf("Dimensions after a call = %d, want 5", e.Dimensions())
	}
	reqs := f.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests for 5 texts in batches of 2, want 3", len(reqs))
	}
	for _, r := range reqs {
		if r.Auth != "Bearer sk-test" || r.Model != "text-embedding-3-small" || r.Format != "float" || r.Dims != 0 {
			t.Errorf("request %+v", r)
		}
	}
	if got := fmt.Sprint(reqs[2].Inputs); got != "[eeeee]" {
		t.Errorf("last batch = %s", got)
	}
	if got := reqs[1].Inputs[1]; got != " " {
		t.Errorf("empty text sent as %q, want a space", got)
	}
}

func TestOpenAIRequestedDimensions(t *testing.T) {
	f, srv := newFake(t, 1536)
	e := newTestOpenAI(t, srv, OpenAIOptions{Dimensions: 256})
	if e.Dimensions() != 256 {
		t.Errorf("Dimensions = %d, want 256", e.Dimensions())
	}
	vs, err := e.Embed(context.Background(), []string{"x"})
	if err != nil || len(vs[0]) != 256 {
		t.Fatalf("Embed: %v", err)
	}
	if r := f.requests()[0]; r.Dims != 256 || r.Model != DefaultOpenAIModel {
		t.Errorf("request %+v: want dimensions 256 and the default model", r)
	}
	// A server that ignores "dimensions": a clear configuration error.
	f2, srv2 := newFake(t, 768)
	f2.then(func(w http.ResponseWriter, r *http.Request, in []string) bool {
		writeEmbeddings(w, "m", in, 768, false)
		return true
	})
	e2 := newTestOpenAI(t, srv2, OpenAIOptions{Dimensions: 256})
	_, err = e2.Embed(context.Background(), []string{"x"})
	if flavormonk.ErrorCode(err) != flavormonk.EINVALID || !strings.Contains(err.Error(), "FLAVORMONK_EMBED_DIMENSIONS") {
		t.Errorf("ignored dimensions: %v", err)
	}
}

func TestOpenAIRetryAfter(t *testing.T) {
	f, srv := newFake(t, 3)
	f.then(apiError(http.StatusTooManyRequests, map[string]string{"Retry-After": "1"}))
	e := newTestOpenAI(t, srv, OpenAIOptions{})
	start := time.Now()
	vs, err := e.Embed(context.Background(), []string{"hello"})
	if err != nil || len(vs) != 1 {
		t.Fatalf("Embed after a 429: %v", err)
	}
	reqs := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < 950*time.Millisecond || gap > 5*time.Second {
		t.Errorf("retried after %v, want about Retry-After's 1s", gap)
	}
	t.Logf("429 + Retry-After: 1 → success after %v", time.Since(start).Round(time.Millisecond))
}

func TestOpenAI5xxThenSuccess(t *testing.T) {
	f, srv := newFake(t, 3)
	f.then(apiError(http.StatusInternalServerError, nil), apiError(http.StatusBadGateway, nil))
	e := newTestOpenAI(t, srv, OpenAIOptions{})
	if _, err := e.Embed(context.Background(), []string{"hello"}); err != nil {
		t.Fatalf("Embed after two 5xx: %v", err)
	}
	if n := len(f.requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestOpenAIPersistent5xx(t *testing.T) {
	f, srv := newFake(t, 3)
	for i := 0; i < 10; i++ {
		f.then(apiError(http.StatusServiceUnavailable, nil))
	}
	e := newTestOpenAI(t, srv, OpenAIOptions{})
	_, err := e.Embed(context.Background(), []string{"hello"})
	if flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
		t.Errorf("persistent 503: %v (code %s), want EUNAVAILABLE", err, flavormonk.ErrorCode(err))
	}
	if n := len(f.requests()); n != MaxAttempts {
		t.Errorf("%d requests, want %d (bounded)", n, MaxAttempts)
	}
}

func TestOpenAIPersistent429(t *testing.T) {
	f, srv := newFake(t, 3)
	for i := 0; i < 10; i++ {
		f.then(apiError(http.StatusTooManyRequests, nil))
	}
	e := newTestOpenAI(t, srv, OpenAIOptions{})
	_, err := e.Embed(context.Background(), []string{"hello"})
	if flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE || !strings.Contains(err.Error(), "429") {
		t.Errorf("persistent 429: %v, want EUNAVAILABLE naming 429", err)
	}
}

func TestOpenAIUnauthorized(t *testing.T) {
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		f, srv := newFake(t, 3)
		f.then(apiError(status, nil))
		e := newTestOpenAI(t, srv, OpenAIOptions{})
		_, err := e.Embed(context.Background(), []string{"hello"})
		if flavormonk.ErrorCode(err) != flavormonk.EINVALID || !strings.Contains(err.Error(), "check the API key") {
			t.Errorf("HTTP %d: %v, want EINVALID saying to check the API key", status, err)
		}
		if n := len(f.requests()); n != 1 {
			t.Errorf("HTTP %d retried: %d requests", status, n)
		}
	}
}

func TestOpenAIMalformedJSON(t *testing.T) {
	for name, body := range map[string]string{"truncated": `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,`, "garbage": `<html>oops</html>`} {
		f, srv := newFake(t, 3)
		f.then(func(w http.ResponseWriter, _ *http.Request, _ []string) bool {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, body)
			return true
		})
		e := newTestOpenAI(t, srv, OpenAIOptions{})
		_, err := e.Embed(context.Background(), []string{"hello"})
		if err == nil || flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
			t.Errorf("%s JSON: %v, want an EUNAVAILABLE error", name, err)
		}
	}
}

func TestOpenAIWrongCountAndSize(t *testing.T) {
	cases := map[string]func(http.ResponseWriter, *http.Request, []string) bool{
		"too few": func(w http.ResponseWriter, _ *http.Request, in []string) bool {
			writeEmbeddings(w, "m", in[:1], 3, false)
			return true
		},
		"too many": func(w http.ResponseWriter, _ *http.Request, in []string) bool {
			writeEmbeddings(w, "m", append(in, "extra"), 3, false)
			return true
		},
		"mixed sizes": func(w http.ResponseWriter, _ *http.Request, in []string) bool {
			io.WriteString(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1,2,3]},{"object":"embedding","index":1,"embedding":[1,2]}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`)
			return true
		},
		"repeated index": func(w http.ResponseWriter, _ *http.Request, in []string) bool {
			io.WriteString(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[1,2,3]},{"object":"embedding","index":0,"embedding":[1,2,3]}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`)
			return true
		},
		"empty vector": func(w http.ResponseWriter, _ *http.Request, in []string) bool {
			io.WriteString(w, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[]},{"object":"embedding","index":1,"embedding":[]}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`)
			return true
		},
	}
	for name, h := range cases {
		f, srv := newFake(t, 3)
		f.then(h)
		e := newTestOpenAI(t, srv, OpenAIOptions{})
		vs, err := e.Embed(context.Background(), []string{"a", "b"})
		if err == nil {
			t.Errorf("%s: no error, got %d vectors", name, len(vs))
		}
	}
	// A later response of another size than the learned one.
	f, srv := newFake(t, 3)
	e := newTestOpenAI(t, srv, OpenAIOptions{})
	if _, err := e.Embed(context.Background(), []string{"a"}); err != nil {
		t.Fatal(err)
	}
	f.dims = 4
	if _, err := e.Embed(context.Background(), []string{"a"}); err == nil {
		t.Error("a change of dimension between responses went unnoticed")
	}
}

func TestOpenAISlowBeyondDeadline(t *testing.T) {
	f, srv := newFake(t, 3)
	release := make(chan struct{})
	defer close(release)
	f.then(func(w http.ResponseWriter, r *http.Request, in []string) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return false
	})
	e := newTestOpenAI(t, srv, OpenAIOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.Embed(ctx, []string{"hello"})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Embed took %v past a 150ms deadline", took)
	}
	if flavormonk.ErrorCode(err) != flavormonk.ETIMEOUT || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow server: %v (code %s), want ETIMEOUT wrapping DeadlineExceeded", err, flavormonk.ErrorCode(err))
	}
}

func TestOpenAIRetryAfterBeyondDeadline(t *testing.T) {
	f, srv := newFake(t, 3)
	f.then(apiError(http.StatusTooManyRequests, map[string]string{"Retry-After": "20"}))
	e := newTestOpenAI(t, srv, OpenAIOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	_, err := e.Embed(ctx, []string{"hello"})
	if time.Since(start) > 500*time.Millisecond {
		t.Errorf("waited %v although Retry-After outlives the deadline", time.Since(start))
	}
	if flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
		t.Errorf("err = %v, want EUNAVAILABLE", err)
	}
}

func TestOpenAIUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	e, err := NewOpenAI(OpenAIOptions{BaseURL: url + "/v1", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	e.backoff = time.Millisecond
	_, err = e.Embed(context.Background(), []string{"x"})
	if flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
		t.Errorf("unreachable server: %v, want EUNAVAILABLE", err)
	}
}

func TestOllama(t *testing.T) {
	f, srv := newFake(t, 768)
	e, err := NewOllama(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if e.Model() != "ollama/nomic-embed-text" {
		t.Errorf("Model = %s", e.Model())
	}
	if _, err := e.Embed(context.Background(), []string{"x", "y"}); err != nil {
		t.Fatal(err)
	}
	r := f.requests()[0]
	if r.Path != "/v1/embeddings" || r.Auth != "" || r.Model != "nomic-embed-text" {
		t.Errorf("Ollama request %+v: want /v1/embeddings, no key, the default model", r)
	}
	if e.Dimensions() != 768 {
		t.Errorf("Dimensions = %d", e.Dimensions())
	}
	if _, err := NewOllama("", "m"); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Errorf("NewOllama without host: %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "0": 0, "2": 2 * time.Second, "0.5": 500 * time.Millisecond, "-1": 0, "soon": 0, "3600": maxRetryAfter,
		now.Add(5 * time.Second).Format(http.TimeFormat): 5 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):      0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}
