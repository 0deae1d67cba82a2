package cost

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestLiveHetzner(t *testing.T) {
	api := newFakeHetzner(t)
	p := Live(fakeHcloudToken, "", testOpts(api.URL, "")...)
	ctx := context.Background()

	e, err := p.Price(ctx, "hetzner", "fsn1", hetznerMVP)
	if err != nil {
		t.Fatal(err)
	}
	checkEstimate(t, e, Hetzner, EUR)
	// live: 3.79 + 3.79 + 20×0.05 + 20×0.05 + 2×0.60
	if !near(e.Total, 10.78) {
		t.Errorf("mvp total = %.2f, want 10.78", e.Total)
	}
	for _, role := range []string{"app", "db", "volume:db-data", "volume:backup", "ipv4"} {
		if l := line(t, e, role); l.Source != "hcloud API 2026-11-27" {
			t.Errorf("%s source = %q, want the live API", role, l.Source)
		}
	}
	if l := line(t, e, "app"); l.UnitMonthly != 3.79 {
		t.Errorf("app unit price %.4f, want the API's net 3.79", l.UnitMonthly)
	}
	// Free items come from the snapshot and say so.
	if l := line(t, e, "network"); l.Source != "snapshot 2026-11-01" || l.Monthly != 0 {
		t.Errorf("network line %+v", l)
	}

	up, err := p.Price(ctx, "hetzner", "fsn1", hetznerUpgrade)
	if err != nil {
		t.Fatal(err)
	}
	checkEstimate(t, up, Hetzner, EUR)
	// 2×6.29 + 6.29 + 3.79 + 3.79 + 5.89 + 40×0.05×2 + 20×0.05 + 4×0.60
	if !near(up.Total, 39.74) {
		t.Errorf("upgrade total = %.2f, want 39.74", up.Total)
	}
	if l := line(t, up, "lb"); l.Source != "hcloud API 2026-11-27" || l.UnitMonthly != 5.89 {
		t.Errorf("lb line %+v", l)
	}
	// The API answers are cached for the pricer's lifetime.
	if n := api.count("/pricing"); n != 1 {
		t.Errorf("GET /pricing called %d times, want 1", n)
	}
	if n := api.count("/server_types"); n != 2 { // two pages
		t.Errorf("GET /server_types called %d times, want 2 (one per page)", n)
	}

	// Errors name the kind, the location and what is available there.
	_, err = p.Price(ctx, "hetzner", "hel1", []Item{{Role: "app", Kind: "cx33", Count: 2}})
	wantErr(t, err, `"cx33"`, "hel1", "not available", "cx23", "cpx22")
	_, err = p.Price(ctx, "hetzner", "ash", []Item{{Role: "app", Kind: "cax11", Count: 1}})
	wantErr(t, err, `"cax11"`, "not offered in ash", "cpx22", "ccx13")
	_, err = p.Price(ctx, "hetzner", "fsn1", []Item{{Role: "app", Kind: "cx22", Count: 1}})
	wantErr(t, err, `"cx22"`, "retired", "cx23")
	_, err = p.Price(ctx, "hetzner", "fra9", hetznerMVP)
	wantErr(t, err, `"fra9"`, "fsn1", "hil")
}

func TestLiveDigitalOcean(t *testing.T) {
	api := newFakeDO(t)
	p := Live("", fakeDOToken, testOpts("", api.URL)...)
	ctx := context.Background()

	e, err := p.Price(ctx, "digitalocean", "fra1", doMVP)
	if err != nil {
		t.Fatal(err)
	}
	checkEstimate(t, e, DigitalOcean, USD)
	if !near(e.Total, 27) {
		t.Errorf("mvp total = %.2f, want 27", e.Total)
	}
	if l := line(t, e, "app"); l.Source != "DigitalOcean API 2026-11-27" {
		t.Errorf("droplet source %q", l.Source)
	}
	if l := line(t, e, "managed-postgres"); l.Source != "snapshot 2026-11-01" || l.Monthly != 15 {
		t.Errorf("managed postgres must come from the snapshot: %+v", l)
	}
	if !strings.Contains(strings.Join(e.Warnings, "\n"), "does not price them") {
		t.Errorf("warnings should say some lines come from the snapshot: %q", e.Warnings)
	}

	up, err := p.Price(ctx, "digitalocean", "fra1", doUpgrade)
	if err != nil {
		t.Fatal(err)
	}
	checkEstimate(t, up, DigitalOcean, USD)
	// live droplets (s-2vcpu-4gb is 26 on the fake API; page 2): 2×26 + 26;
	// snapshot: lb 12, pg 30, valkey 15, volume 2.
	if !near(up.Total, 52+26+12+30+15+2) {
		t.Errorf("upgrade total = %.2f, want 137", up.Total)
	}
	live, snap := 0, 0
	for _, l := range up.Lines {
		switch l.Source {
		case "DigitalOcean API 2026-11-27":
			live++
		case "snapshot 2026-11-01":
			snap++
		default:
			t.Errorf("unexpected source %q", l.Source)
		}
	}
	if live != 2 || snap != 5 {
		t.Errorf("live lines %d, snapshot lines %d; want 2 and 5", live, snap)
	}
	if n := api.count("/v2/sizes"); n != 2 {
		t.Errorf("GET /v2/sizes called %d times, want 2 (two pages, cached)", n)
	}

	_, err = p.Price(ctx, "digitalocean", "fra1", []Item{{Role: "app", Kind: "s-3vcpu-9gb", Count: 1}})
	wantErr(t, err, `"s-3vcpu-9gb"`, "does not exist", "fra1", "s-1vcpu-2gb", "s-4vcpu-8gb")
	_, err = p.Price(ctx, "digitalocean", "fra1", []Item{{Role: "app", Kind: "c-2", Count: 1}})
	wantErr(t, err, `"c-2"`, "not offered in fra1")
	_, err = p.Price(ctx, "digitalocean", "fra1", []Item{{Role: "app", Kind: "s-8vcpu-16gb", Count: 1}})
	wantErr(t, err, `"s-8vcpu-16gb"`, "not available")
	_, err = p.Price(ctx, "digitalocean", "sgp1", doMVP)
	wantErr(t, err, `"sgp1"`, "ams3", "fra1", "nyc3")
}

