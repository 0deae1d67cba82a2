package offline

import (
	"context"
	"errors"
	"strings"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

func dal() *flavormonk.Recipe {
	return &flavormonk.Recipe{ID: "dal", Name: "Red Lentil Dal", Servings: 4, PrepMinutes: 10, CookMinutes: 25,
		Ingredients: []flavormonk.Ingredient{{Text: "1 cup red lentils", Quantity: 1, Unit: "cup", Item: "red lentils"}, {Text: "2 tbsp butter", Quantity: 2, Unit: "tbsp", Item: "butter"}}}
}

func stream(t *testing.T, ctx context.Context, req flavormonk.ChatRequest) (string, flavormonk.Usage, error) {
	t.Helper()
	var b strings.Builder
	u, err := Provider{}.Stream(ctx, req, func(s string) error { b.WriteString(s); return nil })
	return b.String(), u, err
}

// The Provider contract, as far as it applies without a model: the answer
// is labelled and streamed in pieces, costs nothing, an emit error aborts
// and is returned as is, a cancelled context stops it.
func TestProviderContract(t *testing.T) {
	ctx := context.Background()
	req := flavormonk.ChatRequest{Sources: []flavormonk.Source{{N: 1, Recipe: dal(), Servings: 8}}}
	text, u, err := stream(t, ctx, req)
	if err != nil || !strings.HasPrefix(text, Label) || u != (flavormonk.Usage{}) {
		t.Fatalf("%q %+v %v", text, u, err)
	}
	if !strings.Contains(text, "for 8 (the recipe serves 4)") || !strings.Contains(text, "2 cup") || !strings.Contains(text, "[1]") {
		t.Fatalf("not scaled from the parsed data, or not cited:\n%s", text)
	}
	pieces := 0
	stop := errors.New("client gone")
	_, err = Provider{}.Stream(ctx, req, func(string) error {
		pieces++
		if pieces == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || pieces != 2 {
		t.Fatalf("emit error: %v after %d pieces", err, pieces)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := stream(t, cctx, req); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	// Continuing another provider's answer starts on a new paragraph.
	if text, _, _ := stream(t, ctx, flavormonk.ChatRequest{Continue: "Preheat the", Sources: req.Sources}); !strings.HasPrefix(text, "\n\n"+Label) {
		t.Fatalf("continuation %q", text)
	}
}

func TestComposeKinds(t *testing.T) {
	r := dal()
	swap := Compose([]flavormonk.Source{{N: 1, Recipe: r, Swap: &flavormonk.Substitution{Item: "butter", Options: []string{"olive oil", "ghee"}}}})
	timing := Compose([]flavormonk.Source{{N: 1, Recipe: r, Timing: true}})
	list := Compose([]flavormonk.Source{{N: 1, Recipe: r}, {N: 2, Recipe: &flavormonk.Recipe{ID: "x", Name: "Other Soup"}}})
	none := Compose(nil)
	for _, c := range []struct{ got, want string }{
		{swap, "instead of butter you can use olive oil or ghee"},
		{timing, "10 min to prepare and 25 min to cook, 35 min in all"},
		{list, "2. **Other Soup** [2]"},
		{none, "could not find a recipe"},
	} {
		if !strings.Contains(c.got, c.want) {
			t.Errorf("want %q in:\n%s", c.want, c.got)
		}
	}
}

func TestChunkKeepsUTF8(t *testing.T) {
	s := strings.Repeat("é", 40)
	for len(s) > 0 {
		n := chunk(s, 24)
		if n == 0 || !strings.HasPrefix(s, s[:n]) || !utf8Valid(s[:n]) {
			t.Fatalf("bad chunk %q", s[:n])
		}
		s = s[n:]
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
