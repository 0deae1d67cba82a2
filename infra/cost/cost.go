// Package cost estimates the monthly cost of a phase's machines and services.
//
// It knows nothing about the rest of the infra program: Items go in, an
// Estimate comes out. Prices come from the clouds' own APIs where they price a
// thing (Hetzner's /pricing and /server_types through hcloud-go; DigitalOcean's
// /v2/sizes through godo, droplets only) and from a dated snapshot embedded in
// the package (snapshot.json) otherwise. Every line names its source and date.
// Hetzner prices are EUR (net of VAT), DigitalOcean's USD: an Estimate covers
// one cloud and one currency, and the two are never added together.
package cost

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"unicode/utf8"
)

// Currency is an ISO 4217 code.
type Currency string

// Currencies of the supported clouds. They are never added together.
const (
	EUR Currency = "EUR" // Hetzner
	USD Currency = "USD" // DigitalOcean
)

// Cloud names, as the stack config spells them.
const (
	Hetzner      = "hetzner"
	DigitalOcean = "digitalocean"
)

// Item is one thing that costs (or may cost) money every month.
//
// Role says what it is for: "app", "db", "redis", "chroma", "lb",
// "volume:db-data", "volume:backup", "managed-postgres",
// "managed-postgres-standby", "managed-valkey", "managed-valkey-standby",
// "doks-node", "doks-control-plane", "ipv4", ...
// Kind is the server type / size slug ("cx23", "s-2vcpu-4gb",
// "db-s-1vcpu-2gb"), a load balancer type ("lb11"; on DigitalOcean "lb", one
// Count per node), "volume" (with GB), "ipv4", "doks-ha-control-plane", or a
// free resource ("network", "firewall", "vpc", ...).
type Item struct {
	Role  string
	Kind  string
	Count int
	GB    int // volumes: size of one volume in GB
}

// Line is a priced Item.
type Line struct {
	Item
	UnitMonthly float64 // per unit (per GB for volumes)
	Monthly     float64 // UnitMonthly × Count (× GB), rounded to cents
	Currency    Currency
	Source      string // "hcloud API 2026-11-27" | "DigitalOcean API 2026-11-27" | "snapshot 2026-11-01"
}

// Estimate is the monthly cost of a set of Items on one cloud in one region.
type Estimate struct {
	Cloud    string
	Region   string
	Lines    []Line
	Total    float64
	Currency Currency
	Warnings []string
	// Budget, when > 0, is the monthly budget in Currency; Table compares the
	// total with it. The caller sets it (Over does not).
	Budget float64
}

// Pricer prices Items for one cloud and region.
type Pricer interface {
	Price(ctx context.Context, cloud, region string, items []Item) (*Estimate, error)
}

// Over reports whether the total exceeds budget (in the estimate's currency).
// A budget ≤ 0 means "no budget" and is never exceeded.
func (e *Estimate) Over(budget float64) bool {
	if e == nil || budget <= 0 {
		return false
	}
	return round2(e.Total) > round2(budget)
}

// Table writes the estimate as a table: one row per line with its source and
// date, the total with its currency, the budget comparison when Budget is set,
// and the warnings.
func (e *Estimate) Table(w io.Writer) {
	if e == nil {
		return
	}
	note := ""
	if e.Cloud == Hetzner {
		note = ", net of VAT"
	}
	fmt.Fprintf(w, "Monthly cost: %s %s (%s%s)\n", cloudTitle(e.Cloud), e.Region, e.Currency, note)
	rows := [][]string{{"ROLE", "KIND", "QTY", "UNIT/MO", "MONTHLY", "SOURCE"}}
	for _, l := range e.Lines {
		qty := fmt.Sprintf("%d", l.Count)
		unit := money(l.UnitMonthly)
		if l.GB > 0 {
			qty = fmt.Sprintf("%d x %dGB", l.Count, l.GB)
			unit = fmt.Sprintf("%.4f/GB", l.UnitMonthly)
		}
		rows = append(rows, []string{l.Role, l.Kind, qty, unit, money(l.Monthly), l.Source})
	}
	rows = append(rows, []string{"TOTAL", "", "", "", money(e.Total), string(e.Currency)})
	width := make([]int, 6)
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		// role, kind left-aligned; numbers right-aligned; source left-aligned.
		line := fmt.Sprintf("%-*s  %-*s  %*s  %*s  %*s  %s",
			width[0], r[0], width[1], r[1], width[2], r[2], width[3], r[3], width[4], r[4], r[5])
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	if e.Budget > 0 {
		if e.Over(e.Budget) {
			fmt.Fprintf(w, "Budget: %s %s — OVER by %s %s\n", money(e.Budget), e.Currency, money(e.Total-e.Budget), e.Currency)
		} else {
			fmt.Fprintf(w, "Budget: %s %s — within (%s %s left)\n", money(e.Budget), e.Currency, money(e.Budget-e.Total), e.Currency)
		}
	}
	for _, warn := range e.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}

