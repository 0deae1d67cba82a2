package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/flavormonk/flavormonk/app/internal/textnorm"
)

// maxTokenLen caps a token's length: nothing in a recipe is longer, and it
// bounds the work fuzzy matching can be asked to do.
const maxTokenLen = 32

var stopWords = map[string]bool{
	"a": true, "an": true, "and": true, "the": true, "of": true, "with": true, "in": true,
	"on": true, "to": true, "for": true, "or": true, "at": true, "by": true, "from": true,
	"into": true, "is": true, "it": true, "its": true, "my": true, "your": true, "our": true,
	"de": true, "la": true, "le": true, "el": true, "y": true, "recipe": true,
}

// tokens splits text into index terms: lowercase, accents folded, split on
// anything that is not a letter or digit, stop words dropped, plurals
// reduced. The same function serves documents and queries, so they agree.
func tokens(text string) []string {
	return appendTokens(nil, text)
}

func appendTokens(out []string, text string) []string {
	if !isASCII(text) {
		text = textnorm.FoldAccents(text)
	}
	start := -1
	for i := 0; i <= len(text); i++ {
		var c byte
		if i < len(text) {
			c = text[i]
		}
		word := i < len(text) && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= utf8.RuneSelf)
		if word && c >= utf8.RuneSelf {
			r, _ := utf8.DecodeRuneInString(text[i:])
			word = unicode.IsLetter(r) || unicode.IsDigit(r)
		}
		if word {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			if t := term(text[start:i]); t != "" {
				out = append(out, t)
			}
			start = -1
		}
		if i < len(text) && c >= utf8.RuneSelf {
			_, size := utf8.DecodeRuneInString(text[i:])
			i += size - 1
		}
	}
	return out
}

func term(w string) string {
	if len(w) > maxTokenLen {
		w = w[:maxTokenLen]
		for !utf8.ValidString(w) {
			w = w[:len(w)-1]
		}
	}
	w = strings.ToLower(w)
	if stopWords[w] {
		return ""
	}
	return textnorm.Stem(w)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// normTag is how tags, cuisines and categories are compared.
func normTag(s string) string {
	return strings.Join(tokens(s), " ")
}
