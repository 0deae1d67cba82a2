package stack_test

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/flavormonk/flavormonk/infra/cloudinit"
	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
)

type appHostPair struct{ bundle, deploy mockrun.Resource }

// appHostPairs returns each deploy-<name> with its app-host-<name>,
// failing when a deploy has none.
func appHostPairs(t *testing.T, c *mockrun.Capture) []appHostPair {
	t.Helper()
	var out []appHostPair
	for _, d := range c.ByType("command:remote:Command") {
		host, ok := strings.CutPrefix(d.Name, "deploy-")
		if !ok {
			continue
		}
		b, ok := c.Find("command:remote:Command", "app-host-"+host)
		if !ok {
			t.Fatalf("no app-host-%s for %s", host, d.Name)
		}
		out = append(out, appHostPair{b, d})
	}
	return out
}

func createOf(r mockrun.Resource) string {
	s, _ := mockrun.Plain(r.Inputs["create"], false).(string)
	return s
}

var installB64 = regexp.MustCompile(`echo ([A-Za-z0-9+/=]+) \| base64 -d \| sudo install -D -m (0[0-7]{3}) -o root -g root /dev/stdin (\S+?);? `)

// bundleFiles decodes the files an app-host command installs, by path.
func bundleFiles(t *testing.T, create string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range installB64.FindAllStringSubmatch(create+" ", -1) {
		b, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil {
			t.Fatalf("%s: %v", m[3], err)
		}
		out[m[3]] = string(b)
	}
	return out
}

// Every app host gets the bundle after its server exists and before its
// deploy, on both clouds, in every phase with app hosts, and the command
// waits for the first boot like the others.
func TestAppHostBeforeDeploy(t *testing.T) {
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		for _, phase := range []string{"mvp", "upgrade", "scale"} {
			t.Run(cloud+"/"+phase, func(t *testing.T) {
				c := runStack(t, config(cloud, phase)).capture
				pairs := appHostPairs(t, c)
				bundles := 0
				for _, r := range c.ByType("command:remote:Command") {
					if strings.HasPrefix(r.Name, "app-host-") {
						bundles++
					}
				}
				if bundles != len(pairs) || (phase == "scale") != (bundles == 0) {
					t.Fatalf("%d app-host commands for %d deploys", bundles, len(pairs))
				}
				for _, p := range pairs {
					if !p.deploy.DependsOnResource(p.bundle) {
						t.Errorf("%s does not wait for %s", p.deploy.Name, p.bundle.Name)
					}
					if len(p.bundle.DependsOn) == 0 {
						t.Errorf("%s waits for no server", p.bundle.Name)
					}
					create := createOf(p.bundle)
					if !strings.HasPrefix(create, stack.Booted) {
						t.Errorf("%s does not wait for the first boot", p.bundle.Name)
					}
					// One argument of a command line: Linux caps it at 128 KiB.
					if len(create) > 96<<10 {
						t.Errorf("%s: the command is %d bytes", p.bundle.Name, len(create))
					}
					files := bundleFiles(t, create)
					for _, path := range []string{cloudinit.DeployPath, "/usr/local/sbin/flavormonk-app-env", "/usr/local/sbin/flavormonk-app-run",
						cloudinit.AppUnitPath, cloudinit.AppStopDropInPath, cloudinit.HostEnvPath, cloudinit.NftablesPath, "/usr/local/lib/flavormonk/net.sh"} {
						if files[path] == "" {
							t.Errorf("%s does not install %s", p.bundle.Name, path)
						}
					}
					if !strings.Contains(create, "sudo systemctl daemon-reload && sudo nft -f /etc/nftables.conf") {
						t.Errorf("%s: no daemon-reload and firewall load:\n%s", p.bundle.Name, create)
					}
				}
			})
		}
	}
}

// The bundle carries no secret: no stdin, no secret input, none of the
// stack's secrets in its command line or trigger, which is a plain hash
// of the command.
func TestAppHostNoSecret(t *testing.T) {
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		for _, phase := range []string{"mvp", "upgrade"} {
			t.Run(cloud+"/"+phase, func(t *testing.T) {
				cfg, keys := registryConfig(cloud, phase)
				c := runRegistry(t, cfg, keys, false)
				for _, p := range appHostPairs(t, c) {
					b := p.bundle
					if _, ok := b.Inputs["stdin"]; ok && !b.Inputs["stdin"].IsNull() {
						t.Errorf("%s has a stdin", b.Name)
					}
					if b.Inputs["create"].ContainsSecrets() || b.Inputs["triggers"].ContainsSecrets() {
						t.Errorf("%s: its command or trigger is secret", b.Name)
					}
					create := createOf(b)
					text := create
					for _, content := range bundleFiles(t, create) {
						text += "\n" + content
					}
					for _, s := range []string{sentinelSSH, sentinelOpenAI, sentinelRegistry, "SENTINEL-REPLICATE", "mock-random-db-password", "mock-random-redis-password"} {
						if strings.Contains(text, s) {
							t.Errorf("%s holds the secret %s", b.Name, s)
						}
					}
					if at := secretAt(b); len(at) > 0 {
						t.Errorf("%s: the registry password is in %v", b.Name, at)
					}
				}
			})
		}
	}
}

