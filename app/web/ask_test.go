package web

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/assistant"
	"github.com/flavormonk/flavormonk/app/auth"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/inference/offline"
	"github.com/flavormonk/flavormonk/app/recipes"
	"github.com/flavormonk/flavormonk/app/search"
	"github.com/flavormonk/flavormonk/app/sqlite"
)

type askEnv struct {
	srv *httptest.Server
	st  *sqlite.Store
	s   *Server
}

// newAskEnv serves the bundled recipes with the assistant over providers.
func newAskEnv(t *testing.T, heartbeat time.Duration, providers ...flavormonk.Provider) *askEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fm.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := recipes.Seed(ctx, st); err != nil {
		t.Fatal(err)
	}
	ix := search.New()
	if err := ix.Load(ctx, st); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(func(string) (string, bool) { return "", false }, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RateLimit, cfg.SecureCookies = 0, false
	if len(providers) == 0 {
		providers = []flavormonk.Provider{offline.Provider{}}
	}
	o := testOptions(t, cfg, st, ix)
	useAssistant(t, &o, assistant.Options{CacheTTL: time.Minute}, 1000, heartbeat, providers...)
	withTestAccounts(&o, cfg, st, st, nil)
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	s.SetReady(true)
	srv := httptest.NewServer(s.Echo)
	t.Cleanup(srv.Close)
	return &askEnv{srv: srv, st: st, s: s}
}

type sseEvent struct {
	kind, data string
}

// readSSE parses a Server-Sent Events stream: events, and comments counted.
func readSSE(t *testing.T, r io.Reader) (events []sseEvent, comments []string) {
	t.Helper()
	sc := bufio.NewScanner(r)
	var cur sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.kind != "" || cur.data != "" {
				events = append(events, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, ":"):
			comments = append(comments, strings.TrimSpace(line[1:]))
		case strings.HasPrefix(line, "event: "):
			cur.kind = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data += line[6:]
		default:
			t.Fatalf("not an SSE line: %q", line)
		}
	}
	return events, comments
}

func postAsk(t *testing.T, url, body string, hdr map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAskStreamsTokensCitationsAndDone(t *testing.T) {
	env := newAskEnv(t, 0)
	res := postAsk(t, env.srv.URL+"/api/v1/ask", `{"question":"How do I make the red lentil dal for 8 people?"}`, map[string]string{"Accept-Encoding": "gzip"})
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("%d %v", res.StatusCode, res.Header)
	}
	if res.Header.Get("Content-Encoding") != "" {
		t.Fatal("the event stream is compressed: proxies would buffer it")
	}
	events, _ := readSSE(t, res.Body)
	var text string
	var cites []assistant.Citation
	var done *assistant.Done
	for _, ev := range events {
		switch ev.kind {
		case "token":
			var v struct{ Text string }
			if err := json.Unmarshal([]byte(ev.data), &v); err != nil {
				t.Fatal(err)
			}
			text += v.Text
		case "citation":
			var c assistant.Citation
			if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
				t.Fatal(err)
			}
			cites = append(cites, c)
		case "done":
			done = &assistant.Done{}
			if err := json.Unmarshal([]byte(ev.data), done); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("unexpected event %+v", ev)
		}
	}
	if !strings.HasPrefix(text, offline.Label) || !strings.Contains(text, "for 8") {
		t.Fatalf("answer %q", text)
	}
	if len(cites) == 0 || cites[0].URL != "/recipes/"+cites[0].ID {
		t.Fatalf("citations %+v", cites)
	}
	// The citation links work.
	r2, err := http.Get(env.srv.URL + cites[0].URL)
	if err != nil || r2.StatusCode != 200 {
		t.Fatalf("citation link: %v %v", err, r2.StatusCode)
	}
	r2.Body.Close()
	if done == nil || done.Provider != "offline" || done.Conversation == "" || done.Conversation != res.Header.Get("X-Conversation-Id") {
		t.Fatalf("done %+v", done)
	}
	if events[len(events)-1].kind != "done" {
		t.Fatal("done is not the last event")
	}
}

// slowModel waits before its first token and records cancellation.
type slowModel struct {
	delay     time.Duration
	mu        sync.Mutex
	cancelled bool
}

