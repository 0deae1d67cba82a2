package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser, or skips (fails when services are required).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FLAVORMONK_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("FLAVORMONK_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatal("no Chromium found; `make test` installs it with scripts/deps.sh")
	}
	t.Skip("no Chromium found")
	return ""
}

func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.Flag("headless", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	return ctx
}

// A customer searches with a filter, opens a recipe, scales the servings
// and sees the quantities change.
func TestBrowserSearchOpenScale(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	m := startMain(t, testConfig(t, nil))
	ctx := browser(t)

	must := func(err error) { t.Helper(); mustOK(t, err) }
	text := func(sel string) string { t.Helper(); return textOf(t, ctx, sel) }
	location := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Location())
		must(err)
		return v
	}

	must(chromedp.Do(ctx,
		chromedp.Navigate(m.URL()+"/"),
		chromedp.WaitVisible(`#search-form input[name=q]`),
		chromedp.SendKeys(`#search-form input[name=q]`, "chicken"),
		chromedp.Click(`details.filters summary`),
		chromedp.SetValue(`select[name=max_minutes]`, "60"),
		chromedp.Click(`#search-form button[type=submit]`),
		chromedp.WaitVisible(`li.hit`),
	))
	count := text(`#result-count`)
	href := location()
	if !strings.Contains(href, "q=chicken") || !strings.Contains(href, "max_minutes=60") {
		t.Fatalf("search URL %s lacks the query or the filter", href)
	}
	n, _ := strconv.Atoi(strings.Fields(count)[0])
	if n == 0 {
		t.Fatalf("result count %q", count)
	}
	minutesText := text(`li.hit .meta span`)
	if !strings.Contains(minutesText, "min") && !strings.Contains(minutesText, "h") {
		t.Fatalf("first hit shows no time: %q", minutesText)
	}

	must(chromedp.Do(ctx, chromedp.Click(`li.hit a`), chromedp.WaitVisible(`#servings`)))
	name := text(`article.recipe h1`)
	servings, err := chromedp.Run(ctx, chromedp.Value(`#servings`))
	must(err)
	before := text(`#ingredient-list .qty`)
	must(chromedp.Do(ctx,
		chromedp.Click(`.servings button[data-step="1"]`),
		chromedp.Click(`.servings button[data-step="1"]`),
	))
	after := text(`#ingredient-list .qty`)
	url := location()
	base, _ := strconv.Atoi(servings)
	if name == "" || base == 0 {
		t.Fatalf("recipe %q with servings %q", name, servings)
	}
	if before == after {
		t.Fatalf("quantity %q did not change when scaling %d → %d servings", before, base, base+2)
	}
	if !strings.Contains(url, "servings="+strconv.Itoa(base+2)) {
		t.Fatalf("URL %s does not keep the servings", url)
	}
	// The server renders the same scaled quantity for that URL.
	must(chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(`#servings`)))
	if served := text(`#ingredient-list .qty`); served != after {
		t.Fatalf("script shows %q, server renders %q for %d servings", after, served, base+2)
	}
	if dir := os.Getenv("FLAVORMONK_TEST_SCREENSHOTS"); dir != "" {
		for _, p := range []struct{ name, path string }{{"recipe", url}, {"search", href}, {"pantry", m.URL() + "/pantry?have=eggs,rice,onion"}} {
			must(chromedp.Do(ctx, chromedp.Navigate(p.path), chromedp.WaitVisible(`footer`)))
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			must(err)
			must(os.WriteFile(filepath.Join(dir, p.name+".png"), png, 0o644))
		}
	}
	t.Logf("searched %q (%s), opened %q, %s → %s at %d servings", "chicken", count, name, before, after, base+2)
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// textOf returns the visible text of the first element matching sel.
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(sel))
	mustOK(t, err)
	return v
}
