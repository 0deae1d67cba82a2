package stack

import (
	"slices"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumix"

	"github.com/flavormonk/flavormonk/infra/backup"
	"github.com/flavormonk/flavormonk/infra/cloudinit"
	"github.com/flavormonk/flavormonk/infra/plan"
)

// AdminUser is the sudo user cloud-init creates on every machine.
const AdminUser = "flavormonk"

// Booted waits for the first boot to finish and fails when cloud-init
// reported an error, so nothing is configured on a half-set-up machine.
const Booted = "sudo cloud-init status --wait >/dev/null || { sudo cloud-init status --long >&2; exit 1; }; "

const booted = Booted

// Connection is how the program's remote commands reach a host: as the
// admin user, with the stack's deploy key (a secret).
func Connection(h Host, in *Inputs) remote.ConnectionArgs { return connection(h, in) }

func connection(h Host, in *Inputs) remote.ConnectionArgs {
	return remote.ConnectionArgs{
		Host:           h.PublicIP,
		User:           pulumi.String(AdminUser),
		PrivateKey:     in.SSHPrivateKey,
		DialErrorLimit: pulumi.Int(30), // machines are still booting on the first run
		PerDialTimeout: pulumi.Int(10),
	}
}

// redisPromote makes the Redis host a primary again and persists it, when
// it runs without replicas (mvp, upgrade): after a Sentinel failover in
// scale, "redis" may have been made a replica of redis-2 (and Sentinel's
// CONFIG REWRITE wrote that to redis.conf); once redis-2 is gone it would
// stay a read-only replica of nothing. The password is read on the host
// from the file just installed (never on the command line).
const redisPromote = ` && pw=$(sudo awk '$1 == "requirepass" {print $2}' /etc/redis/flavormonk-secret.conf)` +
	` && [ "$(REDISCLI_AUTH="$pw" redis-cli -h 127.0.0.1 REPLICAOF NO ONE)" = OK ]` +
	` && [ "$(REDISCLI_AUTH="$pw" redis-cli -h 127.0.0.1 CONFIG REWRITE)" = OK ]`

