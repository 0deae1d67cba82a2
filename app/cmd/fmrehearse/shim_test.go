package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestShimAnswersLikeTheHost: what deploy.sh asks systemctl and docker for,
// answered without starting anything.
func TestShimAnswersLikeTheHost(t *testing.T) {
	work := t.TempDir()
	c, err := newControl(work, "/nonexistent/app-env.sh", map[string]build{"r.local/fm:v1": {Bin: "/bin/true", Version: "v1"}}, cleanEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	h := &host{Name: "h", Root: filepath.Join(work, "h"), Ports: map[string]int{"blue": 1, "green": 2}}
	c.add(h)
	ctx := context.Background()
	for _, tc := range []struct {
		tool string
		args string
		code int
		out  string
	}{
		{"systemctl", "is-active --quiet flavormonk.service", 3, ""},
		{"systemctl", "is-active flavormonk@blue.service", 3, "inactive"},
		{"systemctl", "stop flavormonk@green.service", 0, ""},
		{"systemctl", "enable flavormonk@blue.service", 0, ""},
		{"systemctl", "restart flavormonk@purple.service", 5, "not found"},
		{"systemctl", "start flavormonk@blue.service", 1, "image-blue"}, // no image file yet
		{"systemctl", "reload caddy", 1, "not rehearsed"},               // no Caddy on this host
		{"systemctl", "daemon-reload", 0, ""},
		{"docker", "pull --quiet r.local/fm:v1", 0, "r.local/fm:v1"},
		{"docker", "pull --quiet r.local/fm:v9", 1, "not found"},
	} {
		res := h.handle(ctx, tc.tool, strings.Fields(tc.args))
		if res.Code != tc.code || !strings.Contains(res.Stdout+res.Stderr, tc.out) {
			t.Errorf("%s %s = %d %q %q; want %d and %q", tc.tool, tc.args, res.Code, res.Stdout, res.Stderr, tc.code, tc.out)
		}
	}

	// Through the wrapper deploy.sh runs (this test binary in shim mode).
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	shims, err := writeShims(filepath.Join(work, "bin"), self)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(shims["systemctl"], "is-active", "flavormonk@blue.service")
	cmd.Env = append(os.Environ(), "FM_ROOT="+h.Root, controlEnv+"="+c.sock)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || strings.TrimSpace(string(out)) != "inactive" {
		t.Errorf("the systemctl wrapper: %q, %v; want inactive and exit status 3", out, err)
	}
	cmd = exec.Command(shims["docker"], "pull", "r.local/fm:v1")
	cmd.Env = append(os.Environ(), "FM_ROOT=/elsewhere", controlEnv+"="+c.sock)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no rehearsal host") {
		t.Errorf("the docker wrapper for an unknown FM_ROOT: %q, %v; want a failure", out, err)
	}
}

func TestReadEnvFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(p, []byte("# settings\nA=1\nexport B=x=y\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env, err := readEnvFile(p)
	if err != nil || env["A"] != "1" || env["B"] != "x=y" || len(env) != 2 {
		t.Fatalf("readEnvFile = %v, %v", env, err)
	}
	if err := os.WriteFile(p, []byte("not a setting\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readEnvFile(p); err == nil {
		t.Fatal("a line without = was accepted")
	}
}
