package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/cache"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/internal/clocktest"
)

// TestSessionExpiryAtBoundaries: a session whose 30 days end at a boundary
// instant (month or year end, leap day, Berlin's DST changes) is valid a
// second before it and logged out at it, whatever the local zone.
func TestSessionExpiryAtBoundaries(t *testing.T) {
	clocktest.InZones(t, func(t *testing.T, zone string) {
		clk := clocktest.New(clocktest.Boundaries[0].At)
		env := newAccEnvAt(t, clk.Now)
		for i, b := range clocktest.Boundaries {
			t.Run(b.Name, func(t *testing.T) {
				clk.Set(b.At.Add(-sessionAbsolute))
				br := env.browser(t)
				if r := br.signup(fmt.Sprintf("boundary%d@example.com", i)); r.status != http.StatusSeeOther {
					t.Fatalf("signup: %d %s", r.status, r.body)
				}
				// Seen every six days, so that only the absolute limit ends it.
				for at := b.At.Add(-sessionAbsolute); at.Before(b.At); at = at.Add(6 * 24 * time.Hour) {
					clk.Set(at)
					if r := br.do("GET", "/account", nil, nil); r.status != http.StatusOK {
						t.Fatalf("at %s: /account = %d; want 200", at, r.status)
					}
				}
				clk.Set(b.At.Add(-time.Second))
				if r := br.do("GET", "/account", nil, nil); r.status != http.StatusOK {
					t.Fatalf("a second before expiry: /account = %d; want 200", r.status)
				}
				clk.Set(b.At)
				r := br.do("GET", "/account", nil, nil)
				if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
					t.Fatalf("at expiry: /account = %d %v; want a redirect to /login", r.status, r.header)
				}
			})
		}
	})
}

// TestAdminUsageDefaultsToUTCMonth: without from and to, the usage page
// reports the server clock's UTC month up to its UTC day, so a call made
// at a boundary instant is on it, on its UTC day, in any local zone.
func TestAdminUsageDefaultsToUTCMonth(t *testing.T) {
	clocktest.InZones(t, func(t *testing.T, zone string) {
		clk := clocktest.New(clocktest.Boundaries[0].At)
		env := newAccEnvAt(t, clk.Now)
		ctx := context.Background()
		admin := env.browser(t)
		admin.signup("boss@example.com")
		if err := env.st.SetRole(ctx, env.user(t, "boss@example.com").ID, flavormonk.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		for i, b := range clocktest.Boundaries {
			t.Run(b.Name, func(t *testing.T) {
				clk.Set(b.At)
				if r := admin.login("boss@example.com", pw); r.status != http.StatusSeeOther {
					t.Fatalf("log-in: %d", r.status)
				}
				id := fmt.Sprintf("r%d", i)
				hold := []flavormonk.Hold{{Scope: flavormonk.ScopeBudget, Period: b.Period, Limit: flavormonk.NoLimit, Amount: 1}}
				if err := env.st.Reserve(ctx, id, hold, b.At.Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
				if err := env.st.Settle(ctx, id, []flavormonk.UsageEvent{{At: b.At, UserID: 7, Provider: "openai", Model: "gpt-4o-mini", InputTokens: 1}}); err != nil {
					t.Fatal(err)
				}
				r := admin.do("GET", "/admin/usage", nil, nil)
				from := `name="from" value="` + b.Period + `-01"`
				if r.status != http.StatusOK || !strings.Contains(r.body, from) || !strings.Contains(r.body, "<td>"+b.Day.Format("2006-01-02")+"</td>") {
					t.Fatalf("usage page at %s: %d; want %s and a row for %s:\n%s", b.At, r.status, from, b.Day.Format("2006-01-02"), r.body)
				}
			})
		}
	})
}

// TestRateLimitWindowsAtBoundaries: the per-minute windows counted in the
// shared cache are minutes of the server's clock; the last one of a
// month, a year or a leap day, or one at a DST change, ends on time.
func TestRateLimitWindowsAtBoundaries(t *testing.T) {
	clocktest.InZones(t, func(t *testing.T, zone string) {
		clk := clocktest.New(clocktest.Boundaries[0].At)
		env := newAccEnvCache(t, clk.Now, cache.NewMemory(1000), func(c *config.Config) { c.RateLimit = 3 })
		for _, b := range clocktest.Boundaries {
			t.Run(b.Name, func(t *testing.T) {
				// The last second of b.At's minute, which is its own for the
				// :59 instants.
				last := b.At.Truncate(time.Minute).Add(59 * time.Second)
				clk.Set(last)
				br := env.browser(t)
				for range 3 {
					if r := br.do("GET", "/login", nil, nil); r.status != http.StatusOK {
						t.Fatalf("within the limit: %d", r.status)
					}
				}
				r := br.do("GET", "/login", nil, nil)
				if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "1" {
					t.Fatalf("4th request in the minute: %d, Retry-After %q; want 429 and 1", r.status, r.header.Get("Retry-After"))
				}
				clk.Set(last.Add(time.Second))
				if r := br.do("GET", "/login", nil, nil); r.status != http.StatusOK {
					t.Fatalf("first request of the next minute: %d; want 200", r.status)
				}
			})
		}
	})
}

// TestAccountExportTime: the export is stamped by the server's clock.
func TestAccountExportTime(t *testing.T) {
	at := time.Date(2028, 2, 29, 23, 59, 59, 0, clocktest.Berlin)
	env := newAccEnvAt(t, clocktest.New(at).Now)
	br := env.browser(t)
	br.signup("export@example.com")
	r := br.do("GET", "/account/export", nil, nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, `"exported_at": "2028-02-29T22:59:59Z"`) {
		t.Fatalf("export: %d %s", r.status, r.body)
	}
}
