// Package cloudinit renders the cloud-init user data of every Flavor Monk
// host role (app, db, redis, chroma) on Debian 12, for Hetzner and
// DigitalOcean. It is pure Go (no Pulumi SDK), so it compiles in seconds and
// its output is checked into testdata/ as golden files that the tests
// validate with `cloud-init schema` and `nft -c`.
//
// User data never holds a secret (DESIGN.md invariant 4): any process on a
// VM can read it from the metadata service. It prepares the services; the
// secrets arrive later over SSH through the remote command, which
//   - app:   writes EnvPath (0600) and runs `DeployPath IMAGE`;
//   - db:    pipes the role's password into DBSetupPath;
//   - redis: writes RedisSecretPath (`requirepass …`) and restarts Redis;
//   - db (Hetzner): optionally writes backup.EnvPath for the S3 copy;
//   - data hosts: may run `AllowPath ADDR…` when the app nodes change.
package cloudinit

import (
	_ "embed"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/flavormonk/flavormonk/infra/backup"
)

// Role is a host's job.
type Role string

// The host roles.
const (
	RoleApp    Role = "app"
	RoleDB     Role = "db"
	RoleRedis  Role = "redis"
	RoleChroma Role = "chroma"
	// RoleK3s is a Kubernetes node of the scale phase on Hetzner: a k3s
	// server (control plane, embedded etcd) or agent (K3s says which).
	RoleK3s Role = "k3s"
)

// Roles lists every role, in a stable order.
var Roles = []Role{RoleApp, RoleDB, RoleRedis, RoleChroma, RoleK3s}

// K3s configures a k3s node. Nothing here is secret: the join token
// arrives over SSH (K3sStartPath), never in user data.
type K3s struct {
	// Version pins the k3s release, e.g. "v1.33.4+k3s1".
	Version string
	// Server: a control-plane node; otherwise an agent (worker).
	Server bool
	// ClusterInit: the first server, which starts the embedded etcd that
	// later servers join (so one control plane can grow to three).
	ClusterInit bool
	// JoinURL is the first server's API on the private network, e.g.
	// https://10.42.0.64:6443; required for every node but the first.
	JoinURL string
	// NodeIP is this node's fixed private address.
	NodeIP string
	// ClusterCIDR and ServiceCIDR are the pod and service ranges; they must
	// not overlap the private network.
	ClusterCIDR, ServiceCIDR string
}

// Paths of the k3s role.
const (
	// K3sStartPath: `flavormonk-k3s-start [PUBLIC_IP]` with the join token
	// on stdin writes K3sTokenPath (0600) and starts k3s.
	K3sStartPath = "/usr/local/sbin/flavormonk-k3s-start"
	K3sTokenPath = "/etc/rancher/k3s/token"
	// K3sKubeconfig is the admin kubeconfig a server writes (0600).
	K3sKubeconfig = "/etc/rancher/k3s/k3s.yaml"
	// K3sAPIPort is the Kubernetes API on servers.
	K3sAPIPort = 6443
)

// Clouds lists the supported clouds.
var Clouds = []string{"hetzner", "digitalocean"}

// Ports.
const (
	AppPort      = 8080 // the app's listener (loopback behind Caddy, private behind a load balancer)
	MetricsPort  = 9090 // /metrics, always 127.0.0.1
	PostgresPort = 5432
	RedisPort    = 6379
	ChromaPort   = 8000
)

// Paths on the hosts that the remote command uses.
const (
	// EnvPath is the app's environment file (docker --env-file format:
	// KEY=VALUE a line, values taken literally, no quotes). Write it 0600
	// root:root; flavormonk.service does not start until it exists.
	EnvPath = "/etc/flavormonk/env"
	// DeployPath: `flavormonk-deploy IMAGE` pulls IMAGE, restarts the app on
	// it and waits for /readyz (rolls back and exits 1 when it fails).
	DeployPath = "/usr/local/sbin/flavormonk-deploy"
	// DBSetupPath: `flavormonk-db-setup [ROLE [DATABASE]]` with the password
	// on stdin creates/updates the role and creates the database.
	DBSetupPath = "/usr/local/sbin/flavormonk-db-setup"
	// RedisSecretPath is included by Redis' configuration; the remote command
	// writes `requirepass <secret>` there (keep owner redis, mode 0640) and
	// restarts redis-server.
	RedisSecretPath = "/etc/redis/flavormonk-secret.conf"
	// AllowPath: `flavormonk-allow ADDR[/BITS]…` replaces the addresses
	// admitted to a data host's port (nftables, and pg_hba on the db host).
	AllowPath = "/usr/local/sbin/flavormonk-allow"
	// HostEnvPath holds the host's non-secret facts (role, network, ports).
	HostEnvPath = "/etc/flavormonk/host.env"
)

// Database and role the db host admits in pg_hba and DBSetupPath creates by
// default.
const (
	DBName = "flavormonk"
	DBRole = "flavormonk"
)

// Defaults.
const (
	DefaultDataMount       = "/mnt/data"
	DefaultBackupMount     = backup.DefaultDir
	DefaultPostgresVersion = "15" // Debian 12
)

// Caddy puts Caddy in front of the app (mvp: TLS ends on the VM).
type Caddy struct {
	Domain string // empty: plain HTTP on :80
	Email  string // ACME account email (optional)
}

