package usage_test

import (
	"context"
	"path/filepath"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/servicetest"
	"github.com/flavormonk/flavormonk/app/postgres"
	"github.com/flavormonk/flavormonk/app/sqlite"
	"github.com/flavormonk/flavormonk/app/usage"
	"github.com/flavormonk/flavormonk/app/usage/pricing"
)

// BenchmarkReserveSettle is the metering overhead of one assistant call:
// a reservation and its settlement, from parallel callers sharing the
// global budget's row (the hot spot).
func BenchmarkReserveSettle(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchMeter(b, s)
	})
	b.Run("postgres", func(b *testing.B) {
		s, err := postgres.Open(context.Background(), servicetest.PostgresDatabase(b), postgres.WithMaxConns(8))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		benchMeter(b, s)
	})
}

func benchMeter(b *testing.B, s flavormonk.UsageStore) {
	prices, _ := pricing.New("")
	m, err := usage.New(s, usage.Config{Prices: prices, Budget: flavormonk.NoLimit, Quotas: map[string]int64{flavormonk.PlanChef: flavormonk.NoLimit}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ev := []flavormonk.UsageEvent{{Provider: "openai", Model: "gpt-4o-mini", InputTokens: 3000, OutputTokens: 400}}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, err := m.Reserve(ctx, flavormonk.Caller{UserID: 1, Plan: flavormonk.PlanChef}, 1065)
			if err != nil {
				b.Error(err)
				return
			}
			if err := r.Settle(ctx, ev); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
