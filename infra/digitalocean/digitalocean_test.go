package digitalocean

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/cost"
	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
	"github.com/flavormonk/flavormonk/infra/transition"
)

const (
	adminCIDR = "198.51.100.7/32"
	appTag    = "flavormonk-prod-app"
)

// Resource type tokens.
const (
	tProject       = "digitalocean:index/project:Project"
	tProjectRes    = "digitalocean:index/projectResources:ProjectResources"
	tVPC           = "digitalocean:index/vpc:Vpc"
	tSSHKey        = "digitalocean:index/sshKey:SshKey"
	tTag           = "digitalocean:index/tag:Tag"
	tDroplet       = "digitalocean:index/droplet:Droplet"
	tFirewall      = "digitalocean:index/firewall:Firewall"
	tCluster       = "digitalocean:index/databaseCluster:DatabaseCluster"
	tDatabaseDb    = "digitalocean:index/databaseDb:DatabaseDb"
	tDatabaseUser  = "digitalocean:index/databaseUser:DatabaseUser"
	tDBFirewall    = "digitalocean:index/databaseFirewall:DatabaseFirewall"
	tDNSRecord     = "digitalocean:index/dnsRecord:DnsRecord"
	tLB            = "digitalocean:index/loadBalancer:LoadBalancer"
	tCertificate   = "digitalocean:index/certificate:Certificate"
	tVolume        = "digitalocean:index/volume:Volume"
	tVolumeAttach  = "digitalocean:index/volumeAttachment:VolumeAttachment"
	sentinelPrefix = "SENTINEL-"
)

func baseConfig(phase string) map[string]string {
	return map[string]string{
		"cloud":         "digitalocean",
		"phase":         phase,
		"region":        "fra1",
		"domain":        "recipes.example.com",
		"dnsZone":       "example.com",
		"acmeEmail":     "ops@example.com",
		"appImage":      "ghcr.io/acme/flavormonk:v1.2.0",
		"adminCidrs":    `["` + adminCIDR + `"]`,
		"sshPublicKeys": `["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbuSNGVWJujmPc+VgNvQNiwjD0Dzx9nRtg1OsLqkBHN ops@example"]`,
	}
}

// observed is what the program saw of the Result, recorded inside it.
type observed struct {
	mu                  sync.Mutex
	res                 *stack.Result
	postgresURL         string
	postgresURLSecret   bool
	redisPasswordSecret bool
	appURL              string
	trusted, redisAddrs []string
	dnsRecords          []string
	chromaURL           string
	publicIPs           []string
	app1IP              string
}

func secret(v string) pulumi.StringOutput {
	return pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput)
}

func deploy(t *testing.T, cfg map[string]string) (*mockrun.Capture, *observed, error) {
	t.Helper()
	obs := &observed{}
	get := func(key string) (string, bool) { v, ok := cfg[key]; return v, ok }
	program := func(ctx *pulumi.Context) error {
		p, err := plan.Compile("prod", get)
		if err != nil {
			return err
		}
		in := &stack.Inputs{
			DBPassword:    secret(sentinelPrefix + "DB-PASSWORD"),
			RedisPassword: secret(sentinelPrefix + "REDIS-PASSWORD"),
			SSHPrivateKey: secret(sentinelPrefix + "SSH-PRIVATE-KEY"),
		}
		res, err := Cloud{}.Deploy(ctx, p, in)
		if err != nil {
			return err
		}
		entry, err := res.Edge.Open(ctx, stack.Serving{}) // as the shared step does once the app serves
		if err != nil {
			return err
		}
		obs.res = res
		// The observing apply is what is exported, so the run waits for it.
		record := func(name string, o pulumi.Output, set func(v any)) {
			ctx.Export(name, o.ApplyT(func(v any) any {
				obs.mu.Lock()
				defer obs.mu.Unlock()
				set(v)
				return v
			}))
		}
		pgSecret := pulumi.IsSecret(res.Data.PostgresURL)
		record("postgresUrl", res.Data.PostgresURL, func(v any) {
			obs.postgresURL, obs.postgresURLSecret = v.(string), pgSecret
		})
		record("appUrl", entry.AppURL, func(v any) { obs.appURL = v.(string) })
		record("trusted", res.TrustedProxies, func(v any) { obs.trusted = v.([]string) })
		record("dnsRecords", entry.DNSRecords, func(v any) { obs.dnsRecords = v.([]string) })
		record("publicIps", entry.PublicIPs, func(v any) { obs.publicIPs = v.([]string) })
		record("app1Ip", res.AppHosts[0].PublicIP, func(v any) { obs.app1IP = v.(string) })
		if res.Data.RedisAddrs != (pulumi.StringArrayOutput{}) {
			record("redisAddrs", res.Data.RedisAddrs, func(v any) { obs.redisAddrs = v.([]string) })
			rpSecret := pulumi.IsSecret(res.Data.RedisPassword)
			record("redisPassword", res.Data.RedisPassword, func(any) { obs.redisPasswordSecret = rpSecret })
		}
		if res.Data.ChromaURL != (pulumi.StringOutput{}) {
			record("chromaUrl", res.Data.ChromaURL, func(v any) { obs.chromaURL = v.(string) })
		}
		return nil
	}
	c, err := mockrun.Run(program, mockrun.Options{Stack: "prod"})
	return c, obs, err
}

