package hetzner

import (
	"github.com/flavormonk/flavormonk/infra/cloudinit"
	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
)

// userDataSpec is what differs between the machines' cloud-init.
type userDataSpec struct {
	Role plan.Role
	// AllowFrom are the private ranges a data host's nftables admit to its
	// service port: the app range (see layout). Empty for app servers.
	AllowFrom []string
	// Caddy: the app in mvp, with Caddy in front (TLS when a domain is set).
	Caddy bool
	// Volume IDs (db: data + backup; chroma: data), 0 for none.
	DataVolume   int
	BackupVolume int
	// K3s makes the machine a k3s node (scale); Role is then control or node.
	K3s *cloudinit.K3s
}

// userData renders a machine's cloud-init. It carries no secret: passwords
// and the app's environment arrive later over SSH (invariant 4).
//
// Servers ignore later changes to their user data (invariant 2), so what is
// rendered here stays as it was at creation. Hence SSH is restricted by the
// cloud firewall (updated in place when adminCidrs change) rather than by
// host rules (AdminCIDRs left empty), which would keep admins locked to
// the CIDRs of the day the machine was made; and data hosts admit the app
// range, which covers every app server of every phase.
func (d *deployer) userData(s userDataSpec) (string, error) {
	h := cloudinit.Host{
		Role:          cloudinit.Role(s.Role),
		Cloud:         string(plan.Hetzner),
		AdminUser:     stack.AdminUser,
		SSHPublicKeys: d.p.SSHKeys,
		PrivateCIDR:   d.p.PrivateCIDR,
		AllowFrom:     s.AllowFrom,
	}
	if s.Caddy {
		h.Caddy = &cloudinit.Caddy{Domain: d.p.Domain, Email: d.p.ACMEEmail}
	}
	if s.DataVolume != 0 {
		h.DataDevice = cloudinit.HetznerVolumeDevice(int64(s.DataVolume))
	}
	if s.BackupVolume != 0 {
		h.BackupDevice = cloudinit.HetznerVolumeDevice(int64(s.BackupVolume))
		h.BackupKeep = d.p.Backup.KeepDays
	}
	if s.Role == plan.RoleDB {
		// The image's own PostgreSQL: a serverImage change reaches only a
		// db server created after it (see the README's runbook).
		h.PostgresVersion = d.p.PostgresMajor()
	}
	if s.Role == plan.RoleChroma {
		h.ChromaVersion = plan.ChromaVersion
	}
	if s.K3s != nil {
		h.Role = cloudinit.RoleK3s
		h.K3s = s.K3s
	}
	return cloudinit.Render(h)
}
