// Package tokens counts tokens the way OpenAI's tokenizers do, for the usage
// estimates of calls whose provider did not report usage (a stream cut or
// cancelled before its usage arrived). Models outside OpenAI's families
// (Llama on Replicate, Ollama models) are counted with cl100k_base: an
// approximation, and the usage is marked estimated anyway.
package tokens

import (
	"strings"
	"sync"

	tiktoken "github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Per-message overhead of OpenAI's chat format (the cookbook's
// num_tokens_from_messages for gpt-3.5-turbo-0613 and later, gpt-4, gpt-4o):
// each message is wrapped in <|start|>{role}\n{content}<|end|>\n, and the
// reply is primed with <|start|>assistant<|message|>.
const (
	tokensPerMessage = 3
	tokensPerReply   = 3
)

const (
	o200kBase  = "o200k_base"
	cl100kBase = "cl100k_base"
)

var (
	loaderOnce, o200kOnce, cl100kOnce sync.Once
	o200k, cl100k                     *tiktoken.Tiktoken
)

// Encoding names the tokenizer used for model: o200k_base for the gpt-4o
// family and later (gpt-4o, gpt-4.1, gpt-5, o1, o3, o4), cl100k_base
// otherwise.
func Encoding(model string) string {
	if usesO200k(model) {
		return o200kBase
	}
	return cl100kBase
}

func usesO200k(model string) bool {
	m := strings.ToLower(model)
	// Fine-tuned models are named ft:<base>:<org>…
	m = strings.TrimPrefix(m, "ft:")
	for _, p := range []string{"gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "chatgpt-4o", "o1", "o3", "o4", "gpt-oss"} {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}

func codecFor(model string) *tiktoken.Tiktoken {
	if usesO200k(model) {
		o200kOnce.Do(func() { o200k = mustGet(o200kBase) })
		return o200k
	}
	cl100kOnce.Do(func() { cl100k = mustGet(cl100kBase) })
	return cl100k
}

// mustGet loads encoding name. The encodings' ranks are embedded as files
// (tiktoken-go-loader), parsed into memory on the first count: an instance
// that never estimates never holds them. (A tokenizer compiled into Go map
// literals put ~4 MB of pointer data into every instance's idle memory.)
// tiktoken-go reads its loader from a package variable, so it is set here,
// once, before the first encoding is loaded (this package is the only user
// of tiktoken-go), rather than in an init().
func mustGet(name string) *tiktoken.Tiktoken {
	loaderOnce.Do(func() { tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader()) })
	t, err := tiktoken.GetEncoding(name)
	if err != nil {
		// Both encodings are embedded: this is a build fault.
		panic("tokens: " + err.Error())
	}
	return t
}

// Count returns the number of tokens of text for model.
func Count(model, text string) int {
	if text == "" {
		return 0
	}
	// Invalid UTF-8 (a stream cut inside a character) counts as U+FFFD,
	// as tiktoken does; special-token text counts as ordinary text.
	return len(codecFor(model).EncodeOrdinary(strings.ToValidUTF8(text, "\uFFFD")))
}

// CountMessages returns the prompt tokens of a chat request as OpenAI counts
// them: each message's role and content plus a fixed overhead per message
// and for the primed reply.
func CountMessages(model string, msgs []flavormonk.Message) int {
	if len(msgs) == 0 {
		return 0
	}
	n := tokensPerReply
	for _, m := range msgs {
		n += tokensPerMessage + Count(model, m.Role) + Count(model, m.Content)
	}
	return n
}