// Host describes one machine.
type Host struct {
	Role          Role
	Cloud         string // "hetzner" | "digitalocean"
	AdminUser     string // the only SSH login, with passwordless sudo; e.g. "flavormonk"
	SSHPublicKeys []string
	// AdminCIDRs, when given, restrict SSH at host level to the private
	// network plus these (IPv4 or IPv6). Empty: SSH is admitted from anywhere
	// by the host and restricted by the cloud firewall alone.
	AdminCIDRs []string
	// PrivateCIDR is the stack's private network, e.g. "10.10.0.0/16".
	PrivateCIDR string
	// AllowFrom lists the private addresses or networks admitted to a data
	// host's port (the app nodes or their subnet); each must lie inside
	// PrivateCIDR. Required for db, redis and chroma; nil for app.
	AllowFrom []string
	// Caddy (app role only) puts Caddy on :80/:443 in front of the app, which
	// then listens on 127.0.0.1:8080. Nil: the app listens on its private
	// address :8080 for the load balancer.
	Caddy *Caddy
	// DataDevice is the data volume's stable device path (db, chroma), e.g.
	// HetznerVolumeDevice(id) or DigitalOceanVolumeDevice(name).
	DataDevice string
	DataMount  string // default /mnt/data
	// BackupDevice/BackupMount (db on Hetzner): the backup volume. Setting
	// BackupDevice enables the nightly pg_dump (BackupMount default /mnt/backup).
	BackupDevice    string
	BackupMount     string
	BackupKeep      int    // dumps kept (default backup.DefaultKeep)
	PostgresVersion string // default "15" (Debian 12)
	ChromaVersion   string // chromadb/chroma image tag, e.g. "1.0.20" (chroma role)
	// K3s configures the k3s role (Hetzner only); nil for other roles.
	K3s *K3s
}

// HetznerVolumeDevice is the device path of a Hetzner Cloud volume by id.
func HetznerVolumeDevice(id int64) string {
	return "/dev/disk/by-id/scsi-0HC_Volume_" + strconv.FormatInt(id, 10)
}

// DigitalOceanVolumeDevice is the device path of a DigitalOcean volume by name.
func DigitalOceanVolumeDevice(name string) string {
	return "/dev/disk/by-id/scsi-0DO_Volume_" + name
}

// DataPort is the port the role serves on the private network (0 for app).
func (r Role) DataPort() int {
	switch r {
	case RoleDB:
		return PostgresPort
	case RoleRedis:
		return RedisPort
	case RoleChroma:
		return ChromaPort
	}
	return 0
}

var (
	reUser    = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	reKey     = regexp.MustCompile(`^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?$`)
	reDevice  = regexp.MustCompile(`^/dev/[A-Za-z0-9._/:-]+$`)
	rePath    = regexp.MustCompile(`^/[A-Za-z0-9._/-]+$`)
	reDomain  = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	reEmail   = regexp.MustCompile(`^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$`)
	rePG      = regexp.MustCompile(`^1[0-9]$`)
	reVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
)

// normalized is a validated Host with defaults applied.
type normalized struct {
	Host
	private   netip.Prefix
	allow     []string // canonical: a.b.c.d or a.b.c.d/n
	ssh4      []string
	ssh6      []string
	backupOn  bool
	listen    string // app: loopback | private
	dataLabel string
}

