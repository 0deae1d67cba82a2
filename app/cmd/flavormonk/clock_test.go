package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/clocktest"
	"github.com/flavormonk/flavormonk/app/sqlite"
)

// TestExpireVisitorsByTheClock: Main expires visitor sessions unseen for
// 180 days of its clock, not of the wall clock: at a boundary instant a
// visitor last seen 180 days and a second before is removed, one seen
// 180 days before to the second is kept.
func TestExpireVisitorsByTheClock(t *testing.T) {
	for _, b := range clocktest.Boundaries {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			clk := clocktest.New(b.At.Add(-visitorTTL - time.Second))
			st, err := sqlite.Open(ctx, ":memory:", sqlite.WithClock(clk.Now))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			old, err := st.CreateVisitor(ctx)
			if err != nil {
				t.Fatal(err)
			}
			clk.Add(time.Second)
			kept, err := st.CreateVisitor(ctx)
			if err != nil {
				t.Fatal(err)
			}
			clk.Set(b.At)
			m := &Main{Clock: clk.Now, Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			bg, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); m.expireVisitors(bg) }()
			defer func() { cancel(); <-done }()
			deadline := time.Now().Add(5 * time.Second) // real time: waits for the goroutine
			for {
				if _, err := st.Visitor(ctx, old.ID); flavormonk.ErrorCode(err) == flavormonk.ENOTFOUND {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("a visitor unseen for 180 days and a second was not expired")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := st.Visitor(ctx, kept.ID); err != nil {
				t.Fatalf("a visitor unseen for exactly 180 days was expired: %v", err)
			}
		})
	}
}