// rollout delivers secrets over SSH — never in user data, which any process
// on a VM can read from the metadata service — and rolls the app image out
// one server at a time, each waiting for /readyz before the next starts
// and, behind a load balancer that reports its targets' health, until the
// load balancer sends it traffic again.
// Changing the image or the environment re-runs it; no server is replaced.
func rollout(ctx *pulumi.Context, p *plan.Plan, res *Result, in *Inputs, env pulumi.StringOutput) (*rolledOut, error) {
	var deps []pulumi.Resource
	if h := res.Data.DBHost; h != nil {
		// The db host's setup script creates or updates the app's role and
		// database from the password on stdin.
		cmd, err := remote.NewCommand(ctx, "db-setup", &remote.CommandArgs{
			Connection: connection(*h, in),
			Create:     pulumi.String(booted + "sudo /usr/local/sbin/flavormonk-db-setup"),
			Stdin:      in.DBPassword,
			Triggers:   pulumi.Array{TriggerHash(in.DBPassword)},
		}, pulumi.DependsOn([]pulumi.Resource{h.Resource}))
		if err != nil {
			return nil, err
		}
		deps = append(deps, cmd)
		if p.Backup.S3Endpoint != "" {
			// Both inputs are secret config, known at preview; Stdin still
			// ends in ToSecret, as with any apply over secrets (see with).
			// backup.S3 renders the very names flavormonk-backup reads
			// (FLAVORMONK_BACKUP_S3_*), and refuses values it cannot carry.
			backupEnv := pulumix.Cast[pulumi.StringOutput](pulumix.Apply2Err(secretConfig(ctx, "backupS3AccessKey"), secretConfig(ctx, "backupS3SecretKey"),
				func(access, secret string) (string, error) {
					return backup.S3{Endpoint: p.Backup.S3Endpoint, Bucket: p.Backup.S3Bucket, Region: p.Backup.S3Region,
						AccessKeyID: access, SecretAccessKey: secret}.EnvFile()
				}))
			if _, err := remote.NewCommand(ctx, "db-backup-env", &remote.CommandArgs{
				Connection: connection(*h, in),
				Create:     pulumi.String(booted + "sudo install -D -m 0600 -o root -g root /dev/stdin /etc/flavormonk/backup.env"),
				Stdin:      pulumi.ToSecret(backupEnv).(pulumi.StringOutput),
				Triggers:   pulumi.Array{TriggerHash(backupEnv)},
			}, pulumi.DependsOn([]pulumi.Resource{h.Resource})); err != nil {
				return nil, err
			}
		}
	}
	if h := res.Data.RedisHost; h != nil {
		// masterauth too: after a Sentinel failover the old primary
		// becomes a replica and must authenticate to the new one.
		conf := in.RedisPassword.ApplyT(func(pw string) string { return "requirepass " + pw + "\n" + "masterauth " + pw + "\n" }).(pulumi.StringOutput)
		create := booted + "sudo install -m 0640 -o root -g redis /dev/stdin /etc/redis/flavormonk-secret.conf && sudo systemctl restart redis-server"
		if len(res.Data.RedisReplicas) == 0 {
			create += redisPromote
		}
		cmd, err := remote.NewCommand(ctx, "redis-setup", &remote.CommandArgs{
			Connection: connection(*h, in),
			Create:     pulumi.String(create),
			Stdin:      pulumi.ToSecret(conf).(pulumi.StringOutput),
			// The phase too: moving back from scale re-runs the promotion.
			Triggers: pulumi.Array{TriggerHash(conf), pulumi.String(string(p.Phase))},
		}, pulumi.DependsOn([]pulumi.Resource{h.Resource}))
		if err != nil {
			return nil, err
		}
		deps = append(deps, cmd)
		for _, r := range res.Data.RedisReplicas {
			// The password goes before the address, which is unknown at
			// preview: pulumix stops reading inputs at the first unknown,
			// so a secret after it would not mark conf secret then (Stdin
			// takes it through ToSecret all the same).
			conf := pulumix.Cast[pulumi.StringOutput](pulumix.Apply2(in.RedisPassword, h.PrivateIP, func(pw, primary string) string {
				return "requirepass " + pw + "\nmasterauth " + pw + "\nreplicaof " + primary + " 6379\n"
			}))
			rc, err := remote.NewCommand(ctx, "redis-setup-"+r.Name, &remote.CommandArgs{
				Connection: connection(r, in),
				Create:     pulumi.String(booted + "sudo install -m 0640 -o root -g redis /dev/stdin /etc/redis/flavormonk-secret.conf && sudo systemctl restart redis-server"),
				Stdin:      pulumi.ToSecret(conf).(pulumi.StringOutput),
				Triggers:   pulumi.Array{TriggerHash(conf)},
			}, pulumi.DependsOn([]pulumi.Resource{r.Resource, cmd}))
			if err != nil {
				return nil, err
			}
			deps = append(deps, rc)
		}
	}
	if h := res.Data.ChromaHost; h != nil {
		// Not a step the app waits for: the app serves lexical search
		// while Chroma restarts (its /readyz reports it degraded).
		if _, err := ChromaVersion(ctx, *h, in, res.Data.ChromaVersion); err != nil {
			return nil, err
		}
	}
	gate, err := newLBGate(ctx, res, in)
	if err != nil {
		return nil, err
	}
	prev, stdin := deps, env
	var deployed []pulumi.Resource
	for i, h := range res.AppHosts {
		login, err := registryLogin(ctx, p, h, in)
		if err != nil {
			return nil, err
		}
		// This version's scripts and units (with their stop settings) and
		// the phase's host.env and Caddy, before the deploy uses them.
		bundle, err := appHostCommand(ctx, p, i, h, in)
		if err != nil {
			return nil, err
		}
		cmd, err := remote.NewCommand(ctx, "deploy-"+h.Name, &remote.CommandArgs{
			Connection: connection(h, in),
			// The environment arrives on stdin and lands in a root-only file.
			Create:   pulumi.Sprintf(booted+"sudo install -D -m 0600 -o root -g root /dev/stdin /etc/flavormonk/env && sudo %s %s %s", cloudinit.DeployPath, deployArgs(p), p.AppImage),
			Stdin:    stdin,
			Triggers: pulumi.Array{pulumi.String(p.AppImage), TriggerHash(env)},
		}, pulumi.DependsOn(slices.Concat([]pulumi.Resource{h.Resource, bundle}, prev, login, res.DeployAfter)))
		if err != nil {
			return nil, err
		}
		prev = []pulumi.Resource{cmd} // one server at a time
		deployed = append(deployed, cmd)
		// The next deploy starts once the load balancer admits this host.
		stdin = gate.after(h, cmd, env)
	}
	return &rolledOut{DataReady: deps, Deployed: deployed, Env: stdin}, nil
}

// rolledOut is what rollout declared.
type rolledOut struct {
	// DataReady are the data hosts' setup steps; Deployed the deploy
	// commands, in rollout order.
	DataReady, Deployed []pulumi.Resource
	// Env is the app's environment once the last server serves it (behind
	// a watched load balancer: once it sends that server traffic), for
	// the appEnv output, so a last server that never turns healthy fails
	// the `pulumi up` too.
	Env pulumi.StringOutput
}
