package cost

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
)

// Realistic item lists, as the plan would map them.
var (
	hetznerMVP = []Item{
		{Role: "app", Kind: "cx23", Count: 1},
		{Role: "db", Kind: "cx23", Count: 1},
		{Role: "volume:db-data", Kind: "volume", Count: 1, GB: 20},
		{Role: "volume:backup", Kind: "volume", Count: 1, GB: 20},
		{Role: "ipv4", Kind: "ipv4", Count: 2},
		{Role: "network", Kind: "network", Count: 1},
		{Role: "firewall", Kind: "firewall", Count: 1},
	}
	hetznerUpgrade = []Item{
		{Role: "app", Kind: "cx33", Count: 2},
		{Role: "db", Kind: "cx33", Count: 1},
		{Role: "redis", Kind: "cx23", Count: 1},
		{Role: "chroma", Kind: "cx23", Count: 1},
		{Role: "lb", Kind: "lb11", Count: 1},
		{Role: "volume:db-data", Kind: "volume", Count: 1, GB: 40},
		{Role: "volume:backup", Kind: "volume", Count: 1, GB: 40},
		{Role: "volume:chroma-data", Kind: "volume", Count: 1, GB: 20},
		{Role: "ipv4", Kind: "ipv4", Count: 4},
		{Role: "network", Kind: "network", Count: 1},
	}
	doMVP = []Item{
		{Role: "app", Kind: "s-1vcpu-2gb", Count: 1},
		{Role: "managed-postgres", Kind: "db-s-1vcpu-1gb", Count: 1},
		{Role: "vpc", Kind: "vpc", Count: 1},
		{Role: "firewall", Kind: "firewall", Count: 1},
	}
	doUpgrade = []Item{
		{Role: "app", Kind: "s-2vcpu-4gb", Count: 2},
		{Role: "lb", Kind: "lb", Count: 1},
		{Role: "managed-postgres", Kind: "db-s-1vcpu-2gb", Count: 1},
		{Role: "managed-valkey", Kind: "db-s-1vcpu-1gb", Count: 1},
		{Role: "chroma", Kind: "s-2vcpu-4gb", Count: 1},
		{Role: "volume:chroma-data", Kind: "volume", Count: 1, GB: 20},
		{Role: "vpc", Kind: "vpc", Count: 1},
	}
)

func near(a, b float64) bool { return math.Abs(a-b) < 0.005 }

// checkEstimate checks the invariants every estimate keeps: one currency,
// total = sum of lines, every line dated.
func checkEstimate(t *testing.T, e *Estimate, cloud string, cur Currency) {
	t.Helper()
	if e.Cloud != cloud || e.Currency != cur {
		t.Fatalf("estimate is %s/%s, want %s/%s", e.Cloud, e.Currency, cloud, cur)
	}
	sum := 0.0
	for _, l := range e.Lines {
		if l.Currency != cur {
			t.Errorf("line %s in %s, estimate in %s", l.Role, l.Currency, cur)
		}
		if l.Source == "" || !strings.Contains(l.Source, "2026-11-") {
			t.Errorf("line %s has no dated source: %q", l.Role, l.Source)
		}
		sum += l.Monthly
	}
	if !near(sum, e.Total) {
		t.Errorf("total %.2f, sum of lines %.2f", e.Total, sum)
	}
}

func line(t *testing.T, e *Estimate, role string) Line {
	t.Helper()
	for _, l := range e.Lines {
		if l.Role == role {
			return l
		}
	}
	t.Fatalf("no line for role %q", role)
	return Line{}
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error containing %q, got nil", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func TestSnapshotFile(t *testing.T) {
	s, err := loadSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	if s.AsOf != "2026-11-01" || SnapshotDate() != "2026-11-01" {
		t.Errorf("as_of = %q", s.AsOf)
	}
	if len(s.Notes) == 0 || !strings.Contains(strings.Join(s.Notes, " "), "refresh") {
		t.Error("snapshot notes must say the figures are list prices to be refreshed")
	}
	current := []string{"cx23", "cx33", "cx43", "cx53", "cpx12", "cpx22", "cpx32", "cpx42", "cpx52", "cpx62",
		"cax11", "cax21", "cax31", "cax41", "ccx13", "ccx23", "ccx33", "ccx43", "ccx53", "ccx63"}
	for _, k := range current {
		st, ok := s.Hetzner.ServerTypes[k]
		if !ok || st.Monthly["eu"] <= 0 {
			t.Errorf("snapshot lacks an EU price for current type %s", k)
		}
	}
	for _, k := range []string{"cx22", "cx32", "cx42", "cx52", "cpx11", "cpx21", "cpx31", "cpx41", "cpx51"} {
		r, ok := s.Hetzner.Retired[k]
		if !ok {
			t.Errorf("snapshot does not mark %s retired", k)
			continue
		}
		if _, ok := s.Hetzner.ServerTypes[k]; ok {
			t.Errorf("retired %s still has a price", k)
		}
		if _, ok := s.Hetzner.ServerTypes[r.Replacement]; !ok {
			t.Errorf("replacement %s of %s is not a current type", r.Replacement, k)
		}
	}
	pg := s.DigitalOcean.ManagedPostgres
	if pg["db-s-1vcpu-1gb"].Monthly != 15 || pg["db-s-1vcpu-2gb"].Monthly != 30 || pg["db-s-2vcpu-4gb"].Monthly != 60 {
		t.Errorf("managed postgres prices: %+v", pg)
	}
	if s.DigitalOcean.LoadBalancerNode != 12 || s.DigitalOcean.VolumePerGBMonth != 0.10 || s.DigitalOcean.DOKSHAControlPlane != 40 {
		t.Error("DigitalOcean LB / volume / DOKS HA snapshot figures changed")
	}
}