// In mvp app-1 is the stack's entry: its bundle installs Caddy when it is
// missing (a stack made in upgrade and moved to mvp has none), writes the
// Caddyfile, the upstream only where there is none (a bundle must not
// switch Caddy away from the colour that serves), validates the new
// Caddyfile beside the one in use and only then moves it into place
// (a broken one must not wait there for Caddy's next restart), and
// enables and reloads Caddy; the app listens on
// loopback. Outside mvp every app host stops and disables Caddy, and the
// app listens on its private address for the load balancer.
func TestAppHostCaddy(t *testing.T) {
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		t.Run(cloud+"/mvp", func(t *testing.T) {
			cfg := config(cloud, "mvp")
			cfg["flavormonk:domain"] = "recipes.example.com"
			cfg["flavormonk:acmeEmail"] = "ops@example.com"
			c := runStack(t, cfg).capture
			pairs := appHostPairs(t, c)
			if len(pairs) != 1 {
				t.Fatalf("%d app hosts in mvp", len(pairs))
			}
			create := createOf(pairs[0].bundle)
			files := bundleFiles(t, create)
			steps := []string{
				"{ command -v caddy >/dev/null || { sudo apt-get -o DPkg::Lock::Timeout=600 update -qq && " +
					"sudo DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install -y -qq caddy >/dev/null; }; }",
				"/dev/stdin /etc/caddy/Caddyfile.new ",
				"{ [ -e " + cloudinit.CaddyUpstreamPath + " ] || { echo ",
				"sudo caddy validate --config /etc/caddy/Caddyfile.new --adapter caddyfile >/dev/null",
				"sudo mv -f /etc/caddy/Caddyfile.new /etc/caddy/Caddyfile",
				"sudo systemctl enable caddy && sudo systemctl reload-or-restart caddy",
			}
			last := -1
			for _, s := range steps {
				i := strings.Index(create, s)
				if i < 0 || i < last {
					t.Fatalf("%s: %q missing or out of order:\n%s", pairs[0].bundle.Name, s, create)
				}
				last = i
			}
			// The Caddyfile reaches its place only once it validates.
			if _, ok := files[cloudinit.CaddyfilePath]; ok {
				t.Errorf("%s installs %s before validating it", pairs[0].bundle.Name, cloudinit.CaddyfilePath)
			}
			cf := files["/etc/caddy/Caddyfile.new"]
			for _, want := range []string{"recipes.example.com {", "email ops@example.com", "import " + cloudinit.CaddyUpstreamPath} {
				if !strings.Contains(cf, want) {
					t.Errorf("Caddyfile lacks %q:\n%s", want, cf)
				}
			}
			if up := files[cloudinit.CaddyUpstreamPath]; up != "reverse_proxy 127.0.0.1:8080\n" {
				t.Errorf("upstream %q", up)
			}
			env := files[cloudinit.HostEnvPath]
			for _, want := range []string{"FLAVORMONK_LISTEN=loopback\n", "FLAVORMONK_CADDY=yes\n"} {
				if !strings.Contains(env, want) {
					t.Errorf("host.env lacks %q:\n%s", want, env)
				}
			}
			if !strings.Contains(files[cloudinit.NftablesPath], "tcp dport { 80, 443 } accept") {
				t.Errorf("the firewall does not admit the web ports:\n%s", files[cloudinit.NftablesPath])
			}
			if strings.Contains(create, "disable --now caddy") {
				t.Error("mvp disables Caddy")
			}
		})
		t.Run(cloud+"/upgrade", func(t *testing.T) {
			c := runStack(t, config(cloud, "upgrade")).capture
			for _, p := range appHostPairs(t, c) {
				create := createOf(p.bundle)
				files := bundleFiles(t, create)
				if !strings.HasSuffix(create, " && { ! systemctl cat caddy.service >/dev/null 2>&1 || sudo systemctl disable --now caddy.service; }") {
					t.Errorf("%s does not stop and disable Caddy:\n%s", p.bundle.Name, create)
				}
				if strings.Contains(create, "apt-get install") || files[cloudinit.CaddyfilePath] != "" || files[cloudinit.CaddyUpstreamPath] != "" {
					t.Errorf("%s sets up Caddy outside mvp", p.bundle.Name)
				}
				env := files[cloudinit.HostEnvPath]
				for _, want := range []string{"FLAVORMONK_LISTEN=private\n", "FLAVORMONK_CADDY=no\n"} {
					if !strings.Contains(env, want) {
						t.Errorf("%s: host.env lacks %q:\n%s", p.bundle.Name, want, env)
					}
				}
				if strings.Contains(files[cloudinit.NftablesPath], "80, 443") {
					t.Errorf("%s: the firewall admits the web ports outside mvp", p.bundle.Name)
				}
			}
		})
	}
}

