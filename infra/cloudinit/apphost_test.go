package cloudinit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// AppHostFiles are the user data's own app-host files (same paths, same
// content), plus the stop drop-ins; host.env follows what is in front of
// the app: loopback behind Caddy alone, every address while Caddy and a
// load balancer both send to it (the hand-over), private behind the
// balancer alone.
func TestAppHostFiles(t *testing.T) {
	for _, c := range []struct {
		name         string
		caddy, lb    bool
		listen, flag string
	}{
		{"mvp", true, false, "loopback", "yes"},
		{"hand-over", true, true, "any", "yes"},
		{"upgrade", false, true, "private", "no"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := base(RoleApp, "hetzner")
			h.LoadBalancer = c.lb
			if c.caddy {
				h.Caddy = &Caddy{Domain: "flavormonk.example"}
			}
			got, err := AppHostFiles(h)
			if err != nil {
				t.Fatal(err)
			}
			byPath := map[string]File{}
			for _, f := range got {
				if _, dup := byPath[f.Path]; dup {
					t.Errorf("%s twice", f.Path)
				}
				byPath[f.Path] = f
			}
			ud, _ := files(t, h)
			for _, p := range []string{HostEnvPath, "/usr/local/lib/flavormonk/net.sh", NftablesPath, "/etc/flavormonk/README",
				"/usr/local/sbin/flavormonk-app-env", "/usr/local/sbin/flavormonk-app-run", DeployPath, AppUnitPath} {
				f, ok := byPath[p]
				if !ok || f.Content != ud[p].content || f.Perms != ud[p].perms || f.Once || f.IfExists != "" {
					t.Errorf("%s: %+v, want the user data's (%s)", p, ok, ud[p].perms)
				}
			}
			env := byPath[HostEnvPath].Content
			for _, want := range []string{"FLAVORMONK_LISTEN=" + c.listen + "\n", "FLAVORMONK_CADDY=" + c.flag + "\n"} {
				if !strings.Contains(env, want) {
					t.Errorf("host.env lacks %q:\n%s", want, env)
				}
			}
			if f := byPath[AppStopDropInPath]; f.Content != AppStopDropIn || f.IfExists != "" {
				t.Errorf("stop drop-in %+v", f)
			}
			if f := byPath[LegacyStopDropInPath]; f.Content != LegacyStopDropIn || f.IfExists != LegacyUnitPath ||
				!strings.Contains(f.Content, "docker stop -t 75 flavormonk\n") {
				t.Errorf("legacy stop drop-in %+v", f)
			}
			up, ok := byPath[CaddyUpstreamPath]
			if c.caddy != ok || (ok && (!up.Once || up.Content != "reverse_proxy 127.0.0.1:8080\n")) {
				t.Errorf("upstream %+v (present %v)", up, ok)
			}
			if _, ok := byPath[CaddyfilePath]; ok != c.caddy {
				t.Errorf("Caddyfile present %v", ok)
			}
			for _, p := range []string{"/etc/ssh/sshd_config.d/10-flavormonk.conf", "/usr/local/sbin/flavormonk-firstboot"} {
				if _, ok := byPath[p]; ok {
					t.Errorf("the bundle rewrites %s", p)
				}
			}
		})
	}
	if _, err := AppHostFiles(base(RoleDB, "hetzner")); err == nil {
		t.Error("a db host got app-host files")
	}
	h := base(RoleRedis, "hetzner")
	h.AllowFrom, h.LoadBalancer = []string{"10.10.1.2"}, true
	if _, err := Render(h); err == nil || !strings.Contains(err.Error(), "LoadBalancer") {
		t.Errorf("LoadBalancer on a redis host: %v", err)
	}
}

// flavormonk-app-env gives each colour its own port, metrics port, env
// file and the addresses the deploy checks, and without a colour keeps the
// legacy unit's files; the env file drops the operator's listen addresses.
func TestAppEnvColours(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"etc/flavormonk", "usr/local/lib/flavormonk"} {
		must(os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	h := base(RoleApp, "hetzner")
	h.Caddy = &Caddy{}
	fs, _ := files(t, h)
	must(os.WriteFile(filepath.Join(root, "etc/flavormonk/host.env"), []byte(fs[HostEnvPath].content), 0o644))
	must(os.WriteFile(filepath.Join(root, "usr/local/lib/flavormonk/net.sh"), []byte(netSh), 0o644))
	must(os.WriteFile(filepath.Join(root, "etc/flavormonk/env"), []byte("FLAVORMONK_TIER=mvp\nFLAVORMONK_ADDR=:9999\nFLAVORMONK_METRICS_ADDR=:1\n"), 0o600))
	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(root, "run/flavormonk", rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, c := range []struct{ colour, sfx, addr, metrics string }{
		{"blue", "-blue", "127.0.0.1:8080", "127.0.0.1:9090"},
		{"green", "-green", "127.0.0.1:8081", "127.0.0.1:9091"},
		{"", "", "127.0.0.1:8080", "127.0.0.1:9090"},
	} {
		cmd := exec.Command("bash", "-c", appEnvSh, "flavormonk-app-env", c.colour)
		cmd.Env = append(os.Environ(), "FM_ROOT="+root)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("colour %q: %v\n%s", c.colour, err, out)
		}
		want := "FLAVORMONK_TIER=mvp\nFLAVORMONK_ADDR=" + c.addr + "\nFLAVORMONK_METRICS_ADDR=" + c.metrics + "\n"
		if got := read("env" + c.sfx); got != want {
			t.Errorf("colour %q: env\n%s\nwant\n%s", c.colour, got, want)
		}
		if st, _ := os.Stat(filepath.Join(root, "run/flavormonk/env"+c.sfx)); st.Mode().Perm() != 0o600 {
			t.Errorf("colour %q: env file mode %v", c.colour, st.Mode())
		}
		if got := read("addr" + c.sfx); got != c.addr+"\n" {
			t.Errorf("colour %q: addr %q", c.colour, got)
		}
		if got := read("metrics-addr" + c.sfx); got != c.metrics+"\n" {
			t.Errorf("colour %q: metrics-addr %q", c.colour, got)
		}
	}
	cmd := exec.Command("bash", "-c", appEnvSh, "flavormonk-app-env", "red")
	cmd.Env = append(os.Environ(), "FM_ROOT="+root)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("colour red accepted:\n%s", out)
	}
}
