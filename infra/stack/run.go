// Package stack is the Pulumi program: stack config → typed plan → one
// cloud's network, data and app tiers (Cloud.Deploy) → the app's
// environment and rollout, or the app on the cluster → the cloud's edge
// (Result.Edge.Open) → outputs and cost.
// main.go is only pulumi.Run(stack.Run), so the offline plan and the tests
// run this very program under mocks.
package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumix"

	"github.com/flavormonk/flavormonk/infra/cost"
	"github.com/flavormonk/flavormonk/infra/kube"
	"github.com/flavormonk/flavormonk/infra/lbhealth"
	"github.com/flavormonk/flavormonk/infra/plan"
)

// Clouds maps each cloud to its implementation. Filled by main (and the
// offline plan) so this package does not import both heavy SDKs itself.
type Clouds map[plan.Cloud]Cloud

// Hooks let the offline plan and tests observe a run, and tests stand in
// for the cloud API the run asks.
type Hooks struct {
	// Plan is called with the compiled plan.
	Plan func(*plan.Plan)
	// Estimate is called with the cost estimate.
	Estimate func(*cost.Estimate)
	// Output is called with each stack output once resolved, and whether it is secret.
	Output func(name string, value any, secret bool)
	// AppEnv is called with the rendered app environment of the phase.
	AppEnv func(env []string)
	// LBWatcher, when set, replaces the watcher made from the Hetzner
	// token (Inputs.LBWatcher).
	LBWatcher lbhealth.Watcher
}

// Program returns the Pulumi program for the given clouds.
func Program(clouds Clouds, hooks *Hooks) pulumi.RunFunc {
	if hooks == nil {
		hooks = &Hooks{}
	}
	return func(ctx *pulumi.Context) error { return run(ctx, clouds, hooks) }
}

func configGetter(ctx *pulumi.Context) plan.Getter {
	return func(key string) (string, bool) { return ctx.GetConfig(plan.Namespace + ":" + key) }
}

// checkSecrets refuses secrets given as plain config (invariant 4).
func checkSecrets(ctx *pulumi.Context) error {
	for _, k := range plan.SecretKeys {
		full := plan.Namespace + ":" + k
		if _, ok := ctx.GetConfig(full); ok && !ctx.IsConfigSecret(full) {
			return &plan.Error{Key: k, Message: "is a secret but is stored in plain config; set it with `pulumi config set --secret " + k + "`"}
		}
	}
	return nil
}

func secretConfig(ctx *pulumi.Context, key string) pulumi.StringOutput {
	if v, ok := ctx.GetConfig(plan.Namespace + ":" + key); ok {
		return pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput)
	}
	return pulumi.ToSecret(pulumi.String("")).(pulumi.StringOutput)
}