func validate(h Host) (*normalized, error) {
	n := &normalized{Host: h}
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("cloudinit: %s host: %s: %s", h.Role, field, fmt.Sprintf(format, a...))
	}
	switch h.Role {
	case RoleApp, RoleDB, RoleRedis, RoleChroma, RoleK3s:
	default:
		return nil, fmt.Errorf("cloudinit: Role %q: unknown (allowed: app, db, redis, chroma, k3s)", h.Role)
	}
	switch h.Cloud {
	case "hetzner", "digitalocean":
	default:
		return nil, bad("Cloud", "%q unknown (allowed: hetzner, digitalocean)", h.Cloud)
	}
	if !reUser.MatchString(h.AdminUser) || h.AdminUser == "root" {
		return nil, bad("AdminUser", "%q must be a lower-case login name other than root", h.AdminUser)
	}
	if len(h.SSHPublicKeys) == 0 {
		return nil, bad("SSHPublicKeys", "at least one key is required (SSH is keys-only)")
	}
	for i, k := range h.SSHPublicKeys {
		if strings.Contains(k, "PRIVATE KEY") {
			return nil, bad("SSHPublicKeys", "entry %d is a private key; give the public key", i)
		}
		if !reKey.MatchString(strings.TrimSpace(k)) {
			return nil, bad("SSHPublicKeys", "entry %d is not an OpenSSH public key line", i)
		}
	}
	p, err := netip.ParsePrefix(h.PrivateCIDR)
	if err != nil || !p.Addr().Is4() || !p.Addr().IsPrivate() || p.Masked() != p || p.Bits() < 8 {
		return nil, bad("PrivateCIDR", "%q must be a private IPv4 network such as 10.10.0.0/16", h.PrivateCIDR)
	}
	n.private = p
	for _, c := range h.AdminCIDRs {
		ap, err := parseAddrOrPrefix(c)
		if err != nil {
			return nil, bad("AdminCIDRs", "%q is not an address or CIDR", c)
		}
		if ap.Bits() == 0 {
			return nil, bad("AdminCIDRs", "%q admits the whole internet; leave AdminCIDRs empty to rely on the cloud firewall", c)
		}
		if ap.Addr().Is4() {
			n.ssh4 = append(n.ssh4, ap.String())
		} else {
			n.ssh6 = append(n.ssh6, ap.String())
		}
	}
	if len(h.AdminCIDRs) > 0 {
		n.ssh4 = append([]string{p.String()}, n.ssh4...)
	}

	if (h.K3s != nil) != (h.Role == RoleK3s) {
		return nil, bad("K3s", "is set for the k3s role and only for it")
	}
	if h.Role == RoleK3s {
		return validateK3s(n, p, bad)
	}
	if h.Role == RoleApp {
		if len(h.AllowFrom) > 0 {
			return nil, bad("AllowFrom", "must be empty for the app role (it has no data port)")
		}
		if h.DataDevice != "" || h.BackupDevice != "" || h.BackupMount != "" {
			return nil, bad("DataDevice", "the app role has no volumes")
		}
		// The app listens on every address in every phase, with nftables
		// (and the cloud firewall) admitting 8080 from the private network
		// only: user data is never re-run, so an mvp server must already be
		// reachable by the load balancer it gets in upgrade. Caddy (mvp)
		// proxies to 127.0.0.1.
		n.listen = "any"
		if h.Caddy != nil {
			c := *h.Caddy
			c.Domain = strings.ToLower(strings.TrimSuffix(c.Domain, "."))
			if c.Domain != "" && !reDomain.MatchString(c.Domain) {
				return nil, bad("Caddy.Domain", "%q is not a domain name", h.Caddy.Domain)
			}
			if c.Email != "" && !reEmail.MatchString(c.Email) {
				return nil, bad("Caddy.Email", "%q is not an email address", c.Email)
			}
			n.Caddy = &c
		}
		return n, nil
	}

	if h.Caddy != nil {
		return nil, bad("Caddy", "only the app role runs Caddy")
	}
	if len(h.AllowFrom) == 0 {
		return nil, bad("AllowFrom", "list the app nodes' private addresses or subnet (nothing would reach the %d port)", h.Role.DataPort())
	}
	for _, a := range h.AllowFrom {
		ap, err := parseAddrOrPrefix(a)
		if err != nil || !ap.Addr().Is4() {
			return nil, bad("AllowFrom", "%q is not an IPv4 address or CIDR", a)
		}
		if !p.Contains(ap.Addr()) || ap.Bits() < p.Bits() {
			return nil, bad("AllowFrom", "%q is not inside the private network %s", a, p)
		}
		if ap.Bits() == 32 {
			n.allow = append(n.allow, ap.Addr().String())
		} else {
			n.allow = append(n.allow, ap.String())
		}
	}
	if n.DataMount == "" {
		n.DataMount = DefaultDataMount
	}
	if !rePath.MatchString(n.DataMount) || strings.Contains(n.DataMount, "..") {
		return nil, bad("DataMount", "%q must be an absolute path", n.DataMount)
	}
	switch h.Role {
	case RoleDB, RoleChroma:
		if !reDevice.MatchString(h.DataDevice) || strings.Contains(h.DataDevice, "..") {
			return nil, bad("DataDevice", "%q must be the data volume's /dev/disk/by-id/… path", h.DataDevice)
		}
	case RoleRedis:
		if h.DataDevice != "" {
			return nil, bad("DataDevice", "the redis role keeps no data volume (it is a cache)")
		}
	}
	if h.Role == RoleDB {
		if n.PostgresVersion == "" {
			n.PostgresVersion = DefaultPostgresVersion
		}
		if !rePG.MatchString(n.PostgresVersion) {
			return nil, bad("PostgresVersion", "%q must be a major version such as 15", h.PostgresVersion)
		}
		if h.BackupDevice != "" {
			if !reDevice.MatchString(h.BackupDevice) || strings.Contains(h.BackupDevice, "..") {
				return nil, bad("BackupDevice", "%q must be the backup volume's /dev/disk/by-id/… path", h.BackupDevice)
			}
			if h.BackupDevice == h.DataDevice {
				return nil, bad("BackupDevice", "must differ from DataDevice")
			}
			if n.BackupMount == "" {
				n.BackupMount = DefaultBackupMount
			}
			if !rePath.MatchString(n.BackupMount) || strings.Contains(n.BackupMount, "..") || n.BackupMount == n.DataMount {
				return nil, bad("BackupMount", "%q must be an absolute path other than DataMount", n.BackupMount)
			}
			if n.BackupKeep == 0 {
				n.BackupKeep = backup.DefaultKeep
			}
			if n.BackupKeep < 1 || n.BackupKeep > 1000 {
				return nil, bad("BackupKeep", "%d must be between 1 and 1000", h.BackupKeep)
			}
			n.backupOn = true
		} else if h.BackupMount != "" {
			return nil, bad("BackupMount", "set BackupDevice too (the backup volume's device path)")
		}
	} else if h.BackupDevice != "" || h.BackupMount != "" {
		return nil, bad("BackupDevice", "only the db role keeps backups on a volume")
	}
	if h.Role == RoleChroma && !reVersion.MatchString(h.ChromaVersion) {
		return nil, bad("ChromaVersion", "%q must pin the chromadb/chroma image, e.g. 1.0.20", h.ChromaVersion)
	}
	n.dataLabel = "fm-" + string(h.Role)
	return n, nil
}

func parseAddrOrPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

var reK3sVersion = regexp.MustCompile(`^v1\.[0-9]{2}\.[0-9]{1,2}\+k3s[0-9]$`)

