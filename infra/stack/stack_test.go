package stack_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
	"github.com/flavormonk/flavormonk/infra/transition"
	"github.com/flavormonk/flavormonk/infra/wiring"
)

const (
	sentinelSSH    = "SENTINEL-SSH-PRIVATE-KEY"
	sentinelOpenAI = "SENTINEL-OPENAI-KEY"
)

func config(cloud, phase string) map[string]string {
	m := map[string]string{
		"flavormonk:cloud":         cloud,
		"flavormonk:phase":         phase,
		"flavormonk:appImage":      "ghcr.io/acme/flavormonk:v1.0.0",
		"flavormonk:adminCidrs":    `["198.51.100.10/32"]`,
		"flavormonk:sshPublicKeys": `["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICULUbtwh0qjnM7olCUJrtceG8Wv631ji5o2jRlqtZRu ops@x"]`,
		"flavormonk:sshPrivateKey": sentinelSSH,
		"flavormonk:openaiApiKey":  sentinelOpenAI,
	}
	if phase == "upgrade" || phase == "scale" {
		m["flavormonk:replicateApiToken"] = "SENTINEL-REPLICATE"
	}
	return m
}

var secretKeys = []string{"flavormonk:sshPrivateKey", "flavormonk:openaiApiKey", "flavormonk:replicateApiToken"}

type result struct {
	capture *mockrun.Capture
	outputs map[string]any
	secret  map[string]bool
	env     []string
}

func runStack(t *testing.T, cfg map[string]string) *result {
	t.Helper()
	r := &result{outputs: map[string]any{}, secret: map[string]bool{}}
	var mu sync.Mutex
	hooks := &stack.Hooks{
		Output: func(name string, v any, secret bool) {
			mu.Lock()
			r.outputs[name], r.secret[name] = v, secret
			mu.Unlock()
		},
		AppEnv: func(env []string) { r.env = env },
	}
	c, err := mockrun.Run(stack.Program(wiring.Clouds(), hooks), mockrun.Options{Config: cfg, SecretKeys: secretKeys})
	if err != nil {
		t.Fatal(err)
	}
	r.capture = c
	return r
}

func TestStacks(t *testing.T) {
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		for _, phase := range []string{"mvp", "upgrade", "scale"} {
			t.Run(cloud+"/"+phase, func(t *testing.T) {
				r := runStack(t, config(cloud, phase))
				for _, k := range []string{"appUrl", "publicIps", "phase", "cloud", "monthlyCost", "databaseUrl", "appEnv"} {
					if _, ok := r.outputs[k]; !ok {
						t.Errorf("output %s missing", k)
					}
				}
				secrets := []string{"databaseUrl", "appEnv"}
				if phase == "scale" {
					secrets = append(secrets, "kubeconfig")
				}
				for _, k := range secrets {
					if !r.secret[k] {
						t.Errorf("output %s is not secret", k)
					}
				}
				if r.outputs["phase"] != phase || r.outputs["cloud"] != cloud {
					t.Errorf("outputs phase/cloud = %v/%v", r.outputs["phase"], r.outputs["cloud"])
				}
				cost := fmt.Sprint(r.outputs["monthlyCost"])
				cur := map[string]string{"hetzner": "EUR", "digitalocean": "USD"}[cloud]
				if !strings.Contains(cost, cur) {
					t.Errorf("monthly cost %q not in %s", cost, cur)
				}
				env := strings.Join(r.env, "\n")
				if !strings.Contains(env, "FLAVORMONK_TIER="+phase) || !strings.Contains(env, "FLAVORMONK_STORE=postgres") {
					t.Errorf("app env:\n%s", env)
				}
				// Secrets never in user data, nor in any non-secret input.
				for _, res := range r.capture.Resources {
					b, _ := json.Marshal(res.Inputs.Mappable())
					s := string(b)
					if res.Type == "command:remote:Command" {
						continue // stdin and connection carry secrets, as secret inputs
					}
					if res.Type == "kubernetes:core/v1:Secret" {
						if !res.Inputs["stringData"].ContainsSecrets() {
							t.Errorf("Secret %s: stringData is not a secret input", res.Name)
						}
						continue
					}
					for _, sentinel := range []string{sentinelSSH, sentinelOpenAI, "mock-random-db-password", "mock-random-redis-password", "mock-random-k3s-token"} {
						if strings.Contains(s, sentinel) {
							t.Errorf("%s %s holds a secret in its inputs", res.Type, res.Name)
						}
					}
				}
				// Every app host gets its environment and the image, one after another.
				deploys := 0
				for _, res := range r.capture.ByType("command:remote:Command") {
					if strings.HasPrefix(res.Name, "deploy-") {
						deploys++
						create := res.Inputs["create"].StringValue()
						if !strings.Contains(create, "install -D -m 0600") || !strings.Contains(create, "ghcr.io/acme/flavormonk:v1.0.0") {
							t.Errorf("%s: %s", res.Name, create)
						}
					}
				}
				if (phase != "scale" && deploys == 0) || (phase == "upgrade" && deploys < 2) || (phase == "scale" && deploys != 0) {
					t.Errorf("%d deploy commands", deploys)
				}
			})
		}
	}
}