func TestSnapshotHetzner(t *testing.T) {
	ctx := context.Background()
	e, err := Snapshot().Price(ctx, "hetzner", "fsn1", hetznerMVP)
	if err != nil {
		t.Fatal(err)
	}
	checkEstimate(t, e, Hetzner, EUR)
	// 3.99 + 3.99 + 20×0.057 + 20×0.057 + 2×0.50
	if !near(e.Total, 11.26) {
		t.Errorf("mvp total = %.2f, want 11.26", e.Total)
	}
	for _, l := range e.Lines {
		if l.Source != "snapshot 2026-11-01" {
			t.Errorf("line %s source %q", l.Role, l.Source)
		}
	}
	if len(e.Warnings) == 0 || !strings.Contains(e.Warnings[0], "snapshot") {
		t.Errorf("warnings = %q", e.Warnings)
	}

	up, err := Snapshot().Price(ctx, "hetzner", "nbg1", hetznerUpgrade)
	if err != nil {
		t.Fatal(err)
	}
	checkEstimate(t, up, Hetzner, EUR)
	// 2×6.49 + 6.49 + 3.99 + 3.99 + 6.49 + 40×0.057×2 + 20×0.057 + 4×0.50
	if !near(up.Total, 12.98+6.49+3.99+3.99+6.49+2.28+2.28+1.14+2.00) {
		t.Errorf("upgrade total = %.2f", up.Total)
	}
	if up.Total <= e.Total {
		t.Error("upgrade should cost more than mvp")
	}

	// US location: cx types are not offered there.
	_, err = Snapshot().Price(ctx, "hetzner", "ash", hetznerMVP)
	wantErr(t, err, `"cx23"`, "ash", "cpx22", "ccx13")
	if strings.Contains(err.Error(), "cax11") {
		t.Errorf("error lists a type not offered in ash: %v", err)
	}
}