func validateK3s(n *normalized, private netip.Prefix, bad func(field, format string, a ...any) error) (*normalized, error) {
	k := *n.K3s
	if n.Cloud != "hetzner" {
		return nil, bad("Cloud", "the k3s role runs on Hetzner (DigitalOcean runs DOKS)")
	}
	if len(n.AllowFrom) > 0 || n.DataDevice != "" || n.BackupDevice != "" || n.Caddy != nil {
		return nil, bad("K3s", "a k3s node has no data port, volume or Caddy")
	}
	if !reK3sVersion.MatchString(k.Version) {
		return nil, bad("K3s.Version", "%q is not a k3s release like v1.33.4+k3s1", k.Version)
	}
	ip, err := netip.ParseAddr(k.NodeIP)
	if err != nil || !ip.Is4() || !private.Contains(ip) {
		return nil, bad("K3s.NodeIP", "%q is not an IPv4 address inside %s", k.NodeIP, private)
	}
	if k.ClusterInit && !k.Server {
		return nil, bad("K3s.ClusterInit", "only a server starts the cluster")
	}
	if k.ClusterInit == (k.JoinURL != "") {
		return nil, bad("K3s.JoinURL", "every node but the first server joins one (https://ADDR:6443), the first joins none")
	}
	if k.JoinURL != "" {
		host, ok := strings.CutPrefix(k.JoinURL, "https://")
		addr, err := netip.ParseAddrPort(host)
		if !ok || err != nil || !private.Contains(addr.Addr()) {
			return nil, bad("K3s.JoinURL", "%q must be https://ADDR:PORT on the private network %s", k.JoinURL, private)
		}
	}
	for _, c := range []struct{ field, v string }{{"K3s.ClusterCIDR", k.ClusterCIDR}, {"K3s.ServiceCIDR", k.ServiceCIDR}} {
		pr, err := netip.ParsePrefix(c.v)
		if err != nil || !pr.Addr().Is4() || pr.Overlaps(private) {
			return nil, bad(c.field, "%q must be an IPv4 range outside the private network %s", c.v, private)
		}
	}
	n.K3s = &k
	return n, nil
}

// k3sConfig is /etc/rancher/k3s/config.yaml: flags only, no token.
func k3sConfig(n *normalized) string {
	k := n.K3s
	var b strings.Builder
	b.WriteString("# Flavor Monk k3s " + map[bool]string{true: "server", false: "agent"}[k.Server] + " (infra/cloudinit). The join token arrives over SSH\n")
	b.WriteString("# into token-file; the public address is added by flavormonk-k3s-start.\n")
	fmt.Fprintf(&b, "token-file: %q\n", K3sTokenPath)
	fmt.Fprintf(&b, "node-ip: %q\n", k.NodeIP)
	if k.JoinURL != "" {
		fmt.Fprintf(&b, "server: %q\n", k.JoinURL)
	}
	if k.Server {
		if k.ClusterInit {
			b.WriteString("# Embedded etcd from the first server on, so one server can grow to three.\n")
			b.WriteString("cluster-init: true\n")
		}
		fmt.Fprintf(&b, "advertise-address: %q\n", k.NodeIP)
		fmt.Fprintf(&b, "cluster-cidr: %q\n", k.ClusterCIDR)
		fmt.Fprintf(&b, "service-cidr: %q\n", k.ServiceCIDR)
		b.WriteString("# The hcloud load balancer is the ingress; k3s keeps its metrics-server (the HPA needs it).\n")
		b.WriteString("disable:\n  - traefik\n  - servicelb\n")
		b.WriteString("write-kubeconfig-mode: \"0600\"\n")
		b.WriteString("secrets-encryption: true\n")
		b.WriteString("# The app runs on the agents.\n")
		b.WriteString("node-taint:\n  - \"node-role.kubernetes.io/control-plane=true:NoSchedule\"\n")
	}
	return b.String()
}

// Render returns the host's user data: "#cloud-config\n…" YAML.
func Render(h Host) (string, error) {
	n, err := validate(h)
	if err != nil {
		return "", err
	}
	c, err := build(n)
	if err != nil {
		return "", err
	}
	return c.yaml(), nil
}

// --- the document ----------------------------------------------------------

type file struct {
	path, owner, perms, content string
	deferred                    bool // written after the packages are installed
}

type config struct {
	comment  string
	packages []string
	user     string
	keys     []string
	files    []file
	runcmd   []string
}

//go:embed files/net.sh
var netSh string

//go:embed files/private-ip.sh
var privateIPSh string

//go:embed files/volume.sh
var volumeSh string

//go:embed files/allow.sh
var allowSh string

//go:embed files/db-init.sh
var dbInitSh string

//go:embed files/db-setup.sh
var dbSetupSh string

//go:embed files/pg-listen.sh
var pgListenSh string

//go:embed files/redis-conf.sh
var redisConfSh string

//go:embed files/chroma-run.sh
var chromaRunSh string

//go:embed files/app-env.sh
var appEnvSh string

//go:embed files/app-run.sh
var appRunSh string

//go:embed files/k3s-start.sh
var k3sStartSh string

//go:embed files/deploy.sh
var deploySh string