// Every move between mvp, upgrade and scale, both ways, keeps every
// stateful resource (same URN, protected) and its replacement-forcing
// inputs, on both clouds.
func TestTransitions(t *testing.T) {
	phases := []string{"mvp", "upgrade", "scale"}
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		caps := map[string]*mockrun.Capture{}
		for _, ph := range phases {
			caps[ph] = runStack(t, config(cloud, ph)).capture
		}
		// The same stateful resources exist in every phase.
		want := statefulURNs(caps["mvp"])
		if len(want) < 3 {
			t.Fatalf("%s: only %d stateful resources: %v", cloud, len(want), want)
		}
		for _, ph := range phases {
			got := statefulURNs(caps[ph])
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s %s: stateful resources %v, want %v", cloud, ph, got, want)
			}
			for _, r := range caps[ph].Resources {
				holdsData := strings.Contains(r.Type, "olume:Volume") || r.Name == "db" && (strings.HasSuffix(r.Type, ":Server") || strings.HasSuffix(r.Type, ":DatabaseCluster"))
				if transition.IsStateful(r) && holdsData && !r.Protect {
					t.Errorf("%s %s: %s is not protected", cloud, ph, r.URN)
				}
			}
		}
		for _, from := range phases {
			for _, to := range phases {
				if from == to {
					continue
				}
				rep := transition.Check(caps[from], caps[to])
				if cloud == "digitalocean" && to == "mvp" {
					// mvp's default database plan (db-s-1vcpu-1gb) has a
					// smaller disk than upgrade's and scale's, which
					// DigitalOcean cannot shrink, and mvp drops the
					// protected Valkey: the check must say both
					// (TestTransitionsDigitalOceanKeepDBSize has only the
					// second).
					if len(rep.Problems) != 2 || rep.Problems[0].Input != "size" || !strings.Contains(rep.Problems[0].String(), "cannot shrink") ||
						!isProtectedCache(rep.Problems[1]) {
						t.Errorf("digitalocean %s→mvp: problems %v, want the database shrink and the protected Valkey", from, rep.Problems)
					}
					rep.Problems = nil
				}
				if !rep.OK() {
					var b strings.Builder
					rep.Write(&b)
					t.Errorf("%s %s→%s:\n%s", cloud, from, to, b.String())
				}
			}
		}
	}
}

// isProtectedCache reports whether a problem is DigitalOcean's protected
// Valkey, which a move to mvp would delete.
func isProtectedCache(p transition.Problem) bool {
	return strings.HasSuffix(p.URN, "::cache") && strings.Contains(p.Message, "protected") && strings.Contains(p.Message, "pulumi state unprotect")
}

