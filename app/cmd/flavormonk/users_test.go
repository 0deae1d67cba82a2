package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/auth"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/gumroad"
	"github.com/flavormonk/flavormonk/app/sqlite"
)

func TestUsersCLI(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.db")
	t.Setenv("FLAVORMONK_SQLITE_PATH", path)
	ctx := context.Background()
	var out, errb bytes.Buffer

	stdin = strings.NewReader("correct horse battery staple\n")
	t.Cleanup(func() { stdin = nil })
	if err := run(ctx, []string{"users", "create-admin", " Chef@Example.COM "}, &out, &errb); err != nil {
		t.Fatalf("create-admin: %v", err)
	}
	stdin = strings.NewReader("short\n")
	if err := run(ctx, []string{"users", "create-admin", "other@example.com"}, &out, &errb); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Fatalf("short password accepted: %v", err)
	}
	stdin = strings.NewReader("another long password\n")
	if err := run(ctx, []string{"users", "create-admin", "CHEF@example.com"}, &out, &errb); flavormonk.ErrorCode(err) != flavormonk.ECONFLICT {
		t.Fatalf("duplicate admin with other letter case: %v", err)
	}
	out.Reset()
	if err := run(ctx, []string{"users", "invite"}, &out, &errb); err != nil || !strings.HasPrefix(out.String(), "inv_") {
		t.Fatalf("invite: %v %q", err, out.String())
	}
	if err := run(ctx, []string{"users", "grant", "chef@example.com", "chef"}, &out, &errb); err != nil {
		t.Fatalf("grant: %v", err)
	}
	if err := run(ctx, []string{"users", "grant", "chef@example.com", "platinum"}, &out, &errb); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Fatalf("unknown plan: %v", err)
	}
	if err := run(ctx, []string{"users", "grant", "nobody@example.com", "chef"}, &out, &errb); flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
		t.Fatalf("unknown user: %v", err)
	}
	if err := run(ctx, []string{"users", "frobnicate"}, &out, &errb); err == nil {
		t.Fatal("unknown subcommand accepted")
	}

	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.UserByEmail(ctx, "chef@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.Role != flavormonk.RoleAdmin || u.Plan != flavormonk.PlanChef || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("stored admin: %+v", u)
	}
	if strings.Contains(u.PasswordHash, "battery") {
		t.Fatal("password stored in clear")
	}
	grants, err := st.Grants(ctx, u.ID)
	if err != nil || len(grants) != 1 || grants[0].Plan != flavormonk.PlanChef || grants[0].Source != "admin" || !grants[0].Active {
		t.Fatalf("grants: %+v %v", grants, err)
	}
}

// `users recheck` verifies stored licences with Gumroad (a local server
// speaking its licence protocol): refunded ones lose their plan.
func TestUsersRecheck(t *testing.T) {
	const product, secret = "prod_test", "users-recheck-secret-0123456789abcdef"
	var mu sync.Mutex
	refunded := map[string]bool{"KEY-GOOD": false, "KEY-REFUNDED": false}
	down := false
	gum := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = r.ParseForm()
		ref, ok := refunded[r.PostForm.Get("license_key")]
		if r.URL.Path != "/v2/licenses/verify" || !ok || r.PostForm.Get("product_id") != product {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"success":false,"message":"That license does not exist for the provided product."}`)
			return
		}
		fmt.Fprintf(w, `{"success":true,"uses":0,"purchase":{"product_id":%q,"email":"b@example.com","refunded":%t,"disputed":false,"dispute_won":false,"chargebacked":false}}`, product, ref)
	}))
	defer gum.Close()
	path := filepath.Join(t.TempDir(), "users.db")
	t.Setenv("FLAVORMONK_SQLITE_PATH", path)
	t.Setenv("FLAVORMONK_GUMROAD_PRODUCT_ID", product)
	t.Setenv("FLAVORMONK_GUMROAD_URL", gum.URL)
	ctx := context.Background()
	var out, errb bytes.Buffer
	if err := run(ctx, []string{"users", "recheck"}, &out, &errb); flavormonk.ErrorCode(err) != flavormonk.EINVALID || !strings.Contains(err.Error(), "FLAVORMONK_LICENSE_SECRET") {
		t.Fatalf("recheck without a secret: %v", err)
	}
	t.Setenv("FLAVORMONK_LICENSE_SECRET", secret)
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sealer, _ := auth.NewSealer(secret)
	ids := map[string]int64{}
	for _, key := range []string{"KEY-GOOD", "KEY-REFUNDED"} {
		u := &flavormonk.User{Email: strings.ToLower(key) + "@example.com", PasswordHash: "x", Plan: flavormonk.PlanChef}
		if err := st.CreateUser(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
		ids[key] = u.ID
		if err := st.SetGrant(ctx, &flavormonk.Grant{UserID: u.ID, Plan: flavormonk.PlanChef, Source: "gumroad", Active: true,
			LicenseKey: gumroad.KeyHash(key), Sealed: sealer.Seal([]byte(key), gumroad.KeyHash(key)), CheckedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	refunded["KEY-REFUNDED"], down = true, true
	mu.Unlock()
	if err := run(ctx, []string{"users", "recheck"}, &out, &errb); flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
		t.Fatalf("Gumroad down: %v", err)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	out.Reset()
	if err := run(ctx, []string{"users", "recheck"}, &out, &errb); err != nil {
		t.Fatalf("recheck: %v (%s)", err, errb.String())
	}
	if !strings.Contains(out.String(), "licences checked: 2 (kept 1, revoked 1") {
		t.Fatalf("report: %q", out.String())
	}
	for key, want := range map[string]string{"KEY-GOOD": flavormonk.PlanChef, "KEY-REFUNDED": flavormonk.PlanFree} {
		if u, _ := st.User(ctx, ids[key]); u.Plan != want {
			t.Errorf("%s: plan %s, want %s", key, u.Plan, want)
		}
	}
	if strings.Contains(errb.String()+out.String(), "KEY-") {
		t.Fatal("a licence key was printed")
	}
}

func TestRecheckOptions(t *testing.T) {
	cfg, err := config.Parse(func(string) (string, bool) { return "", false }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, why, err := gumroad.NewRechecker(recheckOptions(cfg), nil, nil); r != nil || err != nil || !strings.Contains(why, "FLAVORMONK_GUMROAD_PRODUCT_ID") {
		t.Fatalf("no product: %v %q %v", r, why, err)
	}
	cfg.GumroadProductID = "prod_flavormonk_chef"
	if r, why, err := gumroad.NewRechecker(recheckOptions(cfg), nil, nil); r != nil || err != nil || !strings.Contains(why, "FLAVORMONK_LICENSE_SECRET is not set") {
		t.Fatalf("no secret: %v %q %v", r, why, err)
	}
	cfg.LicenseSecret = "recheck-test-secret-0123456789abcdef"
	r, _, err := gumroad.NewRechecker(recheckOptions(cfg), nil, nil)
	if r == nil || err != nil || r.Interval != 24*time.Hour {
		t.Fatalf("configured: %+v %v", r, err)
	}
	if r.Client.BaseURL != "https://api.gumroad.com" || r.Client.ProductID != "prod_flavormonk_chef" {
		t.Fatalf("client: %+v", r.Client)
	}
}
