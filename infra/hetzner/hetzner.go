// Package hetzner declares a Flavor Monk stack on Hetzner Cloud for the mvp,
// upgrade and scale phases (DESIGN.md, phase table and invariants).
//
// What it declares, by component (all children parented to their component):
//
//	network  (flavormonk:hetzner:Network)      hcloud Network "network" + NetworkSubnet "subnet"
//	access   (flavormonk:hetzner:Access)       SshKey "ssh-<hash of the key>" per key,
//	                                           Firewall "fw-app", Firewall "fw-data"
//	db       (flavormonk:hetzner:Database)     Server "db" (protected), Volume "db-data" and
//	                                           "db-backup" (protected, retained) with separate
//	                                           VolumeAttachments
//	app      (flavormonk:hetzner:App)          Server "app-1" … "app-N"
//	redis    (flavormonk:hetzner:Cache)        Server "redis"                       (upgrade)
//	chroma   (flavormonk:hetzner:VectorStore)  Server "chroma", Volume "chroma-data" (upgrade)
//	lb       (flavormonk:hetzner:LoadBalancer) LoadBalancer "lb", its network, targets,
//	                                           service and certificate    (upgrade, scale)
//	k8s      (flavormonk:hetzner:Cluster)      Server "k3s-server-1…3", "k3s-agent-1…N",
//	                                           RandomPassword "k3s-token", the start
//	                                           and kubeconfig commands         (scale)
//
// In scale the app servers give way to the k3s cluster (the app runs on it,
// package kube, declared by the shared stack step), "redis" gains the replica
// "redis-2" (Sentinels run as pods), the load balancer targets the agents on
// the app Service's node port, and the data hosts admit the cluster range.
//
// Phase changes keep every stateful resource (invariants 1 and 2): logical
// names never depend on the phase, servers ignore later changes to user
// data, SSH keys and image, volumes are attached by separate attachments,
// and the db server and every data volume are protected (volumes are also
// retained on delete). Servers keep their disk size when resized
// (keepDisk), so a stack can go back from upgrade to mvp's smaller types.
//
// Hetzner DNS is not managed here: the stack's entry (stack.Entry) lists
// the records to create. Secrets never reach user data (invariant 4); the shared rollout
// step writes them over SSH.
package hetzner

import (
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumix"

	"github.com/flavormonk/flavormonk/infra/cost"
	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
)

// Cloud implements stack.Cloud on Hetzner Cloud.
//
// TLS at the load balancer (upgrade with a domain) uses a Hetzner managed
// certificate by default, which Hetzner can only issue when the domain's
// zone is in Hetzner DNS (in the same project). When the stack has the
// secrets tlsCertificate and tlsPrivateKey, that certificate is uploaded
// instead and the zone may live anywhere.
type Cloud struct{}

var _ stack.Cloud = Cloud{}

// Ports the machines serve on the private network.
const (
	appPort      = 8080
	postgresPort = 5432
	redisPort    = 6379
	chromaPort   = 8000
)

// Database name and role the db server's setup script creates.
const (
	dbName = "flavormonk"
	dbUser = "flavormonk"
)