// With mvp's database plan as large as the later phases', every move on
// DigitalOcean passes the check, there and back, except that mvp drops the
// protected Valkey, which an operator must unprotect first.
func TestTransitionsDigitalOceanKeepDBSize(t *testing.T) {
	phases := []string{"mvp", "upgrade", "scale"}
	caps := map[string]*mockrun.Capture{}
	for _, ph := range phases {
		cfg := config("digitalocean", ph)
		cfg["flavormonk:sizes"] = `{"mvp": {"db": "db-s-1vcpu-2gb"}}`
		caps[ph] = runStack(t, cfg).capture
	}
	for _, from := range phases {
		for _, to := range phases {
			if from == to {
				continue
			}
			rep := transition.Check(caps[from], caps[to])
			if to == "mvp" {
				if len(rep.Problems) != 1 || !isProtectedCache(rep.Problems[0]) {
					t.Errorf("%s→mvp: %v, want the protected Valkey only", from, rep.Problems)
				}
				continue
			}
			if !rep.OK() {
				t.Errorf("%s→%s: %v", from, to, rep.Problems)
			}
		}
	}
}

func statefulURNs(c *mockrun.Capture) []string {
	var out []string
	for _, r := range c.Resources {
		if transition.IsStateful(r) {
			out = append(out, r.URN)
		}
	}
	sort.Strings(out)
	return out
}

// What scale declares on each cloud.
func TestScaleResources(t *testing.T) {
	num := func(r mockrun.Resource, path ...string) float64 {
		var v any = mockrun.PlainMap(r.Inputs, false)
		for _, k := range path {
			v = v.(map[string]any)[k]
		}
		f, _ := v.(float64)
		return f
	}
	t.Run("digitalocean", func(t *testing.T) {
		cfg := config("digitalocean", "scale")
		cfg["flavormonk:nodesMin"], cfg["flavormonk:nodesMax"] = "3", "7"
		c := runStack(t, cfg).capture
		k, ok := c.Find("digitalocean:index/kubernetesCluster:KubernetesCluster", "k8s")
		if !ok {
			t.Fatal("no DOKS cluster")
		}
		pool := mockrun.PlainMap(k.Inputs, false)["nodePool"].(map[string]any)
		if pool["autoScale"] != true || num(k, "nodePool", "minNodes") != 3 || num(k, "nodePool", "maxNodes") != 7 || k.Inputs["vpcUuid"].IsNull() {
			t.Errorf("cluster %v", pool)
		}
		for _, name := range []string{"db", "cache"} {
			db, _ := c.Find("digitalocean:index/databaseCluster:DatabaseCluster", name)
			if num(db, "nodeCount") != 2 {
				t.Errorf("%s: nodeCount %v, want 2 (standby)", name, num(db, "nodeCount"))
			}
		}
		pl, ok := c.Find("digitalocean:index/databaseConnectionPool:DatabaseConnectionPool", "db-pool")
		if !ok || pl.Inputs["mode"].StringValue() != "transaction" {
			t.Errorf("pool %v", pl.Inputs)
		}
		pr, _ := c.Find("digitalocean:index/projectResources:ProjectResources", "project-resources")
		if got := fmt.Sprint(mockrun.PlainMap(pr.Inputs, false)["resources"]); !strings.Contains(got, "do:kubernetes:k8s") {
			t.Errorf("the cluster is not in the project: %s", got)
		}
		if len(c.ByType("digitalocean:index/loadBalancer:LoadBalancer")) != 0 {
			t.Error("a program-made load balancer in scale (the cluster makes it)")
		}
		for _, d := range c.ByType("digitalocean:index/droplet:Droplet") {
			if d.Name != "chroma" {
				t.Errorf("droplet %s in scale", d.Name)
			}
		}
	})
	t.Run("hetzner", func(t *testing.T) {
		cfg := config("hetzner", "scale")
		cfg["flavormonk:controlPlanes"], cfg["flavormonk:nodesMin"] = "3", "4"
		c := runStack(t, cfg).capture
		var servers []string
		for _, r := range c.ByType("hcloud:index/server:Server") {
			servers = append(servers, r.Name)
		}
		sort.Strings(servers)
		want := "chroma db k3s-agent-1 k3s-agent-2 k3s-agent-3 k3s-agent-4 k3s-server-1 k3s-server-2 k3s-server-3 redis redis-2"
		if strings.Join(servers, " ") != want {
			t.Errorf("servers %v, want %s", servers, want)
		}
		targets := c.ByType("hcloud:index/loadBalancerTarget:LoadBalancerTarget")
		if len(targets) != 4 {
			t.Errorf("%d load balancer targets, want the 4 agents", len(targets))
		}
		// Servers join one after another (etcd grows a member at a time).
		s2, _ := c.Find("command:remote:Command", "k3s-start-k3s-server-2")
		s3, _ := c.Find("command:remote:Command", "k3s-start-k3s-server-3")
		s1, _ := c.Find("command:remote:Command", "k3s-start-k3s-server-1")
		if !s2.DependsOnResource(s1) || !s3.DependsOnResource(s2) {
			t.Error("k3s servers do not join one at a time")
		}
		if _, ok := c.Find("hcloud:index/firewall:Firewall", "fw-k8s"); !ok {
			t.Error("no k8s firewall")
		}
	})
}

