package stack_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/flavormonk/flavormonk/infra/kube"
	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
	"github.com/flavormonk/flavormonk/infra/wiring"
)

const sentinelRegistry = "SENTINEL-REGISTRY-TOKEN"

// registryConfig is a stack whose image is on a private GHCR package.
func registryConfig(cloud, phase string) (map[string]string, []string) {
	cfg := config(cloud, phase)
	cfg["flavormonk:registry"] = `{"server": "ghcr.io", "username": "acme-bot"}`
	cfg["flavormonk:registryPassword"] = sentinelRegistry
	return cfg, append(slices.Clone(secretKeys), "flavormonk:registryPassword")
}

func runRegistry(t *testing.T, cfg map[string]string, keys []string, preview bool) *mockrun.Capture {
	t.Helper()
	c, err := mockrun.Run(stack.Program(wiring.Clouds(), nil), mockrun.Options{Config: cfg, SecretKeys: keys, Preview: preview})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// secretAt reports where the registry password (or the basic-auth value
// made from it) appears in a resource's inputs, by input name.
func secretAt(r mockrun.Resource) []string {
	auth := base64.StdEncoding.EncodeToString([]byte("acme-bot:" + sentinelRegistry))
	var at []string
	for k, v := range r.Inputs {
		b, _ := json.Marshal(mockrun.Plain(v, false))
		if s := string(b); strings.Contains(s, sentinelRegistry) || strings.Contains(s, auth) {
			at = append(at, string(k))
		}
	}
	slices.Sort(at)
	return at
}

// App servers (mvp, upgrade; both clouds, as a preview runs too) log in
// over SSH before their deploy pulls: the password travels on the login
// command's stdin alone — never in a command line, trigger, environment,
// user data or any other input — and docker's config is made and checked
// 0600 root.
func TestRegistryLoginOverSSH(t *testing.T) {
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		for _, phase := range []string{"mvp", "upgrade"} {
			for _, preview := range []bool{false, true} {
				name := cloud + "/" + phase
				if preview {
					name += "/preview"
				}
				t.Run(name, func(t *testing.T) {
					cfg, keys := registryConfig(cloud, phase)
					c := runRegistry(t, cfg, keys, preview)
					logins := map[string]mockrun.Resource{}
					for _, r := range c.ByType("command:remote:Command") {
						if strings.HasPrefix(r.Name, "registry-login-") {
							logins[strings.TrimPrefix(r.Name, "registry-login-")] = r
						}
					}
					deploys := 0
					for _, d := range c.ByType("command:remote:Command") {
						host, ok := strings.CutPrefix(d.Name, "deploy-")
						if !ok {
							continue
						}
						deploys++
						login, ok := logins[host]
						if !ok {
							t.Fatalf("no registry-login-%s before %s", host, d.Name)
						}
						if !d.DependsOnResource(login) {
							t.Errorf("%s does not wait for %s", d.Name, login.Name)
						}
						if stdin := mockrun.Plain(login.Inputs["stdin"], false); stdin != sentinelRegistry {
							t.Errorf("%s: stdin %q, want the password alone", login.Name, stdin)
						}
						if !login.Inputs["stdin"].ContainsSecrets() {
							t.Errorf("%s: stdin is not a secret input", login.Name)
						}
						create, _ := mockrun.Plain(login.Inputs["create"], false).(string)
						for _, want := range []string{
							"sudo install -d -m 0700 -o root -g root /root/.docker",
							"sudo docker --config /root/.docker login --username 'acme-bot' --password-stdin 'ghcr.io'",
							"sudo chmod 0600 /root/.docker/config.json",
							`[ "$m" = '600 root' ] || {`,
						} {
							if !strings.Contains(create, want) {
								t.Errorf("%s: create lacks %q:\n%s", login.Name, want, create)
							}
						}
						if !strings.HasPrefix(create, stack.Booted) {
							t.Errorf("%s does not wait for the first boot", login.Name)
						}
					}
					if deploys == 0 || len(logins) != deploys {
						t.Errorf("%d deploys, %d logins", deploys, len(logins))
					}
					for _, r := range c.Resources {
						at := secretAt(r)
						want := []string(nil)
						if r.Type == "command:remote:Command" && strings.HasPrefix(r.Name, "registry-login-") {
							want = []string{"stdin"}
						}
						if !slices.Equal(at, want) {
							t.Errorf("%s %s: the registry password is in %v, want %v", r.Type, r.Name, at, want)
						}
					}
				})
			}
		}
	}
}