// Deploy declares the plan's resources.
func (Cloud) Deploy(ctx *pulumi.Context, p *plan.Plan, in *stack.Inputs) (*stack.Result, error) {
	if p.Cloud != plan.Hetzner {
		return nil, fmt.Errorf("hetzner: asked to deploy a %s plan", p.Cloud)
	}
	l, err := newLayout(p)
	if err != nil {
		return nil, err
	}
	tls, err := uploadedTLSFromConfig(ctx, p)
	if err != nil {
		return nil, err
	}
	d := &deployer{ctx: ctx, p: p, l: l, n: newNames(p), in: in}

	if d.net, err = newNetwork(ctx, "network", networkArgs{Plan: p, Names: d.n}); err != nil {
		return nil, err
	}
	if d.access, err = newAccess(ctx, "access", accessArgs{Plan: p, Names: d.n}); err != nil {
		return nil, err
	}
	db, err := d.newDatabase("db")
	if err != nil {
		return nil, err
	}
	if p.Phase == plan.Scale {
		return d.deployScale(db, tls)
	}
	app, err := d.newApp("app")
	if err != nil {
		return nil, err
	}
	res := &stack.Result{
		Data:     stack.Data{DBHost: &db.Host, PostgresURL: postgresURL(db, in)},
		AppHosts: app.Hosts,
	}
	appServers := len(app.Hosts)
	servers := appServers + 1
	res.Items = []cost.Item{
		{Role: string(plan.RoleApp), Kind: p.Sizes[plan.RoleApp], Count: appServers},
	}
	if size := p.AppSize(plan.EntryHost); size != p.Sizes[plan.RoleApp] {
		// app-1 keeps its mvp size during the hand-over (keepVmEntry).
		res.Items = []cost.Item{
			{Role: string(plan.RoleApp), Kind: size, Count: 1},
			{Role: string(plan.RoleApp), Kind: p.Sizes[plan.RoleApp], Count: appServers - 1},
		}
	}
	res.Items = append(res.Items, []cost.Item{
		{Role: string(plan.RoleDB), Kind: p.Sizes[plan.RoleDB], Count: 1},
		{Role: "volume:db-data", Kind: "volume", Count: 1, GB: p.DBVolumeGB},
		{Role: "volume:db-backup", Kind: "volume", Count: 1, GB: p.BackupVolumeGB},
	}...)

	if p.Phase == plan.MVP {
		if _, err := d.newChroma("chroma", false); err != nil {
			return nil, err
		}
		res.Items = append(res.Items, cost.Item{Role: "volume:chroma-data", Kind: "volume", Count: 1, GB: p.ChromaVolumeGB})
		res.Edge = stack.Fixed(entry(p, app.Servers[0].Ipv4Address, app.Servers[0].Ipv6Address))
		res.TrustedProxies = pulumi.ToStringArray([]string{"127.0.0.1/32"}).ToStringArrayOutput() // Caddy on the VM
	} else {
		redis, err := d.newRedis("redis")
		if err != nil {
			return nil, err
		}
		chroma, err := d.newChroma("chroma", true)
		if err != nil {
			return nil, err
		}
		var targets []string
		for _, h := range app.Hosts {
			targets = append(targets, h.Name)
		}
		lb, err := d.newLoadBalancer("lb", lbArgs{Targets: app.Servers, TargetNames: targets, Port: appPort, TLS: tls})
		if err != nil {
			return nil, err
		}
		res.Edge = lb
		res.LoadBalancer = &lb.Watched
		res.Data.RedisHost = &redis.Host
		res.Data.RedisAddrs = pulumi.StringArray{pulumi.Sprintf("%s:%d", redis.Host.PrivateIP, redisPort)}.ToStringArrayOutput()
		res.Data.RedisPassword = in.RedisPassword
		res.Data.ChromaURL = pulumi.Sprintf("http://%s:%d", chroma.Host.PrivateIP, chromaPort)
		res.Data.ChromaHost, res.Data.ChromaVersion = &chroma.Host, plan.ChromaVersion
		// The load balancer reaches the apps from its private address,
		// which lies in the subnet; during the hand-over Caddy on app-1
		// too, over loopback.
		proxies := []string{p.SubnetCIDR}
		if p.VMEntry() {
			proxies = []string{"127.0.0.1/32", p.SubnetCIDR}
		}
		res.TrustedProxies = pulumi.ToStringArray(proxies).ToStringArrayOutput()
		servers += 2
		res.Items = append(res.Items,
			cost.Item{Role: string(plan.RoleRedis), Kind: p.Sizes[plan.RoleRedis], Count: 1},
			cost.Item{Role: string(plan.RoleChroma), Kind: p.Sizes[plan.RoleChroma], Count: 1},
			cost.Item{Role: "volume:chroma-data", Kind: "volume", Count: 1, GB: p.ChromaVolumeGB},
			cost.Item{Role: string(plan.RoleLB), Kind: p.Sizes[plan.RoleLB], Count: 1},
		)
		if lb.Certificate {
			res.Items = append(res.Items, cost.Item{Role: "certificate", Kind: "certificate", Count: 1})
		}
	}
	res.Items = append(res.Items,
		// Every server has a primary IPv4 (egress for packages and images;
		// inbound only as the firewalls allow); Hetzner bills it apart.
		cost.Item{Role: "ipv4", Kind: "primary-ipv4", Count: servers},
		cost.Item{Role: "network", Kind: "network", Count: 1},
		cost.Item{Role: "firewall", Kind: "firewall", Count: 2},
		cost.Item{Role: "ssh-key", Kind: "ssh-key", Count: max(1, len(p.SSHKeys))},
	)
	return res, nil
}