// With a domain, TLS ends at the load balancer in scale as in upgrade: the
// Hetzner LB serves HTTPS on 443 to the node port; DigitalOcean's Service
// carries the certificate and the DNS record points at its address.
func TestScaleTLS(t *testing.T) {
	cfg := config("hetzner", "scale")
	cfg["flavormonk:domain"] = "recipes.example.com"
	r := runStack(t, cfg)
	svc, ok := r.capture.Find("hcloud:index/loadBalancerService:LoadBalancerService", "lb-https")
	if !ok {
		t.Fatal("hetzner: no HTTPS service on the load balancer")
	}
	in := mockrun.PlainMap(svc.Inputs, false)
	if in["listenPort"] != float64(443) || in["destinationPort"] != float64(30080) || in["protocol"] != "https" {
		t.Errorf("hetzner lb-https %v", in)
	}
	if r.outputs["appUrl"] != "https://recipes.example.com" {
		t.Errorf("hetzner appUrl %v", r.outputs["appUrl"])
	}

	cfg = config("digitalocean", "scale")
	cfg["flavormonk:domain"], cfg["flavormonk:dnsZone"] = "recipes.example.com", "example.com"
	r = runStack(t, cfg)
	rec, ok := r.capture.Find("digitalocean:index/dnsRecord:DnsRecord", "app-a-record")
	if !ok || !strings.HasPrefix(rec.Inputs["value"].StringValue(), "203.0.113.") {
		t.Errorf("digitalocean: DNS record %v", rec.Inputs)
	}
	if r.outputs["appUrl"] != "https://recipes.example.com" {
		t.Errorf("digitalocean appUrl %v", r.outputs["appUrl"])
	}
}

// On Hetzner in scale the k3s nodes get the join token on stdin only, and
// every data host admits the cluster's range over SSH.
func TestHetznerScaleBootstrap(t *testing.T) {
	c := runStack(t, config("hetzner", "scale")).capture
	starts := 0
	for _, r := range c.ByType("command:remote:Command") {
		create := r.Inputs["create"].StringValue()
		switch {
		case strings.HasPrefix(r.Name, "k3s-start-"):
			starts++
			if !r.Inputs["stdin"].ContainsSecrets() || strings.Contains(create, "mock-random") {
				t.Errorf("%s: the token is not a secret on stdin", r.Name)
			}
		case strings.HasPrefix(r.Name, "allow-"):
			if !strings.Contains(create, "flavormonk-allow 10.42.0.32/27 10.42.0.64/26") {
				t.Errorf("%s: %s", r.Name, create)
			}
		}
	}
	if starts != 3 { // one server, two agents by default
		t.Errorf("%d k3s start commands", starts)
	}
	// The fetched kubeconfig is a secret output and is not logged.
	kc, _ := c.Find("command:remote:Command", "k3s-kubeconfig")
	if !slices.Contains(kc.AdditionalSecretOutputs, "stdout") || kc.Inputs["logging"].StringValue() != "stderr" {
		t.Errorf("k3s-kubeconfig: secret outputs %v, logging %v", kc.AdditionalSecretOutputs, kc.Inputs["logging"])
	}
	for _, name := range []string{"allow-db", "allow-redis", "allow-redis-2", "allow-chroma", "k3s-kubeconfig", "redis-setup-redis-2"} {
		if _, ok := c.Find("command:remote:Command", name); !ok {
			t.Errorf("no %s command", name)
		}
	}
	for _, r := range c.ByType("hcloud:index/server:Server") {
		if strings.HasPrefix(r.Name, "k3s-") && strings.Contains(r.Inputs["userData"].StringValue(), "mock-random") {
			t.Errorf("%s: token in user data", r.Name)
		}
	}
}

