package digitalocean

import (
	"strconv"

	"github.com/pulumi/pulumi-digitalocean/sdk/v4/go/digitalocean"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/cost"
	"github.com/flavormonk/flavormonk/infra/kube"
	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
)

// PodMaxConns is each pod's Postgres pool in scale: the pods share the
// DigitalOcean transaction pool, which multiplexes them onto few backends
// (client connections to the pool do not count against the plan's limit).
// The migration Job has the same pool but connects directly, which the
// plan counts next to dbPoolSize (plan.DOMigrationConns).
const PodMaxConns = plan.DOMigrationConns

// Cluster is the scale phase's DOKS cluster in the stack's VPC.
type Cluster struct {
	pulumi.ResourceState

	Cluster *digitalocean.KubernetesCluster
	// Kubeconfig is the cluster's admin kubeconfig (secret).
	Kubeconfig pulumi.StringOutput
}

type clusterArgs struct {
	Plan    *plan.Plan
	Names   names
	Network *Network
}

func newCluster(ctx *pulumi.Context, name string, args *clusterArgs) (*Cluster, error) {
	c := &Cluster{}
	if err := ctx.RegisterComponentResource("flavormonk:digitalocean:Cluster", name, c); err != nil {
		return nil, err
	}
	p := args.Plan
	prefix := p.Cluster.K8sVersion + "."
	versions, err := digitalocean.GetKubernetesVersions(ctx, &digitalocean.GetKubernetesVersionsArgs{VersionPrefix: &prefix})
	if err != nil {
		return nil, err
	}
	if versions.LatestVersion == "" {
		return nil, &plan.Error{Key: "kubernetesVersion", Message: "DigitalOcean offers no DOKS version " + p.Cluster.K8sVersion + ".x; choose one of the versions `doctl kubernetes options versions` lists"}
	}
	c.Cluster, err = digitalocean.NewKubernetesCluster(ctx, "k8s", &digitalocean.KubernetesClusterArgs{
		Name:          pulumi.String(args.Names.of("k8s")),
		Region:        pulumi.String(p.Region),
		Version:       pulumi.String(versions.LatestVersion),
		VpcUuid:       args.Network.VPC.ID(),
		ClusterSubnet: pulumi.String(plan.ClusterCIDR),
		ServiceSubnet: pulumi.String(plan.ServiceCIDR),
		// A highly available control plane (billed; see the cost lines).
		Ha:           pulumi.Bool(true),
		AutoUpgrade:  pulumi.Bool(true),
		SurgeUpgrade: pulumi.Bool(true),
		MaintenancePolicy: &digitalocean.KubernetesClusterMaintenancePolicyArgs{
			Day: pulumi.String("sunday"), StartTime: pulumi.String("03:00"),
		},
		NodePool: &digitalocean.KubernetesClusterNodePoolArgs{
			Name:      pulumi.String(args.Names.of("nodes")),
			Size:      pulumi.String(p.Sizes[plan.RoleNode]),
			AutoScale: pulumi.Bool(true),
			MinNodes:  pulumi.Int(p.Cluster.NodesMin),
			MaxNodes:  pulumi.Int(p.Cluster.NodesMax),
			NodeCount: pulumi.Int(p.Cluster.NodesMin),
			Tags:      pulumi.StringArray{pulumi.String(args.Names.of("k8s-node"))},
		},
		Tags: pulumi.StringArray{pulumi.String(args.Names.of("k8s"))},
	}, pulumi.Parent(c),
		// DOKS upgrades patch releases itself (autoUpgrade, in the
		// maintenance window); the autoscaler owns the node count.
		pulumi.IgnoreChanges([]string{"version", "nodePool.nodeCount"}))
	if err != nil {
		return nil, err
	}
	raw := c.Cluster.KubeConfigs.Index(pulumi.Int(0)).RawConfig().Elem()
	c.Kubeconfig = pulumi.ToSecret(raw).(pulumi.StringOutput)
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"clusterId": c.Cluster.ID(), "endpoint": c.Cluster.Endpoint})
}

