package stack

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/cost"
	"github.com/flavormonk/flavormonk/infra/kube"
	"github.com/flavormonk/flavormonk/infra/lbhealth"
	"github.com/flavormonk/flavormonk/infra/plan"
)

// Cloud declares one cloud's resources for a plan. Each cloud package
// (hetzner, digitalocean) implements it; Run picks one by plan.Cloud.
//
// The program runs in the order data flows: plan → Deploy (network, data,
// the app's servers or cluster) → the shared steps (the app's environment,
// rollout, the app on the cluster) → Result.Edge.Open (where users arrive)
// → outputs. Each step gets the typed values the one before returned; none
// calls back into an earlier one.
//
// The typed values are Go structs of outputs, not new
// pulumi.ComponentResources: a component parent (or a new type token for
// one) is part of every child's URN, and on a live stack a changed URN is
// a delete and a create — which protect refuses for the data. The clouds'
// components that existed before (flavormonk:hetzner:*,
// flavormonk:digitalocean:*) stay as they are; nothing else gains a parent
// (cmd/plan's URN golden holds every URN).
type Cloud interface {
	Deploy(ctx *pulumi.Context, p *plan.Plan, in *Inputs) (*Result, error)
}

// Inputs are values the program makes before any cloud resource: generated
// passwords and the stack's secrets (all secret outputs), and how the
// runner watches a load balancer.
type Inputs struct {
	DBPassword    pulumi.StringOutput // the app's Postgres role (Hetzner self-managed db)
	RedisPassword pulumi.StringOutput // Hetzner Redis requirepass
	SSHPrivateKey pulumi.StringOutput // for the remote commands; empty when not configured
	// LBWatcher asks the cloud's API, from the machine running the
	// program, whether Result.LoadBalancer sends a server traffic; nil
	// without a Hetzner token (the offline plan, tests).
	LBWatcher lbhealth.Watcher
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

// Result is what a cloud's Deploy declared, in the order the program
// uses it: the data tier, where the app runs (servers or a cluster), and
// the edge users arrive at.
type Result struct {
	Data Data

	// AppHosts run the app (mvp, upgrade); none on a cluster.
	AppHosts []Host
	// TrustedProxies are the LB's private address range, Caddy's loopback
	// or, in scale, the pod range too.
	TrustedProxies pulumi.StringArrayOutput
	// LoadBalancer is the load balancer in front of AppHosts when its API
	// reports each target's health (Hetzner upgrade): the rollout moves
	// on from a server only once it is healthy there. nil otherwise.
	LoadBalancer *LoadBalancer
	// DeployAfter is what every app host's deploy waits for besides its
	// host: on DigitalOcean the load balancer and the app firewall whose
	// rule lets its probes in. The balancer finds the droplets by tag and
	// is made beside them, and a deploy there (--lb-probes) counts its
	// probes: begun before both exist, it could time out and roll back.
	DeployAfter []pulumi.Resource

	// Cluster is the scale phase's Kubernetes cluster, nil before scale.
	// The shared step declares the app on it (package kube).
	Cluster *Cluster

	// Edge is where users arrive; the program opens it once the app
	// serves. Never nil.
	Edge Edge

	// Items are what the phase costs, for the cost package.
	Items []cost.Item
}

// LoadBalancer is a load balancer whose targets' health the rollout
// watches through Inputs.LBWatcher.
type LoadBalancer struct {
	// ID is the cloud's numeric ID.
	ID pulumi.IntOutput
	// Port is where the app hosts serve its traffic.
	Port int
	// Targets are each app host's server ID, by Host.Name, as the host's
	// target holds it: each resolves once the server is a target, so a
	// wait never asks before it is one.
	Targets map[string]pulumi.IntOutput
}

// Data is the data tier: the self-managed hosts the program configures
// over SSH, and the addresses and credentials the app is given.
type Data struct {
	// DBHost is the self-managed database server (Hetzner), nil for managed.
	DBHost *Host
	// RedisHost is the self-managed Redis server (Hetzner upgrade), nil otherwise.
	RedisHost *Host
	// RedisReplicas replicate RedisHost (Hetzner scale, watched by Sentinel).
	RedisReplicas []Host

	PostgresURL   pulumi.StringOutput // secret
	RedisAddrs    pulumi.StringArrayOutput
	RedisTLS      bool
	RedisPassword pulumi.StringOutput // secret; managed Valkey's or Inputs.RedisPassword
	ChromaURL     pulumi.StringOutput
	// ChromaHost is the Chroma server or droplet, nil when the phase has
	// none; ChromaVersion is its pinned chromadb/chroma release, brought to
	// the running host over SSH (see ChromaVersion).
	ChromaHost    *Host
	ChromaVersion string
}

// Edge is a cloud's entry for users: what it declares last, once the app
// serves, and the addresses it reports.
type Edge interface {
	// Open declares what the edge needs from the declared app and returns
	// the entry. Both wait for app.Ready: Hetzner's load balancer service
	// (whose port changes between upgrade and scale) must not send users
	// to the app before it serves, and DigitalOcean's domain record moves
	// (to the load balancer, app-1 or, in scale, the cluster Service's
	// address, app.Ingress) only once the app behind it serves.
	Open(ctx *pulumi.Context, app Serving) (*Entry, error)
}

// Serving is the app once declared: what the edge waits for and, on a
// cluster with a LoadBalancer Service, that Service's address.
type Serving struct {
	// Ready are the deploy commands (servers) or the app's Deployment.
	Ready []pulumi.Resource
	// Ingress is the public Service's load balancer address; zero when
	// the Service is not a LoadBalancer or there is no cluster.
	Ingress pulumi.StringOutput
}

// Entry is where users reach the app, for the stack's outputs.
type Entry struct {
	// AppURL is where users reach the app.
	AppURL pulumi.StringOutput
	// PublicIPs of everything reachable from the internet (LB or app hosts).
	PublicIPs pulumi.StringArrayOutput
	// DNSRecords lists records the operator must create, when the program
	// does not manage the domain's DNS ("name TYPE value").
	DNSRecords pulumi.StringArrayOutput
}

// Fixed is an Edge whose entry is known at Deploy and that declares
// nothing more once the app serves.
type Fixed Entry

// Open returns the entry.
func (f Fixed) Open(*pulumi.Context, Serving) (*Entry, error) {
	e := Entry(f)
	return &e, nil
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
}