func build(n *normalized) (*config, error) {
	c := &config{
		comment: fmt.Sprintf("Flavor Monk %s host on %s (Debian 12), rendered by infra/cloudinit.\n"+
			"Holds no secret: they arrive over SSH from the remote command.", n.Role, n.Cloud),
		user: n.AdminUser,
	}
	for _, k := range n.SSHPublicKeys {
		c.keys = append(c.keys, strings.TrimSpace(k))
	}
	pkgs := []string{"nftables", "unattended-upgrades", "apt-listchanges", "curl", "ca-certificates"}
	exe := func(path, content string) {
		c.files = append(c.files, file{path: path, owner: "root:root", perms: "0755", content: content})
	}
	conf := func(path, perms, content string) {
		c.files = append(c.files, file{path: path, owner: "root:root", perms: perms, content: content})
	}

	// Common: host facts, SSH, automatic security updates, firewall.
	conf(HostEnvPath, "0644", hostEnv(n))
	conf("/etc/ssh/sshd_config.d/10-flavormonk.conf", "0644", sshdConf(n))
	c.files = append(c.files, file{path: "/etc/apt/apt.conf.d/20auto-upgrades", owner: "root:root", perms: "0644", deferred: true,
		content: "// Flavor Monk: refresh the lists and apply security updates daily\n" +
			"// (origins: Debian's 50unattended-upgrades, i.e. the security archive).\n" +
			"APT::Periodic::Update-Package-Lists \"1\";\n" +
			"APT::Periodic::Unattended-Upgrade \"1\";\n" +
			"APT::Periodic::AutocleanInterval \"7\";\n"})
	c.files = append(c.files, file{path: "/etc/nftables.conf", owner: "root:root", perms: "0644", deferred: true, content: nftables(n)})
	conf("/usr/local/lib/flavormonk/net.sh", "0644", netSh)
	exe("/usr/local/sbin/flavormonk-private-ip", privateIPSh)

	first := []string{
		"# Flavor Monk first boot (" + string(n.Role) + "): runs once, after the packages are installed.",
		"set -euo pipefail",
		"log() { echo \"flavormonk-firstboot: $*\" >&2; }",
		"sshd -t",
		"systemctl reload ssh",
		"nft -c -f /etc/nftables.conf",
		"systemctl enable nftables",
		"systemctl restart nftables",
		"systemctl enable --now apt-daily.timer apt-daily-upgrade.timer",
	}

	switch n.Role {
	case RoleApp:
		pkgs = append(pkgs, "docker.io")
		if n.Caddy != nil {
			pkgs = append(pkgs, "caddy")
			c.files = append(c.files, file{path: "/etc/caddy/Caddyfile", owner: "root:root", perms: "0644", deferred: true, content: caddyfile(n.Caddy)})
		}
		c.files = append(c.files, file{path: "/etc/flavormonk/README", owner: "root:root", perms: "0644",
			content: "env    the app's environment (0600, written over SSH; docker --env-file format)\n" +
				"image  the image flavormonk.service runs (written by flavormonk-deploy)\n" +
				"host.env  this host's role and network (no secrets)\n"})
		exe("/usr/local/sbin/flavormonk-app-env", appEnvSh)
		exe("/usr/local/sbin/flavormonk-app-run", appRunSh)
		exe(DeployPath, deploySh)
		conf("/etc/systemd/system/flavormonk.service", "0644", appUnit)
		first = append(first,
			"chmod 0750 /etc/flavormonk",
			"systemctl enable --now docker",
			"systemctl daemon-reload",
			"# Starts once the remote command has written /etc/flavormonk/env and run flavormonk-deploy.",
			"systemctl enable flavormonk.service",
		)
		if n.Caddy != nil {
			first = append(first,
				"caddy validate --config /etc/caddy/Caddyfile --adapter caddyfile",
				"systemctl enable caddy",
				"systemctl restart caddy",
			)
		}

	case RoleDB:
		v := n.PostgresVersion
		pkgs = append(pkgs, "postgresql-"+v, "postgresql-client-"+v)
		// Before the package: no main cluster on the root disk.
		conf("/etc/postgresql-common/createcluster.conf", "0644", createclusterConf(n))
		conf("/etc/flavormonk/postgresql/50-flavormonk.conf", "0644", pgConf)
		conf("/etc/flavormonk/postgresql/pg_hba.conf", "0640", pgHBA(n))
		conf("/etc/systemd/system/postgresql@.service.d/flavormonk.conf", "0644", fmt.Sprintf(`# Flavor Monk: the cluster lives on the data volume and listens on the private address.
[Unit]
RequiresMountsFor=%s
Wants=network-online.target
After=network-online.target

[Service]
ExecStartPre=+/usr/local/sbin/flavormonk-pg-listen
`, n.DataMount))
		exe("/usr/local/sbin/flavormonk-volume", volumeSh)
		exe("/usr/local/sbin/flavormonk-db-init", dbInitSh)
		exe("/usr/local/sbin/flavormonk-pg-listen", pgListenSh)
		exe(DBSetupPath, dbSetupSh)
		exe(AllowPath, allowSh)
		first = append(first,
			fmt.Sprintf("flavormonk-volume %s %s %s", n.DataDevice, n.DataMount, n.dataLabel),
		)
		if n.backupOn {
			svc, timer, err := backup.Units(backup.Options{Dir: n.BackupMount, Keep: n.BackupKeep, Database: DBName, RequiresMounts: []string{n.DataMount}})
			if err != nil {
				return nil, err
			}
			exe(backup.ScriptPath, backup.Script)
			exe(backup.RestorePath, backup.RestoreScript)
			conf(backup.ServicePath, "0644", svc)
			conf(backup.TimerPath, "0644", timer)
			pkgs = append(pkgs, "rclone")
			first = append(first,
				fmt.Sprintf("flavormonk-volume %s %s fm-backup", n.BackupDevice, n.BackupMount),
				"chown root:root "+n.BackupMount,
				"chmod 0700 "+n.BackupMount,
			)
		}
		first = append(first, "flavormonk-db-init")
		if n.backupOn {
			first = append(first, "systemctl daemon-reload", "systemctl enable --now "+backup.Unit)
		}

	case RoleRedis:
		pkgs = append(pkgs, "redis-server")
		c.files = append(c.files,
			file{path: "/etc/redis/flavormonk.conf", owner: "redis:redis", perms: "0640", deferred: true, content: redisConf},
			file{path: RedisSecretPath, owner: "redis:redis", perms: "0640", deferred: true, content: ""},
		)
		conf("/etc/systemd/system/redis-server.service.d/flavormonk.conf", "0644", `# Flavor Monk: bind to the private address (found at start), after the network is up.
[Unit]
Wants=network-online.target
After=network-online.target

[Service]
ExecStartPre=+/usr/local/sbin/flavormonk-redis-conf
`)
		exe("/usr/local/sbin/flavormonk-redis-conf", redisConfSh)
		exe(AllowPath, allowSh)
		first = append(first,
			"grep -qxF 'include /etc/redis/flavormonk.conf' /etc/redis/redis.conf || echo 'include /etc/redis/flavormonk.conf' >>/etc/redis/redis.conf",
			"systemctl daemon-reload",
			"systemctl enable redis-server",
			"systemctl restart redis-server",
		)

	case RoleK3s:
		k := n.K3s
		exec := "agent"
		if k.Server {
			exec = "server"
		}
		c.files = append(c.files, file{path: "/etc/rancher/k3s/config.yaml", owner: "root:root", perms: "0600", content: k3sConfig(n)})
		exe(K3sStartPath, k3sStartSh)
		first = append(first,
			"# k3s, pinned; its installer verifies the download's checksum. Not started:",
			"# flavormonk-k3s-start starts it once the token has arrived over SSH.",
			"curl -sfL --retry 5 https://get.k3s.io -o /usr/local/lib/flavormonk/k3s-install.sh",
			fmt.Sprintf("INSTALL_K3S_VERSION=%q INSTALL_K3S_SKIP_ENABLE=true INSTALL_K3S_SKIP_START=true INSTALL_K3S_EXEC=%s sh /usr/local/lib/flavormonk/k3s-install.sh", k.Version, exec),
		)

	case RoleChroma:
		pkgs = append(pkgs, "docker.io")
		conf("/etc/systemd/system/flavormonk-chroma.service", "0644", fmt.Sprintf(chromaUnit, n.DataMount))
		exe("/usr/local/sbin/flavormonk-volume", volumeSh)
		exe("/usr/local/sbin/flavormonk-chroma-run", chromaRunSh)
		exe(AllowPath, allowSh)
		first = append(first,
			fmt.Sprintf("flavormonk-volume %s %s %s", n.DataDevice, n.DataMount, n.dataLabel),
			fmt.Sprintf("install -d -m 0755 %s/chroma", n.DataMount),
			"systemctl enable --now docker",
			"systemctl daemon-reload",
			"systemctl enable --now flavormonk-chroma.service",
		)
	}
	first = append(first, "install -d -m 0755 /var/lib/flavormonk", "touch /var/lib/flavormonk/firstboot.done", "log \"done\"")
	exe("/usr/local/sbin/flavormonk-firstboot", "#!/bin/bash\n"+strings.Join(first, "\n")+"\n")
	c.packages = pkgs
	c.runcmd = []string{"/usr/local/sbin/flavormonk-firstboot"}
	return c, nil
}