func mustDeploy(t *testing.T, cfg map[string]string) (*mockrun.Capture, *observed) {
	t.Helper()
	c, obs, err := deploy(t, cfg)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	return c, obs
}

// plain unwraps secret and output markers.
func plain(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.IsSecret():
			v = v.SecretValue().Element
		case v.IsOutput():
			v = v.OutputValue().Element
		default:
			return v
		}
	}
}

func input(r mockrun.Resource, key string) resource.PropertyValue {
	return plain(r.Inputs[resource.PropertyKey(key)])
}

func str(v resource.PropertyValue) string {
	v = plain(v)
	if v.IsString() {
		return v.StringValue()
	}
	if v.IsNumber() {
		return fmt.Sprint(v.NumberValue())
	}
	return ""
}

func strList(v resource.PropertyValue) []string {
	v = plain(v)
	if !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		out = append(out, str(e))
	}
	return out
}

func objects(v resource.PropertyValue) []resource.PropertyMap {
	v = plain(v)
	if !v.IsArray() {
		return nil
	}
	var out []resource.PropertyMap
	for _, e := range v.ArrayValue() {
		if e = plain(e); e.IsObject() {
			out = append(out, e.ObjectValue())
		}
	}
	return out
}

func field(m resource.PropertyMap, key string) resource.PropertyValue {
	return plain(m[resource.PropertyKey(key)])
}

func find(t *testing.T, c *mockrun.Capture, typ, name string) mockrun.Resource {
	t.Helper()
	r, ok := c.Find(typ, name)
	if !ok {
		t.Fatalf("no %s %q declared", typ, name)
	}
	return r
}

// customResources lists "type name" of every cloud resource, sorted.
func customResources(c *mockrun.Capture) []string {
	var out []string
	for _, r := range c.Resources {
		if r.Custom {
			out = append(out, r.Type+" "+r.Name)
		}
	}
	sort.Strings(out)
	return out
}

func TestResourcesPerPhase(t *testing.T) {
	sshKeyName := "ssh-" + keyID("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbuSNGVWJujmPc+VgNvQNiwjD0Dzx9nRtg1OsLqkBHN")
	mvp := []string{
		tProject + " project", tVPC + " vpc", tProjectRes + " project-resources",
		tSSHKey + " " + sshKeyName, tTag + " app-tag",
		tDroplet + " app-1", tFirewall + " app-firewall",
		tCluster + " db", tDatabaseDb + " flavormonk", tDatabaseUser + " flavormonk", tDBFirewall + " db-firewall",
		tDNSRecord + " app-a-record", tVolume + " chroma-data", // the vector-store volume exists from mvp on
	}
	upgrade := append(slices.Clone(mvp),
		tDroplet+" app-2", tTag+" chroma-tag",
		tCertificate+" lb-certificate", tLB+" lb",
		tCluster+" cache", tDBFirewall+" cache-firewall",
		tDroplet+" chroma", tVolumeAttach+" chroma-data-attachment", tFirewall+" chroma-firewall",
	)
	for phase, want := range map[string][]string{"mvp": mvp, "upgrade": upgrade} {
		t.Run(phase, func(t *testing.T) {
			c, _ := mustDeploy(t, baseConfig(phase))
			sort.Strings(want)
			if got := customResources(c); !slices.Equal(got, want) {
				t.Errorf("resources:\n got %q\nwant %q", got, want)
			}
			// Every cloud resource sits in a component of its concern.
			for _, r := range c.Resources {
				if r.Custom && !strings.Contains(r.Parent, "flavormonk:digitalocean:") {
					t.Errorf("%s %s is not parented to a component (parent %q)", r.Type, r.Name, r.Parent)
				}
			}
		})
	}
}

