// Package digitalocean declares Flavor Monk's resources on DigitalOcean for
// the mvp, upgrade and scale phases, behind stack.Cloud.
//
// Everything that holds data or that data depends on exists from mvp on and
// never changes its logical name or its replacement-forcing inputs with the
// phase: the Project and the VPC (adding either later would replace the
// database), and the managed Postgres cluster "db". The upgrade phase adds
// app droplets behind a load balancer, managed Valkey, and a Chroma droplet
// that mounts the protected volume (which exists from mvp on). Moving back
// to mvp removes what upgrade added; the protected Valkey cluster makes
// Pulumi refuse that until an operator unprotects it on purpose.
//
// Scale adds a DOKS cluster "k8s" in the same VPC (the app runs on it,
// package kube, behind a load balancer the cluster makes from the Service),
// a standby node to Postgres and Valkey (an in-place change), a
// transaction-mode connection pool, and firewall rules admitting the cluster;
// the app droplets and the program's own load balancer go.
package digitalocean

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/cloudinit"
	"github.com/flavormonk/flavormonk/infra/cost"
	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
)

// Ports the program opens between machines.
const (
	AppPort    = cloudinit.AppPort    // the app container, behind the load balancer (upgrade)
	ChromaPort = cloudinit.ChromaPort // the Chroma server, private network only
)

// Cloud is the DigitalOcean implementation of stack.Cloud.
type Cloud struct{}

var _ stack.Cloud = Cloud{}

// Deploy declares the plan's resources on DigitalOcean.
func (Cloud) Deploy(ctx *pulumi.Context, p *plan.Plan, in *stack.Inputs) (*stack.Result, error) {
	if p.Cloud != plan.DigitalOcean {
		return nil, &plan.Error{Key: "cloud", Message: fmt.Sprintf("the digitalocean package cannot deploy cloud %q", p.Cloud)}
	}
	if p.TLSAtLoadBalancer() && p.DNSZone == "" {
		return nil, &plan.Error{Key: "dnsZone", Message: fmt.Sprintf(
			"from upgrade on TLS ends at the DigitalOcean load balancer with a Let's Encrypt certificate, which DigitalOcean issues only for domains in its own DNS: "+
				"set dnsZone to the DigitalOcean-managed domain that holds %q, or unset domain to serve plain HTTP", p.Domain)}
	}
	n := newNames(p.Stack)

	net, err := newNetwork(ctx, "network", &networkArgs{Plan: p, Names: n})
	if err != nil {
		return nil, err
	}
	acc, err := newAccess(ctx, "access", &accessArgs{Plan: p, Names: n})
	if err != nil {
		return nil, err
	}

	var lb *LoadBalancer
	if p.Has(plan.RoleLB) {
		if lb, err = newLoadBalancer(ctx, "lb", &loadBalancerArgs{Plan: p, Names: n, Network: net, Access: acc}); err != nil {
			return nil, err
		}
	}
	var k8s *Cluster
	if p.Phase == plan.Scale {
		if k8s, err = newCluster(ctx, "k8s", &clusterArgs{Plan: p, Names: n, Network: net}); err != nil {
			return nil, err
		}
	}
	var app *AppTier
	if p.Has(plan.RoleApp) {
		if app, err = newAppTier(ctx, "app", &appTierArgs{Plan: p, Names: n, Network: net, Access: acc, LoadBalancer: lb}); err != nil {
			return nil, err
		}
	}
	pg, err := newPostgres(ctx, "postgres", &postgresArgs{Plan: p, Names: n, Network: net, Access: acc, Cluster: k8s})
	if err != nil {
		return nil, err
	}
	var cache *Valkey
	if p.Has(plan.RoleRedis) {
		if cache, err = newValkey(ctx, "valkey", &valkeyArgs{Plan: p, Names: n, Network: net, Access: acc, Cluster: k8s}); err != nil {
			return nil, err
		}
	}
	chroma, err := newChroma(ctx, "chroma", &chromaArgs{Plan: p, Names: n, Network: net, Access: acc, Cluster: k8s})
	if err != nil {
		return nil, err
	}
	if k8s != nil {
		return scaleResult(ctx, p, net, lb, k8s, pg, cache, chroma)
	}

	// Droplets and volumes join the project here; the database clusters and
	// the load balancer name it themselves (projectId).
	members := pulumi.StringArray{}
	for _, d := range app.Droplets {
		members = append(members, d.DropletUrn)
	}
	members = append(members, chroma.Volume.VolumeUrn)
	if chroma.Droplet != nil {
		members = append(members, chroma.Droplet.DropletUrn)
	}
	if err := net.assign(ctx, members); err != nil {
		return nil, err
	}

	// Where users arrive: the load balancer (upgrade) or app-1 (mvp).
	entry := app.Droplets[0].Ipv4Address
	if lb != nil {
		entry = lb.LB.Ip
	}

	res := &stack.Result{
		Data:  dataTier(pg.URL, cache, chroma),
		Items: costItems(p),
		Edge:  &edge{plan: p, entry: entry},
	}
	for i, d := range app.Droplets {
		res.AppHosts = append(res.AppHosts, stack.Host{
			Name:      appName(i),
			Role:      plan.RoleApp,
			PublicIP:  d.Ipv4Address,
			PrivateIP: d.Ipv4AddressPrivate,
			Resource:  d,
		})
	}
	if lb != nil {
		// A deploy counts the balancer's probes (--lb-probes): they need
		// the balancer, and the firewall rule that admits it.
		res.DeployAfter = []pulumi.Resource{lb.LB, app.Firewall}
		// The load balancer reaches the droplets over the VPC; during the
		// hand-over Caddy on app-1 too, over loopback.
		proxies := pulumi.StringArray{pulumi.String(p.PrivateCIDR)}
		if p.VMEntry() {
			proxies = pulumi.StringArray{pulumi.String("127.0.0.1/32"), pulumi.String(p.PrivateCIDR)}
		}
		res.TrustedProxies = proxies.ToStringArrayOutput()
	} else {
		// Caddy on the droplet proxies to the app over loopback.
		res.TrustedProxies = pulumi.StringArray{pulumi.String("127.0.0.1/32")}.ToStringArrayOutput()
	}
	return res, nil
}