// Moving back from scale removes the cluster and the app's Kubernetes
// objects and keeps every data resource.
func TestDowngradeFromScale(t *testing.T) {
	for cloud, cluster := range map[string]string{
		"digitalocean": "digitalocean:index/kubernetesCluster:KubernetesCluster",
		"hetzner":      "hcloud:index/server:Server",
	} {
		scale := runStack(t, config(cloud, "scale")).capture
		up := runStack(t, config(cloud, "upgrade")).capture
		rep := transition.Check(scale, up)
		if !rep.OK() {
			t.Fatalf("%s: %v", cloud, rep.Problems)
		}
		removed := strings.Join(rep.Removed, "\n")
		for _, want := range []string{cluster, "kubernetes:apps/v1:Deployment::app", "pulumi:providers:kubernetes::k8s"} {
			if !strings.Contains(removed, want) {
				t.Errorf("%s: scale→upgrade does not remove %s", cloud, want)
			}
		}
		if cloud == "hetzner" && !strings.Contains(removed, "k3s-server-1") {
			t.Errorf("hetzner: the k3s servers stay")
		}
		for _, r := range scale.Resources {
			if transition.IsStateful(r) && slices.Contains(rep.Removed, r.URN) {
				t.Errorf("%s: %s removed", cloud, r.URN)
			}
		}
	}
}

// No data service is reachable from the internet in scale: firewalls admit
// data ports from the cluster or the private network only, the databases
// admit the cluster (DigitalOcean: rule type k8s), and only the app's
// public Service leaves the cluster.
func TestScaleNoDataServicePublic(t *testing.T) {
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		c := runStack(t, config(cloud, "scale")).capture
		for _, r := range c.Resources {
			in, _ := json.Marshal(mockrun.PlainMap(r.Inputs, true))
			s := string(in)
			switch r.Type {
			case "hcloud:index/firewall:Firewall":
				if strings.Contains(s, "0.0.0.0/0") || strings.Contains(s, "::/0") {
					t.Errorf("%s: firewall %s opens to the internet: %s", cloud, r.Name, s)
				}
			case "digitalocean:index/databaseFirewall:DatabaseFirewall":
				if !strings.Contains(s, `"type":"k8s"`) || strings.Contains(s, `"type":"ip_addr"`) {
					t.Errorf("%s: %s rules %s", cloud, r.Name, s)
				}
			case "digitalocean:index/firewall:Firewall":
				var fw struct {
					InboundRules []struct {
						PortRange       string   `json:"portRange"`
						SourceAddresses []string `json:"sourceAddresses"`
					} `json:"inboundRules"`
				}
				_ = json.Unmarshal(in, &fw)
				for _, rule := range fw.InboundRules {
					if rule.PortRange != "22" && len(rule.SourceAddresses) > 0 {
						t.Errorf("%s: %s admits port %s from addresses %v", cloud, r.Name, rule.PortRange, rule.SourceAddresses)
					}
					if rule.PortRange == "22" && strings.Contains(strings.Join(rule.SourceAddresses, ","), "/0") {
						t.Errorf("%s: SSH open to the internet", cloud)
					}
				}
			case "kubernetes:core/v1:Service":
				if r.Name != "app-public" && strings.Contains(s, `"type":"LoadBalancer"`) || strings.Contains(s, `"type":"NodePort"`) && r.Name != "app-public" {
					t.Errorf("%s: Service %s leaves the cluster", cloud, r.Name)
				}
			case "hcloud:index/loadBalancerService:LoadBalancerService":
				if !strings.Contains(s, fmt.Sprintf(`"destinationPort":%d`, 30080)) {
					t.Errorf("%s: load balancer service %s does not target the app's node port: %s", cloud, r.Name, s)
				}
			}
		}
	}
}

