package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

var errRefused = errors.New("connection refused")

// An outage is logged when it starts, again once a minute while it lasts,
// and when it ends; other errors pass through untouched.
func TestStoreOutageIsLoggedOncePerWindow(t *testing.T) {
	var logs bytes.Buffer
	at := time.Date(2026, 12, 31, 23, 59, 30, 0, time.UTC)
	o := storeOutage{
		unreachable: func(err error) bool { return errors.Is(err, errRefused) },
		log:         slog.New(slog.NewTextHandler(&logs, nil)),
		now:         func() time.Time { return at },
	}
	ctx := context.Background()
	other := errors.New("syntax error")
	if err := o.check(ctx, other); err != other {
		t.Fatalf("an unrelated error became %v", err)
	}
	for range 100 {
		err := o.check(ctx, fmt.Errorf("postgres: recipe: %w", errRefused))
		if flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE || !errors.Is(err, errRefused) {
			t.Fatalf("check = %v (%s); want unavailable with the cause kept", err, flavormonk.ErrorCode(err))
		}
		at = at.Add(time.Second) // 100 failures over 100 seconds
	}
	o.ok(ctx) // a success right after the failures: the store may still be going down
	o.check(ctx, errRefused)
	at = at.Add(outageSettle)
	o.ok(ctx)
	o.ok(ctx)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	want := []string{"store unreachable", "store still unreachable", "store reachable again"}
	if len(lines) != len(want) {
		t.Fatalf("%d log lines, want %d:\n%s", len(lines), len(want), logs.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d: %s; want %q", i, lines[i], w)
		}
	}
	if !strings.Contains(lines[2], "failed=101") {
		t.Errorf("recovery line %s; want the 101 failures counted", lines[2])
	}
}

// An outage whose end nobody saw (no readiness probe, API-only traffic)
// does not swallow the next one: a failure after a quiet minute is logged
// as a new outage, with its own start.
func TestStoreOutageUnseenEndStartsANewWindow(t *testing.T) {
	var logs bytes.Buffer
	at := time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC)
	o := storeOutage{
		unreachable: func(err error) bool { return errors.Is(err, errRefused) },
		log:         slog.New(slog.NewTextHandler(&logs, nil)),
		now:         func() time.Time { return at },
	}
	ctx := context.Background()
	o.check(ctx, errRefused)
	at = at.Add(30 * 24 * time.Hour)
	o.check(ctx, errRefused)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "store unreachable: answering 503") {
		t.Fatalf("the second outage was logged as:\n%s", logs.String())
	}
}
