// Package providertest is the conformance suite of flavormonk.Provider
// implementations that call a model over HTTP, run against the local test
// servers that speak each provider's wire protocol (openaitest,
// replicatetest): streamed text, reported usage, each injected fault's
// *ProviderError, estimated usage of cut and cancelled streams,
// cancellation, continuations, and secrets kept out of errors.
package providertest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/inference/script"
	"github.com/flavormonk/flavormonk/app/tokens"
)

// Server is a local test server as the suite drives it; *openaitest.Server
// and *replicatetest.Server are Servers.
type Server interface {
	URL() string
	SetAnswer(text string)
	SetTiming(script.Timing)
	SetUsage(in, out int)
	Inject(script.Fault)
	Stats() script.Stats
	// LastPrompt is the newest request's prompt as text.
	LastPrompt() string
	Close()
}

// Harness connects the suite to one provider.
type Harness struct {
	// New starts a server and returns it with a provider that calls it
	// with Key. The suite closes the server.
	New func(t *testing.T) (Server, flavormonk.Provider)
	// NewBadKey, when set, returns a server that wants Key and a provider
	// that calls it with badKey, which the server refuses and quotes in its
	// error body.
	NewBadKey func(t *testing.T, badKey string) (Server, flavormonk.Provider)
	// Key is the API key the provider was given.
	Key string
	// Cancels: the provider cancels its remote job when a call ends early
	// (Replicate's predictions), and the server must see the cancel.
	Cancels bool
	// CheckContinue checks that the newest request carried partial as the
	// provider's protocol specifies.
	CheckContinue func(t *testing.T, s Server, partial string)
}

// Answer is the scripted answer: several words, punctuation, a line break
// and non-ASCII text.
const Answer = "Cream the butter and sugar until pale, then beat in the eggs one by one.\n" +
	"Fold in the flour, pour into a lined tin and bake at 180 °C for 25 minutes — crème fraîche on the side."

// Request is the request the suite sends.
func Request() flavormonk.ChatRequest {
	return flavormonk.ChatRequest{
		Messages: []flavormonk.Message{
			{Role: flavormonk.RoleSystem, Content: "You are Flavor Monk's cooking assistant."},
			{Role: flavormonk.RoleUser, Content: "How do I make a Victoria sponge?"},
		},
		MaxTokens:   400,
		Temperature: 0.2,
	}
}

// pieces are the tokens the servers stream for Answer.
var pieces = script.Split(Answer)

type recorder struct {
	mu    sync.Mutex
	parts []string
}

func (r *recorder) emit(s string) error {
	r.mu.Lock()
	r.parts = append(r.parts, s)
	r.mu.Unlock()
	return nil
}

