package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserAsk asks the Monk on the chat page: the streamed answer
// appears, cites recipes, and the citation links open those recipes.
func TestBrowserAsk(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	m := startMain(t, testConfig(t, nil))
	ctx := browser(t)
	must := func(err error) { t.Helper(); mustOK(t, err) }

	must(chromedp.Do(ctx,
		chromedp.Navigate(m.URL()+"/ask"),
		chromedp.WaitVisible(`#question`),
		chromedp.SendKeys(`#question`, "How do I make the red lentil dal for 8 people?"),
		chromedp.Click(`#ask-send`),
		chromedp.WaitVisible(`.answer.done`),
	))
	answer := textOf(t, ctx, `.answer-text`)
	if !strings.Contains(answer, "for 8") || !strings.Contains(answer, "[1]") {
		t.Fatalf("answer %q", answer)
	}
	cite := textOf(t, ctx, `.citations a`)
	meta := textOf(t, ctx, `#ask-meta`)
	if !strings.Contains(meta, "offline") {
		t.Fatalf("meta %q does not say who answered", meta)
	}
	must(chromedp.Do(ctx, chromedp.Click(`.citations a`), chromedp.WaitVisible(`article.recipe h1`)))
	name := textOf(t, ctx, `article.recipe h1`)
	if !strings.Contains(cite, name) {
		t.Fatalf("citation %q opened %q", cite, name)
	}
	t.Logf("answer of %d bytes, citation %q opened %q", len(answer), cite, name)
}
