package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// A customer signs up, favourites a recipe, logs out, logs in again and
// finds the favourite on the account page — in a real browser.
func TestBrowserAccountFavourite(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	m := startMain(t, testConfig(t, nil))
	ctx := browser(t)
	must := func(err error) { t.Helper(); mustOK(t, err) }
	text := func(sel string) string { t.Helper(); return textOf(t, ctx, sel) }
	const email, password = "cook@example.com", "a long enough password"
	must(chromedp.Do(ctx,
		chromedp.Navigate(m.URL()+"/signup"),
		chromedp.WaitVisible(`form[action="/signup"] input[name=email]`),
		chromedp.SendKeys(`form[action="/signup"] input[name=email]`, email),
		chromedp.SendKeys(`form[action="/signup"] input[name=password]`, password),
		chromedp.Click(`form[action="/signup"] button[type=submit]`),
		chromedp.WaitVisible(`form[action="/logout"]`),
	))
	// Favourite the first recipe of a search.
	must(chromedp.Do(ctx,
		chromedp.Navigate(m.URL()+"/?q=curry"),
		chromedp.WaitVisible(`li.hit a`),
		chromedp.Click(`li.hit a`),
		chromedp.WaitVisible(`p.favourite a`),
	))
	name := text(`article.recipe h1`)
	must(chromedp.Do(ctx,
		chromedp.Click(`p.favourite a`),
		chromedp.WaitVisible(`form[action$="/favourite"] button`),
		chromedp.Click(`form[action$="/favourite"] button`),
		chromedp.WaitVisible(`article.recipe`), // back on the recipe page after the POST
		chromedp.Navigate(m.URL()+"/account"),
		chromedp.WaitVisible(`form[action="/logout"]`),
	))
	if !strings.Contains(text(`main`), name) {
		t.Fatalf("account page does not list %q", name)
	}
	// Log out, log in again: the favourite is still there.
	must(chromedp.Do(ctx,
		chromedp.Click(`form[action="/logout"] button`),
		chromedp.WaitNotPresent(`form[action="/logout"]`),
		chromedp.Navigate(m.URL()+"/login"),
		chromedp.WaitVisible(`form[action="/login"] input[name=email]`),
		chromedp.SendKeys(`form[action="/login"] input[name=email]`, email),
		chromedp.SendKeys(`form[action="/login"] input[name=password]`, password),
		chromedp.Click(`form[action="/login"] button[type=submit]`),
		chromedp.WaitVisible(`form[action="/logout"]`),
	))
	if got := text(`main`); !strings.Contains(got, name) || !strings.Contains(got, email) {
		t.Fatalf("after logging in again the account page shows:\n%s", got)
	}
}
