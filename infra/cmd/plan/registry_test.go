package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// registryStack writes a stack file like dev's with a private registry and,
// when withPassword, its token as an encrypted value.
func registryStack(t *testing.T, withPassword bool) string {
	t.Helper()
	dev, err := os.ReadFile("../../../Pulumi.dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(dev) + "  flavormonk:registry:\n    server: ghcr.io\n    username: acme-bot\n"
	if withPassword {
		s += "  flavormonk:registryPassword:\n    secure: v1:c2VjcmV0:SENTINEL-CIPHERTEXT\n"
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.reg.yaml"), []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// make plan shows the registry, its username and the password redacted,
// the logins on the app servers and, in scale, the pull secret — and never
// the password (nor the placeholder standing for it).
func TestPlanShowsRegistryRedacted(t *testing.T) {
	dir := registryStack(t, true)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-stack", "reg"}, []string{"registry-login-app-1"}},
		{[]string{"-stack", "reg", "-phase", "upgrade", "-cloud", "digitalocean"}, []string{"registry-login-app-1", "registry-login-app-2"}},
		{[]string{"-stack", "reg", "-phase", "scale"}, []string{"registry-credentials", "name=flavormonk-registry"}},
		{[]string{"-stack", "reg", "-to", "upgrade"}, []string{"registry-login-app-2"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if err := run(append([]string{"-dir", dir}, tc.args...), &out, &errb); err != nil {
				t.Fatalf("%v\n%s%s", err, out.String(), errb.String())
			}
			s := out.String()
			for _, want := range append([]string{"registry: ghcr.io, username acme-bot, registryPassword: [secret]\n"}, tc.want...) {
				if !strings.Contains(s, want) {
					t.Errorf("output lacks %q:\n%s", want, s)
				}
			}
			for _, never := range []string{"offline-placeholder-registryPassword", "SENTINEL-CIPHERTEXT"} {
				if strings.Contains(s+errb.String(), never) {
					t.Errorf("output shows %q", never)
				}
			}
		})
	}
	// Without the token the plan fails as `pulumi preview` would, naming it.
	var out, errb bytes.Buffer
	err := run([]string{"-dir", registryStack(t, false), "-stack", "reg"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "config flavormonk:registryPassword: must be set (as a secret)") {
		t.Fatalf("no registryPassword: %v", err)
	}
}

// A stack without a registry prints no registry line.
func TestPlanWithoutRegistry(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"-dir", "../../..", "-stack", "dev"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "registry") {
		t.Errorf("a public image's plan mentions a registry:\n%s", out.String())
	}
}
