package outage

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
	o := New(func(err error) bool { return errors.Is(err, errRefused) },
		slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return at })
	ctx := context.Background()
	other := errors.New("syntax error")
	if err := o.Check(ctx, other); err != other {
		t.Fatalf("an unrelated error became %v", err)
	}
	for range 100 {
		err := o.Check(ctx, fmt.Errorf("postgres: recipe: %w", errRefused))
		if flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE || !errors.Is(err, errRefused) {
			t.Fatalf("check = %v (%s); want unavailable with the cause kept", err, flavormonk.ErrorCode(err))
		}
		at = at.Add(time.Second) // 100 failures over 100 seconds
	}
	o.OK(ctx) // a success right after the failures: the store may still be going down
	o.Check(ctx, errRefused)
	at = at.Add(settle)
	o.OK(ctx)
	o.OK(ctx)
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
	o := New(func(err error) bool { return errors.Is(err, errRefused) },
		slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return at })
	ctx := context.Background()
	o.Check(ctx, errRefused)
	at = at.Add(30 * 24 * time.Hour)
	o.Check(ctx, errRefused)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "store unreachable: answering 503") {
		t.Fatalf("the second outage was logged as:\n%s", logs.String())
	}
}

// Without a classifier no error means the store is down, and nothing is
// logged.
func TestNilClassifierPassesErrorsThrough(t *testing.T) {
	var logs bytes.Buffer
	o := New(nil, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	ctx := context.Background()
	if err := o.Check(ctx, errRefused); err != errRefused {
		t.Fatalf("Check = %v, want the error as it was", err)
	}
	if err := o.Check(ctx, nil); err != nil {
		t.Fatalf("Check(nil) = %v", err)
	}
	o.OK(ctx)
	if logs.Len() != 0 {
		t.Errorf("logged: %s", logs.String())
	}
}
