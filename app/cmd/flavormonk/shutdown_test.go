package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/inference/openaitest"
	"github.com/flavormonk/flavormonk/app/inference/script"
)

// streamResult is how one answer stream ended.
type streamResult struct {
	last  string            // the last event's kind
	err   map[string]string // its data, for an error event
	retry bool              // a retry hint came with it
}

// openStream posts question and reads the stream in the background: first
// is closed on the first token, the result is sent when the stream ends.
func openStream(t *testing.T, base, question string) (first chan struct{}, result chan streamResult) {
	t.Helper()
	first, result = make(chan struct{}), make(chan streamResult, 1)
	body, _ := json.Marshal(map[string]string{"question": question})
	res, err := http.Post(base+"/api/v1/ask", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("ask %q: %d", question, res.StatusCode)
	}
	tokened := first
	go func() {
		defer res.Body.Close()
		var r streamResult
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "retry: "):
				r.retry = true
			case strings.HasPrefix(line, "event: "):
				r.last = line[7:]
				if r.last == "token" && tokened != nil {
					close(tokened)
					tokened = nil
				}
			case strings.HasPrefix(line, "data: ") && r.last == "error":
				_ = json.Unmarshal([]byte(line[6:]), &r.err)
			}
		}
		result <- r
	}()
	return first, result
}

// TestShutdownEndsOrSettlesStreams: on shutdown, an answer that can finish
// within the grace period finishes; the others get an error event
// (unavailable, with a retry hint) when it is over. Every call is settled
// in the usage ledger with what it consumed, and no reservation is left.
func TestShutdownEndsOrSettlesStreams(t *testing.T) {
	const quickAnswer = "Simmer [1]."
	srv := openaitest.New(openaitest.Options{
		AnswerFunc: func(r openaitest.Request) string {
			if strings.Contains(r.Messages[len(r.Messages)-1].Content, "quickly") {
				return quickAnswer
			}
			return strings.Repeat("Stir the dal [1]. ", 500) // 40 s at this pace
		},
		Timing: script.Timing{Interval: 20 * time.Millisecond},
		// A plain count: the real tokenizer loads its tables on first use,
		// which can outlast the grace period on a busy machine.
		Usage: func(_ openaitest.Request, sent string) (int, int) { return 100, len(strings.Fields(sent)) },
	})
	defer srv.Close()
	cfg := testConfig(t, map[string]string{
		"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": srv.URL(),
		"FLAVORMONK_SHUTDOWN_TIMEOUT": "3s", "FLAVORMONK_ANSWER_CACHE_TTL": "0s",
		"FLAVORMONK_QUOTA_ANON_USD": "5",
	})
	logs := &lockedLog{}
	m := NewMain(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ran := make(chan error, 1)
	go func() { ran <- m.Run(ctx) }()
	waitReady(t, m.URL())
	defer func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	}()

	questions := []string{"How do I make red lentil dal?", "How do I make red lentil dal for 8 people?", "How do I make red lentil dal quickly?"}
	var results []chan streamResult
	for _, q := range questions {
		first, res := openStream(t, m.URL(), q)
		select {
		case <-first:
		case <-time.After(10 * time.Second):
			t.Fatalf("%q: no token", q)
		}
		results = append(results, res)
	}
	start := time.Now()
	cancel()
	for i, res := range results {
		var r streamResult
		select {
		case r = <-res:
		case <-time.After(15 * time.Second):
			t.Fatalf("%q: the stream neither finished nor ended %s after shutdown began", questions[i], time.Since(start).Round(time.Millisecond))
		}
		want := "error"
		if strings.Contains(questions[i], "quickly") {
			want = "done" // it ends within the grace period
		}
		if r.last != want {
			t.Fatalf("%q: last event %q (%v), want %q", questions[i], r.last, r.err, want)
		}
		if want == "error" && (r.err["code"] != flavormonk.EUNAVAILABLE || !r.retry) {
			t.Fatalf("%q: error event %v (retry hint %v), want code %s with a retry hint", questions[i], r.err, r.retry, flavormonk.EUNAVAILABLE)
		}
	}
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after shutdown")
	}
	us := m.Store.(flavormonk.UsageStore)
	rctx := context.Background()
	rows, err := us.UsageReport(rctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// The quick answer is 2 tokens, counted by the server; the cut ones
	// are recorded with what they had received, estimated.
	var events, out, estimated int64
	for _, r := range rows {
		events += r.Events
		out += r.OutputTokens
		estimated += r.Estimated
	}
	if events != int64(len(questions)) || estimated != int64(len(questions)-1) || out <= 2 {
		t.Fatalf("ledger %+v: want %d events, the %d cut ones estimated with the tokens they consumed", rows, len(questions), len(questions)-1)
	}
	spent, reserved, err := us.Spent(rctx, flavormonk.ScopeBudget, flavormonk.UsagePeriod(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if reserved != 0 || spent == 0 {
		t.Fatalf("budget: spent %d, still reserved %d; want every call settled", spent, reserved)
	}
}
