package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/config"
)

const usageHelp = `Usage: flavormonk usage [--from DATE] [--to DATE] [--by KEYS] [--json]

Reports what the assistant consumed, from the usage ledger: calls, tokens in
and out, billed seconds, cost in USD, calls with estimated token counts and
answers from the cache, summed by KEYS (comma-separated, any of day, user,
provider, model; default day). Users are shown as user:ID (with the email
when the account exists), visitors as visitor:KEY (a hash of the session).
Dates are UTC days, YYYY-MM-DD, both included; by default this month so far.

`

var usageKeys = []string{"day", "user", "provider", "model"}

// usageLine is one line of the report; keys not grouped by are empty.
type usageLine struct {
	Day          string  `json:"day,omitempty"`
	User         string  `json:"user,omitempty"`
	Provider     string  `json:"provider,omitempty"`
	Model        string  `json:"model,omitempty"`
	Events       int64   `json:"events"`
	InputTokens  int64   `json:"tokens_in"`
	OutputTokens int64   `json:"tokens_out"`
	Seconds      float64 `json:"seconds"`
	CostMicros   int64   `json:"cost_micros"`
	CostUSD      string  `json:"cost_usd"`
	Estimated    int64   `json:"estimated"`
	CacheHits    int64   `json:"cache_hits"`
}

func (l *usageLine) add(r flavormonk.UsageRow) {
	l.Events += r.Events
	l.InputTokens += r.InputTokens
	l.OutputTokens += r.OutputTokens
	l.Seconds += r.Seconds
	l.CostMicros += r.CostMicros
	l.Estimated += r.Estimated
	l.CacheHits += r.CacheHits
}

func runUsage(ctx context.Context, clk flavormonk.Clock, args []string, stdout, stderr io.Writer) error {
	fs := flags("usage", stderr, usageHelp)
	// The report's months and days are UTC, whatever the local zone.
	now := clk.Now().UTC()
	fromS := fs.String("from", now.Format("2006-01")+"-01", "first UTC day of the report (YYYY-MM-DD)")
	toS := fs.String("to", now.Format("2006-01-02"), "last UTC day of the report, included (YYYY-MM-DD)")
	byS := fs.String("by", "day", "what to sum by: day, user, provider, model, comma-separated")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"usage takes no arguments, only flags"}
	}
	from, err := parseDay("--from", *fromS)
	if err != nil {
		return err
	}
	to, err := parseDay("--to", *toS)
	if err != nil {
		return err
	}
	if to.Before(from) {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "--to", "%s comes before --from %s", *toS, *fromS)
	}
	by, err := parseBy(*byS)
	if err != nil {
		return err
	}

	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, clk)
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := st.UsageReport(ctx, from, to.AddDate(0, 0, 1))
	if err != nil {
		return err
	}
	emails := userEmails(ctx, st, rows, by)
	lines, total := summarise(rows, by, emails)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			From  string      `json:"from"`
			To    string      `json:"to"`
			By    []string    `json:"by"`
			Lines []usageLine `json:"rows"`
			Total usageLine   `json:"total"`
		}{from.Format(time.DateOnly), to.Format(time.DateOnly), by, lines, total})
	}
	return printUsage(stdout, from, to, by, lines, total)
}

func parseDay(flag, s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil || t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, flavormonk.FieldErrorf(flavormonk.EINVALID, flag, "%q is not a date like 2026-11-27", s)
	}
	return t, nil
}

func parseBy(s string) ([]string, error) {
	want := map[string]bool{}
	for _, k := range strings.Split(s, ",") {
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "" {
			continue
		}
		if !slices.Contains(usageKeys, k) {
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "--by", "unknown key %q; allowed: %s", k, strings.Join(usageKeys, ", "))
		}
		want[k] = true
	}
	var by []string
	for _, k := range usageKeys { // always in report order
		if want[k] {
			by = append(by, k)
		}
	}
	if len(by) == 0 {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "--by", "name at least one of: %s", strings.Join(usageKeys, ", "))
	}
	return by, nil
}

