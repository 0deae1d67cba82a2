package postgres

import (
	"context"
	"strings"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
	"github.com/flavormonk/flavormonk/app/storetest"
)

// TestUsage runs the usage suite with a pool large enough that the
// concurrent reservations really run at once on the server.
func TestUsage(t *testing.T) {
	servicetest.PostgresURL(t)
	storetest.RunUsage(t, func(t *testing.T, clk flavormonk.Clock) storetest.UsageStore {
		return openFresh(t, WithMaxConns(25), WithClock(clk))
	})
}

// TestBoundariesBerlinSession runs the boundary tests on connections whose
// session time zone is Europe/Berlin: months and days stay UTC whatever
// the server or the DSN sets.
func TestBoundariesBerlinSession(t *testing.T) {
	servicetest.PostgresURL(t)
	storetest.RunBoundaries(t, func(t *testing.T, clk flavormonk.Clock) storetest.FullStore {
		dsn := servicetest.PostgresDatabase(t)
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		s, err := Open(context.Background(), dsn+sep+"timezone=Europe/Berlin", WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		var tz string
		if err := s.pool.QueryRow(context.Background(), `SHOW TimeZone`).Scan(&tz); err != nil || tz != "Europe/Berlin" {
			t.Fatalf("session time zone = %q, %v; want Europe/Berlin", tz, err)
		}
		return s
	})
}
