package openai_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"

	"github.com/flavormonk/flavormonk/app/inference/openai"
	"github.com/flavormonk/flavormonk/app/inference/openaitest"
	"github.com/flavormonk/flavormonk/app/inference/providertest"
	"github.com/flavormonk/flavormonk/app/inference/script"
)

// BenchmarkStream measures one streamed answer of 200 tokens from the local
// server with no delays: the cost of the provider and the wire per token.
func BenchmarkStream(b *testing.B) {
	answer := strings.Repeat("Whisk the eggs until pale and fold them gently. ", 25)
	n := len(script.Split(answer))
	srv := openaitest.New(openaitest.Options{Answer: answer})
	defer srv.Close()
	// Fixed usage: the server's own token counting is not what is measured.
	srv.SetUsage(900, 200)
	p, err := openai.New(openai.NameOpenAI, srv.URL(), testKey, "gpt-4o-mini", srv.Client())
	if err != nil {
		b.Fatal(err)
	}
	req := providertest.Request()
	emitted := 0
	emit := func(string) error { emitted++; return nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Stream(context.Background(), req, emit); err != nil {
			b.Fatal(err)
		}
	}
	if emitted != b.N*n {
		b.Fatalf("emitted %d tokens, want %d", emitted, b.N*n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/token")
}

// BenchmarkTTFT is the time to the first token from a server with a 5 ms
// first-token delay, read directly over HTTP and through the provider: the
// difference is what the provider adds to time to first token.
func BenchmarkTTFT(b *testing.B) {
	srv := openaitest.New(openaitest.Options{Answer: "Preheat the oven.", Timing: script.Timing{FirstToken: 5 * time.Millisecond}})
	defer srv.Close()
	srv.SetUsage(900, 3)
	body := `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"How hot?"}]}`
	p50 := func(b *testing.B, d []time.Duration) {
		slices.Sort(d)
		b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "p50-ms")
	}
	b.Run("direct", func(b *testing.B) {
		hc := srv.Client()
		var ds []time.Duration
		for b.Loop() {
			start := time.Now()
			req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/chat/completions", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+testKey)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if strings.Contains(sc.Text(), `"content":"Preheat"`) {
					break
				}
			}
			ds = append(ds, time.Since(start))
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		p50(b, ds)
	})
	b.Run("provider", func(b *testing.B) {
		p, err := openai.New(openai.NameOpenAI, srv.URL(), testKey, "gpt-4o-mini", srv.Client())
		if err != nil {
			b.Fatal(err)
		}
		req := flavormonk.ChatRequest{Messages: []flavormonk.Message{{Role: "user", Content: "How hot?"}}}
		var ds []time.Duration
		for b.Loop() {
			start := time.Now()
			var first time.Duration
			if _, err := p.Stream(context.Background(), req, func(string) error {
				if first == 0 {
					first = time.Since(start)
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, first)
		}
		p50(b, ds)
	})
}