// userEmails looks up the emails of the users in the report, when the
// store keeps accounts and the report is by user.
func userEmails(ctx context.Context, acc flavormonk.AccountStore, rows []flavormonk.UsageRow, by []string) map[int64]string {
	if !slices.Contains(by, "user") {
		return nil
	}
	out := map[int64]string{}
	for _, r := range rows {
		if _, seen := out[r.UserID]; r.UserID == 0 || seen {
			continue
		}
		out[r.UserID] = ""
		if u, err := acc.User(ctx, r.UserID); err == nil {
			out[r.UserID] = u.Email
		}
	}
	return out
}

func subject(r flavormonk.UsageRow, emails map[int64]string) string {
	switch {
	case r.UserID != 0 && emails[r.UserID] != "":
		return "user:" + strconv.FormatInt(r.UserID, 10) + " " + emails[r.UserID]
	case r.UserID != 0:
		return "user:" + strconv.FormatInt(r.UserID, 10)
	case r.Visitor != "":
		return "visitor:" + r.Visitor
	}
	return "-"
}

func summarise(rows []flavormonk.UsageRow, by []string, emails map[int64]string) ([]usageLine, usageLine) {
	groups := map[usageLine]*usageLine{}
	var total usageLine
	for _, r := range rows {
		var k usageLine
		for _, b := range by {
			switch b {
			case "day":
				k.Day = r.Day.UTC().Format(time.DateOnly)
			case "user":
				k.User = subject(r, emails)
			case "provider":
				k.Provider = r.Provider
			case "model":
				k.Model = r.Model
			}
		}
		g := groups[k]
		if g == nil {
			g = new(usageLine)
			*g = k
			groups[k] = g
		}
		g.add(r)
		total.add(r)
	}
	lines := make([]usageLine, 0, len(groups))
	for _, g := range groups {
		g.CostUSD = usd(g.CostMicros)
		lines = append(lines, *g)
	}
	slices.SortFunc(lines, func(a, b usageLine) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.User, b.User), cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Model, b.Model))
	})
	total.CostUSD = usd(total.CostMicros)
	return lines, total
}

func printUsage(w io.Writer, from, to time.Time, by []string, lines []usageLine, total usageLine) error {
	fmt.Fprintf(w, "assistant usage %s to %s (UTC), by %s\n\n", from.Format(time.DateOnly), to.Format(time.DateOnly), strings.Join(by, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	var head []string
	for _, b := range by {
		head = append(head, strings.ToUpper(b))
	}
	head = append(head, "CALLS", "TOKENS IN", "TOKENS OUT", "SECONDS", "COST USD", "ESTIMATED", "CACHE HITS")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	row := func(keys []string, l usageLine) {
		cells := append(keys, strconv.FormatInt(l.Events, 10), strconv.FormatInt(l.InputTokens, 10), strconv.FormatInt(l.OutputTokens, 10),
			strconv.FormatFloat(l.Seconds, 'f', 1, 64), l.CostUSD, strconv.FormatInt(l.Estimated, 10), strconv.FormatInt(l.CacheHits, 10))
		for i, c := range cells {
			cells[i] = printable(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	for _, l := range lines {
		var keys []string
		for _, b := range by {
			keys = append(keys, map[string]string{"day": l.Day, "user": l.User, "provider": l.Provider, "model": l.Model}[b])
		}
		row(keys, l)
	}
	keys := make([]string, len(by))
	keys[0] = "TOTAL"
	row(keys, total)
	return tw.Flush()
}

// printable keeps stored names from driving the terminal: control
// characters (and tabs, which would break the columns) become '?'.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// usd renders micro-USD with all six decimals, so columns line up.
func usd(micros int64) string { return fmt.Sprintf("%d.%06d", micros/1e6, micros%1e6) }