func hostEnv(n *normalized) string {
	kv := [][2]string{
		{"FLAVORMONK_ROLE", string(n.Role)},
		{"FLAVORMONK_CLOUD", n.Cloud},
		{"FLAVORMONK_PRIVATE_CIDR", n.private.String()},
	}
	switch n.Role {
	case RoleApp:
		kv = append(kv, [2]string{"FLAVORMONK_LISTEN", n.listen}, [2]string{"FLAVORMONK_APP_PORT", strconv.Itoa(AppPort)})
	case RoleK3s:
		role := "agent"
		if n.K3s.Server {
			role = "server"
		}
		kv = append(kv, [2]string{"FLAVORMONK_K3S_ROLE", role}, [2]string{"FLAVORMONK_NODE_IP", n.K3s.NodeIP})
	default:
		kv = append(kv, [2]string{"FLAVORMONK_DATA_PORT", strconv.Itoa(n.Role.DataPort())})
		if n.Role != RoleRedis {
			kv = append(kv, [2]string{"FLAVORMONK_DATA_MOUNT", n.DataMount})
		}
	}
	switch n.Role {
	case RoleDB:
		kv = append(kv, [2]string{"FLAVORMONK_PG_VERSION", n.PostgresVersion},
			[2]string{"FLAVORMONK_DB_NAME", DBName}, [2]string{"FLAVORMONK_DB_ROLE", DBRole})
		if n.backupOn {
			kv = append(kv, [2]string{"FLAVORMONK_BACKUP_MOUNT", n.BackupMount})
		}
	case RoleChroma:
		path := "/data"
		if strings.HasPrefix(n.ChromaVersion, "0.") {
			path = "/chroma/chroma" // the 0.x images persist there
		}
		kv = append(kv, [2]string{"FLAVORMONK_CHROMA_IMAGE", "chromadb/chroma:" + n.ChromaVersion},
			[2]string{"FLAVORMONK_CHROMA_PATH", path})
	}
	var b strings.Builder
	b.WriteString("# This host's facts for the flavormonk-* scripts. No secrets here.\n")
	for _, p := range kv {
		fmt.Fprintf(&b, "%s=%s\n", p[0], p[1])
	}
	return b.String()
}