func TestFirewalls(t *testing.T) {
	world := func(srcs []string) bool { return slices.Contains(srcs, "0.0.0.0/0") || slices.Contains(srcs, "::/0") }
	for _, phase := range []string{"mvp", "upgrade"} {
		t.Run(phase, func(t *testing.T) {
			c, _ := mustDeploy(t, baseConfig(phase))
			fws := c.ByType(tFirewall)
			if len(fws) == 0 {
				t.Fatal("no firewall")
			}
			for _, fw := range fws {
				for _, rule := range objects(input(fw, "inboundRules")) {
					port := str(field(rule, "portRange"))
					srcs := strList(field(rule, "sourceAddresses"))
					switch port {
					case "22", "5432", "6379", "25060", "25061", "8000", "8080":
						if world(srcs) {
							t.Errorf("%s: port %s is open to the internet: %v", fw.Name, port, srcs)
						}
					}
					if world(srcs) && port != "80" && port != "443" {
						t.Errorf("%s: port %s open to the internet; only 80/443 may be", fw.Name, port)
					}
					if port == "22" {
						if !slices.Equal(srcs, []string{adminCIDR}) || len(strList(field(rule, "sourceTags"))) > 0 ||
							len(strList(field(rule, "sourceLoadBalancerUids"))) > 0 {
							t.Errorf("%s: SSH from %v, want only the admin CIDRs %v", fw.Name, rule, adminCIDR)
						}
					}
				}
			}

			app := find(t, c, tFirewall, "app-firewall")
			if got := strList(input(app, "tags")); !slices.Equal(got, []string{appTag}) {
				t.Errorf("app firewall applies to tags %v, want [%s]", got, appTag)
			}
			ports := map[string]resource.PropertyMap{}
			for _, rule := range objects(input(app, "inboundRules")) {
				ports[str(field(rule, "portRange"))] = rule
			}
			if phase == "mvp" {
				for _, p := range []string{"80", "443"} {
					if r, ok := ports[p]; !ok || !world(strList(field(r, "sourceAddresses"))) {
						t.Errorf("mvp: port %s is not open to the web (Caddy): %v", p, r)
					}
				}
				if _, ok := ports["8080"]; ok {
					t.Error("mvp: the app port is open")
				}
			} else {
				for _, p := range []string{"80", "443"} {
					if _, ok := ports[p]; ok {
						t.Errorf("upgrade: port %s is still open on the app droplets", p)
					}
				}
				r, ok := ports["8080"]
				if !ok {
					t.Fatal("upgrade: no rule for the app port")
				}
				if got := strList(field(r, "sourceLoadBalancerUids")); !slices.Equal(got, []string{"lb-id"}) || len(strList(field(r, "sourceAddresses"))) > 0 {
					t.Errorf("upgrade: app port admits %v, want the load balancer only", r)
				}

				ch := find(t, c, tFirewall, "chroma-firewall")
				var saw8000 bool
				for _, rule := range objects(input(ch, "inboundRules")) {
					if str(field(rule, "portRange")) == "8000" {
						saw8000 = true
						if got := strList(field(rule, "sourceTags")); !slices.Equal(got, []string{appTag}) || len(strList(field(rule, "sourceAddresses"))) > 0 {
							t.Errorf("chroma port admits %v, want the app tag only", rule)
						}
					}
				}
				if !saw8000 {
					t.Error("chroma firewall has no rule for the Chroma port")
				}
			}

			for _, dbfw := range c.ByType(tDBFirewall) {
				rules := objects(input(dbfw, "rules"))
				if len(rules) == 0 {
					t.Errorf("%s has no rules", dbfw.Name)
				}
				for _, rule := range rules {
					if str(field(rule, "type")) != "tag" || str(field(rule, "value")) != appTag {
						t.Errorf("%s rule %v, want type tag, value %s", dbfw.Name, rule, appTag)
					}
				}
			}
		})
	}
}