// entry is where users arrive on the public address v4/v6 (the load
// balancer's, or app-1's in mvp). Hetzner DNS is not managed here: with a
// domain, the records to create are output; without one the app is served
// over plain HTTP on the address (the stack's "note" output says so).
func entry(p *plan.Plan, v4, v6 pulumi.StringOutput) stack.Entry {
	e := stack.Entry{
		AppURL:     pulumi.Sprintf("http://%s", v4),
		PublicIPs:  pulumi.StringArray{v4}.ToStringArrayOutput(),
		DNSRecords: pulumi.StringArray{}.ToStringArrayOutput(),
	}
	if p.Domain != "" {
		e.AppURL = pulumi.String("https://" + p.Domain).ToStringOutput()
		e.DNSRecords = pulumi.StringArray{
			pulumi.Sprintf("%s A %s", p.Domain, v4),
			pulumi.Sprintf("%s AAAA %s", p.Domain, v6),
		}.ToStringArrayOutput()
	}
	return e
}

// postgresURL is the app's connection string to the db server.
func postgresURL(db *database, in *stack.Inputs) pulumi.StringOutput {
	u := pulumix.Apply2(db.Host.PrivateIP, in.DBPassword, func(host, password string) string {
		// Postgres is reached over the private network only (the db
		// server's nftables admit the app and cluster ranges alone and
		// Hetzner's network is not routed to the internet); the server's
		// certificate is self-signed, so TLS without verification.
		u := url.URL{
			Scheme:   "postgres",
			User:     url.UserPassword(dbUser, password),
			Host:     fmt.Sprintf("%s:%d", host, postgresPort),
			Path:     "/" + dbName,
			RawQuery: "sslmode=require",
		}
		return u.String()
	})
	return pulumi.ToSecret(pulumix.Cast[pulumi.StringOutput](u)).(pulumi.StringOutput)
}

// deployer carries what every component needs while declaring a stack.
type deployer struct {
	ctx    *pulumi.Context
	p      *plan.Plan
	l      *layout
	n      names
	in     *stack.Inputs
	net    *network
	access *access
}

// intID converts a resource's Pulumi ID to the integer the hcloud API and
// provider use for references (hcloud IDs are always numeric). Under
// Pulumi's mocks IDs are made-up strings ("db-id"): those map to a stable
// stand-in number so the offline plan can run; a real non-numeric ID is an
// error.
func intID(ctx *pulumi.Context, id pulumi.IDOutput) pulumi.IntOutput {
	mocks := ctx.RunningWithMocks()
	return id.ApplyT(func(v pulumi.ID) (int, error) {
		n, err := strconv.Atoi(string(v))
		if err == nil {
			return n, nil
		}
		if mocks {
			h := fnv.New32a()
			h.Write([]byte(v))
			return int(h.Sum32() & 0x7fffffff), nil
		}
		return 0, fmt.Errorf("hetzner: resource id %q is not numeric", v)
	}).(pulumi.IntOutput)
}

// component registers a component resource of this package.
func component(ctx *pulumi.Context, kind, name string, c pulumi.ComponentResource, opts ...pulumi.ResourceOption) error {
	return ctx.RegisterComponentResource("flavormonk:hetzner:"+kind, name, c, opts...)
}
