// Package plan compiles a stack's configuration into a typed, validated
// Plan before any resource is declared. Every error names the config key
// and, for enumerations, the allowed values, so a mistake fails at preview
// time with a message that says what to fix.
package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Cloud is where a stack runs.
type Cloud string

// Phase is a stack's stage of growth; moving to the next is a config change.
type Phase string

// Clouds and phases.
const (
	Hetzner      Cloud = "hetzner"
	DigitalOcean Cloud = "digitalocean"

	MVP     Phase = "mvp"
	Upgrade Phase = "upgrade"
	Scale   Phase = "scale"
)

// Role is a kind of machine or managed service in a plan.
type Role string

// Roles. Which exist depends on cloud and phase (see Plan.Roles).
const (
	RoleApp    Role = "app"
	RoleDB     Role = "db"
	RoleRedis  Role = "redis"
	RoleChroma Role = "chroma"
	RoleLB     Role = "lb"
	// RoleNode is a Kubernetes worker node (scale): a DOKS node-pool droplet
	// or a k3s agent server on Hetzner.
	RoleNode Role = "node"
	// RoleControl is a k3s server (control plane with embedded etcd) on
	// Hetzner in scale; DOKS runs its control plane itself.
	RoleControl Role = "control"
)

// Namespace is the stack config namespace (the Pulumi project name).
const Namespace = "flavormonk"

// Plan is a stack's configuration, validated and with every default
// resolved. The cloud packages declare resources from it and nothing else.
type Plan struct {
	Stack string
	Cloud Cloud
	Phase Phase

	Region      string // Hetzner location or DigitalOcean region
	NetworkZone string // Hetzner network zone of the location
	Domain      string // public host name, "" for none (plain HTTP on the IP)
	// DNSZone is the DigitalOcean-managed domain the record is created in
	// (DigitalOcean only); "" means the records to create are output.
	DNSZone     string
	ACMEEmail   string
	AppImage    string
	ServerImage string
	AdminCIDRs  []string
	SSHKeys     []string

	// Sizes per role for this phase, defaults applied.
	Sizes    map[Role]string
	AppCount int
	// Volume sizes in GB.
	DBVolumeGB     int
	BackupVolumeGB int
	ChromaVolumeGB int

	Budget float64 // monthly, in the cloud's currency; 0 = none

	Backup BackupPlan

	// Inference is the app's provider chain; empty means the tier default.
	Inference []string

	// GumroadProductID turns on licence unlocks in the app (empty: off).
	GumroadProductID string

	// Registry is the private registry appImage is pulled from (zero: a
	// public image).
	Registry RegistryPlan

	// PrivateCIDR is the stack's private network; SubnetCIDR the part the
	// machines live in.
	PrivateCIDR string
	SubnetCIDR  string

	// Cluster is the Kubernetes cluster of the scale phase (zero otherwise).
	Cluster ClusterPlan

	// KeepVMEntry keeps Caddy on app-1 serving 80/443 beside the load
	// balancer (upgrade only): the hand-over of a phase change (entry.go).
	// EntrySize is app-1's size meanwhile, the mvp app size.
	KeepVMEntry bool
	EntrySize   string
}

// ClusterPlan is the scale phase's Kubernetes cluster and the app on it.
type ClusterPlan struct {
	// NodesMin/NodesMax bound the worker nodes: the DOKS node pool
	// autoscales between them; on Hetzner NodesMin k3s agents are created
	// (k3s has no cloud autoscaler here) and NodesMax only caps the config.
	NodesMin, NodesMax int
	// ControlPlanes is the number of k3s servers on Hetzner (1 or 3; embedded
	// etcd from the first, so one can grow to three). DOKS: its own.
	ControlPlanes int
	// K8sVersion is the DOKS version prefix ("1.33") or the k3s release
	// ("v1.33.4+k3s1").
	K8sVersion string
	// PodsMin/PodsMax bound the HorizontalPodAutoscaler of the app.
	PodsMin, PodsMax int
	// TargetCPU is the HPA's average CPU utilisation target, in percent.
	TargetCPU int
	// DBPoolSize is the DigitalOcean connection pool's size (transaction mode).
	DBPoolSize int
}

