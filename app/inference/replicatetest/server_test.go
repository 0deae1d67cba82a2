package replicatetest

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flavormonk/flavormonk/app/inference/script"
)

type wirePrediction struct {
	ID      string             `json:"id"`
	Status  string             `json:"status"`
	Model   string             `json:"model"`
	Output  []string           `json:"output"`
	Error   any                `json:"error"`
	URLs    map[string]string  `json:"urls"`
	Metrics map[string]float64 `json:"metrics"`
}

func do(t *testing.T, s *Server, method, url, body string, header ...string) (int, wirePrediction, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p wirePrediction
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return resp.StatusCode, p, resp.Header
}

const create = `{"input":{"prompt":"Why rest dough?","system_prompt":"Be brief.","max_tokens":100},"stream":true}`

func TestPreferWait(t *testing.T) {
	s := New(Options{Answer: "Gluten relaxes.", APIKey: "tok"})
	defer s.Close()
	s.SetUsage(40, 3)
	status, p, _ := do(t, s, http.MethodPost, s.URL()+"/models/meta/meta-llama-3-70b-instruct/predictions", create, "Prefer", "wait=5")
	if status != 201 || p.Status != "succeeded" || strings.Join(p.Output, "") != "Gluten relaxes." || p.Model != "meta/meta-llama-3-70b-instruct" {
		t.Fatalf("%d %+v", status, p)
	}
	if p.Metrics["input_token_count"] != 40 || p.Metrics["output_token_count"] != 3 || p.Metrics["predict_time"] <= 0 {
		t.Errorf("metrics %v", p.Metrics)
	}
	for _, k := range []string{"get", "cancel", "stream"} {
		if p.URLs[k] == "" {
			t.Errorf("no urls.%s", k)
		}
	}
	status, got, _ := do(t, s, http.MethodGet, p.URLs["get"], "")
	if status != 200 || got.ID != p.ID || got.Status != "succeeded" {
		t.Errorf("GET %d %+v", status, got)
	}
	r, _ := s.LastRequest()
	if r.Prefer != "wait=5" || !r.Stream || r.Str("prompt") != "Why rest dough?" || r.Num("max_tokens") != 100 {
		t.Errorf("recorded %+v", r)
	}
	if !strings.Contains(s.LastPrompt(), "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>") {
		t.Errorf("LastPrompt %q", s.LastPrompt())
	}
}

func TestWithoutWaitStartsAndCancels(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.Inject(script.Fault{Kind: script.Hang})
	status, p, _ := do(t, s, http.MethodPost, s.URL()+"/models/meta/llama/predictions", `{"input":{"prompt":"x"}}`)
	if status != 201 || (p.Status != "starting" && p.Status != "processing") || p.URLs["stream"] != "" {
		t.Fatalf("%d %+v: want a running prediction with no stream URL (stream not asked)", status, p)
	}
	status, c, _ := do(t, s, http.MethodPost, s.URL()+"/predictions/"+p.ID+"/cancel", "")
	if status != 200 || c.Status != "canceled" {
		t.Fatalf("cancel %d %+v", status, c)
	}
	if st := s.Stats(); st.Cancels != 1 {
		t.Errorf("stats %+v", st)
	}
}

type sseEvent struct {
	typ, id, data string
	lines         int
}

func readEvents(t *testing.T, r io.Reader) []sseEvent {
	t.Helper()
	var evs []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			evs = append(evs, cur)
			cur = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.typ = line[7:]
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "data: "):
			if cur.lines > 0 {
				cur.data += "\n"
			}
			cur.data += line[6:]
			cur.lines++
		}
	}
	return evs
}

func stream(t *testing.T, s *Server, url string, lastID string) []sseEvent {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return readEvents(t, resp.Body)
}