func sshdConf(n *normalized) string {
	return fmt.Sprintf(`# Flavor Monk: keys only, no root, only the admin user. Read before the
# distribution's settings (the first value of a keyword wins).
PubkeyAuthentication yes
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
PermitRootLogin no
AllowUsers %s
MaxAuthTries 3
X11Forwarding no
`, n.AdminUser)
}

func nftSet(xs []string) string { return "{ " + strings.Join(xs, ", ") + " }" }

func nftables(n *normalized) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("#!/usr/sbin/nft -f")
	w("# Flavor Monk host firewall (%s). Only table inet flavormonk is managed", n.Role)
	w("# here: tables of others (docker's) are left alone.")
	w("define PRIVATE_NET = %s", n.private)
	port := n.Role.DataPort()
	if port != 0 {
		w("# The app nodes; flavormonk-allow rewrites this line.")
		w("define DATA_CLIENTS = %s", nftSet(n.allow))
	}
	if len(n.ssh4) > 0 {
		w("define SSH_CLIENTS4 = %s", nftSet(n.ssh4))
	}
	if len(n.ssh6) > 0 {
		w("define SSH_CLIENTS6 = %s", nftSet(n.ssh6))
	}
	w("")
	w("table inet flavormonk")
	w("delete table inet flavormonk")
	w("")
	w("table inet flavormonk {")
	if port != 0 {
		w("\tchain prerouting {")
		w("\t\t# Before any DNAT (a published container port skips the input chain):")
		w("\t\t# the data port only from the app nodes, to the private address.")
		w("\t\ttype filter hook prerouting priority -150; policy accept;")
		w("\t\ttcp dport %d ip saddr $DATA_CLIENTS ip daddr $PRIVATE_NET accept", port)
		w("\t\ttcp dport %d iif \"lo\" accept", port)
		w("\t\ttcp dport %d drop", port)
		w("\t}")
		w("")
	}
	w("\tchain input {")
	w("\t\ttype filter hook input priority filter; policy drop;")
	w("\t\tct state established,related accept")
	w("\t\tct state invalid drop")
	w("\t\tiif \"lo\" accept")
	w("\t\tmeta l4proto { icmp, ipv6-icmp } accept")
	switch {
	case len(n.ssh4) > 0:
		w("\t\tip saddr $SSH_CLIENTS4 tcp dport 22 accept")
		if len(n.ssh6) > 0 {
			w("\t\tip6 saddr $SSH_CLIENTS6 tcp dport 22 accept")
		}
	default:
		w("\t\t# SSH: the cloud firewall admits the admin CIDRs only.")
		w("\t\ttcp dport 22 accept")
	}
	switch {
	case n.Role == RoleApp && n.Caddy != nil:
		w("\t\t# Caddy (TLS ends here) in front of the app on %d.", AppPort)
		w("\t\ttcp dport { 80, 443 } accept")
		w("\t\tudp dport 443 accept")
		w("\t\t# The app on its private address too, for a load balancer after a move to upgrade.")
		w("\t\tip saddr $PRIVATE_NET ip daddr $PRIVATE_NET tcp dport %d accept", AppPort)
	case n.Role == RoleApp:
		w("\t\t# The app on its private address, for the load balancer.")
		w("\t\tip saddr $PRIVATE_NET ip daddr $PRIVATE_NET tcp dport %d accept", AppPort)
	case n.Role == RoleK3s:
		w("\t\t# The cluster: every port from the other nodes (etcd, kubelet, flannel")
		w("\t\t# VXLAN, the API) and from the load balancer's private address, and from")
		w("\t\t# this node's pods (kube-proxy's NodePort and DNAT happen before input).")
		w("\t\tip saddr $PRIVATE_NET ip daddr $PRIVATE_NET accept")
		w("\t\tip saddr { %s, %s } accept", n.K3s.ClusterCIDR, n.K3s.ServiceCIDR)
		w("\t\tiifname { \"cni0\", \"flannel.1\" } accept")
		if n.K3s.Server {
			w("\t\t# The Kubernetes API: the cloud firewall admits the admin CIDRs only.")
			w("\t\ttcp dport %d accept", K3sAPIPort)
		}
	default:
		w("\t\tip saddr $DATA_CLIENTS ip daddr $PRIVATE_NET tcp dport %d accept", port)
	}
	w("\t}")
	w("}")
	return b.String()
}

func caddyfile(c *Caddy) string {
	var b strings.Builder
	b.WriteString("# Flavor Monk: Caddy in front of the app (127.0.0.1:8080).\n")
	if c.Email != "" {
		fmt.Fprintf(&b, "{\n\temail %s\n}\n\n", c.Email)
	}
	site := ":80"
	if c.Domain != "" {
		site = c.Domain
	}
	fmt.Fprintf(&b, "%s {\n\tencode gzip\n\treverse_proxy 127.0.0.1:%d\n}\n", site, AppPort)
	return b.String()
}

const appUnit = `[Unit]
Description=Flavor Monk app (container)
Requires=docker.service
After=docker.service network-online.target
Wants=network-online.target
# Both arrive over SSH (the remote command); until then the unit is skipped.
ConditionPathExists=/etc/flavormonk/env
ConditionPathExists=/etc/flavormonk/image

[Service]
ExecStartPre=+/usr/local/sbin/flavormonk-app-env
ExecStartPre=-/usr/bin/docker rm -f flavormonk
ExecStart=/usr/local/sbin/flavormonk-app-run
ExecStop=/usr/bin/docker stop -t 30 flavormonk
Restart=always
RestartSec=5
TimeoutStartSec=10min
TimeoutStopSec=45

[Install]
WantedBy=multi-user.target
`

