package tokens

import (
	"strings"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

func TestEncoding(t *testing.T) {
	for model, want := range map[string]string{
		"gpt-4o-mini":                    "o200k_base",
		"gpt-4o":                         "o200k_base",
		"gpt-4.1-nano":                   "o200k_base",
		"o3-mini":                        "o200k_base",
		"ft:gpt-4o-mini:acme":            "o200k_base",
		"gpt-4-turbo":                    "cl100k_base",
		"gpt-3.5-turbo":                  "cl100k_base",
		"llama3.1:8b":                    "cl100k_base",
		"meta/meta-llama-3-70b-instruct": "cl100k_base",
		"":                               "cl100k_base",
	} {
		if got := Encoding(model); got != want {
			t.Errorf("Encoding(%q) = %s, want %s", model, got, want)
		}
	}
}

func TestCount(t *testing.T) {
	// Figures from OpenAI's tiktoken (the cookbook's "How to count tokens").
	for _, c := range []struct {
		model, text string
		want        int
	}{
		{"gpt-4", "tiktoken is great!", 6},
		{"gpt-4o", "tiktoken is great!", 6},
		{"gpt-4", "hello world", 2},
		{"gpt-4o-mini", "", 0},
		{"gpt-4", "antidisestablishmentarianism", 6},
	} {
		if got := Count(c.model, c.text); got != c.want {
			t.Errorf("Count(%q, %q) = %d, want %d", c.model, c.text, got, c.want)
		}
	}
	// The two encodings differ on non-English text: o200k is denser.
	jp := strings.Repeat("お好み焼きの作り方を教えてください。", 20)
	if a, b := Count("gpt-4o", jp), Count("gpt-4", jp); a >= b || a == 0 {
		t.Errorf("o200k %d tokens, cl100k %d: want o200k < cl100k", a, b)
	}
}

func TestCountInvalidUTF8(t *testing.T) {
	// A stream cut inside a multi-byte character still counts.
	cut := "crème brûl\xc3"
	if n := Count("gpt-4o", cut); n < 3 {
		t.Errorf("Count of cut text = %d", n)
	}
}

func TestCountDEL(t *testing.T) {
	if n := Count("gpt-4o", "\x7f\x7f"); n != 2 {
		t.Errorf("Count(DEL DEL) = %d, want 2", n)
	}
}

func TestCountMessages(t *testing.T) {
	// The API reports prompt_tokens 9 for a lone user message "Hello!".
	msgs := []flavormonk.Message{{Role: flavormonk.RoleUser, Content: "Hello!"}}
	if got := CountMessages("gpt-3.5-turbo", msgs); got != 9 {
		t.Errorf("CountMessages(Hello!) = %d, want 9", got)
	}
	if got := CountMessages("gpt-4o", nil); got != 0 {
		t.Errorf("CountMessages(nil) = %d", got)
	}
	two := append(msgs, flavormonk.Message{Role: flavormonk.RoleSystem, Content: "Be brief."})
	if got, want := CountMessages("gpt-4o", two), 9+3+Count("gpt-4o", "system")+Count("gpt-4o", "Be brief."); got != want {
		t.Errorf("two messages = %d, want %d", got, want)
	}
}

func FuzzCount(f *testing.F) {
	f.Add("gpt-4o", "tiktoken is great!")
	f.Add("llama", "\xff\xfe<|endoftext|>")
	f.Fuzz(func(t *testing.T, model, text string) {
		n := Count(model, text)
		if n < 0 || (text != "" && n == 0) || n > len(text) {
			t.Fatalf("Count(%q) = %d", text, n)
		}
	})
}

var answer = strings.Repeat("Whisk the eggs with the sugar until pale, then fold in the flour. ", 40)

func BenchmarkCount(b *testing.B) {
	for _, model := range []string{"gpt-4o-mini", "gpt-4"} {
		b.Run(Encoding(model), func(b *testing.B) {
			n := Count(model, answer)
			b.SetBytes(int64(len(answer)))
			b.ReportAllocs()
			for b.Loop() {
				Count(model, answer)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/token")
		})
	}
}

func BenchmarkCountMessages(b *testing.B) {
	msgs := []flavormonk.Message{
		{Role: flavormonk.RoleSystem, Content: answer},
		{Role: flavormonk.RoleUser, Content: "How long do I bake a sponge cake?"},
	}
	b.ReportAllocs()
	for b.Loop() {
		CountMessages("gpt-4o-mini", msgs)
	}
}