func TestStatefulResourcesSurvivePhaseChanges(t *testing.T) {
	caps := map[string]*mockrun.Capture{}
	for _, phase := range []string{"mvp", "upgrade"} {
		c, _ := mustDeploy(t, baseConfig(phase))
		caps[phase] = c

		db := find(t, c, tCluster, "db")
		if !db.Protect {
			t.Errorf("%s: database cluster is not protected", phase)
		}
		if str(input(db, "privateNetworkUuid")) != "vpc-id" || str(input(db, "projectId")) != "project-id" {
			t.Errorf("%s: database cluster not in the VPC/project: %v", phase, db.Inputs)
		}
		if !find(t, c, tDatabaseDb, "flavormonk").Protect {
			t.Errorf("%s: the app's database is not protected", phase)
		}
		for _, d := range c.ByType(tDroplet) {
			for _, k := range []string{"userData", "sshKeys", "image"} {
				if !slices.Contains(d.IgnoreChanges, k) {
					t.Errorf("%s: droplet %s does not ignore changes to %s (ignores %v)", phase, d.Name, k, d.IgnoreChanges)
				}
			}
			if str(input(d, "vpcUuid")) != "vpc-id" {
				t.Errorf("%s: droplet %s is not in the VPC", phase, d.Name)
			}
			if len(strList(input(d, "sshKeys"))) == 0 {
				t.Errorf("%s: droplet %s has no SSH keys", phase, d.Name)
			}
		}
		vpc := find(t, c, tVPC, "vpc")
		if str(input(vpc, "ipRange")) != "10.42.0.0/16" || str(input(vpc, "region")) != "fra1" {
			t.Errorf("%s: vpc %v", phase, vpc.Inputs)
		}
		if got := str(input(find(t, c, tProject, "project"), "name")); got != "flavormonk-prod" {
			t.Errorf("%s: project name %q", phase, got)
		}
		if phase == "upgrade" {
			cache := find(t, c, tCluster, "cache")
			if !cache.Protect || str(input(cache, "engine")) != "valkey" || str(input(cache, "privateNetworkUuid")) != "vpc-id" {
				t.Errorf("cache cluster: protect=%v inputs %v", cache.Protect, cache.Inputs)
			}
			vol := find(t, c, tVolume, "chroma-data")
			if !vol.Protect || !vol.RetainOnDelete {
				t.Errorf("chroma volume: protect=%v retainOnDelete=%v", vol.Protect, vol.RetainOnDelete)
			}
			ud := str(input(find(t, c, tDroplet, "chroma"), "userData"))
			if !strings.Contains(ud, "/dev/disk/by-id/scsi-0DO_Volume_flavormonk-prod-chroma-data") || !strings.Contains(ud, "10.42.0.0/16") {
				t.Error("chroma user data does not mount the volume or admit the private network")
			}
			att := find(t, c, tVolumeAttach, "chroma-data-attachment")
			if str(input(att, "volumeId")) != "chroma-data-id" {
				t.Errorf("attachment %v", att.Inputs)
			}
		}
	}

	// The same logical resources, under the same parents, with the same
	// replacement-forcing inputs in both phases.
	stable := map[string][]string{
		tCluster + " db":            {"name", "engine", "version", "region", "privateNetworkUuid", "projectId"},
		tVPC + " vpc":               {"name", "region", "ipRange"},
		tProject + " project":       {"name"},
		tDroplet + " app-1":         {"name", "region"},
		tDatabaseDb + " flavormonk": {"name", "clusterId"},
	}
	for key, inputs := range stable {
		typ, name, _ := strings.Cut(key, " ")
		a, b := find(t, caps["mvp"], typ, name), find(t, caps["upgrade"], typ, name)
		if a.URN != b.URN || a.Parent != b.Parent {
			t.Errorf("%s: identity differs between phases: %s (%s) vs %s (%s)", key, a.URN, a.Parent, b.URN, b.Parent)
		}
		for _, in := range inputs {
			if str(input(a, in)) != str(input(b, in)) {
				t.Errorf("%s: input %s differs between phases: %q vs %q", key, in, str(input(a, in)), str(input(b, in)))
			}
		}
	}
}

