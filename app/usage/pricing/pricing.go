// Package pricing holds what inference costs: a table of per-token and
// per-second prices by provider and model, parsed from FLAVORMONK_PRICES,
// and the cost of a call in micro-USD. It depends on nothing but the
// standard library and the root package, so the config package (and
// through it the infra program) can validate prices without pulling in
// the metering code.
//
// # Syntax
//
// Entries are separated by ';', each PROVIDER/MODEL=PRICES:
//
//		openai/gpt-4o-mini=in:0.15,out:0.60;replicate/meta/meta-llama-3-70b-instruct=in:0.65,out:2.75;ollama/*=free
//
//	  - PROVIDER is a provider's config name (openai, openai-compatible,
//	    ollama, replicate, offline, ...); MODEL is the model as configured,
//	    and may contain '/' and ':'; MODEL '*' prices every model of the
//	    provider that has no entry of its own.
//	  - PRICES is 'free', or a comma-separated list of in:USD and out:USD
//	    (per 1M input / output tokens, up to 6 decimals) and sec:USD (per
//	    second of billed compute, up to 9 decimals). Missing parts are 0.
//
// Entries add to or replace the built-in defaults (Defaults). A model
// with no entry is priced at the highest known price of each kind and
// reported as unknown: never free.
package pricing

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Price is one model's price, in fixed point so sums are exact.
type Price struct {
	In  int64 // micro-USD per 1M input tokens (USD × 1e6)
	Out int64 // micro-USD per 1M output tokens
	Sec int64 // nano-USD per second of billed compute (USD × 1e9)
}

// Defaults are the built-in prices of the default models: list prices
// (USD per 1M tokens) as published on openai.com/api/pricing and
// replicate.com/pricing, recorded 2026-11-27 (not re-checked from the
// build machines, which have no internet). They are list prices to check
// against each vendor's page and your invoices; set FLAVORMONK_PRICES to
// correct them.
const Defaults = "openai/gpt-4o-mini=in:0.15,out:0.60;" +
	"openai/gpt-4o=in:2.50,out:10.00;" +
	"openai/gpt-4.1-mini=in:0.40,out:1.60;" +
	"openai/gpt-4.1=in:2.00,out:8.00;" +
	"replicate/meta/meta-llama-3-70b-instruct=in:0.65,out:2.75;" +
	"replicate/meta/meta-llama-3-8b-instruct=in:0.05,out:0.25;" +
	"ollama/*=free;" +
	"offline/*=free"

// Limits of the syntax.
const (
	MaxSpecBytes = 64 << 10
	MaxEntries   = 1000
	maxKeyBytes  = 256
	maxUSD       = 1_000_000 // per 1M tokens or per second
)

// Table is a set of prices. The zero value is not usable; build one with
// New or Parse. A Table is immutable and safe for concurrent use.
type Table struct {
	prices map[string]Price // "provider/model" or "provider/*"
	max    Price            // the highest of each kind, for unknown models
}

// New returns the defaults with spec's entries added or replacing them.
func New(spec string) (*Table, error) {
	t, err := Parse(Defaults)
	if err != nil {
		return nil, fmt.Errorf("pricing: the built-in defaults: %w", err)
	}
	o, err := Parse(spec)
	if err != nil {
		return nil, err
	}
	for k, p := range o.prices {
		t.prices[k] = p
	}
	t.setMax()
	return t, nil
}

// Parse reads a table of spec's entries only (no defaults). Errors are
// EINVALID and name the entry at fault.
func Parse(spec string) (*Table, error) {
	if len(spec) > MaxSpecBytes {
		return nil, invalid("the price list is longer than %d bytes", MaxSpecBytes)
	}
	t := &Table{prices: map[string]Price{}}
	for i, entry := range strings.Split(spec, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if len(t.prices) == MaxEntries {
			return nil, invalid("more than %d entries", MaxEntries)
		}
		key, val, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, invalid("entry %d (%q) must be PROVIDER/MODEL=PRICES", i+1, clip(entry))
		}
		provider, model, err := parseKey(strings.TrimSpace(key))
		if err != nil {
			return nil, invalid("entry %d: %v", i+1, err)
		}
		p, err := parsePrice(strings.TrimSpace(val))
		if err != nil {
			return nil, invalid("entry %d (%s/%s): %v", i+1, provider, model, err)
		}
		k := provider + "/" + model
		if _, dup := t.prices[k]; dup {
			return nil, invalid("%s is priced twice", k)
		}
		t.prices[k] = p
	}
	t.setMax()
	return t, nil
}

func invalid(format string, args ...any) error {
	return flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_PRICES", format, args...)
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func parseKey(key string) (provider, model string, err error) {
	if len(key) > maxKeyBytes {
		return "", "", fmt.Errorf("the name is longer than %d bytes", maxKeyBytes)
	}
	provider, model, ok := strings.Cut(key, "/")
	provider = strings.ToLower(provider)
	if !ok || provider == "" || model == "" {
		return "", "", fmt.Errorf("%q must be PROVIDER/MODEL (MODEL may be *)", clip(key))
	}
	for _, r := range provider {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "", "", fmt.Errorf("provider %q may hold only letters, digits, - and _", clip(provider))
		}
	}
	if model == "*" {
		return provider, model, nil
	}
	for _, r := range model {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/@+", r)) {
			return "", "", fmt.Errorf("model %q may hold only letters, digits and - _ . : / @ +", clip(model))
		}
	}
	return provider, model, nil
}

