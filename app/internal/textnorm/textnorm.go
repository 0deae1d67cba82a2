// Package textnorm holds the word normalisation that lexical search and the
// local embedder share, so a word means the same to both.
package textnorm

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Stem reduces English plurals, the only inflection that matters much for
// recipes: "tomatoes" → "tomato", "berries" → "berry", "chickpeas" →
// "chickpea"; "hummus", "couscous" and "glass" stay.
func Stem(w string) string {
	n := len(w)
	switch {
	case n < 4:
		return w
	case strings.HasSuffix(w, "ies") && n > 4:
		return w[:n-3] + "y"
	case strings.HasSuffix(w, "oes"):
		return w[:n-2]
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "shes"), strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "xes"):
		return w[:n-2]
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"), strings.HasSuffix(w, "is"):
		return w
	case w[n-1] == 's':
		return w[:n-1]
	}
	return w
}

// FoldAccents removes combining marks after compatibility decomposition
// ("Crème Brûlée" → "Creme Brulee"); invalid UTF-8 becomes spaces.
func FoldAccents(s string) string {
	s = strings.ToValidUTF8(s, " ")
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range norm.NFKD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