// The bundle re-runs when it changes, and only then: the same stack gives
// the same trigger (a plain hash of the command), a phase change another.
func TestAppHostTrigger(t *testing.T) {
	trigger := func(cloud, phase string) string {
		c := runStack(t, config(cloud, phase)).capture
		b, ok := c.Find("command:remote:Command", "app-host-app-1")
		if !ok {
			t.Fatalf("%s/%s: no app-host-app-1", cloud, phase)
		}
		trig := b.Inputs["triggers"]
		if !trig.IsArray() || len(trig.ArrayValue()) != 1 || !trig.ArrayValue()[0].IsString() {
			t.Fatalf("%s/%s: triggers %v, want one plain string", cloud, phase, trig)
		}
		return trig.ArrayValue()[0].StringValue()
	}
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		mvp, again, up := trigger(cloud, "mvp"), trigger(cloud, "mvp"), trigger(cloud, "upgrade")
		if !hex16.MatchString(mvp) || mvp != again || mvp == up {
			t.Errorf("%s: trigger mvp %q, again %q, upgrade %q", cloud, mvp, again, up)
		}
	}
}

// The deploy's mode follows the phase and the cloud: blue/green behind
// Caddy in mvp, in place behind the load balancer in upgrade, waiting on
// DigitalOcean for the balancer's own probes (its healthy threshold).
func TestDeployModePerPhase(t *testing.T) {
	img := "ghcr.io/acme/flavormonk:v1.0.0"
	for _, tc := range []struct{ cloud, phase, want string }{
		{"hetzner", "mvp", "--mode bluegreen " + img},
		{"digitalocean", "mvp", "--mode bluegreen " + img},
		{"hetzner", "upgrade", "--mode inplace " + img},
		{"digitalocean", "upgrade", "--mode inplace --lb-probes 3 " + img},
	} {
		t.Run(tc.cloud+"/"+tc.phase, func(t *testing.T) {
			if tc.cloud == "digitalocean" && tc.phase == "upgrade" && plan.LBHealthyThreshold != 3 {
				tc.want = strings.Replace(tc.want, "3", itoa(plan.LBHealthyThreshold), 1)
			}
			c := runStack(t, config(tc.cloud, tc.phase)).capture
			pairs := appHostPairs(t, c)
			if len(pairs) == 0 {
				t.Fatal("no deploys")
			}
			for _, p := range pairs {
				create := createOf(p.deploy)
				if !strings.HasSuffix(create, "&& sudo "+cloudinit.DeployPath+" "+tc.want) {
					t.Errorf("%s: %s", p.deploy.Name, create)
				}
			}
		})
	}
}

// On DigitalOcean from upgrade on, a deploy counts the load balancer's
// probes (--lb-probes), so every deploy waits for the balancer and for the
// app firewall whose rule admits it: both are made beside the droplets,
// and a deploy begun before them could time out and roll back. Hetzner's
// deploys do not count probes (the runner asks its API afterwards).
func TestDeployWaitsForDigitalOceanLB(t *testing.T) {
	for _, cloud := range []string{"digitalocean", "hetzner"} {
		for _, phase := range []string{"mvp", "upgrade"} {
			t.Run(cloud+"/"+phase, func(t *testing.T) {
				c := runStack(t, config(cloud, phase)).capture
				lb, hasLB := c.Find("digitalocean:index/loadBalancer:LoadBalancer", "lb")
				fw, hasFW := c.Find("digitalocean:index/firewall:Firewall", "app-firewall")
				want := cloud == "digitalocean" && phase == "upgrade"
				if want && (!hasLB || !hasFW) {
					t.Fatalf("no lb (%v) or app-firewall (%v)", hasLB, hasFW)
				}
				for _, p := range appHostPairs(t, c) {
					waits := hasLB && p.deploy.DependsOnResource(lb) && p.deploy.DependsOnResource(fw)
					if waits != want {
						t.Errorf("%s waits for the load balancer and the app firewall: %v, want %v (%v)", p.deploy.Name, waits, want, p.deploy.DependsOn)
					}
				}
			})
		}
	}
}
