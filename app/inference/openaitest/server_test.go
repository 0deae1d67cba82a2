package openaitest

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

func post(t *testing.T, s *Server, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer k")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// events reads the data: lines of an SSE body.
func events(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "data: ") {
			t.Fatalf("line %q is not a data line", line)
		}
		out = append(out, strings.TrimPrefix(line, "data: "))
	}
	return out
}

const streamBody = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hi"}]}`

func TestWireFormatOpenAI(t *testing.T) {
	s := New(Options{Answer: "Two words"})
	defer s.Close()
	s.SetUsage(11, 2)
	resp := post(t, s, streamBody)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	evs := events(t, resp.Body)
	if len(evs) != 6 || evs[5] != "[DONE]" {
		t.Fatalf("events %q", evs)
	}
	var chunks []map[string]any
	for _, e := range evs[:5] {
		var c map[string]any
		if err := json.Unmarshal([]byte(e), &c); err != nil {
			t.Fatalf("chunk %q: %v", e, err)
		}
		if c["object"] != "chat.completion.chunk" || c["model"] != "gpt-4o-mini" || c["system_fingerprint"] == nil {
			t.Errorf("chunk %q", e)
		}
		if u, ok := c["usage"]; !ok {
			t.Errorf("chunk %q: OpenAI sends usage (null) on every chunk with include_usage", e)
		} else if u != nil && len(chunks) != 4 {
			t.Errorf("usage before the last chunk: %q", e)
		}
		chunks = append(chunks, c)
	}
	delta := func(i int) map[string]any {
		return chunks[i]["choices"].([]any)[0].(map[string]any)["delta"].(map[string]any)
	}
	if delta(0)["role"] != "assistant" || delta(0)["content"] != "" || delta(1)["content"] != "Two" || delta(2)["content"] != " words" {
		t.Errorf("deltas %v %v %v", delta(0), delta(1), delta(2))
	}
	if fr := chunks[3]["choices"].([]any)[0].(map[string]any)["finish_reason"]; fr != "stop" {
		t.Errorf("finish_reason %v", fr)
	}
	if ch := chunks[4]["choices"].([]any); len(ch) != 0 {
		t.Errorf("usage chunk has choices %v", ch)
	}
	u := chunks[4]["usage"].(map[string]any)
	if u["prompt_tokens"] != 11.0 || u["completion_tokens"] != 2.0 || u["total_tokens"] != 13.0 {
		t.Errorf("usage %v", u)
	}
	r, _ := s.LastRequest()
	if !r.Stream || !r.IncludeUsage || r.Authorization != "Bearer k" || r.Messages[0].Content != "Hi" {
		t.Errorf("recorded %+v", r)
	}
	if st := s.Stats(); st.Completed != 1 || st.InputTokens != 11 || st.OutputTokens != 2 || st.Open != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestWireFormatDialects(t *testing.T) {
	for _, d := range []Dialect{VLLM, Ollama} {
		s := New(Options{Dialect: d, Answer: "One"})
		resp := post(t, s, `{"model":"m","stream":true,"messages":[{"role":"user","content":"Hi"}]}`)
		evs := events(t, resp.Body)
		// role, token, finish, [DONE]: no usage chunk without include_usage.
		if len(evs) != 4 || strings.Contains(strings.Join(evs, ""), "usage") {
			t.Errorf("dialect %d: events %q", d, evs)
		}
		if fp := strings.Contains(evs[0], "fp_ollama"); fp != (d == Ollama) {
			t.Errorf("dialect %d: fingerprint in %q", d, evs[0])
		}
		s.Close()
	}
}

func TestNonStreaming(t *testing.T) {
	s := New(Options{Answer: "Whole answer"})
	defer s.Close()
	resp := post(t, s, `{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],"max_tokens":1}`)
	var out struct {
		Object  string
		Choices []struct {
			Message      struct{ Content string }
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Object != "chat.completion" || out.Choices[0].Message.Content != "Whole" || out.Choices[0].FinishReason != "length" || out.Usage.CompletionTokens != 1 {
		t.Errorf("response %+v", out)
	}
}

func TestNonStreamingFaults(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.Inject(script.Fault{Kind: script.Cut, Times: 1})
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/chat/completions", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"x"}]}`))
	if resp, err := s.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a cut answer came through: %d", resp.StatusCode)
	}
	s.Inject(script.Fault{Kind: script.Hang, Times: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/chat/completions", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"x"}]}`))
	if resp, err := s.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a hung server answered: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().ClientGone < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the server never saw the client leave: %+v", s.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRejects(t *testing.T) {
	s := New(Options{APIKey: "right", Models: []string{"gpt-4o"}})
	defer s.Close()
	for _, c := range []struct {
		path, auth, body string
		status           int
	}{
		{"/v1/chat/completions", "Bearer wrong", `{}`, 401},
		{"/v1/chat/completions", "Bearer right", `{"model":`, 400},
		{"/v1/chat/completions", "Bearer right", `{"model":"gpt-4o","messages":[]}`, 400},
		{"/v1/chat/completions", "Bearer right", `{"messages":[{"role":"user","content":"x"}]}`, 400},
		{"/v1/chat/completions", "Bearer right", `{"model":"gpt-5","messages":[{"role":"user","content":"x"}]}`, 404},
		{"/v1/completions", "Bearer right", `{}`, 404},
		{"/v1/chat/completions", "Bearer right", `{"model":"gpt-4o","messages":[{"role":"user","content":"` + strings.Repeat("x", MaxBody) + `"}]}`, 413},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.ts.URL+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", c.auth)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error struct{ Message, Type string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != c.status || e.Error.Message == "" {
			t.Errorf("%s %.40s: %d %+v, want %d with an error body", c.path, c.body, resp.StatusCode, e, c.status)
		}
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
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/chat/completions", strings.NewReader(streamBody))
			resp, err := hc.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if !strings.HasSuffix(string(b), "data: [DONE]\n\n") {
				errs <- "stream did not end with [DONE]"
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	st := s.Stats()
	if st.Completed != n || st.Streams != n || st.Open != 0 || st.InputTokens == 0 || st.InputTokens%n != 0 {
		t.Errorf("stats %+v", st)
	}
}
