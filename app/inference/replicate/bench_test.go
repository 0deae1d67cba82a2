package replicate_test

import (
	"context"
	"strings"
	"testing"

	"github.com/flavormonk/flavormonk/app/inference/providertest"
	"github.com/flavormonk/flavormonk/app/inference/replicate"
	"github.com/flavormonk/flavormonk/app/inference/replicatetest"
	"github.com/flavormonk/flavormonk/app/inference/script"
)

// BenchmarkStream measures one streamed answer of 200 tokens from the local
// server with no delays: create, stream, and the metrics read, per token.
func BenchmarkStream(b *testing.B) {
	answer := strings.Repeat("Whisk the eggs until pale and fold them gently. ", 25)
	n := len(script.Split(answer))
	srv := replicatetest.New(replicatetest.Options{Answer: answer})
	defer srv.Close()
	// Fixed usage: the server's own token counting is not what is measured.
	srv.SetUsage(900, 200)
	p, err := replicate.New(srv.URL(), testToken, testModel, srv.Client())
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

func BenchmarkSSEReader(b *testing.B) {
	var sb strings.Builder
	for i := range 200 {
		sb.WriteString("event: output\nid: " + string(rune('a'+i%26)) + "\ndata:  word\n\n")
	}
	in := sb.String()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		replicate.CountEvents(strings.NewReader(in))
	}
}
