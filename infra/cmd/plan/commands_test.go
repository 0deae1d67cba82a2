package main

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/flavormonk/flavormonk/infra/stack"
)

// A Hetzner stack made in upgrade and moved to mvp has no Caddy (user data
// never re-runs): the plan of the move shows app-1's bundle installing,
// configuring and reloading it, readably (no base64), and the blue/green
// deploy after it; the upgrade stack's own bundles stop Caddy.
func TestPlanShowsCaddySetUp(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"-dir", "../../..", "-stack", "dev", "-cloud", "hetzner", "-phase", "upgrade", "-to", "mvp"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s%s", err, out.String(), errb.String())
	}
	s := out.String()
	_, move, ok := strings.Cut(s, "\n== remote commands the move to mvp runs over SSH (new or changed) ==\n")
	if !ok {
		t.Fatalf("no section of the move's remote commands:\n%s", s)
	}
	move, _, _ = strings.Cut(move, "\n== ")
	want := []string{
		"  app-host-app-1:\n    - apt-get install -y caddy (where caddy is missing)\n    - install /etc/flavormonk/host.env, ",
		"/etc/caddy/Caddyfile.new, /etc/caddy/flavormonk-upstream (where absent), ",
		"    - caddy validate --config /etc/caddy/Caddyfile.new --adapter caddyfile\n    - mv -f /etc/caddy/Caddyfile.new /etc/caddy/Caddyfile\n" +
			"    - systemctl enable caddy\n    - systemctl reload-or-restart caddy\n",
		"  deploy-app-1:\n    - install /etc/flavormonk/env (from stdin)\n    - /usr/local/sbin/flavormonk-deploy --mode bluegreen ",
	}
	for _, w := range want {
		if !strings.Contains(move, w) {
			t.Errorf("the move's commands lack %q:\n%s", w, move)
		}
	}
	if regexp.MustCompile(`[A-Za-z0-9+/=]{64,}`).MatchString(s) {
		t.Errorf("the plan shows an encoded blob:\n%s", s)
	}
	table, _, _ := strings.Cut(s, "\noutputs:")
	if !strings.Contains(table, "  app-host-app-2:\n") || !strings.Contains(table, "    - systemctl disable --now caddy.service (where caddy.service is installed)\n") {
		t.Errorf("the upgrade stack's commands do not show Caddy stopped:\n%s", table)
	}
}

func TestCommandSteps(t *testing.T) {
	got := commandSteps(stack.Booted + "echo YWJj | base64 -d | sudo install -D -m 0644 -o root -g root /dev/stdin /etc/a && " +
		"{ [ -e /etc/b ] || { echo YWJj | base64 -d | sudo install -D -m 0644 -o root -g root /dev/stdin /etc/b; }; } && " +
		"sudo systemctl daemon-reload && [ x = x ] || { echo no >&2; exit 1; } && sudo install -D -m 0600 -o root -g root /dev/stdin /etc/env")
	want := []string{"install /etc/a, /etc/b (where absent)", "systemctl daemon-reload", "[ x = x ] || { echo no >&2; exit 1; }", "install /etc/env (from stdin)"}
	if !slices.Equal(got, want) {
		t.Errorf("steps\n%q, want\n%q", got, want)
	}
}
