package stack_test

import (
	"strings"
	"testing"

	"github.com/flavormonk/flavormonk/infra/cloudinit"
)

// During the hand-over (upgrade with keepVmEntry) app-1 is both a load
// balancer target and the entry Caddy serves: its bundle keeps Caddy, the
// app listens on loopback and the private address, the host firewall keeps
// 80/443; every other app host is a plain target. The deploy stays in place
// behind the load balancer on all of them.
func TestAppHostHandOver(t *testing.T) {
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		t.Run(cloud, func(t *testing.T) {
			cfg := config(cloud, "upgrade")
			cfg["flavormonk:keepVmEntry"] = "true"
			c := runStack(t, cfg).capture
			pairs := appHostPairs(t, c)
			if len(pairs) < 2 {
				t.Fatalf("%d app hosts in upgrade", len(pairs))
			}
			for _, p := range pairs {
				create := createOf(p.bundle)
				files := bundleFiles(t, create)
				env := files[cloudinit.HostEnvPath]
				entry := p.bundle.Name == "app-host-app-1"
				wantEnv := []string{"FLAVORMONK_LISTEN=private\n", "FLAVORMONK_CADDY=no\n"}
				if entry {
					wantEnv = []string{"FLAVORMONK_LISTEN=any\n", "FLAVORMONK_CADDY=yes\n"}
				}
				for _, want := range wantEnv {
					if !strings.Contains(env, want) {
						t.Errorf("%s: host.env lacks %q:\n%s", p.bundle.Name, want, env)
					}
				}
				caddySetUp := strings.Contains(create, "sudo systemctl enable caddy && sudo systemctl reload-or-restart caddy")
				caddyStopped := strings.Contains(create, "sudo systemctl disable --now caddy.service")
				if caddySetUp != entry || caddyStopped == entry {
					t.Errorf("%s: Caddy set up %v, stopped %v; want set up only on app-1", p.bundle.Name, caddySetUp, caddyStopped)
				}
				webPorts := strings.Contains(files[cloudinit.NftablesPath], "tcp dport { 80, 443 } accept")
				if webPorts != entry {
					t.Errorf("%s: host firewall admits 80/443: %v", p.bundle.Name, webPorts)
				}
				if entry && files[cloudinit.CaddyUpstreamPath] != "reverse_proxy 127.0.0.1:8080\n" {
					t.Errorf("app-1's first upstream %q, want the in-place colour on 8080", files[cloudinit.CaddyUpstreamPath])
				}
				if d := createOf(p.deploy); !strings.Contains(d, " --mode inplace") {
					t.Errorf("%s: %s, want --mode inplace behind the load balancer", p.deploy.Name, d)
				}
			}
		})
	}
}