// A rotated password logs in again, and only that: the trigger is a plain
// hash that changes with the password (salted: not the password's own
// hash), with the username and with the server; the deploys do not move.
func TestRegistryLoginTrigger(t *testing.T) {
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		t.Run(cloud, func(t *testing.T) {
			triggers := func(mut func(map[string]string)) map[string]string {
				cfg, keys := registryConfig(cloud, "upgrade")
				if mut != nil {
					mut(cfg)
				}
				out := map[string]string{}
				for _, r := range runRegistry(t, cfg, keys, true).ByType("command:remote:Command") {
					if !strings.HasPrefix(r.Name, "registry-login-") && !strings.HasPrefix(r.Name, "deploy-") {
						continue
					}
					b, _ := json.Marshal(mockrun.Plain(r.Inputs["triggers"], false))
					if r.Inputs["triggers"].ContainsSecrets() {
						t.Fatalf("%s: triggers hold a secret", r.Name)
					}
					out[r.Name] = string(b)
				}
				return out
			}
			base := triggers(nil)
			for name, tr := range base {
				if !strings.HasPrefix(name, "registry-login-") {
					continue
				}
				var l []string
				if err := json.Unmarshal([]byte(tr), &l); err != nil || len(l) != 3 || l[0] != "ghcr.io" || l[1] != "acme-bot" || !hex16.MatchString(l[2]) {
					t.Fatalf("%s: triggers %s", name, tr)
				}
				sum := sha256.Sum256([]byte(sentinelRegistry))
				if l[2] == hex.EncodeToString(sum[:8]) {
					t.Errorf("%s: the trigger is the bare password's hash", name)
				}
			}
			for _, ch := range []struct {
				name string
				mut  func(map[string]string)
			}{
				{"password", func(c map[string]string) { c["flavormonk:registryPassword"] = sentinelRegistry + "-2" }},
				{"username", func(c map[string]string) {
					c["flavormonk:registry"] = `{"server": "ghcr.io", "username": "acme-deploy"}`
				}},
			} {
				got := triggers(ch.mut)
				logins := 0
				for name, tr := range base {
					isLogin := strings.HasPrefix(name, "registry-login-")
					if isLogin {
						logins++
					}
					if changed := got[name] != tr; changed != isLogin {
						t.Errorf("new %s: %s triggers changed %v, want %v (%s → %s)", ch.name, name, changed, isLogin, tr, got[name])
					}
				}
				if logins < 2 {
					t.Errorf("%d login commands", logins)
				}
			}
		})
	}
}

// Scale: no SSH login; the cluster gets a kubernetes.io/dockerconfigjson
// Secret (its data a secret input, the password in it and nowhere else)
// and both the app's pods and the migration Job's pull with it.
func TestRegistryPullSecret(t *testing.T) {
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		t.Run(cloud, func(t *testing.T) {
			cfg, keys := registryConfig(cloud, "scale")
			c := runRegistry(t, cfg, keys, true)
			sec, ok := c.Find("kubernetes:core/v1:Secret", "registry-credentials")
			if !ok {
				t.Fatal("no registry-credentials Secret")
			}
			obj := mockrun.PlainMap(sec.Inputs, false)
			meta := obj["metadata"].(map[string]any)
			if obj["type"] != "kubernetes.io/dockerconfigjson" || meta["name"] != kube.RegistrySecret || meta["namespace"] != kube.Namespace {
				t.Errorf("secret %v %v", obj["type"], meta)
			}
			if !sec.Inputs["stringData"].ContainsSecrets() {
				t.Error("the pull secret's data is not a secret input")
			}
			var dc struct {
				Auths map[string]struct{ Username, Password, Auth string }
			}
			raw, _ := obj["stringData"].(map[string]any)[".dockerconfigjson"].(string)
			if err := json.Unmarshal([]byte(raw), &dc); err != nil {
				t.Fatalf(".dockerconfigjson %q: %v", raw, err)
			}
			a := dc.Auths["ghcr.io"]
			if len(dc.Auths) != 1 || a.Username != "acme-bot" || a.Password != sentinelRegistry ||
				a.Auth != base64.StdEncoding.EncodeToString([]byte("acme-bot:"+sentinelRegistry)) {
				t.Errorf(".dockerconfigjson %s", raw)
			}
			for _, name := range []string{"app", "migrate"} {
				kind := map[string]string{"app": "kubernetes:apps/v1:Deployment", "migrate": "kubernetes:batch/v1:Job"}[name]
				r, ok := c.Find(kind, name)
				if !ok {
					t.Fatalf("no %s", name)
				}
				spec := mockrun.PlainMap(r.Inputs, false)["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
				b, _ := json.Marshal(spec["imagePullSecrets"])
				if string(b) != `[{"name":"flavormonk-registry"}]` {
					t.Errorf("%s: imagePullSecrets %s", name, b)
				}
			}
			if job, _ := c.Find("kubernetes:batch/v1:Job", "migrate"); !job.DependsOnResource(sec) {
				t.Error("the migration Job does not wait for the pull secret")
			}
			for _, r := range c.Resources {
				if strings.HasPrefix(r.Name, "registry-login-") {
					t.Errorf("%s in scale: no app servers to log in", r.Name)
				}
				want := []string(nil)
				if r.URN == sec.URN {
					want = []string{"stringData"}
				}
				if at := secretAt(r); !slices.Equal(at, want) {
					t.Errorf("%s %s: the registry password is in %v, want %v", r.Type, r.Name, at, want)
				}
			}
		})
	}
}