// The Hetzner db server's Postgres connection budget in scale: the server
// keeps Postgres' max_connections (100, stated in its configuration), of
// which PostgresReserve stay free for the admin, the nightly backup and the
// migration Job; the rest is shared by podsMax pods plus one surge pod of
// a rolling update. (DigitalOcean's pods share a transaction pool.)
const (
	PostgresMaxConnections = 100
	PostgresReserve        = 10
	// minPodPostgresConns is the least pool a pod works with.
	minPodPostgresConns = 2
)

// PodPostgresConns is each app pod's Postgres pool on Hetzner in scale:
// (max_connections − reserve) / (podsMax + 1), at least 2 (the plan refuses
// a podsMax that leaves less).
func (c ClusterPlan) PodPostgresConns() int {
	return max(minPodPostgresConns, (PostgresMaxConnections-PostgresReserve)/(c.PodsMax+1))
}

// BackupPlan is where Hetzner database dumps are copied, when configured.
type BackupPlan struct {
	S3Endpoint string
	S3Bucket   string
	S3Region   string
	KeepDays   int
}

// Currency is the currency the cloud bills in.
func (p *Plan) Currency() string {
	if p.Cloud == Hetzner {
		return "EUR"
	}
	return "USD"
}

// Has reports whether the phase includes a role.
func (p *Plan) Has(r Role) bool {
	switch r {
	case RoleApp:
		return p.Phase != Scale // scale runs the app as pods on the cluster's nodes
	case RoleDB:
		return true
	case RoleRedis, RoleChroma, RoleLB:
		return p.Phase != MVP
	case RoleNode:
		return p.Phase == Scale
	case RoleControl:
		return p.Phase == Scale && p.Cloud == Hetzner
	}
	return false
}

// Roles lists the roles of the plan in a stable order.
func (p *Plan) Roles() []Role {
	var out []Role
	for _, r := range []Role{RoleApp, RoleControl, RoleNode, RoleDB, RoleRedis, RoleChroma, RoleLB} {
		if p.Has(r) {
			out = append(out, r)
		}
	}
	return out
}

// TLSAtLoadBalancer reports whether TLS ends at the cloud's load balancer
// (upgrade and later, with a domain) rather than at Caddy on the VM.
func (p *Plan) TLSAtLoadBalancer() bool { return p.Phase != MVP && p.Domain != "" }

// Error is a configuration error about one key.
type Error struct {
	Key     string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("config %s:%s: %s", Namespace, e.Key, e.Message) }

// ErrNotYetSupported marks a phase this version cannot deploy.
var ErrNotYetSupported = errors.New("not yet supported")

func keyErr(key, format string, args ...any) error {
	return &Error{Key: key, Message: fmt.Sprintf(format, args...)}
}

func allowedErr(key, value string, allowed []string) error {
	return keyErr(key, "unknown value %q; allowed: %s", value, strings.Join(allowed, ", "))
}

// Getter reads one stack config value by key (without the namespace), as
// the Pulumi config does: structured values arrive as JSON text.
type Getter func(key string) (string, bool)

