package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/storetest"
)

func TestUsage(t *testing.T) {
	storetest.RunUsage(t, func(t *testing.T, clk flavormonk.Clock) storetest.UsageStore { return openTemp(t, WithClock(clk)) })
}

func TestUsageInMemory(t *testing.T) {
	storetest.RunUsage(t, func(t *testing.T, clk flavormonk.Clock) storetest.UsageStore {
		s, err := Open(context.Background(), ":memory:", WithClock(clk))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// TestUsageTwoProcesses races reservations through two handles on one
// file, as two instances would: SQLite's write lock, not the process's
// single writer connection, must keep them exact.
func TestUsageTwoProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usage.db")
	var stores [2]*Store
	for i := range stores {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores[i] = s
	}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := []flavormonk.Hold{{Scope: flavormonk.ScopeBudget, Period: "2026-11", Limit: 1000, Amount: 100}}
			err := stores[i%2].Reserve(ctx, fmt.Sprintf("r%d", i), h, time.Now().Add(time.Hour))
			if err == nil {
				ok.Add(1)
			} else if flavormonk.ErrorCode(err) != flavormonk.EBUDGET {
				t.Errorf("Reserve: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 10 {
		t.Fatalf("%d reservations succeeded; want exactly 10", ok.Load())
	}
	if sp, res, err := stores[0].Spent(ctx, flavormonk.ScopeBudget, "2026-11"); err != nil || sp != 0 || res != 1000 {
		t.Fatalf("Spent = %d, %d, %v; want 0, 1000", sp, res, err)
	}
}