func money(v float64) string { return fmt.Sprintf("%.2f", round2(v)) }

func round2(v float64) float64 { return math.Round(v*100) / 100 }

func cloudTitle(cloud string) string {
	switch cloud {
	case Hetzner:
		return "Hetzner Cloud"
	case DigitalOcean:
		return "DigitalOcean"
	}
	return cloud
}

// category is what an Item is, for pricing purposes.
type category int

const (
	catServer category = iota // Hetzner server type / DO droplet size (incl. DOKS nodes)
	catLB
	catVolume
	catIPv4
	catPostgres
	catPostgresStandby
	catValkey
	catValkeyStandby
	catDOKSControlPlane
	catFree
)

func normalizeCloud(cloud string) (string, error) {
	c := strings.ToLower(strings.TrimSpace(cloud))
	switch c {
	case Hetzner, DigitalOcean:
		return c, nil
	}
	return "", fmt.Errorf("cost: unknown cloud %q (allowed: %s, %s)", cloud, Hetzner, DigitalOcean)
}

func normalizeItem(it Item) Item {
	it.Role = strings.TrimSpace(it.Role)
	it.Kind = strings.ToLower(strings.TrimSpace(it.Kind))
	return it
}

func classify(cloud string, it Item, free []string) category {
	role := strings.ToLower(it.Role)
	kind := it.Kind
	switch {
	case kind == "volume" || strings.HasPrefix(role, "volume"):
		return catVolume
	case strings.HasPrefix(role, "managed-postgres"):
		if strings.HasSuffix(role, "standby") {
			return catPostgresStandby
		}
		return catPostgres
	case strings.HasPrefix(role, "managed-valkey") || strings.HasPrefix(role, "managed-redis"):
		if strings.HasSuffix(role, "standby") {
			return catValkeyStandby
		}
		return catValkey
	case kind == "doks-ha-control-plane":
		return catDOKSControlPlane
	case contains(free, kind):
		return catFree
	case kind == "ipv4" || kind == "primary-ipv4" || (role == "ipv4" && kind == ""):
		if cloud == DigitalOcean {
			return catFree
		}
		return catIPv4
	case kind == "lb" || strings.HasPrefix(kind, "lb-") || (strings.HasPrefix(kind, "lb") && isDigits(kind[2:])) ||
		(role == "lb" && kind == ""):
		return catLB
	}
	return catServer
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func validateItem(it Item, cat category) error {
	if it.Count < 1 {
		return fmt.Errorf("cost: item %s (%s): count must be at least 1, got %d", it.Role, it.Kind, it.Count)
	}
	if cat == catVolume && it.GB < 1 {
		return fmt.Errorf("cost: item %s: a volume needs its size in GB, got %d", it.Role, it.GB)
	}
	return nil
}

// newLine computes a line's monthly amount.
func newLine(it Item, unit float64, cur Currency, source string) Line {
	qty := float64(it.Count)
	if it.GB > 0 {
		qty *= float64(it.GB)
	}
	return Line{Item: it, UnitMonthly: unit, Monthly: round2(unit * qty), Currency: cur, Source: source}
}

// finish totals the lines, refusing to add different currencies.
func finish(e *Estimate) (*Estimate, error) {
	total := 0.0
	for _, l := range e.Lines {
		if l.Currency != e.Currency {
			return nil, fmt.Errorf("cost: %s line %s (%s) is in %s but the estimate is in %s; currencies are never added",
				e.Cloud, l.Role, l.Kind, l.Currency, e.Currency)
		}
		total += l.Monthly
	}
	e.Total = round2(total)
	return e, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func joinOrNone(list []string) string {
	if len(list) == 0 {
		return "(none)"
	}
	return strings.Join(list, ", ")
}