func TestNoSecretInUserData(t *testing.T) {
	for _, phase := range []string{"mvp", "upgrade"} {
		c, _ := mustDeploy(t, baseConfig(phase))
		for _, d := range c.ByType(tDroplet) {
			ud := str(input(d, "userData"))
			if ud == "" {
				t.Errorf("%s: droplet %s has no user data", phase, d.Name)
			}
			for _, bad := range []string{sentinelPrefix, "mock-password", "mock-user-password"} {
				if strings.Contains(ud, bad) {
					t.Errorf("%s: droplet %s user data contains %q", phase, d.Name, bad)
				}
			}
		}
		// No input of any resource carries the program's secrets.
		for _, r := range c.Resources {
			if s := fmt.Sprint(r.Inputs); strings.Contains(s, sentinelPrefix) {
				t.Errorf("%s: %s %s inputs carry a secret", phase, r.Type, r.Name)
			}
		}
	}
}

func TestUpgradeLoadBalancer(t *testing.T) {
	c, obs := mustDeploy(t, baseConfig("upgrade"))
	lb := find(t, c, tLB, "lb")
	hc := plain(input(lb, "healthcheck"))
	if !hc.IsObject() {
		t.Fatal("load balancer has no health check")
	}
	h := hc.ObjectValue()
	if str(field(h, "path")) != "/readyz" || str(field(h, "port")) != "8080" || str(field(h, "protocol")) != "http" {
		t.Errorf("health check %v, want http /readyz on 8080", h)
	}
	if str(input(lb, "dropletTag")) != appTag || str(input(lb, "vpcUuid")) != "vpc-id" || str(input(lb, "size")) != "lb-small" {
		t.Errorf("load balancer inputs %v", lb.Inputs)
	}
	if !plain(input(lb, "redirectHttpToHttps")).IsBool() || !input(lb, "redirectHttpToHttps").BoolValue() {
		t.Error("no HTTP→HTTPS redirect")
	}
	cert := find(t, c, tCertificate, "lb-certificate")
	if str(input(cert, "type")) != "lets_encrypt" || !slices.Equal(strList(input(cert, "domains")), []string{"recipes.example.com"}) {
		t.Errorf("certificate %v", cert.Inputs)
	}
	var https bool
	for _, r := range objects(input(lb, "forwardingRules")) {
		if str(field(r, "entryPort")) == "443" {
			https = str(field(r, "entryProtocol")) == "https" && str(field(r, "targetPort")) == "8080" &&
				str(field(r, "targetProtocol")) == "http" && str(field(r, "certificateName")) == str(input(cert, "name"))
		}
	}
	if !https {
		t.Errorf("no HTTPS 443 → HTTP 8080 rule with the certificate: %v", input(lb, "forwardingRules"))
	}
	rec := find(t, c, tDNSRecord, "app-a-record")
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if str(input(rec, "domain")) != "example.com" || str(input(rec, "name")) != "recipes" || str(input(rec, "type")) != "A" {
		t.Errorf("dns record %v", rec.Inputs)
	}
	// The record and the public IPs are the load balancer's, not app-1's.
	if ip := str(input(rec, "value")); !slices.Equal(obs.publicIPs, []string{ip}) || ip == obs.app1IP || ip == "" {
		t.Errorf("dns record points at %q; public IPs %v; app-1 %q", ip, obs.publicIPs, obs.app1IP)
	}
	if obs.appURL != "https://recipes.example.com" {
		t.Errorf("app URL %q", obs.appURL)
	}
	if len(obs.dnsRecords) != 0 {
		t.Errorf("records to create %v, want none (DigitalOcean DNS manages them)", obs.dnsRecords)
	}
	// Droplets made in upgrade run without Caddy, the app listening on its
	// private address for the load balancer.
	for _, name := range []string{"app-1", "app-2"} {
		if ud := str(input(find(t, c, tDroplet, name), "userData")); !strings.Contains(ud, "FLAVORMONK_LISTEN=private") {
			t.Errorf("%s user data does not have the app listen privately behind the load balancer", name)
		}
	}
}

