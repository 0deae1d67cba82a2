package gumroad

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/auth"
	"github.com/flavormonk/flavormonk/app/cache"
	"github.com/flavormonk/flavormonk/app/sqlite"
)

const testSecret = "recheck-test-secret-0123456789abcdef"

type recheckEnv struct {
	st   *sqlite.Store
	f    *fakeGumroad
	down *atomic.Bool
	r    *Rechecker
	logs *bytes.Buffer
}

func newRecheckEnv(t *testing.T) *recheckEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fm.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f, _ := newServer(t)
	down := &atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "upstream connect error", http.StatusBadGateway)
			return
		}
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	sealer, err := auth.NewSealer(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	r := &Rechecker{Store: st, Sealer: sealer, Interval: 24 * time.Hour, Log: slog.New(slog.NewTextHandler(logs, nil)),
		Client: &Client{BaseURL: srv.URL, ProductID: productID, HTTPClient: srv.Client()}}
	return &recheckEnv{st: st, f: f, down: down, r: r, logs: logs}
}

// grant stores a user on plan with an active, sealed grant for key, last
// checked age ago.
func (e *recheckEnv) grant(t *testing.T, email, key string, age time.Duration) *flavormonk.User {
	t.Helper()
	ctx := context.Background()
	u := &flavormonk.User{Email: email, PasswordHash: "x", Plan: flavormonk.PlanChef}
	if err := e.st.CreateUser(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	g := &flavormonk.Grant{UserID: u.ID, Plan: flavormonk.PlanChef, Source: "gumroad", LicenseKey: KeyHash(key),
		Sealed: e.r.Seal(key), Active: true, CheckedAt: time.Now().Add(-age)}
	if err := e.st.SetGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *recheckEnv) state(t *testing.T, u *flavormonk.User) (plan string, active bool, checked time.Time) {
	t.Helper()
	ctx := context.Background()
	got, err := e.st.User(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	gs, err := e.st.Grants(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.Source == "gumroad" {
			return got.Plan, g.Active, g.CheckedAt
		}
	}
	t.Fatalf("user %d has no gumroad grant", u.ID)
	return
}

func (e *recheckEnv) setLicence(key, purchaseJSON string) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	e.f.licences[key] = purchaseJSON
}

func TestRecheck(t *testing.T) {
	ctx := context.Background()
	e := newRecheckEnv(t)
	keys := map[string]string{"valid": "KEY-VALID", "refunded": "KEY-REFUND", "disputed": "KEY-DISPUTE", "chargeback": "KEY-CHARGEBACK", "admin": "KEY-ADMIN"}
	for _, k := range keys {
		e.setLicence(k, purchase(""))
	}
	users := map[string]*flavormonk.User{}
	for name, k := range keys {
		users[name] = e.grant(t, name+"@example.com", k, 25*time.Hour)
	}
	// An admin grant keeps the plan when the licence goes.
	if err := e.st.SetGrant(ctx, &flavormonk.Grant{UserID: users["admin"].ID, Plan: flavormonk.PlanChef, Source: "admin", Active: true}); err != nil {
		t.Fatal(err)
	}
	notDue := e.grant(t, "recent@example.com", "KEY-RECENT", time.Hour)
	e.setLicence("KEY-RECENT", purchase("refunded=true"))
	e.setLicence(keys["refunded"], purchase("refunded=true"))
	e.setLicence(keys["disputed"], purchase("disputed=true"))
	e.setLicence(keys["chargeback"], purchase("chargebacked=true"))
	e.setLicence(keys["admin"], purchase("refunded=true"))

	// Gumroad down: everything kept, nothing marked checked, logged.
	e.down.Store(true)
	before := map[string]time.Time{}
	for name, u := range users {
		_, _, before[name] = e.state(t, u)
	}
	rep, err := e.r.Recheck(ctx, time.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unavailable != 5 || rep.Checked != 0 {
		t.Fatalf("Gumroad down: %+v", rep)
	}
	for name, u := range users {
		plan, active, checked := e.state(t, u)
		if plan != flavormonk.PlanChef || !active || !checked.Equal(before[name]) {
			t.Fatalf("%s changed while Gumroad was down: %s %v %v", name, plan, active, checked)
		}
	}
	if !strings.Contains(e.logs.String(), "Gumroad is unavailable") {
		t.Fatalf("no warning logged: %s", e.logs)
	}

	// Back up: the next round does the work.
	e.down.Store(false)
	rep, err = e.r.Recheck(ctx, time.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if rep != (RecheckReport{Checked: 5, Kept: 1, Revoked: 4}) {
		t.Fatalf("round: %+v", rep)
	}
	want := map[string]struct {
		plan   string
		active bool
	}{
		"valid": {flavormonk.PlanChef, true}, "refunded": {flavormonk.PlanFree, false}, "disputed": {flavormonk.PlanFree, false},
		"chargeback": {flavormonk.PlanFree, false}, "admin": {flavormonk.PlanChef, false},
	}
	for name, w := range want {
		plan, active, checked := e.state(t, users[name])
		if plan != w.plan || active != w.active || time.Since(checked) > time.Minute {
			t.Errorf("%s: plan %s active %v checked %v; want %s %v now", name, plan, active, checked, w.plan, w.active)
		}
	}
	if plan, active, _ := e.state(t, notDue); plan != flavormonk.PlanChef || !active {
		t.Error("a grant checked an hour ago was re-checked")
	}
	if strings.Contains(e.logs.String(), "KEY-") {
		t.Fatal("a licence key was logged")
	}
	// Nothing is due right after.
	if rep, err := e.r.Recheck(ctx, time.Now().Add(-24*time.Hour)); err != nil || rep != (RecheckReport{}) {
		t.Fatalf("second round: %+v %v", rep, err)
	}
	// A dispute won gives the plan back (`users recheck` checks all, due or not).
	e.setLicence(keys["disputed"], purchase("disputed=true;dispute_won=true"))
	rep, err = e.r.Recheck(ctx, time.Now().Add(time.Second))
	if err != nil || rep.Restored != 1 || rep.Checked != 6 {
		t.Fatalf("restore round: %+v %v", rep, err)
	}
	if plan, active, _ := e.state(t, users["disputed"]); plan != flavormonk.PlanChef || !active {
		t.Fatalf("dispute won: plan %s active %v", plan, active)
	}
}

// A key sealed under another secret is reported, never verified with a
// wrong key nor revoked.
func TestRecheckUnreadable(t *testing.T) {
	ctx := context.Background()
	e := newRecheckEnv(t)
	e.setLicence("KEY-A", purchase("refunded=true"))
	other, _ := auth.NewSealer(strings.Repeat("another secret ", 3))
	u := &flavormonk.User{Email: "a@example.com", PasswordHash: "x", Plan: flavormonk.PlanChef}
	if err := e.st.CreateUser(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetGrant(ctx, &flavormonk.Grant{UserID: u.ID, Plan: flavormonk.PlanChef, Source: "gumroad", LicenseKey: KeyHash("KEY-A"),
		Sealed: other.Seal([]byte("KEY-A"), KeyHash("KEY-A")), Active: true}); err != nil {
		t.Fatal(err)
	}
	requests := e.f.requests
	rep, err := e.r.Recheck(ctx, time.Now())
	if err != nil || rep.Unreadable != 1 || rep.Checked != 0 || e.f.requests != requests {
		t.Fatalf("%+v %v", rep, err)
	}
	plan, active, checked := e.state(t, u)
	if plan != flavormonk.PlanChef || !active {
		t.Fatal("an unreadable grant was changed")
	}
	// It is marked checked, so it does not stay first in every batch.
	if time.Since(checked) > time.Minute {
		t.Fatalf("an unreadable grant was not marked checked: checked_at %v", checked)
	}
	due, err := e.st.LicenseGrants(ctx, time.Now().Add(-time.Hour), 10)
	if err != nil || len(due) != 0 {
		t.Fatalf("the unreadable grant is still due: %d %v", len(due), err)
	}
	// The sealed key is kept (the right secret may come back).
	if gs, _ := e.st.LicenseGrants(ctx, time.Now().Add(time.Hour), 10); len(gs) != 1 || len(gs[0].Sealed) == 0 {
		t.Fatalf("the sealed key was dropped: %+v", gs)
	}
	if n := strings.Count(e.logs.String(), "do not open"); n != 1 {
		t.Fatalf("logged %d times, want once:\n%s", n, e.logs.String())
	}
}

// Run finds due grants on its own; with a shared lock one of two replicas
// does a round.
func TestRecheckRun(t *testing.T) {
	e := newRecheckEnv(t)
	e.setLicence("KEY-R", purchase(""))
	u := e.grant(t, "r@example.com", "KEY-R", 48*time.Hour)
	e.setLicence("KEY-R", purchase("chargebacked=true"))
	e.r.Tick = 20 * time.Millisecond
	e.r.Lock = cache.NewMemory(100)
	twin := *e.r
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { e.r.Run(ctx); done <- struct{}{} }()
	go func() { twin.Run(ctx); done <- struct{}{} }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if plan, _, _ := e.state(t, u); plan == flavormonk.PlanFree {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not revoke a due charged-back licence within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	<-done
}

func TestNewRechecker(t *testing.T) {
	opts := RecheckOptions{Interval: 24 * time.Hour}
	if r, why, err := NewRechecker(opts, nil, nil); r != nil || err != nil || !strings.Contains(why, "FLAVORMONK_GUMROAD_PRODUCT_ID") {
		t.Fatalf("no product: %v %q %v", r, why, err)
	}
	opts.ProductID = productID
	if r, why, err := NewRechecker(opts, nil, nil); r != nil || err != nil || !strings.Contains(why, "FLAVORMONK_LICENSE_SECRET is not set") {
		t.Fatalf("no secret: %v %q %v", r, why, err)
	}
	opts.LicenseSecret = testSecret
	if r, _, err := NewRechecker(opts, nil, nil); r == nil || err != nil || r.Interval != 24*time.Hour {
		t.Fatalf("configured: %+v %v", r, err)
	}
}