// scaleResult assembles the scale phase's Result: the app goes onto the
// cluster (package kube) behind a DigitalOcean load balancer made by the
// cluster's cloud controller from the Service's annotations.
func scaleResult(ctx *pulumi.Context, p *plan.Plan, net *Network, lb *LoadBalancer, k *Cluster, pg *Postgres, cache *Valkey, chroma *Chroma) (*stack.Result, error) {
	members := pulumi.StringArray{chroma.Volume.VolumeUrn, k.Cluster.ClusterUrn}
	if chroma.Droplet != nil {
		members = append(members, chroma.Droplet.DropletUrn)
	}
	if err := net.assign(ctx, members); err != nil {
		return nil, err
	}
	res := &stack.Result{
		// The pods go through the transaction pool.
		Data:  dataTier(pg.PoolURL, cache, chroma),
		Items: costItems(p),
		// The load balancer reaches the nodes over the VPC; kube-proxy may
		// forward from another node's pod range.
		TrustedProxies: pulumi.ToStringArray([]string{p.PrivateCIDR, plan.ClusterCIDR}).ToStringArrayOutput(),
	}
	ann := pulumi.StringMap{
		"service.beta.kubernetes.io/do-loadbalancer-name":                 pulumi.String(newNames(p.Stack).of("k8s-lb")),
		"service.beta.kubernetes.io/do-loadbalancer-size-unit":            pulumi.String(strconv.Itoa(lbNodes(p.Sizes[plan.RoleLB]))),
		"service.beta.kubernetes.io/do-loadbalancer-protocol":             pulumi.String("http"),
		"service.beta.kubernetes.io/do-loadbalancer-healthcheck-protocol": pulumi.String("http"),
		"service.beta.kubernetes.io/do-loadbalancer-healthcheck-path":     pulumi.String("/readyz"),
		// The same check as every other load balancer of the program
		// (plan's LBCheck* constants): the cloud controller's defaults
		// (every 3 s) would otherwise drift from what the drain and the
		// rollout are derived from.
		"service.beta.kubernetes.io/do-loadbalancer-healthcheck-check-interval-seconds":   pulumi.String(strconv.Itoa(int(plan.LBCheckInterval.Seconds()))),
		"service.beta.kubernetes.io/do-loadbalancer-healthcheck-response-timeout-seconds": pulumi.String(strconv.Itoa(int(plan.LBCheckTimeout.Seconds()))),
		"service.beta.kubernetes.io/do-loadbalancer-healthcheck-unhealthy-threshold":      pulumi.String(strconv.Itoa(plan.LBUnhealthyThreshold)),
		"service.beta.kubernetes.io/do-loadbalancer-healthcheck-healthy-threshold":        pulumi.String(strconv.Itoa(plan.LBHealthyThreshold)),
	}
	ports := []int{80}
	if lb != nil && lb.Certificate != nil {
		ann["service.beta.kubernetes.io/do-loadbalancer-tls-ports"] = pulumi.String("443")
		ann["service.beta.kubernetes.io/do-loadbalancer-certificate-id"] = lb.Certificate.Uuid
		ann["service.beta.kubernetes.io/do-loadbalancer-redirect-http-to-https"] = pulumi.String("true")
		ann["service.beta.kubernetes.io/do-loadbalancer-disable-lets-encrypt-dns-records"] = pulumi.String("true")
		ports = []int{80, 443}
	}
	res.Cluster = &stack.Cluster{
		Summary: pulumi.Sprintf("DOKS %s in the VPC, HA control plane, node pool %d–%d × %s (autoscaled)",
			k.Cluster.Version, p.Cluster.NodesMin, p.Cluster.NodesMax, p.Sizes[plan.RoleNode]),
		Kubeconfig:           k.Kubeconfig,
		Service:              kube.LoadBalancer,
		Annotations:          ann,
		Ports:                ports,
		MetricsServer:        true, // DOKS has none unless added from the marketplace
		MigrationPostgresURL: pg.URL,
		HasMigrationURL:      true,
		PostgresMaxConns:     PodMaxConns,
		DependsOn:            []pulumi.Resource{k.Cluster},
	}
	// The address users arrive at is the one the cluster gives the app's
	// Service: the edge takes it once the app is declared.
	res.Edge = &edge{plan: p}
	return res, nil
}

// scaleCostItems: the HA control plane, the node pool at its minimum, the
// load balancer the cluster makes, Postgres and Valkey each with a standby
// node, and the Chroma droplet and volume kept from upgrade.
func scaleCostItems(p *plan.Plan) []cost.Item {
	return []cost.Item{
		{Role: "k8s-control-plane (HA)", Kind: "doks-ha-control-plane", Count: 1},
		{Role: "k8s-node (at nodesMin)", Kind: p.Sizes[plan.RoleNode], Count: p.Cluster.NodesMin},
		{Role: "lb (k8s Service)", Kind: p.Sizes[plan.RoleLB], Count: lbNodes(p.Sizes[plan.RoleLB])},
		{Role: "managed-postgres", Kind: p.Sizes[plan.RoleDB], Count: 1},
		{Role: "managed-postgres-standby", Kind: p.Sizes[plan.RoleDB], Count: 1},
		{Role: "managed-valkey", Kind: p.Sizes[plan.RoleRedis], Count: 1},
		{Role: "managed-valkey-standby", Kind: p.Sizes[plan.RoleRedis], Count: 1},
		{Role: "chroma", Kind: p.Sizes[plan.RoleChroma], Count: 1},
		{Role: "volume:chroma-data", Kind: "volume", Count: 1, GB: p.ChromaVolumeGB},
	}
}