func (m *slowModel) Name() string  { return "slow" }
func (m *slowModel) Model() string { return "slow-1" }
func (m *slowModel) Stream(ctx context.Context, req flavormonk.ChatRequest, emit func(string) error) (flavormonk.Usage, error) {
	select {
	case <-time.After(m.delay):
	case <-ctx.Done():
		m.mu.Lock()
		m.cancelled = true
		m.mu.Unlock()
		return flavormonk.Usage{InputTokens: 100, Estimated: true}, ctx.Err()
	}
	for i := 0; i < 1000; i++ {
		if err := emit("word [1] "); err != nil {
			// A write to a client that left fails, and the stream cancels
			// the call's context as it fails; which of the two the model
			// sees first is a race (a loaded machine loses it).
			select {
			case <-ctx.Done():
				m.mu.Lock()
				m.cancelled = true
				m.mu.Unlock()
			case <-time.After(time.Second):
			}
			return flavormonk.Usage{InputTokens: 100, OutputTokens: i, Estimated: true}, err
		}
		select {
		case <-time.After(time.Millisecond):
		case <-ctx.Done():
			m.mu.Lock()
			m.cancelled = true
			m.mu.Unlock()
			return flavormonk.Usage{InputTokens: 100, OutputTokens: i, Estimated: true}, ctx.Err()
		}
	}
	return flavormonk.Usage{InputTokens: 100, OutputTokens: 1000}, nil
}

func TestAskHeartbeatKeepsAQuietStreamAlive(t *testing.T) {
	m := &slowModel{delay: 300 * time.Millisecond}
	env := newAskEnv(t, 50*time.Millisecond, m)
	res := postAsk(t, env.srv.URL+"/api/v1/ask", `{"question":"red lentil dal?"}`, nil)
	defer res.Body.Close()
	events, comments := readSSE(t, res.Body)
	beats := 0
	for _, c := range comments {
		if c == "heartbeat" {
			beats++
		}
	}
	if beats < 3 {
		t.Fatalf("%d heartbeats during a 300 ms wait at 50 ms", beats)
	}
	if events[len(events)-1].kind != "done" {
		t.Fatalf("last event %+v", events[len(events)-1])
	}
}

func TestAskClientDisconnectCancelsTheProvider(t *testing.T) {
	m := &slowModel{delay: 0}
	env := newAskEnv(t, 0, m)
	res := postAsk(t, env.srv.URL+"/api/v1/ask", `{"question":"red lentil dal?"}`, nil)
	br := bufio.NewReader(res.Body)
	for i := 0; i < 10; i++ {
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	res.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m.mu.Lock()
		c := m.cancelled
		m.mu.Unlock()
		if c {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the provider call went on after the client left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAskBadInput(t *testing.T) {
	env := newAskEnv(t, 0)
	for _, tc := range []struct {
		name, body, ctype string
		status            int
		code              string
	}{
		{"empty question", `{"question":""}`, "application/json", 400, flavormonk.EINVALID},
		{"blank question", `{"question":"  \n "}`, "application/json", 400, flavormonk.EINVALID},
		{"100 KB question", `{"question":"` + strings.Repeat("a", 100<<10) + `"}`, "application/json", 413, flavormonk.ETOOLARGE},
		{"3 KB question", `{"question":"` + strings.Repeat("a", 3000) + `"}`, "application/json", 413, flavormonk.ETOOLARGE},
		{"number", `{"question":42}`, "application/json", 400, flavormonk.EINVALID},
		{"array", `{"question":["a"]}`, "application/json", 400, flavormonk.EINVALID},
		{"invalid UTF-8", "{\"question\":\"caf\xe9\"}", "application/json", 400, flavormonk.EINVALID},
		{"malformed JSON", `{"question":`, "application/json", 400, flavormonk.EINVALID},
		{"trailing data", `{"question":"dal"} {}`, "application/json", 400, flavormonk.EINVALID},
		{"unknown member", `{"question":"dal","model":"gpt-5"}`, "application/json", 400, flavormonk.EINVALID},
		{"form post", `question=dal`, "application/x-www-form-urlencoded", 400, flavormonk.EINVALID},
		{"bad conversation", `{"question":"dal","conversation":"../x"}`, "application/json", 400, flavormonk.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := postAsk(t, env.srv.URL+"/api/v1/ask", tc.body, map[string]string{"Content-Type": tc.ctype})
			defer res.Body.Close()
			var e ErrorBody
			if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
				t.Fatalf("%d, not a JSON error: %v", res.StatusCode, err)
			}
			if res.StatusCode != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Fatalf("got %d %+v, want %d %s", res.StatusCode, e.Error, tc.status, tc.code)
			}
		})
	}
}

