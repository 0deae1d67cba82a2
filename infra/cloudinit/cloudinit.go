// Package cloudinit renders the cloud-init user data of every Flavor Monk
// host role (app, db, redis, chroma) on Debian 12, for Hetzner and
// DigitalOcean. It is pure Go (no Pulumi SDK), so it compiles in seconds and
// its output is checked into testdata/ as golden files that the tests
// validate with `cloud-init schema` and `nft -c`.
//
// User data never holds a secret (DESIGN.md invariant 4): any process on a
// VM can read it from the metadata service. It prepares the services; the
// secrets arrive later over SSH through the remote command, which
//   - app:   installs the app-host files again (AppHostFiles: hosts made by
//     older versions, or in another phase, get this version's), writes
//     EnvPath (0600) and runs `DeployPath --mode … IMAGE`;
//   - db:    pipes the role's password into DBSetupPath;
//   - redis: writes RedisSecretPath (`requirepass …`) and restarts Redis;
//   - db (Hetzner): optionally writes backup.EnvPath for the S3 copy;
//   - data hosts: may run `AllowPath ADDR…` when the app nodes change.
//
// Render runs three steps, a file each:
//
//	validate.go  Host → normalized: checks every field, applies defaults
//	build.go     normalized → config: packages, files and first-boot script per role
//	render.go    config → the #cloud-config YAML
//
// The files the hosts receive (scripts, units, configuration) live under
// files/, embedded; those that depend on the host are text/templates.
package cloudinit

import (
	"strconv"

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
	// ClusterCIDR and ServiceCIDR are the pod and service ranges
	// (plan.ClusterCIDR, plan.ServiceCIDR); they must not overlap the
	// private network.
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
	AppPort      = 8080 // the app's listener, blue colour (loopback behind Caddy, private behind a load balancer)
	GreenPort    = 8081 // the green colour's, beside blue during a blue/green deploy (mvp)
	MetricsPort  = 9090 // /metrics, always 127.0.0.1 (blue)
	GreenMetrics = 9091 // the green colour's /metrics
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
	// DeployPath: `flavormonk-deploy --mode bluegreen|inplace [--lb-probes N]
	// [--timeout S] IMAGE` pulls IMAGE and rolls the app onto it: blue/green
	// behind Caddy, or in place behind a load balancer, waiting for /readyz
	// and the balancer's probes (rolls back and exits 1 when it fails).
	DeployPath = "/usr/local/sbin/flavormonk-deploy"
	// AppUnitPath is the app's template unit, flavormonk@blue and
	// flavormonk@green; AppStopDropInPath holds AppStopDropIn for it.
	AppUnitPath       = "/etc/systemd/system/flavormonk@.service"
	AppStopDropInPath = "/etc/systemd/system/flavormonk@.service.d/stop.conf"
	// LegacyUnitPath is the single unit of hosts made before the colours;
	// flavormonk-deploy retires it, LegacyStopDropInPath lets it drain until then.
	LegacyUnitPath       = "/etc/systemd/system/flavormonk.service"
	LegacyStopDropInPath = "/etc/systemd/system/flavormonk.service.d/stop.conf"
	// CaddyfilePath imports CaddyUpstreamPath (`reverse_proxy 127.0.0.1:PORT`),
	// the serving colour, which flavormonk-deploy rewrites.
	CaddyfilePath     = "/etc/caddy/Caddyfile"
	CaddyUpstreamPath = "/etc/caddy/flavormonk-upstream"
	// NftablesPath is the host firewall (table inet flavormonk).
	NftablesPath = "/etc/nftables.conf"
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
	DefaultDataMount   = "/mnt/data"
	DefaultBackupMount = backup.DefaultDir
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
	// then listens on loopback (8080 or 8081, the serving colour). Nil: the
	// app listens on its private address :8080 for the load balancer.
	Caddy *Caddy
	// LoadBalancer (app role): a load balancer targets the app on AppPort
	// too. With Caddy, the app then listens on every address (nftables admits
	// the port from the private network only): the hand-over from mvp, in
	// which Caddy keeps serving until the balancer and DNS take over.
	LoadBalancer bool
	// DataDevice is the data volume's stable device path (db, chroma), e.g.
	// HetznerVolumeDevice(id) or DigitalOceanVolumeDevice(name).
	DataDevice string
	DataMount  string // default /mnt/data
	// BackupDevice/BackupMount (db on Hetzner): the backup volume. Setting
	// BackupDevice enables the nightly pg_dump (BackupMount default /mnt/backup).
	BackupDevice string
	BackupMount  string
	BackupKeep   int // dumps kept (default backup.DefaultKeep)
	// PostgresVersion (db role, required) is the major the server image's
	// distribution ships (plan.TestedImages): the packages, paths and the
	// cluster's directory on the data volume all carry it.
	PostgresVersion string
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
