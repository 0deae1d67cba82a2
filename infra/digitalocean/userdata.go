package digitalocean

import (
	"github.com/flavormonk/flavormonk/infra/cloudinit"
	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
)

// User data holds no secret (invariant 4): the app's environment arrives
// later over SSH. Droplets ignore later changes to it (invariant 2), so it
// stays as rendered at creation; hence SSH is restricted by the cloud
// firewall (updated in place when adminCidrs change), not by host rules
// that would keep the admin CIDRs of the droplet's first day.

type appUserDataArgs struct {
	Plan *plan.Plan
	// Caddy puts Caddy in front of the app (mvp: TLS on the droplet when a
	// domain is set, plain HTTP on :80 otherwise); without it the app serves
	// AppPort on its private address for the load balancer.
	Caddy bool
}

// appUserData renders an app droplet's cloud-init.
func appUserData(a *appUserDataArgs) (string, error) {
	p := a.Plan
	h := cloudinit.Host{
		Role:          cloudinit.RoleApp,
		Cloud:         string(plan.DigitalOcean),
		AdminUser:     stack.AdminUser,
		SSHPublicKeys: p.SSHKeys,
		PrivateCIDR:   p.PrivateCIDR,
	}
	if a.Caddy {
		h.Caddy = &cloudinit.Caddy{Domain: p.Domain, Email: p.ACMEEmail}
	}
	return cloudinit.Render(h)
}

type chromaUserDataArgs struct {
	Plan *plan.Plan
	// VolumeName is the data volume's cloud-side name.
	VolumeName string
}

// chromaUserData renders the Chroma droplet's cloud-init: the server on
// ChromaPort with its data on the volume, nftables admitting the private
// network only (the cloud firewall narrows that to the app tag).
func chromaUserData(a *chromaUserDataArgs) (string, error) {
	p := a.Plan
	return cloudinit.Render(cloudinit.Host{
		Role:          cloudinit.RoleChroma,
		Cloud:         string(plan.DigitalOcean),
		AdminUser:     stack.AdminUser,
		SSHPublicKeys: p.SSHKeys,
		PrivateCIDR:   p.PrivateCIDR,
		AllowFrom:     []string{p.PrivateCIDR},
		DataDevice:    cloudinit.DigitalOceanVolumeDevice(a.VolumeName),
		ChromaVersion: plan.ChromaVersion,
	})
}
