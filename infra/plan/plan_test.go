package plan

import (
	"errors"
	"strings"
	"testing"
)

func base(cloud string) map[string]string {
	return map[string]string{
		"cloud":         cloud,
		"appImage":      "ghcr.io/acme/flavormonk:v1.0.0",
		"adminCidrs":    `["198.51.100.10/32"]`,
		"sshPublicKeys": `["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIexampleexampleexample ops@x"]`,
	}
}

func compile(m map[string]string) (*Plan, error) {
	return Compile("dev", func(k string) (string, bool) { v, ok := m[k]; return v, ok })
}

func TestDefaults(t *testing.T) {
	p, err := compile(base("hetzner"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Phase != MVP || p.Region != "fsn1" || p.Sizes[RoleApp] != "cx23" || p.Sizes[RoleDB] != "cx23" || p.AppCount != 1 ||
		p.Has(RoleRedis) || p.ServerImage != "debian-12" || p.SubnetCIDR != "10.42.0.0/24" || p.Currency() != "EUR" {
		t.Fatalf("%+v", p)
	}
	m := base("digitalocean")
	m["phase"] = "upgrade"
	p, err = compile(m)
	if err != nil {
		t.Fatal(err)
	}
	if p.Region != "fra1" || p.AppCount != 2 || !p.Has(RoleChroma) || !p.Has(RoleLB) || p.Sizes[RoleRedis] != "db-s-1vcpu-1gb" || p.Currency() != "USD" {
		t.Fatalf("%+v", p)
	}
}

func TestSizeOverrides(t *testing.T) {
	m := base("hetzner")
	m["phase"] = "upgrade"
	m["sizes"] = `{"upgrade": {"app": "cpx32", "db": "cx43"}, "mvp": {"app": "cx33"}}`
	p, err := compile(m)
	if err != nil {
		t.Fatal(err)
	}
	if p.Sizes[RoleApp] != "cpx32" || p.Sizes[RoleDB] != "cx43" || p.Sizes[RoleRedis] != "cx23" {
		t.Fatalf("%v", p.Sizes)
	}
}

func TestErrorsNameKeyAndAllowed(t *testing.T) {
	cases := []struct {
		name, key, val, wantKey, contains string
	}{
		{"missing cloud", "cloud", "", "cloud", "allowed: hetzner, digitalocean"},
		{"unknown cloud", "cloud", "aws", "cloud", "allowed: hetzner, digitalocean"},
		{"unknown phase", "phase", "huge", "phase", "allowed: mvp, upgrade, scale"},
		{"nodes min", "nodesMin", "0", "nodesMin", "from 1 to 20"},
		{"nodes max below min", "nodesMax", "1", "nodesMax", "from 2 to 50"},
		{"two control planes", "controlPlanes", "2", "controlPlanes", "allowed: 1, 3"},
		{"k3s version", "kubernetesVersion", "1.33", "kubernetesVersion", "k3s release like"},
		{"pods min", "podsMin", "1", "podsMin", "from 2 to 100"},
		{"pods target", "podsTargetCpu", "100", "podsTargetCpu", "from 20 to 95"},
		{"cidr overlaps pods", "privateCidr", "10.244.0.0/16", "privateCidr", "pod and service ranges"},
		{"unknown region", "region", "mars1", "region", "allowed: ash, fsn1, hel1, hil, nbg1, sin"},
		{"region of other cloud", "region", "fra1", "region", "allowed:"},
		{"bad image ref", "appImage", "Not An Image", "appImage", "not an image reference"},
		{"missing image", "appImage", "", "appImage", "must be set"},
		{"bad os image", "serverImage", "windows", "serverImage", "allowed: debian-12"},
		{"world ssh", "adminCidrs", `["0.0.0.0/0"]`, "adminCidrs", "whole internet"},
		{"bad cidr", "adminCidrs", `["10.0.0.0/33"]`, "adminCidrs", "not a CIDR"},
		{"cidrs not json", "adminCidrs", `10.0.0.1/32`, "adminCidrs", "JSON list"},
		{"no cidrs", "adminCidrs", `[]`, "adminCidrs", "must list"},
		{"bad ssh key", "sshPublicKeys", `["not a key"]`, "sshPublicKeys", "not an OpenSSH public key"},
		{"retired type", "sizes", `{"mvp": {"app": "cx22"}}`, "sizes", "retired"},
		{"unknown size", "sizes", `{"mvp": {"db": "huge"}}`, "sizes", "allowed: cx23"},
		{"unknown role", "sizes", `{"mvp": {"gpu": "cx23"}}`, "sizes", "unknown role"},
		{"sizes phase", "sizes", `{"later": {}}`, "sizes", "allowed: mvp, upgrade, scale"},
		{"app count", "appCount", "1", "appCount", "from 2 to 20"},
		{"budget", "budget", "lots", "budget", "monthly amount"},
		{"dns zone on hetzner", "dnsZone", "example.com", "dnsZone", "DigitalOcean"},
		{"bad domain", "domain", "not a domain", "domain", "host name"},
		{"private cidr", "privateCidr", "8.8.0.0/16", "privateCidr", "private IPv4"},
		{"s3 half", "backupS3Endpoint", "https://s3.example", "backupS3Bucket", "together"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := base("hetzner")
			if tc.val == "" {
				delete(m, tc.key)
			} else {
				m[tc.key] = tc.val
			}
			_, err := compile(m)
			var pe *Error
			if !errors.As(err, &pe) || pe.Key != tc.wantKey || !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("err = %v, want key %s containing %q", err, tc.wantKey, tc.contains)
			}
			if !strings.HasPrefix(err.Error(), "config flavormonk:"+tc.wantKey) {
				t.Fatalf("error does not start with the full key: %v", err)
			}
		})
	}
	// DigitalOcean-only rules.
	for _, tc := range []struct{ key, val, wantKey, contains string }{
		{"sizes", `{"scale": {"db": "db-s-1vcpu-1gb"}}`, "sizes", "cannot have a standby node"},
		{"controlPlanes", "3", "controlPlanes", "k3s on Hetzner only"},
		{"kubernetesVersion", "v1.33.4+k3s1", "kubernetesVersion", "DOKS version prefix"},
	} {
		m := base("digitalocean")
		m["phase"] = "scale"
		m[tc.key] = tc.val
		_, err := compile(m)
		var pe *Error
		if !errors.As(err, &pe) || pe.Key != tc.wantKey || !strings.Contains(err.Error(), tc.contains) {
			t.Errorf("%s=%s: err = %v", tc.key, tc.val, err)
		}
	}
}