func parsePrice(s string) (Price, error) {
	var p Price
	if strings.EqualFold(s, "free") {
		return p, nil
	}
	if s == "" {
		return p, fmt.Errorf("no price: write free, or in:USD,out:USD and/or sec:USD")
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		name, num, ok := strings.Cut(strings.TrimSpace(part), ":")
		name = strings.ToLower(strings.TrimSpace(name))
		num = strings.TrimSpace(num)
		if !ok {
			return p, fmt.Errorf("%q must be in:USD, out:USD or sec:USD", clip(part))
		}
		if seen[name] {
			return p, fmt.Errorf("%s is given twice", name)
		}
		seen[name] = true
		var err error
		switch name {
		case "in":
			p.In, err = ParseFixed(num, 6, maxUSD)
		case "out":
			p.Out, err = ParseFixed(num, 6, maxUSD)
		case "sec":
			p.Sec, err = ParseFixed(num, 9, maxUSD)
		default:
			return p, fmt.Errorf("unknown price %q; allowed: in (USD per 1M input tokens), out (per 1M output tokens), sec (per second)", clip(name))
		}
		if err != nil {
			return p, fmt.Errorf("%s: %v", name, err)
		}
	}
	return p, nil
}

// ParseFixed parses a non-negative decimal number of USD with at most
// decimals fractional digits and at most max whole units, as an integer
// scaled by 10^decimals. No signs, exponents or separators.
func ParseFixed(s string, decimals int, max int64) (int64, error) {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || (dot && frac == "") || len(frac) > decimals || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("%q is not an amount like 0.15 (at most %d decimals)", clip(s), decimals)
	}
	tooMuch := fmt.Errorf("%q is more than %d", clip(s), max)
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > max {
		return 0, tooMuch
	}
	scale := int64(math.Pow10(decimals))
	f := int64(0)
	if frac != "" {
		f, _ = strconv.ParseInt(frac+strings.Repeat("0", decimals-len(frac)), 10, 64)
	}
	// The bound is on the amount, fraction included: max.1 is over max.
	if w == max && f > 0 {
		return 0, tooMuch
	}
	return w*scale + f, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatFixed renders a fixed-point amount as ParseFixed reads it, without
// trailing zeros.
func FormatFixed(v int64, decimals int) string {
	scale := int64(math.Pow10(decimals))
	s := strconv.FormatInt(v/scale, 10)
	if f := v % scale; f != 0 {
		fs := strconv.FormatInt(f, 10)
		fs = strings.Repeat("0", decimals-len(fs)) + fs
		s += "." + strings.TrimRight(fs, "0")
	}
	return s
}

func (t *Table) setMax() {
	t.max = Price{}
	for _, p := range t.prices {
		t.max.In = max(t.max.In, p.In)
		t.max.Out = max(t.max.Out, p.Out)
		t.max.Sec = max(t.max.Sec, p.Sec)
	}
}

// Lookup returns a model's price: its own entry, else its provider's '*'
// entry, else the highest known prices with known false.
func (t *Table) Lookup(provider, model string) (p Price, known bool) {
	provider = strings.ToLower(provider)
	if p, ok := t.prices[provider+"/"+model]; ok {
		return p, true
	}
	if p, ok := t.prices[provider+"/*"]; ok {
		return p, true
	}
	return t.max, false
}

// Cost is what a call consumed, in micro-USD, rounded up per kind. An
// unknown model is priced at the highest known prices and reported with
// known false.
func (t *Table) Cost(provider, model string, u flavormonk.Usage) (micros int64, known bool) {
	p, known := t.Lookup(provider, model)
	return p.Cost(u), known
}

// Worst is the most a call can cost: inTokens of prompt, at most maxOut
// tokens of answer and, for models billed by the second, at most
// maxSeconds of compute.
func (t *Table) Worst(provider, model string, inTokens, maxOut int, maxSeconds float64) int64 {
	p, _ := t.Lookup(provider, model)
	return p.Cost(flavormonk.Usage{InputTokens: inTokens, OutputTokens: maxOut, Seconds: maxSeconds})
}

// Cost is the price of u in micro-USD, each kind rounded up, saturating
// at math.MaxInt64. Negative or NaN counts cost nothing.
func (p Price) Cost(u flavormonk.Usage) int64 {
	total := perMillion(u.InputTokens, p.In)
	total = satAdd(total, perMillion(u.OutputTokens, p.Out))
	if s := u.Seconds; s > 0 && p.Sec > 0 {
		// nano-USD per second × seconds / 1000 = micro-USD.
		c := math.Ceil(s * float64(p.Sec) / 1000)
		if c >= math.MaxInt64 || math.IsInf(c, 1) {
			return math.MaxInt64
		}
		total = satAdd(total, int64(c))
	}
	return total
}

// perMillion is ceil(tokens × price / 1e6): price is micro-USD per 1M
// tokens, so the result is micro-USD.
func perMillion(tokens int, price int64) int64 {
	if tokens <= 0 || price <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(tokens), uint64(price))
	lo, carry := bits.Add64(lo, 999_999, 0)
	hi += carry
	if hi >= 1_000_000 {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, 1_000_000)
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// String renders the table in the syntax Parse reads, entries sorted.
func (t *Table) String() string {
	keys := make([]string, 0, len(t.prices))
	for k := range t.prices {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(k + "=" + t.prices[k].String())
	}
	return b.String()
}

// String renders a price as Parse reads it.
func (p Price) String() string {
	var parts []string
	if p.In != 0 {
		parts = append(parts, "in:"+FormatFixed(p.In, 6))
	}
	if p.Out != 0 {
		parts = append(parts, "out:"+FormatFixed(p.Out, 6))
	}
	if p.Sec != 0 {
		parts = append(parts, "sec:"+FormatFixed(p.Sec, 9))
	}
	if len(parts) == 0 {
		return "free"
	}
	return strings.Join(parts, ",")
}

// Len is the number of entries.
func (t *Table) Len() int { return len(t.prices) }
