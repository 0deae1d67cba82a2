package hetzner

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/cloudinit"
	"github.com/flavormonk/flavormonk/infra/cost"
	"github.com/flavormonk/flavormonk/infra/kube"
	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
)

// SentinelMaster is the name the Redis Sentinels know the primary by.
const SentinelMaster = "flavormonk"

// deployScale declares the scale phase: the same db server and volumes,
// Redis primary + replica watched by Sentinel, the same Chroma server and
// volume, a k3s cluster instead of app servers, and the same load balancer
// now targeting the cluster's agents on the app Service's node port.
func (d *deployer) deployScale(db *database, tls *UploadedTLS) (*stack.Result, error) {
	p, in := d.p, d.in
	redis, err := d.newRedis("redis")
	if err != nil {
		return nil, err
	}
	chroma, err := d.newChroma("chroma", true)
	if err != nil {
		return nil, err
	}
	k8s, err := d.newK3s("k8s")
	if err != nil {
		return nil, err
	}
	lb, err := d.newLoadBalancer("lb", lbArgs{Targets: k8s.Agents, TargetNames: k8s.AgentNames, Port: kube.NodePort, TLS: tls})
	if err != nil {
		return nil, err
	}

	// Data hosts admit the cluster's nodes (pods leave them masqueraded to
	// the node's address). User data is never re-run, so hosts made in an
	// earlier phase learn the new range over SSH (flavormonk-allow).
	clients := d.dataClients()
	hosts := []stack.Host{db.Host, redis.Host, redis.Replica, chroma.Host}
	// Nothing in the cluster (the migration Job, the Sentinels, the app)
	// starts before every data host admits the cluster range.
	var allowed []pulumi.Resource
	for _, h := range hosts {
		list := clients
		if h.Role == plan.RoleRedis {
			// Primary and replica replicate to each other after a failover.
			list = append(append([]string{}, clients...), d.l.redis.String(), d.l.redis2.String())
		}
		allow, err := remote.NewCommand(d.ctx, "allow-"+h.Name, &remote.CommandArgs{
			Connection: stack.Connection(h, in),
			Create:     pulumi.String(stack.Booted + "sudo " + cloudinit.AllowPath + " " + strings.Join(list, " ")),
			Triggers:   pulumi.ToArray([]any{strings.Join(list, " ")}),
		}, pulumi.DependsOn([]pulumi.Resource{h.Resource}))
		if err != nil {
			return nil, err
		}
		allowed = append(allowed, allow)
	}

	res := &stack.Result{
		Data: stack.Data{
			DBHost:        &db.Host,
			RedisHost:     &redis.Host,
			RedisReplicas: []stack.Host{redis.Replica},
			PostgresURL:   postgresURL(db, in),
			RedisAddrs:    pulumi.ToStringArray([]string{kube.SentinelAddr}).ToStringArrayOutput(),
			RedisPassword: in.RedisPassword,
			ChromaURL:     pulumi.Sprintf("http://%s:%d", chroma.Host.PrivateIP, chromaPort),
			ChromaHost:    &chroma.Host,
			ChromaVersion: plan.ChromaVersion,
		},
		TrustedProxies: pulumi.ToStringArray([]string{p.SubnetCIDR, plan.ClusterCIDR}).ToStringArrayOutput(),
		Edge:           lb,
		Cluster: &stack.Cluster{
			Summary: pulumi.Sprintf("k3s %s: %d server(s) %s with embedded etcd, %d agent(s) %s; API https://%s:6443 (adminCidrs only)",
				p.Cluster.K8sVersion, p.Cluster.ControlPlanes, p.Sizes[plan.RoleControl], p.Cluster.NodesMin, p.Sizes[plan.RoleNode], k8s.Servers[0].Ipv4Address),
			Kubeconfig: k8s.Kubeconfig,
			Service:    kube.NodePortService,
			Ports:      []int{80},
			// k3s ships metrics-server (kept: only traefik and servicelb
			// are disabled), so the HPA has its metrics.
			MetricsServer:       false,
			RedisSentinelMaster: SentinelMaster,
			Sentinel: &kube.SentinelArgs{
				Master:   SentinelMaster,
				Primary:  d.l.redis.String(),
				Port:     redisPort,
				Password: in.RedisPassword,
			},
			// Each pod's Postgres pool: podsMax pods and a surge pod share
			// the db server's connections, less a reserve (plan package).
			PostgresMaxConns: p.Cluster.PodPostgresConns(),
			DependsOn:        append([]pulumi.Resource{k8s.Ready}, allowed...),
		},
	}
	servers := 1 + 2 + 1 + p.Cluster.ControlPlanes + p.Cluster.NodesMin // db, redis ×2, chroma, k3s
	res.Items = []cost.Item{
		{Role: "k3s-server", Kind: p.Sizes[plan.RoleControl], Count: p.Cluster.ControlPlanes},
		{Role: "k3s-agent (at nodesMin)", Kind: p.Sizes[plan.RoleNode], Count: p.Cluster.NodesMin},
		{Role: string(plan.RoleDB), Kind: p.Sizes[plan.RoleDB], Count: 1},
		{Role: "volume:db-data", Kind: "volume", Count: 1, GB: p.DBVolumeGB},
		{Role: "volume:db-backup", Kind: "volume", Count: 1, GB: p.BackupVolumeGB},
		{Role: "redis (primary + replica)", Kind: p.Sizes[plan.RoleRedis], Count: 2},
		{Role: string(plan.RoleChroma), Kind: p.Sizes[plan.RoleChroma], Count: 1},
		{Role: "volume:chroma-data", Kind: "volume", Count: 1, GB: p.ChromaVolumeGB},
		{Role: string(plan.RoleLB), Kind: p.Sizes[plan.RoleLB], Count: 1},
	}
	if lb.Certificate {
		res.Items = append(res.Items, cost.Item{Role: "certificate", Kind: "certificate", Count: 1})
	}
	res.Items = append(res.Items,
		cost.Item{Role: "ipv4", Kind: "primary-ipv4", Count: servers},
		cost.Item{Role: "network", Kind: "network", Count: 1},
		cost.Item{Role: "firewall", Kind: "firewall", Count: 3},
		cost.Item{Role: "ssh-key", Kind: "ssh-key", Count: max(1, len(p.SSHKeys))},
	)
	return res, nil
}

// dataClients are the private ranges the data hosts admit in this phase:
// the app range in mvp and upgrade, and the cluster range in scale too.
func (d *deployer) dataClients() []string {
	out := []string{d.l.appRange.String()}
	if d.p.Phase == plan.Scale {
		out = append(out, d.l.k8sRange.String())
	}
	return out
}

// replicaName is the replica's logical name.
func replicaName(i int) string { return fmt.Sprintf("redis-%d", i+1) }