func run(ctx *pulumi.Context, clouds Clouds, hooks *Hooks) error {
	if err := checkSecrets(ctx); err != nil {
		return err
	}
	p, err := plan.Compile(ctx.Stack(), configGetter(ctx))
	if err != nil {
		return err
	}
	if hooks.Plan != nil {
		hooks.Plan(p)
	}
	if err := preflight(ctx, p); err != nil {
		return err
	}
	cloud, ok := clouds[p.Cloud]
	if !ok {
		return fmt.Errorf("cloud %s is not wired into this program", p.Cloud)
	}
	if _, ok := ctx.GetConfig(plan.Namespace + ":sshPrivateKey"); !ok {
		return &plan.Error{Key: "sshPrivateKey", Message: "must be set (as a secret): the program writes the app's environment and rolls out images over SSH"}
	}
	if err := checkRegistryPassword(ctx, p); err != nil {
		return err
	}

	// Generated credentials: stable across phases (their names never
	// depend on the phase), kept as secrets in the state.
	dbPW, err := random.NewRandomPassword(ctx, "db-password", &random.RandomPasswordArgs{Length: pulumi.Int(32), Special: pulumi.Bool(false)})
	if err != nil {
		return err
	}
	redisPW, err := random.NewRandomPassword(ctx, "redis-password", &random.RandomPasswordArgs{Length: pulumi.Int(32), Special: pulumi.Bool(false)})
	if err != nil {
		return err
	}
	in := &Inputs{
		DBPassword:    pulumi.ToSecret(dbPW.Result).(pulumi.StringOutput),
		RedisPassword: pulumi.ToSecret(redisPW.Result).(pulumi.StringOutput),
		SSHPrivateKey: secretConfig(ctx, "sshPrivateKey"),
		LBWatcher:     hooks.LBWatcher,
	}
	if in.LBWatcher == nil && p.Cloud == plan.Hetzner {
		// Asked from this machine, with the token the hcloud provider
		// uses: never from a VM, which would need the token itself.
		if token := cloudConfig(ctx, "hcloud:token", "HCLOUD_TOKEN"); token != "" {
			in.LBWatcher = lbhealth.NewHcloud(lbhealth.NewClient(token, cloudConfig(ctx, "hcloud:endpoint", "HCLOUD_ENDPOINT")), lbhealth.HcloudOptions{})
		}
	}
	res, err := cloud.Deploy(ctx, p, in)
	if err != nil {
		return err
	}

	env := appEnv(ctx, p, res, hooks)
	rolled, err := rollout(ctx, p, res, in, env)
	if err != nil {
		return err
	}
	serving := Serving{Ready: rolled.Deployed}
	if res.Cluster != nil {
		// The migration Job needs the database role that db-setup makes.
		res.Cluster.DependsOn = append(res.Cluster.DependsOn, rolled.DataReady...)
		app, err := deployToCluster(ctx, p, res, env)
		if err != nil {
			return err
		}
		serving.Ready = append(serving.Ready, app.Deployment)
		serving.Ingress = app.Ingress
	}
	if res.Edge == nil {
		return fmt.Errorf("cloud %s declared no edge", p.Cloud)
	}
	entry, err := res.Edge.Open(ctx, serving)
	if err != nil {
		return err
	}

	est, err := cost.Snapshot().Price(ctx.Context(), string(p.Cloud), p.Region, res.Items)
	if err != nil {
		return fmt.Errorf("pricing the plan: %w", err)
	}
	if hooks.Estimate != nil {
		hooks.Estimate(est)
	}
	exports := map[string]pulumi.Output{
		"appUrl":      entry.AppURL,
		"publicIps":   entry.PublicIPs,
		"phase":       pulumi.String(string(p.Phase)).ToStringOutput(),
		"cloud":       pulumi.String(string(p.Cloud)).ToStringOutput(),
		"region":      pulumi.String(p.Region).ToStringOutput(),
		"monthlyCost": pulumi.String(fmt.Sprintf("%.2f %s (%s)", est.Total, est.Currency, sources(est))).ToStringOutput(),
		"dnsRecords":  entry.DNSRecords,
		"databaseUrl": res.Data.PostgresURL,
		"appEnv":      rolled.Env,
	}
	if res.Cluster != nil {
		exports["kubeconfig"] = pulumi.ToSecret(res.Cluster.Kubeconfig).(pulumi.StringOutput)
		exports["cluster"] = res.Cluster.Summary
		exports["appPods"] = pulumi.Sprintf("%d–%d pods of %s (HPA at %d%% CPU), namespace flavormonk", p.Cluster.PodsMin, p.Cluster.PodsMax, p.AppImage, p.Cluster.TargetCPU)
	}
	if note := p.HandOverNote(); note != "" {
		exports["handOver"] = pulumi.String(note).ToStringOutput()
	}
	if p.Domain == "" {
		exports["note"] = pulumi.String("no domain configured: the app is served over plain HTTP on the public IP").ToStringOutput()
	}
	for name, o := range exports {
		if o == nil {
			continue
		}
		if hooks.Output != nil {
			// Export the observed output itself, so the run waits for the
			// hook before it ends (secretness carries through ApplyT).
			name, secret := name, pulumi.IsSecret(o)
			o = o.ApplyT(func(v any) any { hooks.Output(name, v, secret); return v })
		}
		ctx.Export(name, o)
	}
	return nil
}