func TestLiveWithoutTokensUsesSnapshot(t *testing.T) {
	p := Live("", "", WithClock(testNow))
	for _, c := range []struct {
		cloud, region string
		items         []Item
		total         float64
	}{{"hetzner", "fsn1", hetznerMVP, 11.26}, {"digitalocean", "fra1", doMVP, 27}} {
		e, err := p.Price(context.Background(), c.cloud, c.region, c.items)
		if err != nil {
			t.Fatal(err)
		}
		if !near(e.Total, c.total) {
			t.Errorf("%s total %.2f, want %.2f", c.cloud, e.Total, c.total)
		}
		for _, l := range e.Lines {
			if l.Source != "snapshot 2026-11-01" {
				t.Errorf("%s line %s source %q", c.cloud, l.Role, l.Source)
			}
		}
		if !strings.Contains(e.Warnings[0], "no ") || !strings.Contains(e.Warnings[0], "token") {
			t.Errorf("warnings %q", e.Warnings)
		}
	}
}

func TestLiveAPIDown(t *testing.T) {
	ctx := context.Background()
	for name, url := range map[string]string{
		"503":    downServer(t, http.StatusServiceUnavailable).URL,
		"closed": closedURL(t),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Live(fakeHcloudToken, "", testOpts(url, "")...).Price(ctx, "hetzner", "fsn1", hetznerMVP)
			wantErr(t, err, "Hetzner Cloud API")
			_, err = Live("", fakeDOToken, testOpts("", url)...).Price(ctx, "digitalocean", "fra1", doMVP)
			wantErr(t, err, "DigitalOcean API", "/v2/sizes")

			// With the fallback option, the snapshot answers and says why.
			e, err := Live(fakeHcloudToken, "", append(testOpts(url, ""), WithSnapshotFallback())...).
				Price(ctx, "hetzner", "fsn1", hetznerMVP)
			if err != nil {
				t.Fatal(err)
			}
			if !near(e.Total, 11.26) || !strings.Contains(e.Warnings[0], "live pricing failed") {
				t.Errorf("fallback estimate %.2f, warnings %q", e.Total, e.Warnings)
			}
		})
	}
}

func TestLiveBadToken(t *testing.T) {
	api := newFakeHetzner(t)
	_, err := Live("wrong", "", testOpts(api.URL, "")...).Price(context.Background(), "hetzner", "fsn1", hetznerMVP)
	wantErr(t, err, "Hetzner Cloud API", "unauthorized")
}

