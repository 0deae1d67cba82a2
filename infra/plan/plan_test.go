package plan

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// testKey is a throwaway ed25519 public key (its private half was never
// kept): valid key material, so the plan's parse accepts it.
const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICULUbtwh0qjnM7olCUJrtceG8Wv631ji5o2jRlqtZRu ops@test"

func base(cloud string) map[string]string {
	return map[string]string{
		"cloud":         cloud,
		"appImage":      "ghcr.io/acme/flavormonk:v1.0.0",
		"adminCidrs":    `["198.51.100.10/32"]`,
		"sshPublicKeys": `["` + testKey + `"]`,
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
		{"ssh keys not json", "sshPublicKeys", testKey, "sshPublicKeys", "JSON list"},
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

func TestAdminCIDRs(t *testing.T) {
	all4 := make([]string, 0, 256)
	for i := range 256 {
		all4 = append(all4, fmt.Sprintf(`"%d.0.0.0/8"`, i))
	}
	for _, tc := range []struct{ name, val, contains string }{
		{"two halves of IPv4", `["0.0.0.0/1", "128.0.0.0/1"]`, "cover every IPv4 address and would open SSH to the whole internet"},
		{"two halves of IPv6", `["::/1", "8000::/1"]`, "cover every IPv6 address"},
		{"IPv4 in four quarters with a host", `["198.51.100.10/32", "0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"]`, "whole internet"},
		{"every /8", "[" + strings.Join(all4, ",") + "]", "whole internet"},
		{"world v6", `["::/0"]`, "whole internet"},
		{"a /8", `["10.0.0.0/8"]`, "10.0.0.0/8 is wider than /16, the widest IPv4 range allowed"},
		{"a /15", `["100.64.0.0/15"]`, "100.64.0.0/15 is wider than /16"},
		{"a /32 of IPv6", `["2a01:4f8::/32"]`, "2a01:4f8::/32 is wider than /48, the widest IPv6 range allowed"},
		{"a /47 of IPv6", `["2001:db8::/47"]`, "wider than /48"},
		{"half the internet", `["0.0.0.0/1"]`, "wider than /16"},
		{"two /16s", `["10.0.0.0/16", "10.1.0.0/16"]`, "together cover 131072 IPv4 addresses, more than one /16 (65536)"},
		{"two /48s", `["2001:db8::/48", "2001:db8:1::/48"]`, "more than one /48"},
		{"Teredo", `["2001::/32"]`, "2001::/32 overlaps the Teredo (2001::/32) range"},
		{"inside Teredo", `["2001:0:4136:e378::/64"]`, "overlaps the Teredo (2001::/32) range"},
		{"6to4", `["2002:cb00:7100::/48"]`, "overlaps the 6to4 (2002::/16) range"},
		{"NAT64", `["64:ff9b::/96"]`, "overlaps the NAT64 (64:ff9b::/96) range"},
		{"NAT64 host", `["64:ff9b::cb00:7107/128"]`, "NAT64"},
		{"local NAT64", `["64:ff9b:1::/48"]`, "overlaps the local-use NAT64 (64:ff9b:1::/48) range"},
		{"mapped IPv4", `["::ffff:0.0.0.0/96"]`, "IPv4-mapped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base("hetzner")
			m["adminCidrs"] = tc.val
			_, err := compile(m)
			var pe *Error
			if !errors.As(err, &pe) || pe.Key != "adminCidrs" || !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("err = %v, want adminCidrs containing %q", err, tc.contains)
			}
		})
	}
	for _, tc := range []struct {
		val  string
		want []string
	}{
		{`["10.1.2.3/16"]`, []string{"10.1.0.0/16"}},
		// Nested entries count once.
		{`["10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32", "2001:db8::/48", "2001:db8:0:1::/64"]`, []string{"10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32", "2001:db8::/48", "2001:db8:0:1::/64"}},
		{`["198.51.100.10/32", "203.0.113.0/24", "2001:db8::1/128"]`, []string{"198.51.100.10/32", "203.0.113.0/24", "2001:db8::1/128"}},
		// Two spellings of one range are one firewall entry; the order is
		// the addresses', IPv4 first, whatever the config's.
		{`["10.1.2.3/16", "10.1.0.0/16"]`, []string{"10.1.0.0/16"}},
		{`["2001:db8::1/128", "203.0.113.9/32", "198.51.100.10/32", "203.0.113.0/24", "198.51.100.10/32", "2001:db8::1/128"]`,
			[]string{"198.51.100.10/32", "203.0.113.0/24", "203.0.113.9/32", "2001:db8::1/128"}},
	} {
		m := base("hetzner")
		m["adminCidrs"] = tc.val
		p, err := compile(m)
		if err != nil {
			t.Errorf("%s refused: %v", tc.val, err)
			continue
		}
		if fmt.Sprint(p.AdminCIDRs) != fmt.Sprint(tc.want) {
			t.Errorf("%s → %v, want %v", tc.val, p.AdminCIDRs, tc.want)
		}
	}
}