// Keys is every config key the program reads, with what it sets; the README
// table and the unknown-key check come from it.
var Keys = []struct{ Key, Help string }{
	{"cloud", "hetzner | digitalocean (required)"},
	{"phase", "mvp | upgrade | scale (default mvp); scale runs the app on Kubernetes: DOKS on DigitalOcean, k3s on Hetzner"},
	{"region", "Hetzner location (fsn1, nbg1, hel1, ash, hil, sin) or DigitalOcean region (fra1, ams3, lon1, nyc1, nyc3, sfo3, tor1, sgp1, blr1, syd1, atl1); default fsn1 / fra1"},
	{"domain", "public host name, e.g. recipes.example.com; empty serves plain HTTP on the IP"},
	{"dnsZone", "DigitalOcean: the DO-managed domain to create the record in (e.g. example.com); otherwise the records to create are output"},
	{"acmeEmail", "contact e-mail for Let's Encrypt (mvp, TLS at Caddy)"},
	{"appImage", "the app's container image reference, e.g. ghcr.io/acme/flavormonk:v1.2.0 (required)"},
	{"registry", "private registry of appImage, a JSON object like {\"server\": \"ghcr.io\", \"username\": \"acme-bot\"}: server a host[:port] without scheme or path, the one appImage names; username the account of the registryPassword token; both or neither (default none: a public image)"},
	{"serverImage", "OS image, tested ones only: Hetzner debian-12 | debian-13 | ubuntu-24.04; DigitalOcean debian-12-x64 | debian-13-x64 | ubuntu-24-04-x64; the Hetzner db server runs the image's PostgreSQL (Debian 12: 15, Debian 13: 17, Ubuntu 24.04: 16); existing servers keep their image (README: changing serverImage on a stack with data)"},
	{"adminCidrs", "JSON list of CIDRs allowed to SSH, e.g. [\"203.0.113.7/32\"] (required); each at most a /16 (IPv4) or /48 (IPv6), together at most one /16 and one /48 of addresses, so never 0.0.0.0/0 or a set covering it; never in the Teredo (2001::/32), 6to4 (2002::/16) or NAT64 (64:ff9b::/96, 64:ff9b:1::/48) ranges; sorted, repeats merged"},
	{"sshPublicKeys", "JSON list of SSH public keys for the admin user (required), each the single line of a .pub file (no comment lines), each key once; parsed when the plan compiles (ed25519, RSA of at least 2048 bits, ECDSA, sk-ed25519)"},
	{"sizes", "JSON per-phase size overrides, e.g. {\"upgrade\": {\"app\": \"cx33\", \"db\": \"cx43\"}}; roles app, db, redis, chroma, lb, and in scale node (worker nodes) and control (k3s servers, Hetzner)"},
	{"appCount", "app servers in upgrade (default 2, at least 2)"},
	{"keepVmEntry", "true | false (default false; phase upgrade only): Caddy on app-1 keeps serving 80/443 beside the load balancer, and app-1 keeps its mvp size — the first `pulumi up` of the hand-over between mvp and upgrade (README, \"Phase changes\")"},
	{"dbVolumeGb", "database volume size in GB (Hetzner; default 20)"},
	{"backupVolumeGb", "backup volume size in GB (Hetzner; default 40)"},
	{"chromaVolumeGb", "vector-store volume size in GB (default 10)"},
	{"budget", "monthly budget in the cloud's currency (EUR on Hetzner, USD on DigitalOcean); the plan warns when over"},
	{"backupS3Endpoint", "S3-compatible endpoint URL for copies of the Hetzner database dumps (optional)"},
	{"backupS3Bucket", "bucket for those copies"},
	{"backupS3Region", "region of that bucket (default auto)"},
	{"backupKeepDays", "nightly dumps kept on the backup volume (default 14)"},
	{"inference", "JSON list overriding the app's provider chain, e.g. [\"offline\"]"},
	{"gumroadProductId", "Gumroad product whose licence keys unlock the assistant in the app (empty: licences off)"},
	{"privateCidr", "the private network (default 10.42.0.0/16; fixed once created; must not overlap the clusters' " + ClusterRanges.String() + ")"},
	{"nodesMin", "scale: fewest Kubernetes worker nodes, 1–20 (default 2); the DOKS pool's autoscaler minimum, the k3s agent count on Hetzner"},
	{"nodesMax", "scale: most worker nodes, nodesMin–50 (default 5); the DOKS pool's autoscaler maximum (Hetzner: a cap only)"},
	{"controlPlanes", "scale, Hetzner: k3s servers, 1 or 3 (default 1; embedded etcd, so 1 grows to 3)"},
	{"kubernetesVersion", "scale: DOKS version prefix like 1.33 (default 1.33; the newest patch is used) or, on Hetzner, a k3s release like v1.33.4+k3s1 (default v1.33.4+k3s1)"},
	{"podsMin", "scale: fewest app pods, 2–100 (default 2; the HorizontalPodAutoscaler's minimum; the PodDisruptionBudget lets one go at a time)"},
	{"podsMax", "scale: most app pods, podsMin–200 (default 10); Hetzner: at most 44 (each pod keeps ≥2 of the db server's 100 Postgres connections, 10 reserved)"},
	{"podsTargetCpu", "scale: the HorizontalPodAutoscaler's average CPU target in percent, 20–95 (default 70)"},
	{"dbPoolSize", "scale, DigitalOcean: connections of the transaction-mode pool in front of Postgres, 3–100 (default 15); with the migration Job's 5 direct ones it must fit the plan's limit (db-s-1vcpu-2gb 47, so at most 42)"},
	// secrets
	{"sshPrivateKey", "secret: the private key the program uses to write the app's environment and roll out images over SSH"},
	{"openaiApiKey", "secret: OpenAI API key for the app"},
	{"replicateApiToken", "secret: Replicate API token for the app"},
	{"licenseSecret", "secret: key (32+ characters) the app seals stored licence keys with, so it can re-check them with Gumroad"},
	{"backupS3AccessKey", "secret: access key for the backup bucket"},
	{"backupS3SecretKey", "secret: secret key for the backup bucket"},
	{"tlsCertificate", "secret: PEM certificate to upload to the Hetzner load balancer when the domain is not in Hetzner DNS"},
	{"tlsPrivateKey", "secret: its PEM private key"},
	{"registryPassword", "secret: the token the hosts and the cluster pull appImage with (required with registry), e.g. a GitHub personal access token (classic) with read:packages only"},
}

