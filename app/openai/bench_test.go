package openai_test

import (
	"context"
	"strings"
	"testing"

	"github.com/flavormonk/flavormonk/app/inference/openaitest"
	"github.com/flavormonk/flavormonk/app/inference/providertest"
	"github.com/flavormonk/flavormonk/app/inference/script"
	"github.com/flavormonk/flavormonk/app/openai"
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
