package hetzner

import (
	"context"
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
	tServer     = "hcloud:index/server:Server"
	tVolume     = "hcloud:index/volume:Volume"
	tAttachment = "hcloud:index/volumeAttachment:VolumeAttachment"
	tNetwork    = "hcloud:index/network:Network"
	tSubnet     = "hcloud:index/networkSubnet:NetworkSubnet"
	tFirewall   = "hcloud:index/firewall:Firewall"
	tSSHKey     = "hcloud:index/sshKey:SshKey"
	tLB         = "hcloud:index/loadBalancer:LoadBalancer"
	tLBNetwork  = "hcloud:index/loadBalancerNetwork:LoadBalancerNetwork"
	tLBTarget   = "hcloud:index/loadBalancerTarget:LoadBalancerTarget"
	tLBService  = "hcloud:index/loadBalancerService:LoadBalancerService"
	tManaged    = "hcloud:index/managedCertificate:ManagedCertificate"
	tUploaded   = "hcloud:index/uploadedCertificate:UploadedCertificate"

	sentinelDB    = "SENTINEL-DB-PASSWORD"
	sentinelRedis = "SENTINEL-REDIS-PASSWORD"
	sentinelSSH   = "SENTINEL-SSH-PRIVATE-KEY"
	sentinelCert  = "SENTINEL-TLS-CERTIFICATE"
	sentinelKey   = "SENTINEL-TLS-PRIVATE-KEY"

	adminCIDR = "198.51.100.7/32"
	sshPub    = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbuSNGVWJujmPc+VgNvQNiwjD0Dzx9nRtg1OsLqkBHN admin@example"
)

// observed is what the program saw of the Result's outputs.
type observed struct {
	mu             sync.Mutex
	postgresURL    string
	postgresSecret bool
	redisSecret    bool
	appURL         string
	dnsRecords     []string
	trusted        []string
	redisAddrs     []string
	chromaURL      string
	publicIPs      []string
	res            *stack.Result
}

func (o *observed) publicIP() string {
	if len(o.publicIPs) != 1 {
		return fmt.Sprintf("<%d public IPs>", len(o.publicIPs))
	}
	return o.publicIPs[0]
}

type run struct {
	cap *mockrun.Capture
	obs *observed
}

func baseConfig(phase string) map[string]string {
	return map[string]string{
		"cloud":         "hetzner",
		"phase":         phase,
		"appImage":      "ghcr.io/acme/flavormonk:v1.2.0",
		"adminCidrs":    `["` + adminCIDR + `"]`,
		"sshPublicKeys": `["` + sshPub + `"]`,
	}
}

