package hetzner

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumix"

	"github.com/flavormonk/flavormonk/infra/cloudinit"
	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
)

// k3sCluster is the scale phase's Kubernetes on Hetzner: k3s servers
// (control plane, embedded etcd from the first) and agents (workers) on the
// private network, joined with a generated token that reaches them over
// SSH only, and the admin kubeconfig fetched over SSH as a secret.
type k3sCluster struct {
	pulumi.ResourceState

	Servers []*hcloud.Server
	Agents  []*hcloud.Server
	// AgentNames are the agents' logical names, for load balancer targets.
	AgentNames []string
	// Kubeconfig reaches the API on k3s-server-1's public address (secret).
	Kubeconfig pulumi.StringOutput
	// Ready is the last step of the bootstrap (the kubeconfig fetch).
	Ready pulumi.Resource
}

func (d *deployer) newK3s(name string) (*k3sCluster, error) {
	c := &k3sCluster{}
	if err := component(d.ctx, "Cluster", name, c); err != nil {
		return nil, err
	}
	ctx, p := d.ctx, d.p
	// The join token: generated once, kept as a secret in the state, sent
	// to each node on stdin (DESIGN invariant 4: never in user data).
	tok, err := random.NewRandomPassword(ctx, "k3s-token", &random.RandomPasswordArgs{
		Length: pulumi.Int(48), Special: pulumi.Bool(false),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	token := pulumi.ToSecret(tok.Result).(pulumi.StringOutput)
	first := d.l.k3sServer(1)
	joinURL := fmt.Sprintf("https://%s:%d", first, cloudinit.K3sAPIPort)

	start := func(h stack.Host, publicIP pulumi.StringInput, deps []pulumi.Resource) (*remote.Command, error) {
		return remote.NewCommand(ctx, "k3s-start-"+h.Name, &remote.CommandArgs{
			Connection: stack.Connection(h, d.in),
			Create:     pulumi.Sprintf(stack.Booted+"sudo %s %s", cloudinit.K3sStartPath, publicIP),
			Stdin:      token,
			Triggers:   pulumi.Array{stack.TriggerHash(token)},
		}, pulumi.Parent(c), pulumi.DependsOn(append([]pulumi.Resource{h.Resource}, deps...)))
	}

	var firstHost stack.Host
	var prev, prevLeave []pulumi.Resource
	for i := 1; i <= p.Cluster.ControlPlanes; i++ {
		n := fmt.Sprintf("k3s-server-%d", i)
		k := &cloudinit.K3s{Version: p.Cluster.K8sVersion, Server: true, ClusterInit: i == 1,
			NodeIP: d.l.k3sServer(i).String(), ClusterCIDR: plan.ClusterCIDR, ServiceCIDR: plan.ServiceCIDR}
		if i > 1 {
			k.JoinURL = joinURL
		}
		ud, err := d.userData(userDataSpec{Role: plan.RoleControl, K3s: k})
		if err != nil {
			return nil, err
		}
		srv, h, err := d.server(serverSpec{Name: n, Role: plan.RoleControl, PrivateIP: d.l.k3sServer(i),
			Firewall: d.access.K8sID, UserData: pulumi.String(ud), Parent: c})
		if err != nil {
			return nil, err
		}
		// Servers join one at a time: etcd adds one member per step.
		cmd, err := start(h, srv.Ipv4Address, prev)
		if err != nil {
			return nil, err
		}
		prev = []pulumi.Resource{cmd}
		c.Servers = append(c.Servers, srv)
		if i == 1 {
			firstHost = h
			continue
		}
		// Leaving: before a joined server is deleted (controlPlanes 3 → 1,
		// or the cluster going away), server 1 deletes its node, which
		// makes k3s remove its etcd member; otherwise etcd would count a
		// dead member and lose its quorum. One at a time: each later
		// server's leave step depends on the previous one's, so the last
		// joined leaves first.
		leave, err := remote.NewCommand(ctx, "k3s-leave-"+n, &remote.CommandArgs{
			Connection: stack.Connection(firstHost, d.in),
			Create:     pulumi.String("true"),
			Delete:     pulumi.String(leaveCommand(d.n.physical(n))),
		}, pulumi.Parent(c), pulumi.DependsOn(append([]pulumi.Resource{h.Resource, firstHost.Resource, cmd}, prevLeave...)))
		if err != nil {
			return nil, err
		}
		prevLeave = []pulumi.Resource{leave}
	}
	serversUp := prev
	var agentsUp []pulumi.Resource
	for i := 1; i <= p.Cluster.NodesMin; i++ {
		n := fmt.Sprintf("k3s-agent-%d", i)
		ud, err := d.userData(userDataSpec{Role: plan.RoleNode, K3s: &cloudinit.K3s{
			Version: p.Cluster.K8sVersion, NodeIP: d.l.k3sAgent(i).String(), JoinURL: joinURL,
			ClusterCIDR: plan.ClusterCIDR, ServiceCIDR: plan.ServiceCIDR,
		}})
		if err != nil {
			return nil, err
		}
		srv, h, err := d.server(serverSpec{Name: n, Role: plan.RoleNode, PrivateIP: d.l.k3sAgent(i),
			Firewall: d.access.K8sID, UserData: pulumi.String(ud), Parent: c})
		if err != nil {
			return nil, err
		}
		cmd, err := start(h, pulumi.String(""), serversUp)
		if err != nil {
			return nil, err
		}
		agentsUp = append(agentsUp, cmd)
		c.Agents = append(c.Agents, srv)
		c.AgentNames = append(c.AgentNames, n)
	}

	// The admin kubeconfig, pointed at the first server's public address
	// (the cloud firewall admits the admin CIDRs to 6443). Its stdout is a
	// secret output and is not logged.
	fetch, err := remote.NewCommand(ctx, "k3s-kubeconfig", &remote.CommandArgs{
		Connection: stack.Connection(firstHost, d.in),
		Create:     pulumi.String("sudo cat " + cloudinit.K3sKubeconfig),
		Logging:    remote.LoggingStderr,
		Triggers:   pulumi.Array{c.Servers[0].ID()},
	}, pulumi.Parent(c), pulumi.DependsOn(append(serversUp, agentsUp...)),
		pulumi.AdditionalSecretOutputs([]string{"stdout"}))
	if err != nil {
		return nil, err
	}
	c.Ready = fetch
	kc := pulumix.Cast[pulumi.StringOutput](pulumix.Apply2Err(fetch.Stdout, c.Servers[0].Ipv4Address, publicKubeconfig))
	c.Kubeconfig = pulumi.ToSecret(kc).(pulumi.StringOutput)
	ips := pulumi.Map{}
	for i, s := range c.Servers {
		ips[fmt.Sprintf("k3s-server-%d", i+1)] = s.Ipv4Address
	}
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"serverIps": ips, "apiUrl": pulumi.Sprintf("https://%s:%d", c.Servers[0].Ipv4Address, cloudinit.K3sAPIPort)})
}

// publicKubeconfig points k3s's kubeconfig (server https://127.0.0.1:6443)
// at the server's public address, which flavormonk-k3s-start added to the
// API certificate.
func publicKubeconfig(raw, publicIP string) (string, error) {
	const local = "https://127.0.0.1:6443"
	if !strings.Contains(raw, local) {
		if strings.Contains(raw, "apiVersion") {
			return raw, nil // already pointed elsewhere (or a test double)
		}
		return "", fmt.Errorf("hetzner: the fetched kubeconfig has no %s server line", local)
	}
	return strings.ReplaceAll(raw, local, fmt.Sprintf("https://%s:%d", publicIP, cloudinit.K3sAPIPort)), nil
}

// leaveCommand deletes a k3s server's node from the cluster (run on server
// 1) and waits until the node object, and with it the etcd member, is gone.
// An already absent node is no error.
func leaveCommand(node string) string {
	return fmt.Sprintf("sudo k3s kubectl delete node %[1]s --ignore-not-found --wait=true --timeout=300s"+
		" && for i in $(seq 1 60); do sudo k3s kubectl get node %[1]s >/dev/null 2>&1 || { sleep 15; exit 0; }; sleep 5; done; exit 1", node)
}