func TestScalePlan(t *testing.T) {
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		m := base(cloud)
		m["phase"] = "scale"
		p, err := compile(m)
		if err != nil {
			t.Fatalf("%s: %v", cloud, err)
		}
		if p.Has(RoleApp) || !p.Has(RoleNode) || p.Has(RoleControl) != (cloud == "hetzner") {
			t.Errorf("%s roles: %v", cloud, p.Roles())
		}
		c := p.Cluster
		if c.NodesMin != 2 || c.NodesMax != 5 || c.PodsMin != 2 || c.PodsMax != 10 || c.TargetCPU != 70 || c.ControlPlanes != 1 {
			t.Errorf("%s cluster defaults: %+v", cloud, c)
		}
		for _, r := range p.Roles() {
			if p.Sizes[r] == "" {
				t.Errorf("%s: no default size for %s", cloud, r)
			}
		}
	}
}

// The app config rendered for each phase is accepted by the app's own
// validation, and refused at preview when the app would refuse it.
func TestAppConfig(t *testing.T) {
	for _, ph := range []string{"mvp", "upgrade", "scale"} {
		m := base("hetzner")
		m["phase"] = ph
		p, err := compile(m)
		if err != nil {
			t.Fatal(err)
		}
		in := AppInputs{PostgresURL: "postgres://flavormonk:pw@10.42.0.2:5432/flavormonk", RedisAddrs: []string{"10.42.0.3:6379"},
			RedisPassword: "pw", ChromaURL: "http://10.42.0.4:8000", OpenAIKey: "sk", ReplicateToken: "r8"}
		c, err := p.AppConfig(in)
		if err != nil {
			t.Fatalf("%s: %v", ph, err)
		}
		env := strings.Join(c.Env(), "\n")
		for _, want := range []string{"FLAVORMONK_TIER=" + ph, "FLAVORMONK_STORE=postgres", map[bool]string{true: "FLAVORMONK_METRICS_ADDR=:9090", false: "FLAVORMONK_METRICS_ADDR=127.0.0.1:9090"}[ph == "scale"]} {
			if !strings.Contains(env, want) {
				t.Errorf("%s: env lacks %s", ph, want)
			}
		}
		in.OpenAIKey = ""
		if _, err := p.AppConfig(in); err == nil || !strings.Contains(err.Error(), "OPENAI_API_KEY") {
			t.Errorf("%s without an OpenAI key: %v", ph, err)
		}
	}
}

func TestAppConfigLicences(t *testing.T) {
	m := base("digitalocean")
	m["gumroadProductId"] = "flavormonk-chef"
	p, err := compile(m)
	if err != nil {
		t.Fatal(err)
	}
	in := AppInputs{PostgresURL: "postgres://flavormonk:pw@10.42.0.2:5432/flavormonk", OpenAIKey: "sk", LicenseSecret: strings.Repeat("k", 40)}
	c, err := p.AppConfig(in)
	if err != nil {
		t.Fatal(err)
	}
	if c.GumroadProductID != "flavormonk-chef" || c.LicenseSecret != in.LicenseSecret {
		t.Fatalf("licences not passed to the app: %q", c.GumroadProductID)
	}
	in.LicenseSecret = "short"
	if _, err := p.AppConfig(in); err == nil || !strings.Contains(err.Error(), "FLAVORMONK_LICENSE_SECRET") {
		t.Fatalf("a short licence secret: %v", err)
	}
	m["gumroadProductId"] = "a/b?c"
	if _, err := compile(m); err == nil || !strings.Contains(err.Error(), "gumroadProductId") {
		t.Fatalf("a bad product id: %v", err)
	}
}
