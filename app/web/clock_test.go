package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

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
