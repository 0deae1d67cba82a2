package embed

import (
	"context"
	"github.com/flavormonk/flavormonk/app/internal/textnorm"
	"math"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// LocalModel and LocalDimensions identify the local embedder's vectors.
// Changing anything that changes its output requires a new model name
// (v2: plurals in "-as" — chickpeas, tortillas — stem like search's).
const (
	LocalModel      = "local-hash-v2"
	LocalDimensions = 384
)

// Feature weights: words count most, word pairs add phrase structure,
// character trigrams add typo and inflection robustness.
const (
	weightWord    = 1.0
	weightBigram  = 0.7
	weightTrigram = 0.3
)

// maxLocalInput bounds the bytes of one text the local embedder reads.
const maxLocalInput = 64 << 10

// Local is the built-in embedder: feature hashing, deterministic and
// offline. See the package documentation for what quality it gives. It is
// safe for concurrent use.
type Local struct {
	pool sync.Pool
}

var _ flavormonk.Embedder = (*Local)(nil)

// NewLocal returns the built-in embedder.
func NewLocal() *Local {
	return &Local{pool: sync.Pool{New: func() any { return newScratch() }}}
}

// Model implements flavormonk.Embedder.
func (*Local) Model() string { return LocalModel }

// Dimensions implements flavormonk.Embedder.
func (*Local) Dimensions() int { return LocalDimensions }

// Embed implements flavormonk.Embedder. A text without any letter or digit
// gets the zero vector.
func (l *Local) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	s := l.pool.Get().(*scratch)
	defer l.pool.Put(s)
	for i, t := range texts {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		out[i] = s.embed(t)
	}
	return out, nil
}

// scratch is the reusable state of one embedding.
type scratch struct {
	tf    map[uint64]feature
	words []string
	buf   []byte
}

func newScratch() *scratch {
	return &scratch{tf: make(map[uint64]feature, 1024)}
}

// feature is one hashed feature's term frequency and the weight of the
// position where it first occurs.
type feature struct {
	tf  float32
	pos float32
}

func (s *scratch) add(key uint64, pos float32) {
	f, ok := s.tf[key]
	if !ok {
		f.pos = pos
	}
	f.tf++
	s.tf[key] = f
}

// positionWeight decays with the word's position: the first words of a text
// (a recipe's name, cuisine, tags and ingredients, in RecipeText) weigh
// more than the steps at its end, which would otherwise drown them in hash
// collisions.
func positionWeight(p int) float32 {
	return float32(1 / math.Sqrt(1+float64(p)/positionScale))
}

const positionScale = 8.0

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvByte(h uint64, b byte) uint64 {
	h ^= uint64(b)
	return h * fnvPrime
}

// Each feature kind hashes from its own seed, so that the word "pie" and the
// trigram "pie" are different features.
var (
	seedWord    = fnvByte(fnvOffset, 'w')
	seedBigram  = fnvByte(fnvOffset, 'b')
	seedTrigram = fnvByte(fnvOffset, 't')
)

func (s *scratch) embed(text string) []float32 {
	if len(text) > maxLocalInput {
		text = text[:maxLocalInput]
	}
	clear(s.tf)
	s.words = s.words[:0]
	s.buf = appendNormalized(s.buf[:0], text)
	s.words = splitWords(s.words, s.buf)

	prev := ""
	p := 0
	for _, w := range s.words {
		if stopWords[w] {
			prev = ""
			continue
		}
		w = textnorm.Stem(w)
		pw := positionWeight(p)
		p++
		s.add(fnvString(seedWord, w)<<2|0, pw)
		if prev != "" {
			h := fnvString(seedBigram, prev)
			h = fnvByte(h, ' ')
			s.add(fnvString(h, w)<<2|1, pw)
		}
		prev = w
		if len(w) >= 3 && !isNumber(w) {
			// Trigrams of "#word#": the boundaries make prefixes and
			// suffixes count.
			n := len(w) + 2
			for i := 0; i+3 <= n; i++ {
				h := seedTrigram
				for j := i; j < i+3; j++ {
					c := byte('#')
					if j > 0 && j <= len(w) {
						c = w[j-1]
					}
					h = fnvByte(h, c)
				}
				s.add(h<<2|2, pw)
			}
		}
	}

	v := make([]float32, LocalDimensions)
	for key, f := range s.tf {
		var w float64
		switch key & 3 {
		case 0:
			w = weightWord
		case 1:
			w = weightBigram
		default:
			w = weightTrigram
		}
		h := key >> 2
		// Mix the hash before using its bits: FNV-1a's low bits are weak.
		h ^= h >> 33
		h *= 0xff51afd7ed558ccd
		h ^= h >> 33
		idx := h % LocalDimensions
		x := w * float64(f.pos) * (1 + math.Log(float64(f.tf)))
		if h&(1<<62) != 0 {
			x = -x
		}
		v[idx] += float32(x)
	}
	var sq float64
	for _, x := range v {
		sq += float64(x) * float64(x)
	}
	if sq > 0 {
		inv := float32(1 / math.Sqrt(sq))
		for i := range v {
			v[i] *= inv
		}
	}
	return v
}

// appendNormalized appends text lowercased, with accents folded and every
// run of non-letters/digits turned into one space.
func appendNormalized(dst []byte, text string) []byte {
	ascii := true
	for i := 0; i < len(text); i++ {
		if text[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii {
		text = norm.NFKD.String(strings.ToValidUTF8(text, " "))
	}
	space := true
	for _, r := range text {
		switch {
		case r < utf8.RuneSelf:
			c := byte(r)
			switch {
			case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
				dst = append(dst, c)
				space = false
			case c >= 'A' && c <= 'Z':
				dst = append(dst, c+'a'-'A')
				space = false
			default:
				if !space {
					dst = append(dst, ' ')
					space = true
				}
			}
		case unicode.Is(unicode.Mn, r):
			// a combining accent: dropped
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			dst = utf8.AppendRune(dst, unicode.ToLower(r))
			space = false
		default:
			if !space {
				dst = append(dst, ' ')
				space = true
			}
		}
	}
	return dst
}

// maxWordLen caps a word's length: nothing in a recipe is longer.
const maxWordLen = 32

func splitWords(dst []string, b []byte) []string {
	s := string(b) // one allocation; words are substrings of it
	for len(s) > 0 {
		i := strings.IndexByte(s, ' ')
		w := s
		if i >= 0 {
			w, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if w == "" {
			continue
		}
		if len(w) > maxWordLen {
			w = w[:maxWordLen]
			for !utf8.ValidString(w) {
				w = w[:len(w)-1]
			}
		}
		dst = append(dst, w)
	}
	return dst
}

func isNumber(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] < '0' || w[i] > '9' {
			return false
		}
	}
	return true
}

var stopWords = map[string]bool{
	"a": true, "an": true, "and": true, "the": true, "of": true, "with": true, "in": true,
	"on": true, "to": true, "for": true, "or": true, "at": true, "by": true, "from": true,
	"into": true, "is": true, "it": true, "its": true, "my": true, "your": true, "our": true,
	"de": true, "la": true, "le": true, "el": true, "y": true, "recipe": true, "be": true,
	"until": true, "then": true, "this": true, "that": true, "as": true, "about": true,
}
