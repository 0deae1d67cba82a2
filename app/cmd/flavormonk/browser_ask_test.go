package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flavormonk/flavormonk/app/inference/openaitest"
	"github.com/flavormonk/flavormonk/app/inference/script"
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

// TestBrowserAskStreamsFromAModel: with an OpenAI-compatible endpoint, the
// answer appears piece by piece (text shows before the stream is done) and
// its citation opens the recipe.
func TestBrowserAskStreamsFromAModel(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	srv := openaitest.New(openaitest.Options{Answer: scripted, Timing: script.Timing{FirstToken: 50 * time.Millisecond, Interval: 40 * time.Millisecond}})
	defer srv.Close()
	m := startMain(t, testConfig(t, map[string]string{"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": srv.URL()}))
	ctx := browser(t)
	must := func(err error) { t.Helper(); mustOK(t, err) }
	must(chromedp.Do(ctx,
		chromedp.Navigate(m.URL()+"/ask"),
		chromedp.WaitVisible(`#question`),
		chromedp.SendKeys(`#question`, dalQuestion),
		chromedp.Click(`#ask-send`),
		chromedp.WaitVisible(`.answer-text`),
	))
	// Part of the answer is on the page while the stream is still open.
	var partial string
	for i := 0; i < 200 && partial == ""; i++ {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function(){var a=document.querySelector('.answer');return a&&!a.classList.contains('done')?a.querySelector('.answer-text').textContent:''})()`))
		must(err)
		partial = v
		time.Sleep(10 * time.Millisecond)
	}
	if partial == "" || partial == scripted {
		t.Fatalf("no partial answer seen before the end (saw %q)", partial)
	}
	must(chromedp.Do(ctx, chromedp.WaitVisible(`.answer.done`)))
	if got := textOf(t, ctx, `.answer-text`); got != scripted {
		t.Fatalf("answer %q", got)
	}
	if meta := textOf(t, ctx, `#ask-meta`); !strings.Contains(meta, "openai") {
		t.Fatalf("meta %q", meta)
	}
	must(chromedp.Do(ctx, chromedp.Click(`.citations a`), chromedp.WaitVisible(`article.recipe h1`)))
	if name := textOf(t, ctx, `article.recipe h1`); name != "Everyday Red Lentil Dal" {
		t.Fatalf("citation opened %q", name)
	}
	t.Logf("partial answer seen mid-stream: %q", partial)
}

// TestBrowserAskShowsProviderFailure: when every provider fails, the chat
// page shows the error message instead of hanging or showing nothing.
func TestBrowserAskShowsProviderFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	srv := openaitest.New(openaitest.Options{Answer: scripted})
	defer srv.Close()
	srv.Inject(script.Fault{Kind: script.HTTP500})
	m := startMain(t, testConfig(t, map[string]string{"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": srv.URL(), "FLAVORMONK_INFERENCE_RETRIES": "0"}))
	ctx := browser(t)
	mustOK(t, chromedp.Do(ctx,
		chromedp.Navigate(m.URL()+"/ask"),
		chromedp.WaitVisible(`#question`),
		chromedp.SendKeys(`#question`, dalQuestion),
		chromedp.Click(`#ask-send`),
		chromedp.WaitVisible(`.answer.failed .error`),
	))
	if msg := textOf(t, ctx, `.answer.failed .error`); !strings.Contains(msg, "try again") {
		t.Fatalf("error shown: %q", msg)
	}
	// The form is usable again for the next question.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitEnabled(`#ask-send`)); err != nil {
		t.Fatalf("the send button stays disabled after a failed answer: %v", err)
	}
}
