package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
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