func TestUpgradeWithoutDomainServesPlainHTTP(t *testing.T) {
	cfg := baseConfig("upgrade")
	delete(cfg, "domain")
	delete(cfg, "dnsZone")
	c, obs := mustDeploy(t, cfg)
	if len(c.ByType(tCertificate)) != 0 || len(c.ByType(tDNSRecord)) != 0 {
		t.Error("certificate or DNS record without a domain")
	}
	lb := find(t, c, tLB, "lb")
	rules := objects(input(lb, "forwardingRules"))
	if len(rules) != 1 || str(field(rules[0], "entryPort")) != "80" || str(field(rules[0], "entryProtocol")) != "http" || str(field(rules[0], "targetPort")) != "8080" {
		t.Errorf("forwarding rules %v, want HTTP 80 → 8080", rules)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if !strings.HasPrefix(obs.appURL, "http://203.0.113.") {
		t.Errorf("app URL %q", obs.appURL)
	}
}

func TestUpgradeDomainOutsideDigitalOceanDNSFails(t *testing.T) {
	cfg := baseConfig("upgrade")
	delete(cfg, "dnsZone")
	_, _, err := deploy(t, cfg)
	var pe *plan.Error
	if !errors.As(err, &pe) || pe.Key != "dnsZone" {
		t.Fatalf("err = %v, want a config error about dnsZone", err)
	}
}

func TestMVPDNS(t *testing.T) {
	c, obs := mustDeploy(t, baseConfig("mvp"))
	rec := find(t, c, tDNSRecord, "app-a-record")
	obs.mu.Lock()
	if ip := str(input(rec, "value")); ip != obs.app1IP || !slices.Equal(obs.publicIPs, []string{ip}) {
		t.Errorf("mvp record points at %q, want app-1 %q; public IPs %v", ip, obs.app1IP, obs.publicIPs)
	}
	obs.mu.Unlock()

	if ud := str(input(find(t, c, tDroplet, "app-1"), "userData")); !strings.Contains(ud, "FLAVORMONK_LISTEN=loopback") || !strings.Contains(ud, "recipes.example.com") {
		t.Error("mvp app-1 user data does not put Caddy with the domain in front of the app")
	}

	cfg := baseConfig("mvp")
	delete(cfg, "dnsZone")
	cfg["domain"] = "example.org"
	c, obs2 := mustDeploy(t, cfg)
	if len(c.ByType(tDNSRecord)) != 0 {
		t.Error("DNS record without a DigitalOcean zone")
	}
	obs2.mu.Lock()
	defer obs2.mu.Unlock()
	if len(obs2.dnsRecords) != 1 || !strings.HasPrefix(obs2.dnsRecords[0], "example.org A 203.0.113.") {
		t.Errorf("records to create %v", obs2.dnsRecords)
	}
	if obs2.appURL != "https://example.org" {
		t.Errorf("app URL %q", obs2.appURL)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if !slices.Equal(obs.trusted, []string{"127.0.0.1/32"}) {
		t.Errorf("mvp trusted proxies %v", obs.trusted)
	}
	if recordName("example.com", "example.com") != "@" || recordName("a.b.example.com", "example.com") != "a.b" {
		t.Error("recordName")
	}
}

func TestResult(t *testing.T) {
	for _, phase := range []string{"mvp", "upgrade"} {
		t.Run(phase, func(t *testing.T) {
			_, obs := mustDeploy(t, baseConfig(phase))
			obs.mu.Lock()
			defer obs.mu.Unlock()
			res := obs.res
			if !obs.postgresURLSecret {
				t.Error("PostgresURL is not secret")
			}
			want := "postgres://flavormonk:mock-user-password@private-db.db.ondigitalocean.example:25060/flavormonk?sslmode=require"
			if obs.postgresURL != want {
				t.Errorf("PostgresURL %q, want %q", obs.postgresURL, want)
			}
			if res.Data.DBHost != nil || res.Data.RedisHost != nil {
				t.Error("managed databases have no host to configure")
			}
			wantApps := 1
			if phase == "upgrade" {
				wantApps = 2
			}
			if len(res.AppHosts) != wantApps || res.AppHosts[0].Name != "app-1" || res.AppHosts[0].Resource == nil {
				t.Errorf("app hosts %+v", res.AppHosts)
			}
			items := map[string]cost.Item{}
			for _, it := range res.Items {
				items[it.Role] = it
			}
			if it := items["app"]; it.Count != wantApps || it.Kind == "" {
				t.Errorf("app cost item %+v", it)
			}
			if it := items["managed-postgres"]; !strings.HasPrefix(it.Kind, "db-s-") {
				t.Errorf("postgres cost item %+v", it)
			}
			// The deploys count the load balancer's probes from upgrade on:
			// they wait for it and for the firewall that admits it.
			wantAfter := 0
			if phase == "upgrade" {
				wantAfter = 2 // lb, app-firewall
			}
			if len(res.DeployAfter) != wantAfter {
				t.Errorf("DeployAfter %v, want %d resources", res.DeployAfter, wantAfter)
			}
			if phase == "mvp" {
				if len(res.Items) != 3 || items["volume:chroma-data"].GB == 0 || res.Data.RedisTLS || obs.redisAddrs != nil || obs.chromaURL != "" {
					t.Errorf("mvp result: items %+v redis %v chroma %q", res.Items, obs.redisAddrs, obs.chromaURL)
				}
				return
			}
			if !res.Data.RedisTLS || !obs.redisPasswordSecret || !slices.Equal(obs.redisAddrs, []string{"private-cache.db.ondigitalocean.example:25060"}) {
				t.Errorf("redis: tls %v secret %v addrs %v", res.Data.RedisTLS, obs.redisPasswordSecret, obs.redisAddrs)
			}
			if !strings.HasPrefix(obs.chromaURL, "http://10.42.0.") || !strings.HasSuffix(obs.chromaURL, ":8000") {
				t.Errorf("chroma URL %q", obs.chromaURL)
			}
			if !slices.Equal(obs.trusted, []string{"10.42.0.0/16"}) {
				t.Errorf("trusted proxies %v", obs.trusted)
			}
			for role, kind := range map[string]string{"managed-valkey": "db-s-1vcpu-1gb", "lb": "lb-small", "chroma": "s-2vcpu-4gb", "volume:chroma-data": "volume"} {
				if items[role].Kind != kind || items[role].Count != 1 {
					t.Errorf("cost item %s: %+v", role, items[role])
				}
			}
			if items["volume:chroma-data"].GB != 10 {
				t.Errorf("volume GB %d", items["volume:chroma-data"].GB)
			}
			est, err := cost.Snapshot().Price(t.Context(), "digitalocean", "fra1", res.Items)
			if err != nil || est.Total <= 0 {
				t.Errorf("pricing the items: %v %+v", err, est)
			}
		})
	}
}

// The managed Valkey carries protect in every phase that has it, and keeps
// its replacement-forcing inputs (the transition check's table for its
// type) from upgrade to scale and back; moving back to mvp, where Pulumi
// would have to delete it, is reported by the transition check.
func TestValkeyProtected(t *testing.T) {
	caps := map[string]*mockrun.Capture{}
	for _, phase := range []string{"mvp", "upgrade", "scale"} {
		cfg := baseConfig(phase)
		// Only what is declared matters here (deploy records the Result's
		// outputs of the droplet phases).
		c, err := mockrun.Run(func(ctx *pulumi.Context) error {
			p, err := plan.Compile("prod", func(k string) (string, bool) { v, ok := cfg[k]; return v, ok })
			if err != nil {
				return err
			}
			in := &stack.Inputs{DBPassword: secret("db"), RedisPassword: secret("redis"), SSHPrivateKey: secret("ssh")}
			_, err = Cloud{}.Deploy(ctx, p, in)
			return err
		}, mockrun.Options{Stack: "prod"})
		if err != nil {
			t.Fatalf("%s: %v", phase, err)
		}
		caps[phase] = c
		if phase == "mvp" {
			if _, ok := c.Find(tCluster, "cache"); ok {
				t.Fatal("mvp has a Valkey cluster")
			}
			continue
		}
		if cache := find(t, c, tCluster, "cache"); !cache.Protect {
			t.Errorf("%s: the Valkey cluster is not protected", phase)
		}
	}
	forcing := transition.Stateful[tCluster]
	if len(forcing) == 0 {
		t.Fatalf("the transition check has no replacement-forcing inputs for %s", tCluster)
	}
	for _, mv := range [][2]string{{"upgrade", "scale"}, {"scale", "upgrade"}} {
		if rep := transition.Check(caps[mv[0]], caps[mv[1]]); !rep.OK() {
			t.Errorf("%s → %s: %v", mv[0], mv[1], rep.Problems)
		}
	}
	cache := find(t, caps["upgrade"], tCluster, "cache")
	for _, from := range []string{"upgrade", "scale"} {
		rep := transition.Check(caps[from], caps["mvp"])
		if !slices.ContainsFunc(rep.Problems, func(p transition.Problem) bool {
			return p.URN == cache.URN && strings.Contains(p.Message, "protected")
		}) {
			t.Errorf("%s → mvp: removing the protected Valkey is not reported: %v", from, rep.Problems)
		}
	}
}