// The check itself catches a replacement and a deletion.
func TestTransitionCheckCatchesReplacement(t *testing.T) {
	a := runStack(t, config("hetzner", "mvp")).capture
	cfg := config("hetzner", "mvp")
	cfg["flavormonk:region"] = "nbg1"
	b := runStack(t, cfg).capture
	rep := transition.Check(a, b)
	if rep.OK() {
		t.Fatal("moving the location was not flagged")
	}
	found := false
	for _, p := range rep.Problems {
		found = found || p.Input == "location"
	}
	if !found {
		t.Fatalf("problems: %v", rep.Problems)
	}
}

func TestConfigErrorsFailThePreview(t *testing.T) {
	for name, mut := range map[string]func(map[string]string){
		"unknown cloud":       func(m map[string]string) { m["flavormonk:cloud"] = "aws" },
		"scale, no replicate": func(m map[string]string) { m["flavormonk:phase"] = "scale" },
		"bad nodes":           func(m map[string]string) { m["flavormonk:nodesMin"] = "0" },
		"no ssh private key":  func(m map[string]string) { delete(m, "flavormonk:sshPrivateKey") },
		"no openai key":       func(m map[string]string) { delete(m, "flavormonk:openaiApiKey") },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := config("hetzner", "mvp")
			mut(cfg)
			_, err := mockrun.Run(stack.Program(wiring.Clouds(), nil), mockrun.Options{Config: cfg, SecretKeys: secretKeys})
			if err == nil || !strings.Contains(err.Error(), "config flavormonk:") {
				t.Fatalf("err = %v", err)
			}
		})
	}
	// A secret in plain config is refused.
	cfg := config("hetzner", "mvp")
	_, err := mockrun.Run(stack.Program(wiring.Clouds(), nil), mockrun.Options{Config: cfg})
	if err == nil || !strings.Contains(err.Error(), "--secret") {
		t.Fatalf("plain secret: %v", err)
	}
	_ = plan.Namespace
}

// A first `pulumi preview` (a dry run, every secret still unknown) passes
// on every stack: no command gets a secret in its triggers, which
// pulumi-command refuses there (mockrun's guard fails the run). Hetzner's
// stacks also copy the dumps to S3, whose command hashes those keys.
func TestStacksPreview(t *testing.T) {
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		for _, phase := range []string{"mvp", "upgrade", "scale"} {
			t.Run(cloud+"/"+phase, func(t *testing.T) {
				cfg := config(cloud, phase)
				keys := secretKeys
				if cloud == "hetzner" {
					cfg["flavormonk:backupS3Endpoint"] = "https://s3.example.com"
					cfg["flavormonk:backupS3Bucket"] = "dumps"
					cfg["flavormonk:backupS3AccessKey"] = "SENTINEL-S3-ACCESS"
					cfg["flavormonk:backupS3SecretKey"] = "SENTINEL-S3-SECRET"
					keys = append(slices.Clone(secretKeys), "flavormonk:backupS3AccessKey", "flavormonk:backupS3SecretKey")
				}
				c, err := mockrun.Run(stack.Program(wiring.Clouds(), nil), mockrun.Options{Config: cfg, SecretKeys: keys, Preview: true})
				if err != nil {
					t.Fatal(err)
				}
				// The guard saw the commands whose triggers hash secrets.
				var hashed []string
				for _, r := range c.ByType("command:remote:Command") {
					if r.Inputs["triggers"].IsArray() && !strings.HasPrefix(r.Name, "allow-") && r.Name != "k3s-kubeconfig" {
						hashed = append(hashed, r.Name)
					}
				}
				var want []string
				switch {
				case cloud == "digitalocean" && phase == "scale":
					// No remote command: the app runs on DOKS.
				case cloud == "digitalocean":
					want = []string{"deploy-"}
				case phase == "mvp":
					want = []string{"db-setup", "db-backup-env", "deploy-"}
				case phase == "upgrade":
					want = []string{"db-setup", "db-backup-env", "redis-setup", "deploy-"}
				default:
					want = []string{"db-setup", "db-backup-env", "redis-setup", "redis-setup-redis-2", "k3s-start-k3s-server-1", "k3s-start-k3s-agent-1"}
				}
				for _, w := range want {
					if !slices.ContainsFunc(hashed, func(n string) bool { return strings.HasPrefix(n, w) }) {
						t.Errorf("no command %s… with triggers; have %v", w, hashed)
					}
				}
			})
		}
	}
}