// SecretKeys are the keys that must be set with `pulumi config set --secret`.
var SecretKeys = []string{"sshPrivateKey", "openaiApiKey", "replicateApiToken", "licenseSecret", "backupS3AccessKey", "backupS3SecretKey", "tlsCertificate", "tlsPrivateKey", "registryPassword"}

var (
	imageRef = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`)
	hostName = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
)

// Compile reads and validates a stack's configuration into a Plan.
func Compile(stack string, get Getter) (*Plan, error) {
	str := func(key, def string) string {
		if v, ok := get(key); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	p := &Plan{Stack: stack, Sizes: map[Role]string{}}

	cloud := str("cloud", "")
	switch Cloud(cloud) {
	case Hetzner, DigitalOcean:
		p.Cloud = Cloud(cloud)
	case "":
		return nil, keyErr("cloud", "must be set; allowed: hetzner, digitalocean")
	default:
		return nil, allowedErr("cloud", cloud, []string{"hetzner", "digitalocean"})
	}
	cat := catalogs[p.Cloud]

	switch ph := Phase(str("phase", "mvp")); ph {
	case MVP, Upgrade, Scale:
		p.Phase = ph
	default:
		return nil, allowedErr("phase", string(ph), []string{"mvp", "upgrade", "scale"})
	}

	p.Region = str("region", cat.defaultRegion)
	zone, ok := cat.regions[p.Region]
	if !ok {
		return nil, allowedErr("region", p.Region, sortedKeys(cat.regions))
	}
	p.NetworkZone = zone

	p.Domain = strings.ToLower(str("domain", ""))
	if p.Domain != "" && !hostName.MatchString(p.Domain) {
		return nil, keyErr("domain", "%q is not a host name like recipes.example.com", p.Domain)
	}
	p.DNSZone = strings.ToLower(str("dnsZone", ""))
	if p.DNSZone != "" {
		if p.Cloud != DigitalOcean {
			return nil, keyErr("dnsZone", "is for DigitalOcean DNS only; on Hetzner the records to create are output")
		}
		if p.Domain == "" || (p.Domain != p.DNSZone && !strings.HasSuffix(p.Domain, "."+p.DNSZone)) {
			return nil, keyErr("dnsZone", "%q must be the domain %q or one of its parents", p.DNSZone, p.Domain)
		}
	}
	p.ACMEEmail = str("acmeEmail", "")
	if p.ACMEEmail != "" && !strings.Contains(p.ACMEEmail, "@") {
		return nil, keyErr("acmeEmail", "%q is not an e-mail address", p.ACMEEmail)
	}

	p.AppImage = str("appImage", "")
	if p.AppImage == "" {
		return nil, keyErr("appImage", "must be set to the app's image reference, e.g. ghcr.io/acme/flavormonk:v1.2.0 (make image builds and pushes it)")
	}
	if !imageRef.MatchString(p.AppImage) {
		return nil, keyErr("appImage", "%q is not an image reference like registry.example.com/team/flavormonk:v1.2.0", p.AppImage)
	}

	if err := p.compileRegistry(get); err != nil {
		return nil, err
	}

	p.ServerImage = str("serverImage", imageNames(p.Cloud)[0])
	if _, ok := Image(p.Cloud, p.ServerImage); !ok {
		return nil, untestedImageErr(p.Cloud, p.ServerImage)
	}

	var err error
	if p.AdminCIDRs, err = stringList(get, "adminCidrs"); err != nil {
		return nil, err
	}
	if len(p.AdminCIDRs) == 0 {
		return nil, keyErr("adminCidrs", "must list the CIDRs allowed to SSH, e.g. [\"203.0.113.7/32\"]")
	}
	if p.AdminCIDRs, err = adminCIDRs(p.AdminCIDRs); err != nil {
		return nil, err
	}
	if p.SSHKeys, err = stringList(get, "sshPublicKeys"); err != nil {
		return nil, err
	}
	if len(p.SSHKeys) == 0 {
		return nil, keyErr("sshPublicKeys", "must list at least one SSH public key")
	}
	if err := sshPublicKeys(p.SSHKeys); err != nil {
		return nil, err
	}

	if err := p.resolveSizes(get, cat); err != nil {
		return nil, err
	}
	if p.AppCount, err = intKey(get, "appCount", 2, 2, 20); err != nil {
		return nil, err
	}
	if p.Phase == MVP {
		p.AppCount = 1
	}
	if p.DBVolumeGB, err = intKey(get, "dbVolumeGb", 20, 10, 10000); err != nil {
		return nil, err
	}
	if p.BackupVolumeGB, err = intKey(get, "backupVolumeGb", 40, 10, 10000); err != nil {
		return nil, err
	}
	if p.ChromaVolumeGB, err = intKey(get, "chromaVolumeGb", 10, 10, 10000); err != nil {
		return nil, err
	}
	if b := str("budget", ""); b != "" {
		if p.Budget, err = strconv.ParseFloat(b, 64); err != nil || p.Budget < 0 {
			return nil, keyErr("budget", "%q is not a monthly amount like 50 or 120.5 (%s)", b, p.Currency())
		}
	}

	p.Backup = BackupPlan{S3Endpoint: str("backupS3Endpoint", ""), S3Bucket: str("backupS3Bucket", ""), S3Region: str("backupS3Region", "auto")}
	if (p.Backup.S3Endpoint == "") != (p.Backup.S3Bucket == "") {
		return nil, keyErr("backupS3Bucket", "backupS3Endpoint and backupS3Bucket go together: set both or neither")
	}
	if p.Backup.S3Endpoint != "" && !strings.HasPrefix(p.Backup.S3Endpoint, "https://") {
		return nil, keyErr("backupS3Endpoint", "%q must be an https:// URL", p.Backup.S3Endpoint)
	}
	if p.Backup.KeepDays, err = intKey(get, "backupKeepDays", 14, 1, 365); err != nil {
		return nil, err
	}
	if p.Inference, err = stringList(get, "inference"); err != nil {
		return nil, err
	}
	p.GumroadProductID = str("gumroadProductId", "")
	if len(p.GumroadProductID) > 64 || strings.ContainsAny(p.GumroadProductID, " \t\n/?#") {
		return nil, keyErr("gumroadProductId", "%q is not a Gumroad product id (letters, digits, - and _, from the product's page)", p.GumroadProductID)
	}

	p.PrivateCIDR = str("privateCidr", "10.42.0.0/16")
	pr, err := netip.ParsePrefix(p.PrivateCIDR)
	if err != nil || !pr.Addr().Is4() || !pr.Addr().IsPrivate() || pr.Bits() > 20 || pr.Bits() < 8 {
		return nil, keyErr("privateCidr", "%q must be a private IPv4 range between /8 and /20, e.g. 10.42.0.0/16", p.PrivateCIDR)
	}
	p.PrivateCIDR = pr.Masked().String()
	// The machines' subnet: the first /24 of the network.
	p.SubnetCIDR = netip.PrefixFrom(pr.Masked().Addr(), 24).String()
	if err := p.compileCluster(get); err != nil {
		return nil, err
	}
	if err := p.compileEntry(get); err != nil {
		return nil, err
	}
	return p, nil
}

// k3sRelease is a k3s release tag, e.g. v1.33.4+k3s1.
var (
	k3sRelease  = regexp.MustCompile(`^v1\.[0-9]{2}\.[0-9]{1,2}\+k3s[0-9]$`)
	doksVersion = regexp.MustCompile(`^1\.[0-9]{2}$`)
)

// The Kubernetes clusters' pod and service ranges, the same on both clouds
// (DOKS's cluster and service subnets, k3s's cluster-cidr and
// service-cidr). They are fixed when a cluster is created and must lie
// outside the private network (k3s's own default pod range is
// 10.42.0.0/16, the default privateCidr, hence explicit ones). The app
// trusts forwarded-for headers from the pod range.
const (
	ClusterCIDR = "10.244.0.0/16" // pods
	ServiceCIDR = "10.245.0.0/16" // services
)

// ClusterRanges is the one prefix that holds both ranges, which the private
// network must not overlap.
var ClusterRanges = netip.PrefixFrom(netip.MustParsePrefix(ClusterCIDR).Addr(), 15)

// Defaults of the scale phase's cluster.
const (
	DefaultDOKSVersion = "1.33"
	DefaultK3sVersion  = "v1.33.4+k3s1"
)

// compileCluster reads the scale keys. They are validated in every phase,
// so a mistake is caught before the stack moves to scale.
func (p *Plan) compileCluster(get Getter) error {
	c := &p.Cluster
	var err error
	if c.NodesMin, err = intKey(get, "nodesMin", 2, 1, 20); err != nil {
		return err
	}
	if c.NodesMax, err = intKey(get, "nodesMax", max(5, c.NodesMin), c.NodesMin, 50); err != nil {
		return err
	}
	if c.ControlPlanes, err = intKey(get, "controlPlanes", 1, 1, 3); err != nil {
		return err
	}
	if c.ControlPlanes == 2 {
		return keyErr("controlPlanes", "2 is not allowed (etcd needs a majority: two servers survive no failure); allowed: 1, 3")
	}
	if c.ControlPlanes != 1 && p.Cloud != Hetzner {
		return keyErr("controlPlanes", "is for k3s on Hetzner only; DOKS runs its own (highly available) control plane")
	}
	def := DefaultDOKSVersion
	if p.Cloud == Hetzner {
		def = DefaultK3sVersion
	}
	raw, _ := get("kubernetesVersion")
	c.K8sVersion = strings.TrimSpace(raw)
	if c.K8sVersion == "" {
		c.K8sVersion = def
	}
	if p.Cloud == Hetzner && !k3sRelease.MatchString(c.K8sVersion) {
		return keyErr("kubernetesVersion", "%q is not a k3s release like %s", c.K8sVersion, DefaultK3sVersion)
	}
	if p.Cloud == DigitalOcean && !doksVersion.MatchString(c.K8sVersion) {
		return keyErr("kubernetesVersion", "%q is not a DOKS version prefix like %s (the newest patch of it is used)", c.K8sVersion, DefaultDOKSVersion)
	}
	if c.PodsMin, err = intKey(get, "podsMin", 2, 2, 100); err != nil {
		return err
	}
	if c.PodsMax, err = intKey(get, "podsMax", max(10, c.PodsMin), c.PodsMin, 200); err != nil {
		return err
	}
	if p.Cloud == Hetzner && (PostgresMaxConnections-PostgresReserve)/(c.PodsMax+1) < minPodPostgresConns {
		most := (PostgresMaxConnections-PostgresReserve)/minPodPostgresConns - 1
		return keyErr("podsMax", "%d leaves fewer than %d Postgres connections per pod on the db server (max_connections %d, %d reserved, shared by podsMax + 1 surge pod); allowed on Hetzner: at most %d",
			c.PodsMax, minPodPostgresConns, PostgresMaxConnections, PostgresReserve, most)
	}
	if c.TargetCPU, err = intKey(get, "podsTargetCpu", 70, 20, 95); err != nil {
		return err
	}
	if c.DBPoolSize, err = intKey(get, "dbPoolSize", 15, 3, 100); err != nil {
		return err
	}
	// The clusters' pod and service ranges must not overlap the private
	// network.
	if pr := netip.MustParsePrefix(p.PrivateCIDR); pr.Overlaps(ClusterRanges) {
		return keyErr("privateCidr", "%s overlaps the Kubernetes pod and service ranges %s; choose another private range, e.g. 10.42.0.0/16", p.PrivateCIDR, ClusterRanges)
	}
	if p.Phase == Scale && p.Cloud == DigitalOcean {
		// A standby node needs a plan that offers one.
		for _, r := range []Role{RoleDB, RoleRedis} {
			if p.Sizes[r] == "db-s-1vcpu-1gb" {
				return keyErr("sizes", "scale.%s: %q cannot have a standby node, which scale adds; allowed: %s",
					r, p.Sizes[r], strings.Join(doDatabases[1:], ", "))
			}
		}
		// The pods reach Postgres through the pool; its backends and the
		// migration Job's direct connections share the plan's limit.
		if limit := doPostgresBackends(p.Sizes[RoleDB]); limit > 0 && c.DBPoolSize+DOMigrationConns > limit {
			return keyErr("dbPoolSize", "%d plus %d direct connections of the migration Job exceed the %d connections %s allows; allowed: at most %d, or a larger scale.db size",
				c.DBPoolSize, DOMigrationConns, limit, p.Sizes[RoleDB], limit-DOMigrationConns)
		}
	}
	return nil
}

// DOMigrationConns are the direct (unpooled) Postgres connections the
// migration Job may open on DigitalOcean in scale (its pool size).
const DOMigrationConns = 5

// doPostgresBackends is the connection limit of a DigitalOcean Postgres
// plan: 25 per GiB of memory, less 3 DigitalOcean keeps for itself
// ("db-s-1vcpu-2gb" → 47); 0 for a slug it cannot read.
func doPostgresBackends(size string) int {
	i := strings.LastIndex(size, "-")
	gb, err := strconv.Atoi(strings.TrimSuffix(size[i+1:], "gb"))
	if i < 0 || err != nil || !strings.HasSuffix(size, "gb") {
		return 0
	}
	return 25*gb - 3
}

func (p *Plan) resolveSizes(get Getter, cat *catalog) error {
	for _, r := range p.Roles() {
		p.Sizes[r] = cat.defaults[p.Phase][r]
	}
	raw, ok := get("sizes")
	if ok && strings.TrimSpace(raw) != "" {
		var over map[string]map[string]string
		if err := json.Unmarshal([]byte(raw), &over); err != nil {
			return keyErr("sizes", "must be JSON like {\"upgrade\": {\"app\": \"%s\"}}: %v", cat.defaults[Upgrade][RoleApp], err)
		}
		for ph, roles := range over {
			if ph != string(MVP) && ph != string(Upgrade) && ph != string(Scale) {
				return allowedErr("sizes", ph, []string{"mvp", "upgrade", "scale"})
			}
			for role, size := range roles {
				r := Role(role)
				allowed, known := cat.sizes[r]
				if !known {
					return keyErr("sizes", "%s: unknown role %q; allowed: %s", ph, role, strings.Join(roleNames(cat), ", "))
				}
				if why, retired := cat.retired[size]; retired {
					return keyErr("sizes", "%s.%s: %q is retired (%s)", ph, role, size, why)
				}
				if !slices.Contains(allowed, size) {
					return keyErr("sizes", "%s.%s: unknown size %q; allowed: %s", ph, role, size, strings.Join(allowed, ", "))
				}
				if Phase(ph) == p.Phase && p.Has(r) {
					p.Sizes[r] = size
				}
			}
		}
	}
	return nil
}

func stringList(get Getter, key string) ([]string, error) {
	raw, ok := get(key)
	if !ok || strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return nil, keyErr(key, "must be a JSON list of strings like [\"a\", \"b\"]")
	}
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out, nil
}

func intKey(get Getter, key string, def, min, max int) (int, error) {
	raw, ok := get(key)
	if !ok || strings.TrimSpace(raw) == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < min || n > max {
		return 0, keyErr(key, "%q must be a whole number from %d to %d", raw, min, max)
	}
	return n, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func roleNames(cat *catalog) []string {
	var out []string
	for r := range cat.sizes {
		out = append(out, string(r))
	}
	sort.Strings(out)
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