func sources(e *cost.Estimate) string {
	seen := map[string]bool{}
	var out []string
	estimated := false
	for _, l := range e.Lines {
		src, est := strings.CutSuffix(l.Source, " (estimated)")
		estimated = estimated || est
		if !seen[src] {
			seen[src] = true
			out = append(out, src)
		}
	}
	if estimated {
		out = append(out, "some lines estimated")
	}
	return strings.Join(out, "; ")
}

// appEnv renders the phase's app environment through the app's own config
// package once every address and password is known. A configuration the
// app would reject fails the run here, at preview.
func appEnv(ctx *pulumi.Context, p *plan.Plan, res *Result, hooks *Hooks) pulumi.StringOutput {
	fixed := plan.AppInputs{RedisTLS: res.Data.RedisTLS}
	if res.Cluster != nil {
		fixed.PostgresMaxConns = res.Cluster.PostgresMaxConns
		fixed.RedisSentinelMaster = res.Cluster.RedisSentinelMaster
	}
	// Each output lands in its field by name, with its type checked; the
	// ones a phase does not have stay empty.
	in := pulumix.Val(fixed)
	in = with(in, res.Data.PostgresURL, func(a *plan.AppInputs, v string) { a.PostgresURL = v })
	in = with(in, orEmpty(res.Data.RedisAddrs), func(a *plan.AppInputs, v []string) { a.RedisAddrs = v })
	in = with(in, orEmptyString(res.Data.RedisPassword), func(a *plan.AppInputs, v string) { a.RedisPassword = v })
	in = with(in, orEmptyString(res.Data.ChromaURL), func(a *plan.AppInputs, v string) { a.ChromaURL = v })
	in = with(in, secretConfig(ctx, "openaiApiKey"), func(a *plan.AppInputs, v string) { a.OpenAIKey = v })
	in = with(in, secretConfig(ctx, "replicateApiToken"), func(a *plan.AppInputs, v string) { a.ReplicateToken = v })
	in = with(in, secretConfig(ctx, "licenseSecret"), func(a *plan.AppInputs, v string) { a.LicenseSecret = v })
	in = with(in, orEmpty(res.TrustedProxies), func(a *plan.AppInputs, v []string) { a.TrustedProxies = v })
	out := pulumix.ApplyErr(in, func(in plan.AppInputs) (string, error) {
		c, err := p.AppConfig(in)
		if err != nil {
			return "", err
		}
		lines := c.Env()
		if hooks.AppEnv != nil {
			hooks.AppEnv(lines)
		}
		return strings.Join(lines, "\n") + "\n", nil
	})
	return pulumi.ToSecret(pulumix.Cast[pulumi.StringOutput](out)).(pulumi.StringOutput)
}

// with folds one output into a struct through a named setter: values are
// combined by field, never read back by position from pulumi.All.
//
// pulumix's applies stop reading their inputs at the first unknown one, so
// at preview, when an address is still unknown, a secret input after it
// does not make the result secret. That is why a fold that takes secrets
// ends in pulumi.ToSecret (appEnv), and an apply that cannot, takes its
// secret inputs first.
func with[T, V any](acc pulumix.Output[T], o pulumix.Input[V], set func(*T, V)) pulumix.Output[T] {
	return pulumix.Apply2(acc, o, func(t T, v V) T { set(&t, v); return t })
}

// orEmpty is o, or an empty list when the cloud left it unset.
func orEmpty(o pulumi.StringArrayOutput) pulumi.StringArrayOutput {
	if o == (pulumi.StringArrayOutput{}) {
		return pulumi.StringArray{}.ToStringArrayOutput()
	}
	return o
}

// orEmptyString is o, or "" when the cloud left it unset.
func orEmptyString(o pulumi.StringOutput) pulumi.StringOutput {
	if o == (pulumi.StringOutput{}) {
		return pulumi.String("").ToStringOutput()
	}
	return o
}

