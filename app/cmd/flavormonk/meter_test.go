package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
	metering "github.com/flavormonk/flavormonk/app/usage"
)

// TestAskIsMetered: an answer through the running app lands in the usage
// ledger and the metrics, on SQLite and Postgres.
func TestAskIsMetered(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			env := map[string]string{}
			if store == "postgres" {
				env["FLAVORMONK_STORE"], env["FLAVORMONK_POSTGRES_URL"] = "postgres", servicetest.PostgresDatabase(t)
			}
			m := startMain(t, testConfig(t, env))
			vid := visitorID(t, m)
			ask := func() response {
				return do(t, "POST", m.URL()+"/api/v1/ask", strings.NewReader(`{"question":"How do I make red lentil dal?"}`),
					map[string]string{"Content-Type": "application/json", "Cookie": "fm_visitor=" + vid})
			}
			for range 2 { // offline answers are not cached: two calls
				if r := ask(); r.status != 200 || !strings.Contains(string(r.body), "event: done") {
					t.Fatalf("ask: %d %s", r.status, r.body)
				}
			}
			us := m.Store.(flavormonk.UsageStore)
			rows, err := us.UsageReport(t.Context(), time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			var events int64
			for _, r := range rows {
				if r.Visitor != metering.VisitorKey(vid) || r.UserID != 0 || r.CostMicros != 0 {
					t.Errorf("ledger row %+v: want a visitor's free offline answer", r)
				}
				if r.Provider != "offline" {
					t.Errorf("ledger row %+v: want the offline provider", r)
				}
				events += r.Events
			}
			if events != 2 {
				t.Fatalf("ledger = %+v; want 2 events", rows)
			}
			met := get(t, "http://"+m.MetricsAddr()+"/metrics")
			if !strings.Contains(string(met.body), `flavormonk_usage_tokens_total{direction="out",model="recipes",provider="offline"}`) {
				t.Fatalf("metrics lack the usage counters:\n%s", met.body)
			}
		})
	}
}

// TestAskOverQuota: with a price on the offline model and no allowance for
// visitors, the API refuses before the stream starts: 429 quota_exceeded.
func TestAskOverQuota(t *testing.T) {
	m := startMain(t, testConfig(t, map[string]string{
		"FLAVORMONK_PRICES":         "offline/*=in:1,out:1",
		"FLAVORMONK_QUOTA_ANON_USD": "0",
	}))
	r := do(t, "POST", m.URL()+"/api/v1/ask", strings.NewReader(`{"question":"How do I make red lentil dal?"}`),
		map[string]string{"Content-Type": "application/json", "Cookie": "fm_visitor=" + visitorID(t, m)})
	e := decode[apiError](t, r)
	if r.status != 429 || e.Error.Code != flavormonk.EQUOTA || !strings.Contains(e.Error.Message, "resets on") {
		t.Fatalf("ask over the allowance: %d %s", r.status, r.body)
	}
	if _, res, _ := m.Store.(flavormonk.UsageStore).Spent(t.Context(), flavormonk.ScopeBudget, flavormonk.UsagePeriod(time.Now())); res != 0 {
		t.Fatalf("a refused reservation holds %d", res)
	}
	met := get(t, "http://"+m.MetricsAddr()+"/metrics")
	if !strings.Contains(string(met.body), `flavormonk_usage_rejections_total{code="quota_exceeded"} 1`) {
		t.Fatalf("rejection not counted:\n%s", met.body)
	}
}

// visitorID gets a visitor session cookie from the site.
func visitorID(t *testing.T, m *Main) string {
	t.Helper()
	r := get(t, m.URL()+"/")
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "fm_visitor" {
			return c.Value
		}
	}
	t.Fatalf("no visitor cookie in %v", r.header)
	return ""
}

func TestMeterConfig(t *testing.T) {
	c, err := config.Parse(func(k string) (string, bool) {
		v, ok := map[string]string{"FLAVORMONK_PRICES": "openai/gpt-4o-mini=in:1,out:2", "FLAVORMONK_QUOTA_CHEF_USD": "unlimited",
			"FLAVORMONK_INFERENCE_TIMEOUT": "10m"}[k]
		return v, ok
	}, os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := meterConfig(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Budget != 5_000_000 || cfg.Quotas[""] != 50_000 || cfg.Quotas[flavormonk.PlanFree] != 250_000 ||
		cfg.Quotas[flavormonk.PlanChef] != flavormonk.NoLimit || cfg.Hold != 20*time.Minute || cfg.MaxCall != 10*time.Minute {
		t.Fatalf("meterConfig = %+v", cfg)
	}
	if p, ok := cfg.Prices.Lookup("openai", "gpt-4o-mini"); !ok || p.In != 1_000_000 {
		t.Fatalf("price override not applied: %+v", p)
	}
}
