package hetzner

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/plan"
)

// network is the stack's private network and the subnet the machines live
// in. It exists from mvp on: attaching a database server to a network
// later is avoidable churn, and its range is fixed once created.
type network struct {
	pulumi.ResourceState

	Network   *hcloud.Network
	Subnet    *hcloud.NetworkSubnet
	NetworkID pulumi.IntOutput
}

type networkArgs struct {
	Plan  *plan.Plan
	Names names
}

func newNetwork(ctx *pulumi.Context, name string, a networkArgs, opts ...pulumi.ResourceOption) (*network, error) {
	c := &network{}
	if err := component(ctx, "Network", name, c, opts...); err != nil {
		return nil, err
	}
	var err error
	c.Network, err = hcloud.NewNetwork(ctx, "network", &hcloud.NetworkArgs{
		Name:    pulumi.String(a.Names.physical("network")),
		IpRange: pulumi.String(a.Plan.PrivateCIDR),
		Labels:  pulumi.ToStringMap(a.Names.labels("network")),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.NetworkID = intID(ctx, c.Network.ID())
	c.Subnet, err = hcloud.NewNetworkSubnet(ctx, "subnet", &hcloud.NetworkSubnetArgs{
		NetworkId:   c.NetworkID,
		Type:        pulumi.String("cloud"),
		NetworkZone: pulumi.String(a.Plan.NetworkZone),
		IpRange:     pulumi.String(a.Plan.SubnetCIDR),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"networkId": c.NetworkID,
		"ipRange":   c.Network.IpRange,
		"subnet":    c.Subnet.IpRange,
	})
}

// access holds who may reach the machines from the internet: the admins'
// SSH keys and the cloud firewalls. Hetzner's cloud firewalls filter only
// public traffic; the private network is guarded by nftables on the data
// hosts (rendered by cloudinit), which admit the app range alone.
type access struct {
	pulumi.ResourceState

	SSHKeys []*hcloud.SshKey
	KeyIDs  pulumi.StringArray
	App     *hcloud.Firewall
	Data    *hcloud.Firewall
	AppID   pulumi.IntOutput
	DataID  pulumi.IntOutput
	// K8s guards the k3s nodes (scale): SSH and the Kubernetes API from
	// the admin CIDRs only. The node port the load balancer uses is on the
	// private network, which cloud firewalls do not filter.
	K8s   *hcloud.Firewall
	K8sID pulumi.IntOutput
}

type accessArgs struct {
	Plan  *plan.Plan
	Names names
}

var anywhere = []string{"0.0.0.0/0", "::/0"}

func newAccess(ctx *pulumi.Context, name string, a accessArgs, opts ...pulumi.ResourceOption) (*access, error) {
	c := &access{}
	if err := component(ctx, "Access", name, c, opts...); err != nil {
		return nil, err
	}
	p := a.Plan
	for _, key := range p.SSHKeys {
		// Named after the key itself, so reordering or adding keys never
		// renames (and so replaces) another key's resource.
		logical := "ssh-" + keyHash(key)
		k, err := hcloud.NewSshKey(ctx, logical, &hcloud.SshKeyArgs{
			Name:      pulumi.String(a.Names.physical(logical)),
			PublicKey: pulumi.String(key),
			Labels:    pulumi.ToStringMap(a.Names.labels("admin")),
		}, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		c.SSHKeys = append(c.SSHKeys, k)
		c.KeyIDs = append(c.KeyIDs, k.ID().ToStringOutput())
	}

	ssh := sshRules(p.AdminCIDRs)
	appRules := append(hcloud.FirewallRuleArray{}, ssh...)
	if p.VMEntry() {
		// Caddy on the app VM serves the public ports. From upgrade on the
		// load balancer does, reaching the apps over the private network,
		// so the app servers' public web ports close (the firewall is
		// updated in place; no server changes) — but not while keepVmEntry
		// hands over: DNS may still send users to app-1. The firewall is
		// shared by the app servers; only app-1 runs Caddy, so on the
		// others the ports are open with nothing behind them, which beats a
		// second firewall whose attachment would race this one's update.
		appRules = append(appRules,
			hcloud.FirewallRuleArgs{Direction: pulumi.String("in"), Protocol: pulumi.String("tcp"), Port: pulumi.String("80"),
				SourceIps: pulumi.ToStringArray(anywhere), Description: pulumi.String("HTTP (Caddy: ACME and redirect)")},
			hcloud.FirewallRuleArgs{Direction: pulumi.String("in"), Protocol: pulumi.String("tcp"), Port: pulumi.String("443"),
				SourceIps: pulumi.ToStringArray(anywhere), Description: pulumi.String("HTTPS (Caddy)")},
		)
	}
	var err error
	c.App, err = hcloud.NewFirewall(ctx, "fw-app", &hcloud.FirewallArgs{
		Name:   pulumi.String(a.Names.physical("app")),
		Rules:  appRules,
		Labels: pulumi.ToStringMap(a.Names.labels("app")),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	// Data hosts: SSH from the admins and nothing else from the internet.
	c.Data, err = hcloud.NewFirewall(ctx, "fw-data", &hcloud.FirewallArgs{
		Name:   pulumi.String(a.Names.physical("data")),
		Rules:  ssh,
		Labels: pulumi.ToStringMap(a.Names.labels("data")),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.AppID = intID(ctx, c.App.ID())
	c.DataID = intID(ctx, c.Data.ID())
	if p.Phase == plan.Scale {
		rules := append(hcloud.FirewallRuleArray{}, ssh...)
		rules = append(rules, hcloud.FirewallRuleArgs{Direction: pulumi.String("in"), Protocol: pulumi.String("tcp"), Port: pulumi.String("6443"),
			SourceIps: pulumi.ToStringArray(p.AdminCIDRs), Description: pulumi.String("Kubernetes API from the admin CIDRs")})
		c.K8s, err = hcloud.NewFirewall(ctx, "fw-k8s", &hcloud.FirewallArgs{
			Name:   pulumi.String(a.Names.physical("k8s")),
			Rules:  rules,
			Labels: pulumi.ToStringMap(a.Names.labels("k8s")),
		}, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		c.K8sID = intID(ctx, c.K8s.ID())
	}
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"sshKeyIds":      c.KeyIDs,
		"appFirewallId":  c.AppID,
		"dataFirewallId": c.DataID,
	})
}

// sshRules admits SSH from the admin CIDRs only; with none configured (the
// plan requires them) there is no SSH rule at all, never an open one.
func sshRules(admin []string) hcloud.FirewallRuleArray {
	if len(admin) == 0 {
		return hcloud.FirewallRuleArray{}
	}
	return hcloud.FirewallRuleArray{
		hcloud.FirewallRuleArgs{Direction: pulumi.String("in"), Protocol: pulumi.String("tcp"), Port: pulumi.String("22"),
			SourceIps: pulumi.ToStringArray(admin), Description: pulumi.String("SSH from the admin CIDRs")},
	}
}

func keyHash(key string) string {
	// The key type and body identify a key; the comment does not.
	f := strings.Fields(key)
	if len(f) >= 2 {
		key = f[0] + " " + f[1]
	}
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:5])
}