func TestStreamEventsAndResume(t *testing.T) {
	s := New(Options{Answer: "Rest it\nfor an hour.", Timing: script.Timing{Interval: time.Millisecond}})
	defer s.Close()
	_, p, _ := do(t, s, http.MethodPost, s.URL()+"/models/meta/llama/predictions", create)
	evs := stream(t, s, p.URLs["stream"], "")
	var text strings.Builder
	for _, e := range evs[:len(evs)-1] {
		if e.typ != "output" || e.id == "" {
			t.Errorf("event %+v", e)
		}
		text.WriteString(e.data)
	}
	if text.String() != "Rest it\nfor an hour." {
		t.Errorf("text %q", text.String())
	}
	if last := evs[len(evs)-1]; last.typ != "done" || last.data != "{}" {
		t.Errorf("last event %+v", last)
	}
	// Reconnecting with Last-Event-ID resumes after that event.
	again := stream(t, s, p.URLs["stream"], evs[1].id)
	if len(again) != len(evs)-2 || again[0].id != evs[2].id {
		t.Errorf("resumed %+v", again)
	}
}

func TestStreamError(t *testing.T) {
	s := New(Options{Answer: "one two three"})
	defer s.Close()
	s.Inject(script.Fault{Kind: script.StreamError, After: 1})
	_, p, _ := do(t, s, http.MethodPost, s.URL()+"/models/meta/llama/predictions", create)
	evs := stream(t, s, p.URLs["stream"], "")
	if len(evs) != 3 || evs[0].data != "one" || evs[1].typ != "error" || evs[2].typ != "done" || evs[2].data != `{"reason":"error"}` {
		t.Fatalf("events %+v", evs)
	}
	_, got, _ := do(t, s, http.MethodGet, p.URLs["get"], "")
	if got.Status != "failed" || got.Error == nil {
		t.Errorf("prediction %+v", got)
	}
}

func TestRejects(t *testing.T) {
	s := New(Options{APIKey: "tok", Models: []string{"meta/llama"}})
	defer s.Close()
	for _, c := range []struct {
		method, path, body, auth string
		status                   int
	}{
		{"POST", "/v1/models/meta/llama/predictions", create, "Bearer nope", 401},
		{"POST", "/v1/models/meta/llama/predictions", `{"input":{}}`, "Bearer tok", 422},
		{"POST", "/v1/models/meta/llama/predictions", `{"input":`, "Bearer tok", 400},
		{"POST", "/v1/models/meta/other/predictions", create, "Bearer tok", 404},
		{"GET", "/v1/predictions/nope", "", "Bearer tok", 404},
		{"POST", "/v1/predictions/nope/cancel", "", "Bearer tok", 404},
	} {
		req, _ := http.NewRequest(c.method, s.ts.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", c.auth)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Title, Detail string
			Status        int
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != c.status || e.Status != c.status || e.Detail == "" {
			t.Errorf("%s %s: %d %+v, want %d", c.method, c.path, resp.StatusCode, e, c.status)
		}
	}
	s.Inject(script.Fault{Kind: script.HTTP429, RetryAfter: "3", Times: 1})
	status, _, h := do(t, s, http.MethodPost, s.URL()+"/models/meta/llama/predictions", create, "Authorization", "Bearer tok")
	if status != 429 || h.Get("Retry-After") != "3" {
		t.Errorf("429: %d %q", status, h.Get("Retry-After"))
	}
}

func TestManyConcurrentStreams(t *testing.T) {
	s := New(Options{Answer: "Knead the dough for ten minutes until smooth.", Timing: script.Timing{FirstToken: 20 * time.Millisecond, Interval: 2 * time.Millisecond}})
	defer s.Close()
	const n = 200
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/models/meta/llama/predictions", strings.NewReader(create))
			resp, err := hc.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			var p wirePrediction
			_ = json.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			req, _ = http.NewRequestWithContext(ctx, http.MethodGet, p.URLs["stream"], nil)
			resp, err = hc.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if !strings.HasSuffix(string(b), "event: done\ndata: {}\n\n") {
				errs <- "stream did not end with done"
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if st := s.Stats(); st.Completed != n || st.Streams != n || st.Open != 0 || st.InputTokens == 0 {
		t.Errorf("stats %+v", st)
	}
}