// dataTier is what the app is given of the managed data services: Valkey
// only from upgrade on (nil before), Chroma's URL when it has a server.
func dataTier(postgresURL pulumi.StringOutput, cache *Valkey, chroma *Chroma) stack.Data {
	d := stack.Data{PostgresURL: postgresURL, ChromaURL: chroma.URL}
	if chroma.Droplet != nil {
		d.ChromaHost = &stack.Host{Name: "chroma", Role: plan.RoleChroma, Resource: chroma.Droplet,
			PublicIP: chroma.Droplet.Ipv4Address, PrivateIP: chroma.Droplet.Ipv4AddressPrivate}
		d.ChromaVersion = plan.ChromaVersion
	}
	if cache != nil {
		d.RedisAddrs = pulumi.StringArray{cache.Addr}.ToStringArrayOutput()
		d.RedisTLS = true
		d.RedisPassword = cache.Password
	}
	return d
}

// costItems is what the phase costs, for the cost package.
func costItems(p *plan.Plan) []cost.Item {
	if p.Phase == plan.Scale {
		return scaleCostItems(p)
	}
	items := []cost.Item{{Role: "app", Kind: p.Sizes[plan.RoleApp], Count: p.AppCount}}
	if size := p.AppSize(appName(0)); size != p.Sizes[plan.RoleApp] {
		// app-1 keeps its mvp size during the hand-over (keepVmEntry).
		items = []cost.Item{{Role: "app", Kind: size, Count: 1}, {Role: "app", Kind: p.Sizes[plan.RoleApp], Count: p.AppCount - 1}}
	}
	items = append(items, cost.Item{Role: "managed-postgres", Kind: p.Sizes[plan.RoleDB], Count: 1})
	if p.Has(plan.RoleRedis) {
		items = append(items, cost.Item{Role: "managed-valkey", Kind: p.Sizes[plan.RoleRedis], Count: 1})
	}
	if p.Has(plan.RoleLB) {
		items = append(items, cost.Item{Role: "lb", Kind: p.Sizes[plan.RoleLB], Count: lbNodes(p.Sizes[plan.RoleLB])})
	}
	items = append(items, cost.Item{Role: "volume:chroma-data", Kind: "volume", Count: 1, GB: p.ChromaVolumeGB})
	if p.Has(plan.RoleChroma) {
		items = append(items, cost.Item{Role: "chroma", Kind: p.Sizes[plan.RoleChroma], Count: 1})
	}
	return items
}

// lbNodes is how many load balancer nodes a legacy size slug stands for;
// DigitalOcean bills per node.
func lbNodes(size string) int {
	switch size {
	case "lb-medium":
		return 3
	case "lb-large":
		return 6
	}
	return 1
}

// names derives the cloud-side names of a stack's resources. They depend
// on the stack only, never on the phase.
type names struct{ prefix string }

var notNameChar = regexp.MustCompile(`[^a-z0-9-]+`)

func newNames(stackName string) names {
	s := strings.Trim(notNameChar.ReplaceAllString(strings.ToLower(stackName), "-"), "-")
	if s == "" {
		s = "stack"
	}
	return names{prefix: "flavormonk-" + s}
}

// of returns the cloud-side name for a part, e.g. "flavormonk-prod-app".
func (n names) of(part string) string {
	if part == "" {
		return n.prefix
	}
	return n.prefix + "-" + part
}

// appName is the logical (and host) name of the i-th app droplet, from 0:
// "app-1" keeps its identity in every phase.
func appName(i int) string { return fmt.Sprintf("app-%d", i+1) }
