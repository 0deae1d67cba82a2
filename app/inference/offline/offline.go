// Package offline is the assistant's provider without a model: it composes
// a clearly labelled answer from the recipes that retrieval found, using
// their parsed data (scaled quantities, times, ingredient lists). It is the
// embedded default, and a last resort at the end of a provider chain.
package offline

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/ingredient"
)

// Label starts every offline answer, so nobody mistakes it for a model's.
const Label = "Offline answer (no language model is configured, so this is put together directly from our recipes):"

// Provider is the offline provider.
type Provider struct{}

// Name implements flavormonk.Provider.
func (Provider) Name() string { return "offline" }

// Model implements flavormonk.Provider.
func (Provider) Model() string { return "recipes" }

// Stream composes the answer and sends it a few words at a time. It costs
// nothing and reports no tokens.
func (Provider) Stream(ctx context.Context, req flavormonk.ChatRequest, emit func(string) error) (flavormonk.Usage, error) {
	text := Compose(req.Sources)
	// A continuation after a model failed: say where the model's part ends.
	if req.Continue != "" {
		text = "\n\n" + text
	}
	for len(text) > 0 {
		if err := ctx.Err(); err != nil {
			return flavormonk.Usage{}, err
		}
		n := chunk(text, 24)
		if err := emit(text[:n]); err != nil {
			return flavormonk.Usage{}, err
		}
		text = text[n:]
	}
	return flavormonk.Usage{}, nil
}

// chunk returns a prefix length of about n bytes ending after a space and
// never inside a UTF-8 sequence.
func chunk(s string, n int) int {
	if len(s) <= n {
		return len(s)
	}
	if i := strings.IndexByte(s[n:], ' '); i >= 0 && i < 16 {
		return n + i + 1
	}
	for n < len(s) && !utf8.RuneStart(s[n]) {
		n++
	}
	return n
}

// Compose writes the offline answer for the sources.
func Compose(src []flavormonk.Source) string {
	var b strings.Builder
	b.WriteString(Label)
	b.WriteString("\n\n")
	if len(src) == 0 {
		b.WriteString("I could not find a recipe in our collection that matches your question. Try naming a dish or an ingredient.")
		return b.String()
	}
	top := src[0]
	r := top.Recipe
	switch {
	case top.Servings > 0 && r.Servings > 0:
		factor := float64(top.Servings) / float64(r.Servings)
		fmt.Fprintf(&b, "To make **%s** [%d] for %d (the recipe serves %d), use:\n", r.Name, top.N, top.Servings, r.Servings)
		for _, ing := range r.Ingredients {
			b.WriteString("- ")
			b.WriteString(ingredient.Format(ingredient.Scale(ing, factor)))
			b.WriteByte('\n')
		}
		if t := r.Minutes(); t > 0 {
			fmt.Fprintf(&b, "\nCooking times stay about the same (%d min in all); larger batches may need a wider pan or a few extra minutes.\n", t)
		}
	case top.Swap != nil:
		fmt.Fprintf(&b, "In **%s** [%d], instead of %s you can use %s.\n", r.Name, top.N, top.Swap.Item, orList(top.Swap.Options))
	case top.Timing:
		fmt.Fprintf(&b, "**%s** [%d] takes %s.\n", r.Name, top.N, timing(r))
	}
	if b.Len() > len(Label)+2 {
		if len(src) == 1 {
			return b.String()
		}
		b.WriteString("\nOther recipes that match:\n")
		src = src[1:]
	} else {
		b.WriteString("Recipes from our collection that match your question:\n")
	}
	for _, s := range src {
		r := s.Recipe
		fmt.Fprintf(&b, "\n%d. **%s** [%d]", s.N, r.Name, s.N)
		if r.Description != "" {
			b.WriteString(" — ")
			b.WriteString(r.Description)
		}
		var facts []string
		if r.Servings > 0 {
			facts = append(facts, fmt.Sprintf("serves %d", r.Servings))
		}
		if t := r.Minutes(); t > 0 {
			facts = append(facts, fmt.Sprintf("%d min", t))
		}
		if items := mainItems(r, 5); items != "" {
			facts = append(facts, "with "+items)
		}
		if len(facts) > 0 {
			b.WriteString(" (" + strings.Join(facts, "; ") + ")")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func timing(r *flavormonk.Recipe) string {
	var parts []string
	if r.PrepMinutes > 0 {
		parts = append(parts, fmt.Sprintf("%d min to prepare", r.PrepMinutes))
	}
	if r.CookMinutes > 0 {
		parts = append(parts, fmt.Sprintf("%d min to cook", r.CookMinutes))
	}
	if t := r.Minutes(); t > 0 {
		if len(parts) > 0 {
			return strings.Join(parts, " and ") + fmt.Sprintf(", %d min in all", t)
		}
		return fmt.Sprintf("%d min in all", t)
	}
	return "an unstated time (the recipe gives none)"
}

func mainItems(r *flavormonk.Recipe, n int) string {
	var items []string
	for _, ing := range r.Ingredients {
		if ing.Item == "" || len(items) == n {
			continue
		}
		items = append(items, ing.Item)
	}
	return strings.Join(items, ", ")
}

func orList(xs []string) string {
	switch len(xs) {
	case 0:
		return "nothing we know of"
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}