func TestSnapshotDigitalOcean(t *testing.T) {
	ctx := context.Background()
	e, err := Snapshot().Price(ctx, "digitalocean", "fra1", doMVP)
	if err != nil {
		t.Fatal(err)
	}
	checkEstimate(t, e, DigitalOcean, USD)
	if !near(e.Total, 27) {
		t.Errorf("mvp total = %.2f, want 27", e.Total)
	}
	up, err := Snapshot().Price(ctx, "digitalocean", "fra1", doUpgrade)
	if err != nil {
		t.Fatal(err)
	}
	checkEstimate(t, up, DigitalOcean, USD)
	// 2×24 + 12 + 30 + 15 + 24 + 20×0.10
	if !near(up.Total, 131) {
		t.Errorf("upgrade total = %.2f, want 131", up.Total)
	}
	if l := line(t, up, "volume:chroma-data"); !near(l.Monthly, 2) || l.UnitMonthly != 0.10 {
		t.Errorf("volume line %+v", l)
	}

	// Scale-like items: DOKS nodes as droplets, HA control plane, standby nodes.
	scale, err := Snapshot().Price(ctx, "digitalocean", "nyc3", []Item{
		{Role: "doks-node", Kind: "s-2vcpu-4gb", Count: 3},
		{Role: "doks-control-plane", Kind: "doks-ha-control-plane", Count: 1},
		{Role: "managed-postgres", Kind: "db-s-2vcpu-4gb", Count: 1},
		{Role: "managed-postgres-standby", Kind: "db-s-2vcpu-4gb", Count: 1},
		{Role: "managed-valkey", Kind: "db-s-1vcpu-2gb", Count: 1},
		{Role: "managed-valkey-standby", Kind: "db-s-1vcpu-2gb", Count: 1},
		{Role: "lb", Kind: "lb", Count: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !near(scale.Total, 72+40+60+60+30+30+24) {
		t.Errorf("scale total = %.2f", scale.Total)
	}
}

func TestSnapshotErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name        string
		cloud, reg  string
		items       []Item
		errContains []string
	}{
		{name: "retired cx22", cloud: "hetzner", reg: "fsn1", items: []Item{{Role: "app", Kind: "cx22", Count: 1}},
			errContains: []string{`"cx22"`, "retired", "cx23", "fsn1", "cpx22", "cax11"}},
		{name: "retired cpx21", cloud: "hetzner", reg: "fsn1", items: []Item{{Role: "db", Kind: "CPX21", Count: 1}},
			errContains: []string{`"cpx21"`, "retired", "use cpx22"}},
		{name: "unknown hetzner type", cloud: "hetzner", reg: "hel1", items: []Item{{Role: "app", Kind: "cx99", Count: 1}},
			errContains: []string{`"cx99"`, "hel1", "cx23", "ccx63"}},
		{name: "unknown location", cloud: "hetzner", reg: "ber1", items: hetznerMVP,
			errContains: []string{`"ber1"`, "fsn1", "nbg1", "hel1"}},
		{name: "unknown lb type", cloud: "hetzner", reg: "fsn1", items: []Item{{Role: "lb", Kind: "lb99", Count: 1}},
			errContains: []string{`"lb99"`, "lb11", "lb21", "lb31"}},
		{name: "managed db on hetzner", cloud: "hetzner", reg: "fsn1", items: []Item{{Role: "managed-postgres", Kind: "db-s-1vcpu-1gb", Count: 1}},
			errContains: []string{"not offered on Hetzner"}},
		{name: "unknown droplet", cloud: "digitalocean", reg: "fra1", items: []Item{{Role: "app", Kind: "s-3vcpu-9gb", Count: 1}},
			errContains: []string{`"s-3vcpu-9gb"`, "fra1", "s-1vcpu-2gb", "s-2vcpu-4gb"}},
		{name: "unknown DO region", cloud: "digitalocean", reg: "mars1", items: doMVP,
			errContains: []string{`"mars1"`, "fra1", "nyc3"}},
		{name: "unknown pg size", cloud: "digitalocean", reg: "fra1", items: []Item{{Role: "managed-postgres", Kind: "db-s-9vcpu-1tb", Count: 1}},
			errContains: []string{`"db-s-9vcpu-1tb"`, "db-s-1vcpu-1gb", "db-s-2vcpu-4gb"}},
		{name: "standby on smallest plan", cloud: "digitalocean", reg: "fra1", items: []Item{{Role: "managed-postgres-standby", Kind: "db-s-1vcpu-1gb", Count: 1}},
			errContains: []string{"cannot have standby"}},
		{name: "volume without size", cloud: "digitalocean", reg: "fra1", items: []Item{{Role: "volume:data", Kind: "volume", Count: 1}},
			errContains: []string{"volume:data", "GB"}},
		{name: "zero count", cloud: "hetzner", reg: "fsn1", items: []Item{{Role: "app", Kind: "cx23"}},
			errContains: []string{"app", "count"}},
		{name: "unknown cloud", cloud: "aws", reg: "us-east-1", items: doMVP,
			errContains: []string{`"aws"`, "hetzner", "digitalocean"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Snapshot().Price(ctx, c.cloud, c.reg, c.items)
			wantErr(t, err, c.errContains...)
		})
	}
}

func TestNeverMixCurrencies(t *testing.T) {
	e := &Estimate{Cloud: Hetzner, Currency: EUR, Lines: []Line{
		{Item: Item{Role: "app", Kind: "cx23", Count: 1}, Monthly: 3.99, Currency: EUR},
		{Item: Item{Role: "app", Kind: "s-1vcpu-2gb", Count: 1}, Monthly: 12, Currency: USD},
	}}
	_, err := finish(e)
	wantErr(t, err, "USD", "EUR", "never added")
}

func TestOverAndTable(t *testing.T) {
	e, err := Snapshot().Price(context.Background(), "hetzner", "fsn1", hetznerMVP)
	if err != nil {
		t.Fatal(err)
	}
	if e.Over(20) || !e.Over(10) || e.Over(0) || e.Over(11.26) {
		t.Errorf("Over: total %.2f", e.Total)
	}
	e.Budget = 10
	var buf bytes.Buffer
	e.Table(&buf)
	want := `Monthly cost: Hetzner Cloud fsn1 (EUR, net of VAT)
ROLE            KIND           QTY    UNIT/MO  MONTHLY  SOURCE
app             cx23             1       3.99     3.99  snapshot 2026-11-01
db              cx23             1       3.99     3.99  snapshot 2026-11-01
volume:db-data  volume    1 x 20GB  0.0570/GB     1.14  snapshot 2026-11-01
volume:backup   volume    1 x 20GB  0.0570/GB     1.14  snapshot 2026-11-01
ipv4            ipv4             2       0.50     1.00  snapshot 2026-11-01
network         network          1       0.00     0.00  snapshot 2026-11-01
firewall        firewall         1       0.00     0.00  snapshot 2026-11-01
TOTAL                                            11.26  EUR
Budget: 10.00 EUR — OVER by 1.26 EUR
warning: all figures from the price snapshot of 2026-11-01 (list prices, to be refreshed), not from the cloud's API
`
	if got := buf.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}

	e.Budget = 50
	buf.Reset()
	e.Table(&buf)
	if !strings.Contains(buf.String(), "Budget: 50.00 EUR — within (38.74 EUR left)") {
		t.Errorf("table:\n%s", buf.String())
	}
}