// deploy runs Cloud.Deploy for a config under Pulumi's mocks. stackSecrets
// are stack config values given to the Pulumi context (as secrets).
func deploy(t *testing.T, cfg map[string]string, stackSecrets map[string]string) run {
	t.Helper()
	obs := &observed{}
	// Every observation is exported so the run waits for it.
	program := func(ctx *pulumi.Context) error {
		p, err := plan.Compile("dev", func(k string) (string, bool) { v, ok := cfg[k]; return v, ok })
		if err != nil {
			return err
		}
		in := &stack.Inputs{
			DBPassword:    pulumi.ToSecret(pulumi.String(sentinelDB)).(pulumi.StringOutput),
			RedisPassword: pulumi.ToSecret(pulumi.String(sentinelRedis)).(pulumi.StringOutput),
			SSHPrivateKey: pulumi.ToSecret(pulumi.String(sentinelSSH)).(pulumi.StringOutput),
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
		obs.postgresSecret = pulumi.IsSecret(res.Data.PostgresURL)
		ctx.Export("recPG", res.Data.PostgresURL.ApplyT(func(s string) string {
			obs.mu.Lock()
			defer obs.mu.Unlock()
			obs.postgresURL = s
			return s
		}))
		if res.Data.RedisPassword != (pulumi.StringOutput{}) {
			obs.redisSecret = pulumi.IsSecret(res.Data.RedisPassword)
		}
		ctx.Export("rec0", entry.AppURL.ApplyT(func(s string) string { obs.mu.Lock(); obs.appURL = s; obs.mu.Unlock(); return s }))
		ctx.Export("rec1", entry.DNSRecords.ApplyT(func(s []string) []string { obs.mu.Lock(); obs.dnsRecords = s; obs.mu.Unlock(); return s }))
		ctx.Export("rec2", entry.PublicIPs.ApplyT(func(s []string) []string { obs.mu.Lock(); obs.publicIPs = s; obs.mu.Unlock(); return s }))
		ctx.Export("rec3", res.TrustedProxies.ApplyT(func(s []string) []string { obs.mu.Lock(); obs.trusted = s; obs.mu.Unlock(); return s }))
		if res.Data.RedisAddrs != (pulumi.StringArrayOutput{}) {
			ctx.Export("rec4", res.Data.RedisAddrs.ApplyT(func(s []string) []string { obs.mu.Lock(); obs.redisAddrs = s; obs.mu.Unlock(); return s }))
		}
		if res.Data.ChromaURL != (pulumi.StringOutput{}) {
			ctx.Export("rec5", res.Data.ChromaURL.ApplyT(func(s string) string { obs.mu.Lock(); obs.chromaURL = s; obs.mu.Unlock(); return s }))
		}
		return nil
	}
	opts := mockrun.Options{Config: map[string]string{}}
	for k, v := range stackSecrets {
		opts.Config[plan.Namespace+":"+k] = v
		opts.SecretKeys = append(opts.SecretKeys, plan.Namespace+":"+k)
	}
	c, err := mockrun.Run(program, opts)
	if err != nil {
		t.Fatalf("program failed: %v", err)
	}
	return run{cap: c, obs: obs}
}

func declared(c *mockrun.Capture, typ string) []string {
	var out []string
	for _, r := range c.ByType(typ) {
		out = append(out, r.Name)
	}
	sort.Strings(out)
	return out
}

func str(v resource.PropertyValue) string {
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

func strs(v resource.PropertyValue) []string {
	if !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		out = append(out, str(e))
	}
	return out
}

func TestMVPResources(t *testing.T) {
	r := deploy(t, baseConfig("mvp"), nil)
	want := map[string][]string{
		tNetwork:    {"network"},
		tSubnet:     {"subnet"},
		tSSHKey:     {"ssh-" + keyHash(sshPub)},
		tFirewall:   {"fw-app", "fw-data"},
		tServer:     {"app-1", "db"},
		tVolume:     {"chroma-data", "db-backup", "db-data"}, // the vector-store volume exists from mvp on
		tAttachment: {"db-backup-attachment", "db-data-attachment"},
		tLB:         nil,
		tLBService:  nil,
		tLBTarget:   nil,
	}
	for typ, w := range want {
		if got := declared(r.cap, typ); !slices.Equal(got, w) {
			t.Errorf("%s: got %v, want %v", typ, got, w)
		}
	}
	for _, kind := range []string{"Network", "Access", "Database", "App"} {
		if len(r.cap.ByType("flavormonk:hetzner:"+kind)) != 1 {
			t.Errorf("component flavormonk:hetzner:%s not declared once", kind)
		}
	}
	if r.obs.res.Data.RedisHost != nil {
		t.Error("mvp has no redis host")
	}
	if r.obs.appURL != "http://"+r.obs.publicIP() {
		t.Errorf("appURL %q, want http:// on app-1's address", r.obs.appURL)
	}
	if !slices.Equal(r.obs.trusted, []string{"127.0.0.1/32"}) {
		t.Errorf("mvp trusted proxies %v, want Caddy on localhost", r.obs.trusted)
	}
	if app1, _ := r.cap.Find(tServer, "app-1"); !strings.Contains(str(app1.Inputs["userData"]), "reverse_proxy") {
		t.Error("mvp app-1 user data has no Caddy")
	}
	// Caddy on the VM: the app firewall opens the web ports.
	fw, _ := r.cap.Find(tFirewall, "fw-app")
	if ports := openPorts(fw); !slices.Contains(ports, "80") || !slices.Contains(ports, "443") {
		t.Errorf("mvp app firewall ports %v, want 80 and 443", ports)
	}
	checkCommon(t, r)
}

func TestUpgradeResources(t *testing.T) {
	cfg := baseConfig("upgrade")
	cfg["appCount"] = "3"
	cfg["domain"] = "recipes.example.com"
	r := deploy(t, cfg, nil)
	want := map[string][]string{
		tNetwork:    {"network"},
		tSubnet:     {"subnet"},
		tFirewall:   {"fw-app", "fw-data"},
		tServer:     {"app-1", "app-2", "app-3", "chroma", "db", "redis"},
		tVolume:     {"chroma-data", "db-backup", "db-data"},
		tAttachment: {"chroma-data-attachment", "db-backup-attachment", "db-data-attachment"},
		tLB:         {"lb"},
		tLBNetwork:  {"lb-network"},
		tLBTarget:   {"lb-target-app-1", "lb-target-app-2", "lb-target-app-3"},
		tLBService:  {"lb-https"},
		tManaged:    {"lb-certificate"},
		tUploaded:   nil,
	}
	for typ, w := range want {
		if got := declared(r.cap, typ); !slices.Equal(got, w) {
			t.Errorf("%s: got %v, want %v", typ, got, w)
		}
	}
	for _, kind := range []string{"Network", "Access", "Database", "App", "Cache", "VectorStore", "LoadBalancer"} {
		if len(r.cap.ByType("flavormonk:hetzner:"+kind)) != 1 {
			t.Errorf("component flavormonk:hetzner:%s not declared once", kind)
		}
	}
	for _, tg := range r.cap.ByType(tLBTarget) {
		if !tg.Inputs["usePrivateIp"].IsBool() || !tg.Inputs["usePrivateIp"].BoolValue() {
			t.Errorf("%s does not use the private IP", tg.Name)
		}
		if str(tg.Inputs["type"]) != "server" {
			t.Errorf("%s: type %q", tg.Name, str(tg.Inputs["type"]))
		}
	}
	svc, _ := r.cap.Find(tLBService, "lb-https")
	checkHealth(t, svc)
	if str(svc.Inputs["protocol"]) != "https" || svc.Inputs["listenPort"].NumberValue() != 443 || svc.Inputs["destinationPort"].NumberValue() != 8080 {
		t.Errorf("https service: %v", svc.Inputs)
	}
	httpCfg := svc.Inputs["http"].ObjectValue()
	if !httpCfg["redirectHttp"].BoolValue() || len(httpCfg["certificates"].ArrayValue()) != 1 {
		t.Errorf("https service http settings: %v", httpCfg)
	}
	if mc, ok := r.cap.Find(tManaged, "lb-certificate"); !ok || !slices.Equal(strs(mc.Inputs["domainNames"]), []string{"recipes.example.com"}) {
		t.Errorf("managed certificate: %v", mc.Inputs)
	}
	lbNet, _ := r.cap.Find(tLBNetwork, "lb-network")
	if str(lbNet.Inputs["ip"]) != "10.42.0.5" {
		t.Errorf("lb private ip %q", str(lbNet.Inputs["ip"]))
	}
	app2, _ := r.cap.Find(tServer, "app-2")
	if ud := str(app2.Inputs["userData"]); strings.Contains(ud, `path: "/etc/caddy/Caddyfile"`) || !strings.Contains(ud, "FLAVORMONK_CADDY=no\n") {
		t.Error("upgrade app servers must not run Caddy")
	}
	// The app servers are no longer public web servers.
	fw, _ := r.cap.Find(tFirewall, "fw-app")
	if ports := openPorts(fw); !slices.Equal(ports, []string{"22"}) {
		t.Errorf("upgrade app firewall ports %v, want only 22", ports)
	}
	if r.obs.appURL != "https://recipes.example.com" {
		t.Errorf("appURL %q", r.obs.appURL)
	}
	lbIP := r.obs.publicIP()
	if !slices.Equal(r.obs.dnsRecords, []string{"recipes.example.com A " + lbIP, "recipes.example.com AAAA 2001:db8::2"}) {
		t.Errorf("dns records %v (lb %s)", r.obs.dnsRecords, lbIP)
	}
	if !slices.Equal(r.obs.trusted, []string{"10.42.0.0/24"}) {
		t.Errorf("trusted proxies %v", r.obs.trusted)
	}
	if !slices.Equal(r.obs.redisAddrs, []string{"10.42.0.3:6379"}) {
		t.Errorf("redis addrs %v", r.obs.redisAddrs)
	}
	if r.obs.chromaURL != "http://10.42.0.4:8000" {
		t.Errorf("chroma url %q", r.obs.chromaURL)
	}
	if !r.obs.redisSecret {
		t.Error("redis password is not secret")
	}
	if r.obs.res.Data.RedisHost == nil || r.obs.res.Data.RedisHost.Name != "redis" {
		t.Error("upgrade must report the redis host")
	}
	if len(r.obs.res.AppHosts) != 3 {
		t.Errorf("app hosts %d, want 3", len(r.obs.res.AppHosts))
	}
	// Fixed private addresses from the layout.
	for name, ip := range map[string]string{"db": "10.42.0.2", "redis": "10.42.0.3", "chroma": "10.42.0.4", "app-1": "10.42.0.32", "app-3": "10.42.0.34"} {
		s, _ := r.cap.Find(tServer, name)
		nets := s.Inputs["networks"].ArrayValue()
		if len(nets) != 1 || str(nets[0].ObjectValue()["ip"]) != ip {
			t.Errorf("%s networks %v, want ip %s", name, s.Inputs["networks"], ip)
		}
	}
	checkCommon(t, r)
}

func TestUpgradeWithoutDomainServesPlainHTTP(t *testing.T) {
	r := deploy(t, baseConfig("upgrade"), nil)
	if got := declared(r.cap, tLBService); !slices.Equal(got, []string{"lb-http"}) {
		t.Fatalf("services %v, want lb-http", got)
	}
	svc, _ := r.cap.Find(tLBService, "lb-http")
	checkHealth(t, svc)
	if str(svc.Inputs["protocol"]) != "http" || svc.Inputs["listenPort"].NumberValue() != 80 {
		t.Errorf("http service: %v", svc.Inputs)
	}
	if len(r.cap.ByType(tManaged))+len(r.cap.ByType(tUploaded)) != 0 {
		t.Error("no certificate without a domain")
	}
	if r.obs.appURL != "http://"+r.obs.publicIP() {
		t.Errorf("appURL %q", r.obs.appURL)
	}
	if len(r.obs.dnsRecords) != 0 {
		t.Errorf("dns records without a domain: %v", r.obs.dnsRecords)
	}
	checkCommon(t, r)
}

func TestUpgradeUploadedCertificate(t *testing.T) {
	cfg := baseConfig("upgrade")
	cfg["domain"] = "recipes.example.com"
	r := deploy(t, cfg, map[string]string{"tlsCertificate": sentinelCert, "tlsPrivateKey": sentinelKey})
	if len(r.cap.ByType(tManaged)) != 0 {
		t.Error("managed certificate declared although one is uploaded")
	}
	up, ok := r.cap.Find(tUploaded, "lb-certificate")
	if !ok {
		t.Fatal("no uploaded certificate")
	}
	if !up.Inputs["privateKey"].IsSecret() || !up.Inputs["certificate"].IsSecret() {
		t.Error("uploaded certificate inputs are not secret")
	}
	checkCommon(t, r)
}

func TestUploadedCertificateNeedsBothKeys(t *testing.T) {
	cfg := baseConfig("upgrade")
	cfg["domain"] = "recipes.example.com"
	program := func(ctx *pulumi.Context) error {
		p, err := plan.Compile("dev", func(k string) (string, bool) { v, ok := cfg[k]; return v, ok })
		if err != nil {
			return err
		}
		s := pulumi.ToSecret(pulumi.String("x")).(pulumi.StringOutput)
		_, err = Cloud{}.Deploy(ctx, p, &stack.Inputs{DBPassword: s, RedisPassword: s, SSHPrivateKey: s})
		return err
	}
	_, err := mockrun.Run(program, mockrun.Options{
		Config:     map[string]string{"flavormonk:tlsCertificate": sentinelCert},
		SecretKeys: []string{"flavormonk:tlsCertificate"},
	})
	if err == nil || !strings.Contains(err.Error(), "tlsPrivateKey") {
		t.Fatalf("want an error naming tlsPrivateKey, got %v", err)
	}
}

// TestPhaseChangeKeepsStatefulResources checks mvp → upgrade → mvp: the
// stateful resources keep their names (URNs) and replacement-forcing
// inputs, and app-1 is the same server in both phases.
func TestPhaseChangeKeepsStatefulResources(t *testing.T) {
	cfgM, cfgU := baseConfig("mvp"), baseConfig("upgrade")
	cfgM["domain"], cfgU["domain"] = "recipes.example.com", "recipes.example.com"
	mvp := deploy(t, cfgM, nil)
	up := deploy(t, cfgU, nil)
	stateful := func(c *mockrun.Capture) []string {
		var out []string
		for _, r := range c.Resources {
			switch {
			case r.Type == tVolume && r.Name != "chroma-data", r.Type == tAttachment && r.Name != "chroma-data-attachment",
				r.Type == tNetwork, r.Type == tSubnet, r.Type == tServer && (r.Name == "db" || r.Name == "app-1"):
				out = append(out, r.URN)
			}
		}
		sort.Strings(out)
		return out
	}
	if a, b := stateful(mvp.cap), stateful(up.cap); !slices.Equal(a, b) {
		t.Errorf("stateful resources differ:\nmvp     %v\nupgrade %v", a, b)
	}
	for _, c := range []*mockrun.Capture{mvp.cap, up.cap} {
		if _, ok := c.Find(tServer, "app-1"); !ok {
			t.Error("app-1 missing")
		}
	}
	for _, step := range []struct {
		name     string
		from, to *mockrun.Capture
	}{{"mvp→upgrade", mvp.cap, up.cap}, {"upgrade→mvp", up.cap, mvp.cap}} {
		rep := transition.Check(step.from, step.to)
		if step.name == "upgrade→mvp" {
			// Going back removes chroma's volume from the program; it is
			// retained at Hetzner (retainOnDelete), which the check reports.
			var left []transition.Problem
			for _, p := range rep.Problems {
				if !(p.Input == "" && strings.Contains(p.URN, "chroma-data")) {
					left = append(left, p)
				}
			}
			rep.Problems = left
		}
		if !rep.OK() {
			var b strings.Builder
			rep.Write(&b)
			t.Errorf("%s:\n%s", step.name, b.String())
		}
	}
	// Same replacement-forcing inputs of app-1 apart from ignored ones.
	a, _ := mvp.cap.Find(tServer, "app-1")
	b, _ := up.cap.Find(tServer, "app-1")
	for _, k := range []resource.PropertyKey{"location", "name", "networks"} {
		if !a.Inputs[k].DeepEquals(b.Inputs[k]) {
			t.Errorf("app-1 input %s changes: %v → %v", k, a.Inputs[k], b.Inputs[k])
		}
	}
}

// checkCommon asserts the invariants every phase keeps.
func checkCommon(t *testing.T, r run) {
	t.Helper()
	c := r.cap
	// Invariant 3: no data or SSH port open to the world; SSH only from the admins.
	for _, fw := range c.ByType(tFirewall) {
		for _, rule := range fw.Inputs["rules"].ArrayValue() {
			o := rule.ObjectValue()
			port, src := str(o["port"]), strs(o["sourceIps"])
			switch port {
			case "22", "5432", "6379", "8000", "8080", "9090":
				for _, s := range src {
					if s == "0.0.0.0/0" || s == "::/0" {
						t.Errorf("%s: port %s open to %s", fw.Name, port, s)
					}
				}
			}
			if port == "22" && !slices.Equal(src, []string{adminCIDR}) {
				t.Errorf("%s: ssh from %v, want only %s", fw.Name, src, adminCIDR)
			}
			if port != "22" && port != "80" && port != "443" {
				t.Errorf("%s: unexpected public port %q", fw.Name, port)
			}
		}
	}
	// Data hosts carry the data firewall, app servers the app one.
	for _, s := range c.ByType(tServer) {
		fwIDs := s.Inputs["firewallIds"].ArrayValue()
		if len(fwIDs) != 1 {
			t.Errorf("%s: firewalls %v", s.Name, fwIDs)
		}
	}
	// Invariants 1 and 2.
	for _, v := range c.ByType(tVolume) {
		if !v.Protect || !v.RetainOnDelete {
			t.Errorf("volume %s: protect=%v retainOnDelete=%v", v.Name, v.Protect, v.RetainOnDelete)
		}
		if _, has := v.Inputs["serverId"]; has {
			t.Errorf("volume %s is attached inline; use a VolumeAttachment", v.Name)
		}
		if str(v.Inputs["format"]) != "ext4" || v.Inputs["automount"].BoolValue() {
			t.Errorf("volume %s: format %q automount %v", v.Name, str(v.Inputs["format"]), v.Inputs["automount"])
		}
	}
	db, ok := c.Find(tServer, "db")
	if !ok || !db.Protect {
		t.Error("db server missing or not protected")
	}
	for _, s := range c.ByType(tServer) {
		for _, k := range []string{"userData", "sshKeys", "image"} {
			if !slices.Contains(s.IgnoreChanges, k) {
				t.Errorf("server %s does not ignore changes to %s (%v)", s.Name, k, s.IgnoreChanges)
			}
		}
		ud := str(s.Inputs["userData"])
		if ud == "" {
			t.Errorf("server %s has no user data", s.Name)
		}
		// Data hosts admit the app range alone on the private network.
		if !strings.HasPrefix(s.Name, "app-") && !strings.Contains(ud, "DATA_CLIENTS = { 10.42.0.32/27 }") {
			t.Errorf("server %s nftables do not admit exactly the app range", s.Name)
		}
		// Invariant 4: no secret in user data.
		for _, secret := range []string{sentinelDB, sentinelRedis, sentinelSSH, sentinelCert, sentinelKey, "PRIVATE KEY"} {
			if strings.Contains(ud, secret) {
				t.Errorf("server %s user data contains %q", s.Name, secret)
			}
		}
	}
	// No secret in any input but the uploaded certificate's.
	for _, res := range c.Resources {
		if res.Type == tUploaded {
			continue
		}
		text := fmt.Sprint(res.Inputs.Mappable())
		for _, secret := range []string{sentinelDB, sentinelRedis, sentinelSSH, sentinelKey} {
			if strings.Contains(text, secret) {
				t.Errorf("%s %s inputs contain %q", res.Type, res.Name, secret)
			}
		}
	}
	// Every hcloud resource lives in one of this package's components.
	for _, res := range c.Resources {
		if strings.HasPrefix(res.Type, "hcloud:") && !strings.Contains(res.Parent, "flavormonk:hetzner:") {
			t.Errorf("%s %s is not parented to a component (parent %q)", res.Type, res.Name, res.Parent)
		}
	}
	// The database URL: secret, private address, the generated password.
	if !r.obs.postgresSecret {
		t.Error("PostgresURL is not secret")
	}
	if want := "postgres://flavormonk:" + sentinelDB + "@10.42.0.2:5432/flavormonk?sslmode=require"; r.obs.postgresURL != want {
		t.Errorf("PostgresURL %q, want %q", r.obs.postgresURL, want)
	}
	if r.obs.res.Data.DBHost == nil || r.obs.res.Data.DBHost.Name != "db" {
		t.Error("DBHost must be the db server")
	}
	// The cost package prices every item (no unknown kind).
	if est, err := cost.Snapshot().Price(context.Background(), cost.Hetzner, "fsn1", r.obs.res.Items); err != nil || est.Total <= 0 {
		t.Errorf("pricing %v: %v", r.obs.res.Items, err)
	}
}

func openPorts(fw mockrun.Resource) []string {
	var out []string
	for _, rule := range fw.Inputs["rules"].ArrayValue() {
		out = append(out, str(rule.ObjectValue()["port"]))
	}
	sort.Strings(out)
	return out
}

func checkHealth(t *testing.T, svc mockrun.Resource) {
	t.Helper()
	hc := svc.Inputs["healthCheck"]
	if !hc.IsObject() {
		t.Fatalf("%s has no health check", svc.Name)
	}
	o := hc.ObjectValue()
	if str(o["protocol"]) != "http" || o["port"].NumberValue() != 8080 || str(o["http"].ObjectValue()["path"]) != "/readyz" {
		t.Errorf("%s health check %v", svc.Name, o)
	}
}

// TestDBPostgresFollowsImage: the db server installs its image's
// PostgreSQL major (plan.TestedImages), not a fixed one.
func TestDBPostgresFollowsImage(t *testing.T) {
	for image, major := range map[string]string{"debian-12": "15", "debian-13": "17", "ubuntu-24.04": "16"} {
		cfg := baseConfig("mvp")
		cfg["serverImage"] = image
		r := deploy(t, cfg, nil)
		db, ok := r.cap.Find(tServer, "db")
		if !ok {
			t.Fatalf("%s: no db server", image)
		}
		ud := str(db.Inputs["userData"])
		if !strings.Contains(ud, `"postgresql-`+major+`"`) || !strings.Contains(ud, "FLAVORMONK_PG_VERSION="+major+"\n") {
			t.Errorf("%s: db user data does not install PostgreSQL %s", image, major)
		}
		for _, other := range []string{"15", "16", "17"} {
			if other != major && strings.Contains(ud, "postgresql-"+other) {
				t.Errorf("%s: db user data names postgresql-%s", image, other)
			}
		}
	}
}