// deployToCluster declares the app on the scale phase's cluster through a
// kubernetes provider made from the cluster's kubeconfig.
func deployToCluster(ctx *pulumi.Context, p *plan.Plan, res *Result, env pulumi.StringOutput) (*kube.App, error) {
	cl := res.Cluster
	provider, err := kubernetes.NewProvider(ctx, "k8s", &kubernetes.ProviderArgs{
		Kubeconfig: pulumi.ToSecret(cl.Kubeconfig).(pulumi.StringOutput),
		// Server-side apply (v4's default, stated): fields another manager
		// owns, like the HPA's replica count, are not fought over.
		EnableServerSideApply: pulumi.Bool(true),
	}, pulumi.DependsOn(cl.DependsOn))
	if err != nil {
		return nil, err
	}
	app, err := kube.NewApp(ctx, "app-k8s", provider, &kube.AppArgs{
		Image:                p.AppImage,
		Env:                  env,
		MigrationPostgresURL: cl.MigrationPostgresURL,
		HasMigrationURL:      cl.HasMigrationURL,
		PodsMin:              p.Cluster.PodsMin,
		PodsMax:              p.Cluster.PodsMax,
		TargetCPU:            p.Cluster.TargetCPU,
		Service:              cl.Service,
		Annotations:          cl.Annotations,
		Ports:                cl.Ports,
		MetricsServer:        cl.MetricsServer,
		Sentinel:             cl.Sentinel,
		Registry:             kubeRegistry(ctx, p),
		DependsOn:            cl.DependsOn,
		StopTimeout:          p.AppStopTimeout(),
	})
	if err != nil {
		return nil, err
	}
	return app, nil
}

// TriggerHash is a hash of secret material as a plain output, for a remote
// command's triggers: the command re-runs when the secret changes.
//
// The hash must not stay secret: pulumi-command refuses a trigger that is
// a secret not yet known, which is every secret on a stack's first preview
// ("triggers[0]: malformed secret: missing value"). Unsecreting it reveals
// nothing: everything hashed here holds a long random secret (the 32-character
// database and Redis passwords, the 48-character k3s token, the app's
// environment, which holds the database password, and S3 keys), so the
// 64-bit hash cannot be inverted or used to confirm a guess. Never pass a
// short or guessable secret alone.
func TriggerHash(secret pulumi.StringOutput) pulumi.StringOutput {
	return pulumi.Unsecret(secret.ApplyT(envHash)).(pulumi.StringOutput)
}

// envHash identifies an environment without revealing it, for triggers.
func envHash(env string) string {
	s := sha256.Sum256([]byte(env))
	return hex.EncodeToString(s[:8])
}

// preflight checks, with the cloud's token, that the plan's server types or
// sizes exist, are offered in the region and are not deprecated — before
// anything is created. Without a token (the offline plan, tests) it is
// skipped; the plan's own catalog check still ran.
func preflight(ctx *pulumi.Context, p *plan.Plan) error {
	hc, do := cloudConfig(ctx, "hcloud:token", "HCLOUD_TOKEN"), cloudConfig(ctx, "digitalocean:token", "DIGITALOCEAN_TOKEN")
	if (p.Cloud == plan.Hetzner && hc == "") || (p.Cloud == plan.DigitalOcean && do == "") {
		return nil
	}
	var kinds []string
	for _, r := range p.Roles() {
		kinds = append(kinds, p.Sizes[r])
	}
	var opts []cost.Option
	if ep := cloudConfig(ctx, "hcloud:endpoint", "HCLOUD_ENDPOINT"); ep != "" {
		opts = append(opts, cost.WithHcloudEndpoint(ep))
	}
	if err := cost.Preflight(ctx.Context(), hc, do, string(p.Cloud), p.Region, kinds, opts...); err != nil {
		return fmt.Errorf("preflight (config flavormonk:sizes / region): %w", err)
	}
	return nil
}

// cloudConfig is a cloud provider's setting as the provider reads it: its
// stack config key, or else its environment variable. The program asks
// the same API, with the same token, as the provider.
func cloudConfig(ctx *pulumi.Context, key, env string) string {
	if v, ok := ctx.GetConfig(key); ok {
		return v
	}
	return os.Getenv(env)
}
