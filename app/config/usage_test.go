package config_test

import (
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/config"
)

func TestUsageSettings(t *testing.T) {
	c, err := parse(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.BudgetMicros != 5_000_000 || c.QuotaAnonMicros != 50_000 || c.QuotaFreeMicros != 250_000 || c.QuotaChefMicros != 5_000_000 || c.Prices != "" {
		t.Fatalf("local usage defaults: budget %d, quotas %d/%d/%d, prices %q", c.BudgetMicros, c.QuotaAnonMicros, c.QuotaFreeMicros, c.QuotaChefMicros, c.Prices)
	}
	c, err = parse(t, map[string]string{
		"FLAVORMONK_BUDGET_USD":     "0",
		"FLAVORMONK_QUOTA_ANON_USD": "0",
		"FLAVORMONK_QUOTA_FREE_USD": " 0.000001 ",
		"FLAVORMONK_QUOTA_CHEF_USD": "Unlimited",
		"FLAVORMONK_PRICES":         " openai/gpt-4o-mini=in:0.2,out:0.8 ",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.BudgetMicros != flavormonk.NoLimit || c.QuotaAnonMicros != 0 || c.QuotaFreeMicros != 1 || c.QuotaChefMicros != flavormonk.NoLimit ||
		c.Prices != "openai/gpt-4o-mini=in:0.2,out:0.8" {
		t.Fatalf("parsed: budget %d, quotas %d/%d/%d, prices %q", c.BudgetMicros, c.QuotaAnonMicros, c.QuotaFreeMicros, c.QuotaChefMicros, c.Prices)
	}
	// Rendering and parsing again gives the same values.
	m := c.EnvMap()
	if m["FLAVORMONK_BUDGET_USD"] != "0" || m["FLAVORMONK_QUOTA_ANON_USD"] != "0" || m["FLAVORMONK_QUOTA_FREE_USD"] != "0.000001" || m["FLAVORMONK_QUOTA_CHEF_USD"] != config.Unlimited {
		t.Fatalf("rendered: %v", m)
	}
	again, err := parse(t, m)
	if err != nil {
		t.Fatal(err)
	}
	if again.BudgetMicros != c.BudgetMicros || again.QuotaAnonMicros != c.QuotaAnonMicros || again.QuotaFreeMicros != c.QuotaFreeMicros ||
		again.QuotaChefMicros != c.QuotaChefMicros || again.Prices != c.Prices {
		t.Fatalf("round trip changed the usage settings: %+v", again)
	}
}

func TestUsageSettingsInvalid(t *testing.T) {
	for name, val := range map[string]string{
		"FLAVORMONK_BUDGET_USD":     "-1",
		"FLAVORMONK_QUOTA_ANON_USD": "0.0000001",
		"FLAVORMONK_QUOTA_FREE_USD": "1e3",
		"FLAVORMONK_QUOTA_CHEF_USD": "1000001",
		"FLAVORMONK_PRICES":         "openai/gpt-4o-mini=in:cheap",
	} {
		_, err := parse(t, map[string]string{name: val})
		wantFieldErr(t, err, name, "")
	}
	_, err := parse(t, map[string]string{"FLAVORMONK_PRICES": "openai=free"})
	wantFieldErr(t, err, "FLAVORMONK_PRICES", "PROVIDER/MODEL")
}
