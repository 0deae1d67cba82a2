package stack

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/cost"
	"github.com/flavormonk/flavormonk/infra/kube"
	"github.com/flavormonk/flavormonk/infra/plan"
)

// Cloud declares one cloud's resources for a plan. Each cloud package
// (hetzner, digitalocean) implements it; Run picks one by plan.Cloud.
type Cloud interface {
	Deploy(ctx *pulumi.Context, p *plan.Plan, in *Inputs) (*Result, error)
}

// Inputs are values the program makes before any cloud resource: generated
// passwords and the stack's secrets. All are secret outputs.
type Inputs struct {
	DBPassword    pulumi.StringOutput // the app's Postgres role (Hetzner self-managed db)
	RedisPassword pulumi.StringOutput // Hetzner Redis requirepass
	SSHPrivateKey pulumi.StringOutput // for the remote commands; empty when not configured
}

// Host is a machine the program configures over SSH after boot.
type Host struct {
	Name      string
	Role      plan.Role
	PublicIP  pulumi.StringOutput
	PrivateIP pulumi.StringOutput
	// Resource is the server/droplet, for DependsOn.
	Resource pulumi.Resource
}

// Result is what a cloud's Deploy declared, for the shared steps (the app's
// environment and rollout, outputs, cost).
type Result struct {
	AppHosts []Host
	// DBHost is the self-managed database server (Hetzner), nil for managed.
	DBHost *Host
	// RedisHost is the self-managed Redis server (Hetzner upgrade), nil otherwise.
	RedisHost *Host
	// RedisReplicas replicate RedisHost (Hetzner scale, watched by Sentinel).
	RedisReplicas []Host

	// AppURL is where users reach the app.
	AppURL pulumi.StringOutput
	// PublicIPs of everything reachable from the internet (LB or app hosts).
	PublicIPs pulumi.StringArrayOutput
	// DNSRecords lists records the operator must create, when the program
	// does not manage the domain's DNS ("name TYPE value").
	DNSRecords pulumi.StringArrayOutput

	PostgresURL    pulumi.StringOutput // secret
	RedisAddrs     pulumi.StringArrayOutput
	RedisTLS       bool
	RedisPassword  pulumi.StringOutput // secret; managed Valkey's or Inputs.RedisPassword
	ChromaURL      pulumi.StringOutput
	TrustedProxies pulumi.StringArrayOutput // LB private address range, or nil

	// Serve, when set, is called once the app serves: with the deploy
	// commands (servers) or the app's Deployment (cluster). The cloud
	// declares there what must not switch to the new app before it is up
	// (Hetzner: the load balancer's service, whose port changes between
	// upgrade and scale).
	Serve func(ctx *pulumi.Context, ready []pulumi.Resource) error

	// Items are what the phase costs, for the cost package.
	Items []cost.Item

	// Cluster is the scale phase's Kubernetes cluster, nil before scale.
	// The shared step declares the app on it (package kube).
	Cluster *Cluster
}

// Cluster is what the shared step needs to put the app on a cluster.
type Cluster struct {
	// Summary says what the cluster is, for the "cluster" output.
	Summary pulumi.StringOutput
	// Kubeconfig reaches the cluster's API (secret); it becomes the
	// kubernetes provider's config and the stack's kubeconfig output.
	Kubeconfig pulumi.StringOutput
	// Service is how the public Service is exposed; Annotations configure
	// the cloud load balancer (LoadBalancer); Ports are its public ports.
	Service     kube.ServiceType
	Annotations pulumi.StringMapInput
	Ports       []int
	// MetricsServer: the cluster lacks one (DOKS), so install it.
	MetricsServer bool
	// MigrationPostgresURL, when HasMigrationURL, is the direct database
	// URL for the migration Job (the pods use a transaction pool).
	MigrationPostgresURL pulumi.StringOutput
	HasMigrationURL      bool
	// PostgresMaxConns per pod (0: the app's default).
	PostgresMaxConns int
	// RedisSentinelMaster makes RedisAddrs Sentinels of this master;
	// Sentinel, when set, runs those Sentinels in the cluster.
	RedisSentinelMaster string
	Sentinel            *kube.SentinelArgs
	// DependsOn: what must exist before any object is applied.
	DependsOn []pulumi.Resource
	// Expose is called with the public Service's load balancer address
	// (LoadBalancer services) once the app is declared, to point DNS at it
	// and fill the Result's AppURL, PublicIPs and DNSRecords. Nil when the
	// entry is known at Deploy (Hetzner's own load balancer).
	Expose func(ctx *pulumi.Context, ingress pulumi.StringOutput) error
}