const chromaUnit = `[Unit]
Description=ChromaDB for Flavor Monk (container, data on the volume)
Requires=docker.service
After=docker.service network-online.target
Wants=network-online.target
RequiresMountsFor=%s

[Service]
ExecStartPre=-/usr/bin/docker rm -f flavormonk-chroma
ExecStart=/usr/local/sbin/flavormonk-chroma-run
ExecStop=/usr/bin/docker stop -t 30 flavormonk-chroma
Restart=always
RestartSec=5
TimeoutStartSec=15min

[Install]
WantedBy=multi-user.target
`

const pgConf = `# Flavor Monk (installed by flavormonk-db-init). listen_addresses comes from
# 60-listen.conf, written at every start: localhost and the private address.
listen_addresses = 'localhost'
# The app pods' pools are sized from this (infra/plan PostgresMaxConnections).
max_connections = 100
password_encryption = 'scram-sha-256'
ssl = on
log_connections = on
log_disconnections = off
`

func createclusterConf(n *normalized) string {
	return fmt.Sprintf(`# Flavor Monk: no cluster on the root disk; flavormonk-db-init creates (or
# integrates) it on the data volume.
create_main_cluster = false
data_directory = '%s/postgresql/%%v/%%c'
ssl = on
cluster_name = '%%v/%%c'
stats_temp_directory = '/var/run/postgresql/%%v-%%c.pg_stat_tmp'
log_line_prefix = '%%%%m [%%%%p] %%%%q%%%%u@%%%%d '
add_include_dir = 'conf.d'
include_dir '/etc/postgresql-common/createcluster.d'
`, n.DataMount)
}

func pgHBA(n *normalized) string {
	var b strings.Builder
	b.WriteString(`# Flavor Monk. TYPE DATABASE USER ADDRESS METHOD
local	all	postgres		peer
local	all	all		peer
host	all	all	127.0.0.1/32	scram-sha-256
host	all	all	::1/128	scram-sha-256
# The app nodes (TLS and scram only); flavormonk-allow rewrites this block.
# BEGIN flavormonk data clients
`)
	for _, a := range n.allow {
		if !strings.Contains(a, "/") {
			a += "/32"
		}
		fmt.Fprintf(&b, "hostssl\t%s\t%s\t%s\tscram-sha-256\n", DBName, DBRole, a)
	}
	b.WriteString("# END flavormonk data clients\n")
	return b.String()
}

const redisConf = `# Flavor Monk (included at the end of redis.conf). A cache: no persistence.
# bind and maxmemory come from flavormonk-runtime.conf, written at every
# start; the password from flavormonk-secret.conf, written over SSH.
protected-mode yes
port 6379
save ""
appendonly no
maxmemory-policy allkeys-lru
include /etc/redis/flavormonk-runtime.conf
include /etc/redis/flavormonk-secret.conf
`

// --- YAML -------------------------------------------------------------------

func (c *config) yaml() string {
	var b strings.Builder
	b.WriteString("#cloud-config\n")
	for _, l := range strings.Split(c.comment, "\n") {
		b.WriteString("# " + l + "\n")
	}
	b.WriteString("package_update: true\npackage_upgrade: true\npackages:\n")
	for _, p := range c.packages {
		b.WriteString("  - " + q(p) + "\n")
	}
	b.WriteString("users:\n")
	fmt.Fprintf(&b, "  - name: %s\n    groups: [sudo]\n    shell: /bin/bash\n    sudo: %s\n    lock_passwd: true\n    ssh_authorized_keys:\n",
		q(c.user), q("ALL=(ALL) NOPASSWD:ALL"))
	for _, k := range c.keys {
		b.WriteString("      - " + q(k) + "\n")
	}
	b.WriteString("disable_root: true\nssh_pwauth: false\nwrite_files:\n")
	files := append([]file(nil), c.files...)
	sort.SliceStable(files, func(i, j int) bool { return !files[i].deferred && files[j].deferred })
	for _, f := range files {
		fmt.Fprintf(&b, "  - path: %s\n    owner: %s\n    permissions: %s\n", q(f.path), q(f.owner), q(f.perms))
		if f.deferred {
			b.WriteString("    defer: true\n")
		}
		b.WriteString("    content: " + block(f.content, "      ") + "\n")
	}
	b.WriteString("runcmd:\n")
	for _, r := range c.runcmd {
		b.WriteString("  - " + q(r) + "\n")
	}
	return b.String()
}

// q quotes a YAML scalar (double-quoted style).
func q(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// block renders s as a literal block scalar indented by indent, or "" for
// an empty string.
func block(s, indent string) string {
	if s == "" {
		return `""`
	}
	header := "|"
	if strings.HasPrefix(s, " ") || strings.HasPrefix(s, "\t") || strings.HasPrefix(s, "\n") {
		header += strconv.Itoa(len(indent))
	}
	body := s
	switch {
	case strings.HasSuffix(s, "\n\n"):
		header += "+"
	case strings.HasSuffix(s, "\n"):
	default:
		header += "-"
		body += "\n"
	}
	body = strings.TrimSuffix(body, "\n")
	var b strings.Builder
	b.WriteString(header)
	for _, l := range strings.Split(body, "\n") {
		b.WriteString("\n")
		if l != "" {
			b.WriteString(indent + l)
		}
	}
	return b.String()
}
