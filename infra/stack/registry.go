package stack

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumix"

	"github.com/flavormonk/flavormonk/infra/kube"
	"github.com/flavormonk/flavormonk/infra/plan"
)

// DockerConfigDir is where root's docker keeps the registry login on an app
// server: flavormonk-deploy pulls as root (through sudo, HOME=/root), so
// its docker reads the credentials there. config.json must stay 0600.
const DockerConfigDir = "/root/.docker"

// checkRegistryPassword: a configured registry needs its token, and a token
// without a registry is a forgotten setting. checkSecrets has already
// refused it in plain config.
func checkRegistryPassword(ctx *pulumi.Context, p *plan.Plan) error {
	v, ok := ctx.GetConfig(plan.Namespace + ":registryPassword")
	set := ok && strings.TrimSpace(v) != ""
	switch {
	case p.Registry.Set() && !set:
		return &plan.Error{Key: "registryPassword", Message: "must be set (as a secret) with registry " + p.Registry.Server +
			": `pulumi config set --secret registryPassword` with a read-only token of " + p.Registry.Username}
	case !p.Registry.Set() && set:
		return &plan.Error{Key: "registryPassword", Message: "is set but registry is not: set registry (server, username) or remove registryPassword"}
	}
	return nil
}

// registryLogin logs host h in to the stack's registry before its deploy
// pulls, as root, the password on stdin (never on the command line, in the
// environment or in user data). docker keeps it in DockerConfigDir; the
// script makes config.json 0600 root and fails if it is not. It returns the
// login command, none when no registry is configured.
//
// It re-runs when the server, the username or the password changes, so a
// rotated token logs in again without a redeploy. The trigger hashes the
// password together with the deploy key: a registry password may be a
// short or guessable one, which TriggerHash must not hash alone.
func registryLogin(ctx *pulumi.Context, p *plan.Plan, h Host, in *Inputs) ([]pulumi.Resource, error) {
	r := p.Registry
	if !r.Set() {
		return nil, nil
	}
	pw := secretConfig(ctx, "registryPassword")
	cfg := DockerConfigDir + "/config.json"
	create := booted + fmt.Sprintf("sudo install -d -m 0700 -o root -g root %[1]s"+
		" && sudo docker --config %[1]s login --username %[3]s --password-stdin %[4]s >/dev/null"+
		" && sudo chmod 0600 %[2]s"+
		` && m=$(sudo stat -c '%%a %%U' %[2]s) && { [ "$m" = '600 root' ] || { echo "registry login: %[2]s is $m, not 600 root" >&2; exit 1; }; }`,
		DockerConfigDir, cfg, shellQuote(r.Username), shellQuote(r.Server))
	// Secret inputs first (see with); both are config, known at preview.
	salted := pulumix.Cast[pulumi.StringOutput](pulumix.Apply2(pw, in.SSHPrivateKey, func(pw, key string) string {
		return key + "\x00registryPassword\x00" + pw
	}))
	cmd, err := remote.NewCommand(ctx, "registry-login-"+h.Name, &remote.CommandArgs{
		Connection: connection(h, in),
		Create:     pulumi.String(create),
		Stdin:      pw,
		Triggers:   pulumi.Array{pulumi.String(r.Server), pulumi.String(r.Username), TriggerHash(salted)},
	}, pulumi.DependsOn([]pulumi.Resource{h.Resource}))
	if err != nil {
		return nil, err
	}
	return []pulumi.Resource{cmd}, nil
}

// kubeRegistry is the cluster's pull secret's content, nil without a
// registry.
func kubeRegistry(ctx *pulumi.Context, p *plan.Plan) *kube.RegistryArgs {
	if !p.Registry.Set() {
		return nil
	}
	return &kube.RegistryArgs{Server: p.Registry.AuthKey(), Username: p.Registry.Username, Password: secretConfig(ctx, "registryPassword")}
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