func TestAskAuth(t *testing.T) {
	env := newAskEnv(t, 0)
	ctx := context.Background()
	u := &flavormonk.User{Email: "cook@example.com", PasswordHash: "x", Role: flavormonk.RoleCustomer, Plan: flavormonk.PlanChef}
	if err := env.st.CreateUser(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	tok := func(scopes ...string) string {
		raw, hash := auth.NewToken(auth.APITokenPrefix)
		if err := env.st.CreateAPIToken(ctx, &flavormonk.APIToken{UserID: u.ID, Name: "t", Hash: hash, Prefix: raw[:8], Scopes: scopes}); err != nil {
			t.Fatal(err)
		}
		return raw
	}
	body := `{"question":"red lentil dal?"}`
	for _, tc := range []struct {
		name, auth string
		status     int
	}{
		{"read-only token", "Bearer " + tok(flavormonk.ScopeRead), 403},
		{"unknown token", "Bearer fm_" + strings.Repeat("x", 43), 401},
		{"not bearer", "Basic abc", 401},
		{"ask token", "Bearer " + tok(flavormonk.ScopeAsk), 200},
		{"anonymous", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.auth != "" {
				h["Authorization"] = tc.auth
			}
			res := postAsk(t, env.srv.URL+"/api/v1/ask", body, h)
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("got %d want %d", res.StatusCode, tc.status)
			}
		})
	}
	// The chat page's stream needs this site's Origin and the page's token.
	for _, tc := range []struct {
		name string
		hdr  map[string]string
	}{
		{"no origin", map[string]string{}},
		{"other origin", map[string]string{"Origin": "https://evil.example"}},
		{"no csrf", map[string]string{"Origin": env.srv.URL}},
		{"wrong csrf", map[string]string{"Origin": env.srv.URL, "X-CSRF-Token": "nope"}},
	} {
		t.Run("stream "+tc.name, func(t *testing.T) {
			res := postAsk(t, env.srv.URL+"/ask/stream", body, tc.hdr)
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 403 {
				t.Fatalf("got %d", res.StatusCode)
			}
		})
	}
}

// TestOpenAPIDocumentsEveryAPIRoute: each /api/ route the server answers is
// in openapi.json with its method, and nothing documented is missing.
func TestOpenAPIDocumentsEveryAPIRoute(t *testing.T) {
	env := newAskEnv(t, 0)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, r := range env.s.Echo.Routes() {
		if !strings.HasPrefix(r.Path, "/api/") || r.Path == "/api/v1/openapi.json" {
			continue
		}
		p := echoPathToOpenAPI(r.Path)
		m := strings.ToLower(r.Method)
		served[m+" "+p] = true
		if _, ok := doc.Paths[p][m]; !ok {
			t.Errorf("%s %s is served but not in openapi.json", r.Method, p)
		}
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" || !strings.HasPrefix(p, "/api/") {
				continue
			}
			if !served[m+" "+p] {
				t.Errorf("openapi.json documents %s %s, which is not served", m, p)
			}
		}
	}
}

func echoPathToOpenAPI(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

func FuzzParseAsk(f *testing.F) {
	f.Add(`{"question":"how long to roast a chicken?"}`)
	f.Add(`{"question":"dal","conversation":"abcdefgh12"}`)
	f.Add(`{"question":5}`)
	f.Add("{\"question\":\"\xff\"}")
	f.Add(`{"question":"a"} trailing`)
	f.Add(`{"question":"a"}]`)
	e := echo.New()
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/v1/ask", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		c := e.NewContext(req, httptest.NewRecorder())
		b, err := parseAsk(c)
		if err != nil {
			if code := flavormonk.ErrorCode(err); code != flavormonk.EINVALID && code != flavormonk.ETOOLARGE {
				t.Fatalf("error code %s for %q", code, body)
			}
			return
		}
		if len(body) > maxAskBody {
			t.Fatalf("accepted a %d-byte body", len(body))
		}
		if !json.Valid([]byte(body)) {
			t.Fatalf("accepted %q, which is not one JSON document", body)
		}
		_, _ = assistant.CheckQuestion(b.Question)
	})
}
