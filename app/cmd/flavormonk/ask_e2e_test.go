package main

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/flavormonk/flavormonk/app/assistant"
	"github.com/flavormonk/flavormonk/app/inference/openaitest"
	"github.com/flavormonk/flavormonk/app/inference/replicatetest"
	"github.com/flavormonk/flavormonk/app/inference/script"
)

// answer is one /api/v1/ask stream, parsed.
type answer struct {
	status int
	text   string
	cites  []assistant.Citation
	done   *assistant.Done
	err    map[string]string
	beats  int
}

func askApp(t *testing.T, base, question string) answer {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"question": question})
	res, err := http.Post(base+"/api/v1/ask", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	a := answer{status: res.StatusCode}
	if res.StatusCode != 200 {
		var e struct{ Error map[string]string }
		_ = json.NewDecoder(res.Body).Decode(&e)
		a.err = e.Error
		return a
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	kind := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, ": heartbeat"):
			a.beats++
		case strings.HasPrefix(line, "event: "):
			kind = line[7:]
		case strings.HasPrefix(line, "data: "):
			data := []byte(line[6:])
			switch kind {
			case "token":
				var v struct{ Text string }
				mustOK(t, json.Unmarshal(data, &v))
				a.text += v.Text
			case "citation":
				var c assistant.Citation
				mustOK(t, json.Unmarshal(data, &c))
				a.cites = append(a.cites, c)
			case "done":
				a.done = &assistant.Done{}
				mustOK(t, json.Unmarshal(data, a.done))
			case "error":
				mustOK(t, json.Unmarshal(data, &a.err))
			}
		}
	}
	return a
}

const dalQuestion = "How do I make the red lentil dal for 8 people?"

const scripted = "For 8 people, double the recipe: 2 cups of red lentils and 6 cups of water [1]. Simmer until soft."

// TestAskWithOnlyOpenAIKey: the local tier with OPENAI_API_KEY and
// OPENAI_BASE_URL set streams from that endpoint, grounded and cited.
func TestAskWithOnlyOpenAIKey(t *testing.T) {
	srv := openaitest.New(openaitest.Options{Answer: scripted, APIKey: "sk-test-key", Timing: script.Timing{Interval: time.Millisecond}})
	defer srv.Close()
	m := startMain(t, testConfig(t, map[string]string{"OPENAI_API_KEY": "sk-test-key", "OPENAI_BASE_URL": srv.URL()}))
	a := askApp(t, m.URL(), dalQuestion)
	if a.status != 200 || a.text != scripted || a.done == nil || a.done.Provider != "openai" {
		t.Fatalf("answer %+v", a)
	}
	st := srv.Stats()
	if a.done.Estimated || int64(a.done.TokensIn) != st.InputTokens || int64(a.done.TokensOut) != st.OutputTokens {
		t.Fatalf("done %+v, the server reported in=%d out=%d", a.done, st.InputTokens, st.OutputTokens)
	}
	if len(a.cites) != 1 || a.cites[0].ID != "everyday-red-lentil-dal" {
		t.Fatalf("citations %+v", a.cites)
	}
	prompt := srv.LastPrompt()
	if !strings.Contains(prompt, "<<<RECIPE 1>>>") || !strings.Contains(prompt, "Everyday Red Lentil Dal") || !strings.Contains(prompt, "scaled for 8 servings") {
		t.Fatalf("prompt is not grounded:\n%s", prompt)
	}
	// The same question again comes from the answer cache, at no cost.
	b := askApp(t, m.URL(), dalQuestion)
	if !b.done.CacheHit || b.text != scripted || srv.Stats().Streams != st.Streams {
		t.Fatalf("second answer: %+v", b.done)
	}
}

// chain starts the app with openai (primary) then replicate (secondary).
func chain(t *testing.T, env map[string]string) (*Main, *openaitest.Server, *replicatetest.Server) {
	t.Helper()
	primary := openaitest.New(openaitest.Options{Answer: scripted, Timing: script.Timing{Interval: time.Millisecond}})
	t.Cleanup(primary.Close)
	secondary := replicatetest.New(replicatetest.Options{Answer: scripted, Timing: script.Timing{Interval: time.Millisecond}})
	t.Cleanup(secondary.Close)
	e := map[string]string{
		"FLAVORMONK_INFERENCE": "openai,replicate", "OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": primary.URL(),
		"REPLICATE_API_TOKEN": "r8-x", "FLAVORMONK_REPLICATE_BASE_URL": secondary.URL(),
		"FLAVORMONK_ANSWER_CACHE_TTL": "0s",
	}
	for k, v := range env {
		e[k] = v
	}
	return startMain(t, testConfig(t, e)), primary, secondary
}

func TestAskFailsOverBeforeTheFirstToken(t *testing.T) {
	for _, f := range []script.Fault{
		{Kind: script.HTTP500},
		{Kind: script.HTTP429, RetryAfter: "60"},
		{Kind: script.Malformed, After: 0},
	} {
		t.Run(f.Kind.String(), func(t *testing.T) {
			m, primary, secondary := chain(t, map[string]string{"FLAVORMONK_INFERENCE_RETRIES": "1"})
			primary.Inject(f)
			a := askApp(t, m.URL(), dalQuestion)
			if a.err != nil || a.text != scripted || a.done.Provider != "replicate" || len(a.done.Providers) != 1 {
				t.Fatalf("answer %q done %+v err %v", a.text, a.done, a.err)
			}
			if secondary.Stats().Completed != 1 {
				t.Fatalf("secondary stats %+v", secondary.Stats())
			}
		})
	}
}

