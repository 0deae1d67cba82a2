package cloudinit

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/flavormonk/flavormonk/infra/backup"
)

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

// normalized is a validated Host with defaults applied: what build and the
// templates under files/ read (hence its exported fields).
type normalized struct {
	Host
	Private   netip.Prefix
	Allow     []string // canonical: a.b.c.d or a.b.c.d/n
	SSH4      []string // SSH clients when AdminCIDRs are set: the private network first
	SSH6      []string
	BackupOn  bool
	Listen    string // app: any | loopback | private (read by flavormonk-app-env)
	DataLabel string // the data volume's filesystem label
}

// ChromaPath is where the chromadb/chroma image keeps its data.
func (n *normalized) ChromaPath() string {
	if strings.HasPrefix(n.ChromaVersion, "0.") {
		return "/chroma/chroma" // the 0.x images persist there
	}
	return "/data"
}

// validate checks h field by field and applies the defaults. Its errors
// name the field and the allowed values (DESIGN.md invariant 5).
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
	n.Private = p
	for _, c := range h.AdminCIDRs {
		ap, err := parseAddrOrPrefix(c)
		if err != nil {
			return nil, bad("AdminCIDRs", "%q is not an address or CIDR", c)
		}
		if ap.Bits() == 0 {
			return nil, bad("AdminCIDRs", "%q admits the whole internet; leave AdminCIDRs empty to rely on the cloud firewall", c)
		}
		if ap.Addr().Is4() {
			n.SSH4 = append(n.SSH4, ap.String())
		} else {
			n.SSH6 = append(n.SSH6, ap.String())
		}
	}
	if len(h.AdminCIDRs) > 0 {
		n.SSH4 = append([]string{p.String()}, n.SSH4...)
	}

	if h.LoadBalancer && h.Role != RoleApp {
		return nil, bad("LoadBalancer", "only the app role sits behind the load balancer")
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
		// Where the app listens follows what is in front of it. User data is
		// never re-run, but every deploy installs host.env for the current
		// phase first (AppHostFiles), so a host that changes phase listens
		// where that phase needs it from its next deploy on.
		switch {
		case h.Caddy != nil && !h.LoadBalancer:
			n.Listen = "loopback" // mvp: Caddy alone
		case h.Caddy != nil:
			n.Listen = "any" // the hand-over: Caddy on loopback, the balancer on the private address
		default:
			n.Listen = "private"
		}
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
			n.Allow = append(n.Allow, ap.Addr().String())
		} else {
			n.Allow = append(n.Allow, ap.String())
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
		if !rePG.MatchString(n.PostgresVersion) {
			return nil, bad("PostgresVersion", "%q must be the server image's PostgreSQL major (two digits, see plan.TestedImages)", h.PostgresVersion)
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
			n.BackupOn = true
		} else if h.BackupMount != "" {
			return nil, bad("BackupMount", "set BackupDevice too (the backup volume's device path)")
		}
	} else if h.BackupDevice != "" || h.BackupMount != "" {
		return nil, bad("BackupDevice", "only the db role keeps backups on a volume")
	}
	if h.Role == RoleChroma && !reVersion.MatchString(h.ChromaVersion) {
		return nil, bad("ChromaVersion", "%q must pin the chromadb/chroma image, e.g. 1.0.20", h.ChromaVersion)
	}
	n.DataLabel = "fm-" + string(h.Role)
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