func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.parts, "")
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	start := func(t *testing.T) (Server, flavormonk.Provider) {
		t.Helper()
		s, p := h.New(t)
		t.Cleanup(s.Close)
		s.SetAnswer(Answer)
		return s, p
	}
	noKey := func(t *testing.T, err error) {
		t.Helper()
		if h.Key != "" && err != nil && strings.Contains(err.Error(), h.Key) {
			t.Errorf("the API key is in the error: %v", err)
		}
	}
	providerError := func(t *testing.T, err error) *flavormonk.ProviderError {
		t.Helper()
		noKey(t, err)
		var pe *flavormonk.ProviderError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v (%T) is not a *ProviderError", err, err)
		}
		if pe.Provider == "" {
			t.Error("ProviderError.Provider is empty")
		}
		return pe
	}
	estimated := func(t *testing.T, p flavormonk.Provider, u flavormonk.Usage, emitted string) {
		t.Helper()
		if !u.Estimated {
			t.Errorf("usage %+v: want Estimated", u)
		}
		if u.InputTokens <= 0 {
			t.Errorf("usage %+v: want estimated input tokens", u)
		}
		if want := tokens.Count(p.Model(), emitted); u.OutputTokens != want {
			t.Errorf("usage %+v: want %d output tokens, the tokenizer count of %q", u, want, emitted)
		}
	}
	waitFor := func(t *testing.T, s Server, what string, ok func(script.Stats) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !ok(s.Stats()) {
			if time.Now().After(deadline) {
				t.Fatalf("server never saw %s: %+v", what, s.Stats())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// left waits until the server saw the client leave: its stream closed
	// from the client's side or, for providers with remote jobs, the job
	// cancelled (the cancel may end the stream first).
	left := func(t *testing.T, s Server) {
		t.Helper()
		if h.Cancels {
			waitFor(t, s, "the cancel of the abandoned job", func(st script.Stats) bool { return st.Cancels >= 1 && st.Open == 0 })
			return
		}
		waitFor(t, s, "the client go away", func(st script.Stats) bool { return st.ClientGone >= 1 && st.Open == 0 })
	}

	t.Run("Identity", func(t *testing.T) {
		_, p := start(t)
		if p.Name() == "" || p.Model() == "" {
			t.Errorf("Name %q, Model %q", p.Name(), p.Model())
		}
	})

	t.Run("StreamsAnswerWithReportedUsage", func(t *testing.T) {
		s, p := start(t)
		s.SetUsage(1234, 567)
		var rec recorder
		u, err := p.Stream(context.Background(), Request(), rec.emit)
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.text(); got != Answer {
			t.Errorf("streamed %q, want %q", got, Answer)
		}
		if len(rec.parts) < len(pieces)/2 {
			t.Errorf("emitted %d parts for %d tokens: not streamed", len(rec.parts), len(pieces))
		}
		if u.InputTokens != 1234 || u.OutputTokens != 567 || u.Estimated {
			t.Errorf("usage %+v, want the server's 1234 in, 567 out, not estimated", u)
		}
		prompt := s.LastPrompt()
		for _, m := range Request().Messages {
			if !strings.Contains(prompt, m.Content) {
				t.Errorf("prompt %q lacks %q", prompt, m.Content)
			}
		}
		if st := s.Stats(); st.InputTokens != 1234 || st.OutputTokens != 567 {
			t.Errorf("server reported %+v", st)
		}
	})

	t.Run("DefaultUsageMatchesTokenizer", func(t *testing.T) {
		_, p := start(t)
		var rec recorder
		u, err := p.Stream(context.Background(), Request(), rec.emit)
		if err != nil {
			t.Fatal(err)
		}
		if u.Estimated || u.OutputTokens != tokens.Count(p.Model(), Answer) {
			t.Errorf("usage %+v, want the server's count %d", u, tokens.Count(p.Model(), Answer))
		}
	})

	t.Run("MaxTokens", func(t *testing.T) {
		_, p := start(t)
		req := Request()
		req.MaxTokens = 3
		var rec recorder
		if _, err := p.Stream(context.Background(), req, rec.emit); err != nil {
			t.Fatal(err)
		}
		if want := strings.Join(pieces[:3], ""); rec.text() != want {
			t.Errorf("streamed %q, want the first 3 tokens %q", rec.text(), want)
		}
	})

	t.Run("HTTP500", func(t *testing.T) {
		s, p := start(t)
		s.Inject(script.Fault{Kind: script.HTTP500})
		var rec recorder
		u, err := p.Stream(context.Background(), Request(), rec.emit)
		pe := providerError(t, err)
		if pe.Status != 500 || !pe.Retryable || pe.RetryAfter != 0 {
			t.Errorf("got %+v, want 500, retryable, no Retry-After", pe)
		}
		if rec.text() != "" || u != (flavormonk.Usage{}) {
			t.Errorf("emitted %q, usage %+v: want nothing", rec.text(), u)
		}
	})

	t.Run("HTTP429RetryAfterSeconds", func(t *testing.T) {
		s, p := start(t)
		s.Inject(script.Fault{Kind: script.HTTP429, RetryAfter: "7"})
		_, err := p.Stream(context.Background(), Request(), (&recorder{}).emit)
		pe := providerError(t, err)
		if pe.Status != 429 || !pe.Retryable || pe.RetryAfter != 7*time.Second {
			t.Errorf("got %+v, want 429, retryable, Retry-After 7s", pe)
		}
	})

	t.Run("HTTP429RetryAfterDate", func(t *testing.T) {
		s, p := start(t)
		s.Inject(script.Fault{Kind: script.HTTP429, RetryAfter: time.Now().Add(30 * time.Second).UTC().Format(http1123)})
		_, err := p.Stream(context.Background(), Request(), (&recorder{}).emit)
		pe := providerError(t, err)
		if pe.Status != 429 || !pe.Retryable || pe.RetryAfter < 25*time.Second || pe.RetryAfter > 31*time.Second {
			t.Errorf("got %+v, want 429, retryable, Retry-After about 30s", pe)
		}
	})

	t.Run("HTTP429NoRetryAfter", func(t *testing.T) {
		s, p := start(t)
		s.Inject(script.Fault{Kind: script.HTTP429})
		_, err := p.Stream(context.Background(), Request(), (&recorder{}).emit)
		if pe := providerError(t, err); pe.Status != 429 || !pe.Retryable || pe.RetryAfter != 0 {
			t.Errorf("got %+v", pe)
		}
	})

	t.Run("FaultClearsAfterTimes", func(t *testing.T) {
		s, p := start(t)
		s.Inject(script.Fault{Kind: script.HTTP500, Times: 1})
		if _, err := p.Stream(context.Background(), Request(), (&recorder{}).emit); err == nil {
			t.Fatal("first call: want the 500")
		}
		var rec recorder
		if _, err := p.Stream(context.Background(), Request(), rec.emit); err != nil || rec.text() != Answer {
			t.Fatalf("second call: %v, %q", err, rec.text())
		}
	})

	brokenStream := func(kind script.Kind) func(t *testing.T) {
		return func(t *testing.T) {
			s, p := start(t)
			// Paced, so that a remote job is still running when the stream
			// breaks (else it is billed in full, and metered so).
			s.SetTiming(script.Timing{Interval: 5 * time.Millisecond})
			s.Inject(script.Fault{Kind: kind, After: 4})
			var rec recorder
			u, err := p.Stream(context.Background(), Request(), rec.emit)
			pe := providerError(t, err)
			if pe.Status != 0 || !pe.Retryable {
				t.Errorf("got %+v, want status 0, retryable", pe)
			}
			if want := strings.Join(pieces[:4], ""); rec.text() != want {
				t.Errorf("emitted %q, want the 4 tokens before the fault %q", rec.text(), want)
			}
			if kind != script.StreamError {
				estimated(t, p, u, rec.text())
			} else if u.InputTokens <= 0 {
				t.Errorf("usage %+v: a failed stream still consumed its input", u)
			}
			if h.Cancels && kind != script.StreamError {
				waitFor(t, s, "the cancel of the abandoned prediction", func(st script.Stats) bool { return st.Cancels >= 1 })
			}
		}
	}
	t.Run("StreamCut", brokenStream(script.Cut))
	t.Run("MalformedChunk", brokenStream(script.Malformed))
	t.Run("ErrorInStream", brokenStream(script.StreamError))

	t.Run("SlowFirstTokenDeadline", func(t *testing.T) {
		s, p := start(t)
		s.Inject(script.Fault{Kind: script.SlowFirstToken, Delay: time.Minute})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		began := time.Now()
		var rec recorder
		u, err := p.Stream(ctx, Request(), rec.emit)
		if time.Since(began) > 20*time.Second {
			t.Errorf("the call outlived its deadline by far: %v", time.Since(began))
		}
		pe := providerError(t, err)
		if !errors.Is(err, context.DeadlineExceeded) || !pe.Retryable || pe.Status != 0 {
			t.Errorf("got %+v, want a retryable timeout wrapping context.DeadlineExceeded", pe)
		}
		estimated(t, p, u, "")
		left(t, s)
	})

	t.Run("HangCancelled", func(t *testing.T) {
		s, p := start(t)
		s.Inject(script.Fault{Kind: script.Hang})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		var u flavormonk.Usage
		var err error
		go func() {
			defer close(done)
			u, err = p.Stream(ctx, Request(), (&recorder{}).emit)
		}()
		waitFor(t, s, "the stream open", func(st script.Stats) bool { return st.Open >= 1 || st.Streams >= 1 })
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("Stream did not return after its context was cancelled")
		}
		pe := providerError(t, err)
		if !errors.Is(err, context.Canceled) || pe.Retryable {
			t.Errorf("got %+v, want a non-retryable error wrapping context.Canceled", pe)
		}
		estimated(t, p, u, "")
		left(t, s)
	})

	t.Run("CancelMidStream", func(t *testing.T) {
		s, p := start(t)
		s.SetTiming(script.Timing{Interval: 5 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var rec recorder
		u, err := p.Stream(ctx, Request(), func(text string) error {
			_ = rec.emit(text)
			if len(rec.parts) == 3 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
		providerError(t, err)
		if !strings.HasPrefix(Answer, rec.text()) || len(rec.parts) < 3 || len(rec.parts) > 4 {
			t.Errorf("emitted %d parts %q", len(rec.parts), rec.text())
		}
		estimated(t, p, u, rec.text())
		left(t, s)
	})

	t.Run("EmitErrorAborts", func(t *testing.T) {
		s, p := start(t)
		s.SetTiming(script.Timing{Interval: 5 * time.Millisecond})
		stop := errors.New("client went away")
		calls := 0
		u, err := p.Stream(context.Background(), Request(), func(string) error {
			calls++
			if calls == 2 {
				return stop
			}
			return nil
		})
		if err != stop {
			t.Fatalf("err %v, want emit's error as is", err)
		}
		if calls != 2 {
			t.Errorf("emit called %d times after it failed", calls-2)
		}
		estimated(t, p, u, strings.Join(pieces[:2], ""))
		left(t, s)
	})

	t.Run("Continue", func(t *testing.T) {
		s, p := start(t)
		req := Request()
		req.Continue = "Cream the butter and sugar until"
		rest := " pale, then beat in the eggs."
		s.SetAnswer(rest)
		var rec recorder
		if _, err := p.Stream(context.Background(), req, rec.emit); err != nil {
			t.Fatal(err)
		}
		if rec.text() != rest {
			t.Errorf("streamed %q, want the continuation %q", rec.text(), rest)
		}
		h.CheckContinue(t, s, req.Continue)
	})

	t.Run("BadKeyNotInError", func(t *testing.T) {
		if h.NewBadKey == nil {
			t.Skip("the provider takes no key")
		}
		s, p := h.NewBadKey(t, WrongKey)
		t.Cleanup(s.Close)
		_, err := p.Stream(context.Background(), Request(), (&recorder{}).emit)
		if pe := providerError(t, err); pe.Status != 401 || pe.Retryable {
			t.Errorf("got %+v, want 401, not retryable", pe)
		}
		if err != nil && strings.Contains(err.Error(), WrongKey) {
			t.Errorf("the API key is in the error: %v", err)
		}
	})

	t.Run("ConcurrentStreamsUsageTotals", func(t *testing.T) {
		s, p := start(t)
		s.SetTiming(script.Timing{FirstToken: time.Millisecond, Interval: time.Millisecond})
		const n = 40
		var wg sync.WaitGroup
		var mu sync.Mutex
		var total flavormonk.Usage
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var rec recorder
				u, err := p.Stream(context.Background(), Request(), rec.emit)
				if err == nil && rec.text() != Answer {
					err = errors.New("wrong text: " + rec.text())
				}
				if err != nil {
					errs <- err
				}
				mu.Lock()
				total = total.Add(u)
				mu.Unlock()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		st := s.Stats()
		if total.Estimated || int64(total.InputTokens) != st.InputTokens || int64(total.OutputTokens) != st.OutputTokens {
			t.Errorf("client total %+v, server reported %d in, %d out", total, st.InputTokens, st.OutputTokens)
		}
		if st.Completed != n {
			t.Errorf("server completed %d of %d", st.Completed, n)
		}
	})
}

// WrongKey is the key of NewBadKey's provider.
const WrongKey = "sk-wrong-key-FLAVORMONK-9876543210"

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"
