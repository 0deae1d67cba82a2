package postgres

import (
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
	"github.com/flavormonk/flavormonk/app/storetest"
)

// TestUsage runs the usage suite with a pool large enough that the
// concurrent reservations really run at once on the server.
func TestUsage(t *testing.T) {
	servicetest.PostgresURL(t)
	storetest.RunUsage(t, func(t *testing.T, clk flavormonk.Clock) storetest.UsageStore { return openFresh(t, WithMaxConns(25), WithClock(clk)) })
}