func TestSSHPublicKeys(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert := &ssh.Certificate{Key: signer.PublicKey(), CertType: ssh.UserCert, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, signer); err != nil {
		t.Fatal(err)
	}
	certLine := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(cert)))
	// The example once committed in Pulumi.dev.yaml: the right prefix and
	// base64 letters, but not base64 (its length is not a multiple of 4).
	const oldExample = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFlavorMonkExampleKeyReplaceWithYoursXXXXXXXX ops@example"
	rsaKey := "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDmockrsakeyfortestsonly0123456789 ci"
	rsaLine := func(bits int) string {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		pk, err := ssh.NewPublicKey(&k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk)))
	}
	rsa1024, rsa2048 := rsaLine(1024), rsaLine(2048)
	// A security-key ECDSA key (sk-ecdsa-sha2-nistp256@openssh.com), built
	// from its wire format: x/crypto/ssh parses it, the clouds do not take it.
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	point, err := ek.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	skECDSA := "sk-ecdsa-sha2-nistp256@openssh.com " + base64.StdEncoding.EncodeToString(ssh.Marshal(struct {
		Name, Curve string
		Key         []byte
		App         string
	}{"sk-ecdsa-sha2-nistp256@openssh.com", "nistp256", point, "ssh:"})) + " yubikey"
	for _, tc := range []struct{ name, val, contains string }{
		{"old example", oldExample, "entry 1 (\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFla…\") is not an OpenSSH public key: the key after ssh-ed25519 is not valid base64"},
		{"made-up material", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIexampleexampleexample ops@x", "not valid base64"},
		{"made-up rsa", rsaKey, "the key after ssh-rsa is not valid base64"},
		{"second entry", testKey + `", "ssh-ed25519 AAAA`, "entry 2 (\"ssh-ed25519 AAAA\") is not an OpenSSH public key: the base64 after ssh-ed25519 does not hold a public key"},
		{"type does not match material", strings.Replace(testKey, "ssh-ed25519", "ssh-rsa", 1), "the key is a ssh-ed25519 key but is labelled ssh-rsa"},
		{"not a key type", "ssh-dss AAAAB3NzaC1kc3MAAACBAP", "it starts with \"ssh-dss\", not an accepted key type"},
		{"sk-ecdsa", skECDSA, "is a sk-ecdsa-sha2-nistp256@openssh.com key, not an accepted key type (accepted: ssh-ed25519"},
		{"short rsa", rsa1024, "is a 1024-bit RSA key; RSA keys need at least 2048 bits"},
		{"comment line first", `# note\n` + testKey, "entry 1 (\"# note\\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5A…\") spans more than one line"},
		{"carriage return", `# note\r\n` + testKey, "spans more than one line"},
		{"key then comment line", testKey + `\n# note`, "spans more than one line"},
		{"repeated key", testKey + `", "` + strings.Replace(testKey, "ops@test", "ops@laptop", 1), "entry 2 repeats entry 1"},
		{"repeated key, no comment", testKey + `", "` + rsa2048 + `", "` + strings.TrimSuffix(testKey, " ops@test"), "entry 3 repeats entry 1"},
		{"one word", "AAAAC3NzaC1lZDI1NTE5AAAAICULUbtwh0qjnM7olCUJrtceG8Wv631ji5o2jRlqtZRu", "expected a key type, the base64 key"},
		{"options", `from=\"10.0.0.1\" ` + testKey, "authorized_keys options (from=\"10.0.0.1\")"},
		{"certificate", certLine, "is a ssh-ed25519-cert-v01@openssh.com key, not an accepted key type (accepted: ssh-ed25519"},
		{"private key pasted", "-----BEGIN OPENSSH PRIVATE KEY-----", "this is a private key, which never belongs in config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base("hetzner")
			m["sshPublicKeys"] = `["` + tc.val + `"]`
			_, err := compile(m)
			var pe *Error
			if !errors.As(err, &pe) || pe.Key != "sshPublicKeys" || !strings.Contains(err.Error(), tc.contains) {
				t.Fatalf("err = %v, want sshPublicKeys containing %q", err, tc.contains)
			}
		})
	}
	m := base("hetzner")
	m["sshPublicKeys"] = `["` + testKey + `", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbuSNGVWJujmPc+VgNvQNiwjD0Dzx9nRtg1OsLqkBHN", "` +
		strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + `", "` + rsa2048 + `"]`
	if p, err := compile(m); err != nil || len(p.SSHKeys) != 4 || p.SSHKeys[0] != testKey {
		t.Fatalf("valid keys: %v %v", p, err)
	}
}

// ClusterRanges is what the privateCidr check and its help refuse: exactly
// the pod and service ranges together.
func TestClusterRanges(t *testing.T) {
	pods, svcs := netip.MustParsePrefix(ClusterCIDR), netip.MustParsePrefix(ServiceCIDR)
	if pods.Overlaps(svcs) {
		t.Errorf("pod range %s overlaps service range %s", pods, svcs)
	}
	if ClusterRanges.String() != "10.244.0.0/15" || !ClusterRanges.Contains(pods.Addr()) || !ClusterRanges.Contains(svcs.Addr()) ||
		pods.Bits() != ClusterRanges.Bits()+1 || svcs.Bits() != ClusterRanges.Bits()+1 {
		t.Errorf("ClusterRanges %s is not the union of %s and %s", ClusterRanges, pods, svcs)
	}
}
