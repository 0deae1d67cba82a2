package assistant

import (
	"context"
	"math"
	"strings"
	"sync"
	"time"
	"unicode"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// semanticCache finds an earlier answer to a question that means the same:
// cosine similarity of the questions' embeddings at or above a conservative
// threshold, AND the same retrieved recipes (so a near question about other
// recipes never gets this answer). It keeps the latest entries of this
// process; the answers themselves live in the shared cache under their
// exact keys. Personal and conversational questions never use it.
type semanticCache struct {
	emb       flavormonk.Embedder
	threshold float64

	mu      sync.Mutex
	entries []semEntry
	next    int
}

type semEntry struct {
	vec     []float32
	sources string // the retrieved recipes, as the exact key sees them
	key     string // the exact-match key of the cached answer
}

const semanticEntries = 4096

// embedTimeout bounds the embedding of a question: past it, no semantic lookup.
const embedTimeout = 300 * time.Millisecond

func newSemanticCache(emb flavormonk.Embedder, threshold float64) *semanticCache {
	if emb == nil || threshold <= 0 {
		return nil
	}
	return &semanticCache{emb: emb, threshold: threshold}
}

func (s *semanticCache) embed(ctx context.Context, q string) []float32 {
	ctx, cancel := context.WithTimeout(ctx, embedTimeout)
	defer cancel()
	vs, err := s.emb.Embed(ctx, []string{q})
	if err != nil || len(vs) != 1 {
		return nil
	}
	return normalize(vs[0])
}

// lookup returns the key of the most similar entry with the same sources.
func (s *semanticCache) lookup(vec []float32, sources string) (string, float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	best, bestKey := -1.0, ""
	for _, e := range s.entries {
		if e.sources != sources || len(e.vec) != len(vec) {
			continue
		}
		if sim := dot(e.vec, vec); sim > best {
			best, bestKey = sim, e.key
		}
	}
	return bestKey, best, best >= s.threshold
}

func (s *semanticCache) add(vec []float32, sources, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := semEntry{vec: vec, sources: sources, key: key}
	if len(s.entries) < semanticEntries {
		s.entries = append(s.entries, e)
		return
	}
	s.entries[s.next] = e
	s.next = (s.next + 1) % semanticEntries
}

func normalize(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return nil
	}
	inv := float32(1 / math.Sqrt(n))
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = x * inv
	}
	return out
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// personal words make a question about the asker ("I'm allergic to…",
// "my oven…"): its answer must not be given to anyone else's question.
var personal = map[string]bool{"i": true, "im": true, "ive": true, "id": true, "ill": true, "my": true, "me": true,
	"mine": true, "we": true, "our": true, "us": true, "myself": true, "allergic": true, "allergy": true, "intolerant": true}

func personalised(q string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(q), func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' }) {
		if personal[strings.ReplaceAll(w, "'", "")] {
			return true
		}
	}
	return false
}