func TestPreflight(t *testing.T) {
	ctx := context.Background()
	h := newFakeHetzner(t)
	d := newFakeDO(t)
	opts := testOpts(h.URL, d.URL)

	if err := Preflight(ctx, fakeHcloudToken, "", "hetzner", "fsn1", []string{"cx23", "cx33", "lb11", "volume", "network"}, opts...); err != nil {
		t.Errorf("valid hetzner kinds: %v", err)
	}
	if err := Preflight(ctx, "", fakeDOToken, "digitalocean", "fra1", []string{"s-1vcpu-2gb", "s-2vcpu-4gb", "db-s-1vcpu-1gb", "lb", "volume"}, opts...); err != nil {
		t.Errorf("valid DO kinds: %v", err)
	}

	// Retired type: refused, naming current alternatives.
	err := Preflight(ctx, fakeHcloudToken, "", "hetzner", "fsn1", []string{"cx22"}, opts...)
	wantErr(t, err, "preflight", `"cx22"`, "retired", "use cx23", "fsn1", "cpx22")
	if strings.Contains(err.Error(), "cx22,") {
		t.Errorf("alternatives must not list the retired type: %v", err)
	}
	// Type the API marks deprecated even without the snapshot's say-so.
	err = Preflight(ctx, fakeHcloudToken, "", "hetzner", "ash", []string{"cpx11"}, opts...)
	wantErr(t, err, `"cpx11"`, "retired")
	// Available elsewhere, not in this location.
	err = Preflight(ctx, fakeHcloudToken, "", "hetzner", "hel1", []string{"cx23", "cx33"}, opts...)
	wantErr(t, err, `"cx33"`, "not available in hel1", "available in hel1", "cx23")
	err = Preflight(ctx, fakeHcloudToken, "", "hetzner", "hil", []string{"cx23", "cax11"}, opts...)
	wantErr(t, err, `"cx23"`, `"cax11"`, "not offered in hil", "cpx22", "ccx13")
	// Unknown type and unknown location.
	err = Preflight(ctx, fakeHcloudToken, "", "hetzner", "fsn1", []string{"cx99"}, opts...)
	wantErr(t, err, `"cx99"`, "does not exist", "fsn1", "cx43")
	err = Preflight(ctx, fakeHcloudToken, "", "hetzner", "ber1", []string{"cx23"}, opts...)
	wantErr(t, err, `"ber1"`, "fsn1", "ash")

	// DigitalOcean: unknown size, size elsewhere, unknown database size.
	err = Preflight(ctx, "", fakeDOToken, "digitalocean", "fra1", []string{"s-3vcpu-9gb"}, opts...)
	wantErr(t, err, `"s-3vcpu-9gb"`, "does not exist", "fra1", "s-1vcpu-1gb", "s-2vcpu-4gb")
	err = Preflight(ctx, "", fakeDOToken, "digitalocean", "fra1", []string{"c-2"}, opts...)
	wantErr(t, err, `"c-2"`, "not offered in fra1")
	err = Preflight(ctx, "", fakeDOToken, "digitalocean", "fra1", []string{"db-s-9vcpu-1tb"}, opts...)
	wantErr(t, err, `"db-s-9vcpu-1tb"`, "fra1", "db-s-1vcpu-2gb")

	// No token for the chosen cloud: nothing to check here.
	if err := Preflight(ctx, "", "", "hetzner", "fsn1", []string{"cx22"}, opts...); err != nil {
		t.Errorf("no token: %v", err)
	}
	if err := Preflight(ctx, fakeHcloudToken, "", "digitalocean", "fra1", []string{"nope"}, opts...); err != nil {
		t.Errorf("no DO token: %v", err)
	}
	wantErr(t, Preflight(ctx, "x", "y", "gcp", "x", nil), `"gcp"`)
}

func TestPreflightAPIDown(t *testing.T) {
	ctx := context.Background()
	for name, url := range map[string]string{
		"503":    downServer(t, http.StatusServiceUnavailable).URL,
		"closed": closedURL(t),
	} {
		t.Run(name, func(t *testing.T) {
			opts := testOpts(url, url)
			err := Preflight(ctx, fakeHcloudToken, "", "hetzner", "fsn1", []string{"cx23"}, opts...)
			wantErr(t, err, "preflight", "Hetzner Cloud API", "/server_types")
			err = Preflight(ctx, "", fakeDOToken, "digitalocean", "fra1", []string{"s-1vcpu-2gb"}, opts...)
			wantErr(t, err, "preflight", "DigitalOcean API", "/v2/sizes")
			err = Preflight(ctx, "", fakeDOToken, "digitalocean", "fra1", []string{"db-s-1vcpu-1gb"}, opts...)
			wantErr(t, err, "preflight", "DigitalOcean API", "/v2/databases/options")
		})
	}
	// A cancelled context is an error too, not a hang.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	h := newFakeHetzner(t)
	err := Preflight(cctx, fakeHcloudToken, "", "hetzner", "fsn1", []string{"cx23"}, testOpts(h.URL, "")...)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// hcloud-go v2.52.0 panics on a /pricing answer with primary IP prices but no
// floating IP prices; Live turns that into an error.
func TestLiveHetznerPricingShapeError(t *testing.T) {
	routes := hetznerRoutes()
	routes["/pricing"] = func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"pricing": map[string]any{
			"currency": "EUR", "vat_rate": "19.00",
			"primary_ips": []map[string]any{{"type": "ipv4", "prices": []map[string]any{}}},
		}})
	}
	api := newFake(t, fakeHcloudToken, routes)
	_, err := Live(fakeHcloudToken, "", testOpts(api.URL, "")...).Price(context.Background(), "hetzner", "fsn1", hetznerMVP)
	wantErr(t, err, "Hetzner Cloud API", "/pricing")
}
