package stack

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/cloudinit"
	"github.com/flavormonk/flavormonk/infra/plan"
)

// The app-host bundle: what makes a machine an app host of this program
// version in the stack's current phase. User data runs once, when a host
// is made, so without it a host made by an older version, or in another
// phase, would keep that version's scripts and that phase's listen mode
// and firewall — and a stack made in upgrade and moved to mvp would have
// no Caddy at all. The bundle installs cloudinit.AppHostFiles (the same
// templates the user data renders), then sets up Caddy where the host is
// the stack's entry (plan.VMEntry, on app-1) and stops it everywhere else.
//
// It installs and reloads, but never restarts the app: Caddy's upstream
// is written only where there is none, so a bundle never switches Caddy
// away from the colour that serves; the deploy that follows does that.

const (
	// aptLockWait makes apt-get wait up to 10 min for dpkg's lock.
	aptLockWait = "-o DPkg::Lock::Timeout=600"
	// caddyfileNew is where the bundle puts the Caddyfile to validate it.
	caddyfileNew = cloudinit.CaddyfilePath + ".new"
)

// appHostCommand declares app-host-<name>, which deploy-<name> waits for.
// It re-runs when the bundle changes: a new program version or a phase
// change (host.env, the firewall, Caddy on or off).
func appHostCommand(ctx *pulumi.Context, p *plan.Plan, i int, h Host, in *Inputs) (*remote.Command, error) {
	script, err := appHostScript(p, i)
	if err != nil {
		return nil, fmt.Errorf("app host %s: %w", h.Name, err)
	}
	return remote.NewCommand(ctx, "app-host-"+h.Name, &remote.CommandArgs{
		Connection: connection(h, in),
		Create:     pulumi.String(booted + script),
		Triggers:   pulumi.Array{pulumi.String(envHash(script))},
	}, pulumi.DependsOn([]pulumi.Resource{h.Resource}))
}

// appHostCaddy reports whether app host i (0 is app-1) runs Caddy on the
// web ports: the stack's one entry in mvp, and app-1 alone while the load
// balancer takes over (plan.VMEntry).
func appHostCaddy(p *plan.Plan, i int) bool { return p.VMEntry() && i == 0 }

// appHostScript is the shell command that installs the bundle on app host
// i, as the admin user through sudo. Every file travels base64-encoded in
// the command; none holds a secret (the app's environment arrives on the
// deploy's stdin).
func appHostScript(p *plan.Plan, i int) (string, error) {
	caddy := appHostCaddy(p, i)
	h := cloudinit.Host{
		Role:          cloudinit.RoleApp,
		Cloud:         string(p.Cloud),
		AdminUser:     AdminUser,
		SSHPublicKeys: p.SSHKeys,
		PrivateCIDR:   p.PrivateCIDR,
		LoadBalancer:  p.Phase != plan.MVP,
	}
	if caddy {
		h.Caddy = &cloudinit.Caddy{Domain: p.Domain, Email: p.ACMEEmail}
	}
	files, err := cloudinit.AppHostFiles(h)
	if err != nil {
		return "", err
	}
	var steps []string
	if caddy {
		// The package first: dpkg would otherwise meet our Caddyfile as a
		// locally changed conffile (and keeps it: confold). The lock wait:
		// unattended-upgrades and apt-daily hold dpkg's lock for minutes
		// on a fresh host, and apt-get fails at once without it.
		steps = append(steps, "{ command -v caddy >/dev/null || { sudo apt-get "+aptLockWait+" update -qq && "+
			"sudo DEBIAN_FRONTEND=noninteractive apt-get "+aptLockWait+" -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install -y -qq caddy >/dev/null; }; }")
	}
	for _, f := range files {
		path := f.Path
		if path == cloudinit.CaddyfilePath {
			// Beside the one Caddy runs on until it validates: a broken
			// Caddyfile left in place would break Caddy's next restart.
			path = caddyfileNew
		}
		put := fmt.Sprintf("echo %s | base64 -d | sudo install -D -m %s -o root -g root /dev/stdin %s",
			base64.StdEncoding.EncodeToString([]byte(f.Content)), f.Perms, path)
		switch {
		case f.Once:
			put = fmt.Sprintf("{ [ -e %s ] || { %s; }; }", f.Path, put)
		case f.IfExists != "":
			put = fmt.Sprintf("{ [ ! -e %s ] || { %s; }; }", f.IfExists, put)
		}
		steps = append(steps, put)
	}
	steps = append(steps,
		"sudo systemctl daemon-reload",
		// One transaction: a rule set that does not load changes nothing.
		"sudo nft -f "+cloudinit.NftablesPath)
	if caddy {
		steps = append(steps,
			"sudo caddy validate --config "+caddyfileNew+" --adapter caddyfile >/dev/null",
			"sudo mv -f "+caddyfileNew+" "+cloudinit.CaddyfilePath,
			"sudo systemctl enable caddy",
			"sudo systemctl reload-or-restart caddy")
	} else {
		steps = append(steps, "{ ! systemctl cat caddy.service >/dev/null 2>&1 || sudo systemctl disable --now caddy.service; }")
	}
	return strings.Join(steps, " && "), nil
}

// deployArgs are flavormonk-deploy's options for the phase: blue/green
// behind Caddy in mvp; in place behind the load balancer otherwise, on
// DigitalOcean waiting for the balancer's own probes (its API has no
// per-droplet health), which admit a droplet after LBHealthyThreshold.
func deployArgs(p *plan.Plan) string {
	if p.Phase == plan.MVP {
		return "--mode bluegreen"
	}
	if p.Cloud == plan.DigitalOcean {
		return fmt.Sprintf("--mode inplace --lb-probes %d", plan.LBHealthyThreshold)
	}
	return "--mode inplace"
}