// Without a registry nothing changes: no login, no pull secret.
func TestNoRegistryNoLogin(t *testing.T) {
	for _, phase := range []string{"mvp", "scale"} {
		c := runRegistry(t, config("hetzner", phase), secretKeys, false)
		for _, r := range c.Resources {
			if strings.HasPrefix(r.Name, "registry-") {
				t.Errorf("%s: %s %s without a registry", phase, r.Type, r.Name)
			}
			if strings.Contains(string(must(json.Marshal(mockrun.PlainMap(r.Inputs, true)))), "imagePullSecrets") {
				t.Errorf("%s: %s has imagePullSecrets without a registry", phase, r.Name)
			}
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// Each bad registry setting fails the preview with the key that is wrong.
func TestRegistryConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mut      func(cfg map[string]string, keys []string) []string
		key, msg string
	}{
		{"no password", func(c map[string]string, k []string) []string {
			delete(c, "flavormonk:registryPassword")
			return k
		}, "registryPassword", "must be set (as a secret) with registry ghcr.io"},
		{"empty password", func(c map[string]string, k []string) []string {
			c["flavormonk:registryPassword"] = " "
			return k
		}, "registryPassword", "must be set"},
		{"password in plain config", func(c map[string]string, k []string) []string {
			return slices.DeleteFunc(k, func(s string) bool { return s == "flavormonk:registryPassword" })
		}, "registryPassword", "pulumi config set --secret registryPassword"},
		{"password without registry", func(c map[string]string, k []string) []string {
			delete(c, "flavormonk:registry")
			return k
		}, "registryPassword", "registry is not"},
		{"scheme", func(c map[string]string, k []string) []string {
			c["flavormonk:registry"] = `{"server": "https://ghcr.io", "username": "acme-bot"}`
			return k
		}, "registry", "without a scheme"},
		{"path", func(c map[string]string, k []string) []string {
			c["flavormonk:registry"] = `{"server": "ghcr.io/acme", "username": "acme-bot"}`
			return k
		}, "registry", "host[:port]"},
		{"no username", func(c map[string]string, k []string) []string {
			c["flavormonk:registry"] = `{"server": "ghcr.io"}`
			return k
		}, "registry", "username must be set"},
		{"other registry", func(c map[string]string, k []string) []string {
			c["flavormonk:registry"] = `{"server": "registry.example.com", "username": "acme-bot"}`
			return k
		}, "registry", "not appImage's registry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, keys := registryConfig("hetzner", "mvp")
			keys = tc.mut(cfg, keys)
			_, err := mockrun.Run(stack.Program(wiring.Clouds(), nil), mockrun.Options{Config: cfg, SecretKeys: keys, Preview: true})
			var pe *plan.Error
			if !errors.As(err, &pe) || pe.Key != tc.key || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want key %s with %q", err, tc.key, tc.msg)
			}
			if strings.Contains(err.Error(), sentinelRegistry) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}