func TestAskRetriesAfterRetryAfter(t *testing.T) {
	m, primary, secondary := chain(t, nil)
	primary.Inject(script.Fault{Kind: script.HTTP429, RetryAfter: "1", Times: 1})
	start := time.Now()
	a := askApp(t, m.URL(), dalQuestion)
	if a.done == nil || a.done.Provider != "openai" || secondary.Stats().Requests != 0 {
		t.Fatalf("done %+v, secondary %+v", a.done, secondary.Stats())
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("answered after %v: Retry-After: 1 was not honoured", d)
	}
}

func TestAskContinuesABrokenStreamOnTheNextProvider(t *testing.T) {
	m, primary, secondary := chain(t, nil)
	primary.Inject(script.Fault{Kind: script.Cut, After: 5})
	secondary.SetAnswerFunc(func(r replicatetest.Request) string { return "CONTINUED." })
	a := askApp(t, m.URL(), dalQuestion)
	if a.done == nil || a.done.Provider != "replicate" || len(a.done.Providers) != 2 || a.done.Providers[0] != "openai" {
		t.Fatalf("done %+v err %v", a.done, a.err)
	}
	if !strings.HasSuffix(a.text, "CONTINUED.") || len(a.text) <= len("CONTINUED.") || !strings.HasPrefix(scripted, strings.TrimSuffix(a.text, "CONTINUED.")) {
		t.Fatalf("text %q: want the primary's partial answer then the continuation", a.text)
	}
	partial := strings.TrimSuffix(a.text, "CONTINUED.")
	if !strings.Contains(secondary.LastPrompt(), partial) {
		t.Fatalf("the secondary was not given the partial answer %q:\n%s", partial, secondary.LastPrompt())
	}
	if !a.done.Estimated {
		t.Fatal("the cut stream's usage is not marked estimated")
	}
}

func TestAskEveryProviderDownIsAnErrorEvent(t *testing.T) {
	m, primary, secondary := chain(t, map[string]string{"FLAVORMONK_INFERENCE_RETRIES": "0"})
	primary.Inject(script.Fault{Kind: script.HTTP500})
	secondary.Inject(script.Fault{Kind: script.HTTP500})
	a := askApp(t, m.URL(), dalQuestion)
	if a.err == nil || a.err["code"] != "unavailable" || a.done != nil {
		t.Fatalf("answer %+v", a)
	}
}

func TestAskHangingProviderFailsOver(t *testing.T) {
	m, primary, secondary := chain(t, map[string]string{"FLAVORMONK_INFERENCE_STALL_TIMEOUT": "1s"})
	primary.Inject(script.Fault{Kind: script.Hang})
	start := time.Now()
	a := askApp(t, m.URL(), dalQuestion)
	if a.done == nil || a.done.Provider != "replicate" || a.text != scripted {
		t.Fatalf("answer %+v", a)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v: the stall timeout is 1 s", d)
	}
	if secondary.Stats().Completed != 1 {
		t.Fatalf("secondary %+v", secondary.Stats())
	}
	deadline := time.Now().Add(3 * time.Second)
	for primary.Stats().Open != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the hanging stream was not closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAskHangingProviderAloneHitsTheDeadline(t *testing.T) {
	m, primary, _ := chain(t, map[string]string{"FLAVORMONK_INFERENCE": "openai", "FLAVORMONK_INFERENCE_TIMEOUT": "1s"})
	primary.Inject(script.Fault{Kind: script.Hang})
	a := askApp(t, m.URL(), dalQuestion)
	if a.err == nil || a.err["code"] != "timeout" {
		t.Fatalf("answer %+v", a)
	}
}

func TestAskOfflineLastResort(t *testing.T) {
	m, primary, _ := chain(t, map[string]string{"FLAVORMONK_INFERENCE": "openai,offline", "FLAVORMONK_INFERENCE_RETRIES": "0"})
	primary.Inject(script.Fault{Kind: script.HTTP500})
	a := askApp(t, m.URL(), dalQuestion)
	if a.done == nil || a.done.Provider != "offline" || !strings.Contains(a.text, "Offline answer") || len(a.cites) == 0 {
		t.Fatalf("answer %+v", a)
	}
}

// TestAskClientGoneMidStreamIsCancelledAndMetered: the provider's stream
// is closed when the client leaves, and the ledger still records the call
// (estimated, as the usage never arrived).
func TestAskClientGoneMidStreamIsCancelledAndMetered(t *testing.T) {
	srv := openaitest.New(openaitest.Options{Answer: strings.Repeat("stir [1] ", 200), Timing: script.Timing{Interval: 5 * time.Millisecond}})
	defer srv.Close()
	dbPath := t.TempDir() + "/fm.db"
	m := startMain(t, testConfig(t, map[string]string{"FLAVORMONK_SQLITE_PATH": dbPath, "OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": srv.URL()}))
	body := strings.NewReader(`{"question":"` + dalQuestion + `"}`)
	res, err := http.Post(m.URL()+"/api/v1/ask", "application/json", body)
	mustOK(t, err)
	br := bufio.NewReader(res.Body)
	for tokens := 0; tokens < 5; {
		line, err := br.ReadString('\n')
		mustOK(t, err)
		if line == "event: token\n" {
			tokens++
		}
	}
	res.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().ClientGone == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the provider stream went on after the client left: %+v", srv.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	db, err := sql.Open("sqlite", dbPath+"?mode=ro")
	mustOK(t, err)
	defer db.Close()
	var n, in, out int
	for {
		mustOK(t, db.QueryRow(`SELECT count(*), COALESCE(SUM(tokens_in),0), COALESCE(SUM(tokens_out),0) FROM usage_events WHERE estimated = 1 AND provider = 'openai'`).Scan(&n, &in, &out))
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n != 1 || in == 0 || out == 0 {
		t.Fatalf("ledger: %d estimated events, %d in / %d out tokens", n, in, out)
	}
}
