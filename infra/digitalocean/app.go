package digitalocean

import (
	"strconv"

	"github.com/pulumi/pulumi-digitalocean/sdk/v4/go/digitalocean"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/plan"
)

// Anywhere is every IPv4 and IPv6 address, for the public web ports only.
var anywhere = pulumi.StringArray{pulumi.String("0.0.0.0/0"), pulumi.String("::/0")}

// AppTier is the app droplets and their cloud firewall.
type AppTier struct {
	pulumi.ResourceState

	// Droplets are app-1 … app-N; app-1 keeps its identity in every phase.
	Droplets []*digitalocean.Droplet
	Firewall *digitalocean.Firewall
}

type appTierArgs struct {
	Plan    *plan.Plan
	Names   names
	Network *Network
	Access  *Access
	// LoadBalancer is nil in mvp, where Caddy on app-1 serves the web ports.
	LoadBalancer *LoadBalancer
}

func newAppTier(ctx *pulumi.Context, name string, args *appTierArgs) (*AppTier, error) {
	c := &AppTier{}
	if err := ctx.RegisterComponentResource("flavormonk:digitalocean:AppTier", name, c); err != nil {
		return nil, err
	}
	p := args.Plan
	// Behind the load balancer the app serves plain HTTP on AppPort; in mvp
	// Caddy ends TLS on the droplet (ACME HTTP-01) when a domain is set.
	userData, err := appUserData(&appUserDataArgs{Plan: p, Caddy: args.LoadBalancer == nil})
	if err != nil {
		return nil, err
	}
	for i := 0; i < p.AppCount; i++ {
		d, err := digitalocean.NewDroplet(ctx, appName(i), &digitalocean.DropletArgs{
			Name:       pulumi.String(args.Names.of(appName(i))),
			Region:     pulumi.String(p.Region),
			Size:       pulumi.String(p.AppSize(appName(i))),
			Image:      pulumi.String(p.ServerImage),
			VpcUuid:    args.Network.VPC.ID(),
			SshKeys:    args.Access.SSHKeys,
			Tags:       pulumi.StringArray{args.Access.AppTag.Name},
			UserData:   pulumi.String(userData),
			Monitoring: pulumi.Bool(true),
			// CPU and RAM only, so a resize can be undone when a stack
			// moves back to a smaller phase.
			ResizeDisk: pulumi.Bool(false),
		}, pulumi.Parent(c),
			// Invariant 2: user data, SSH keys and image force a new droplet;
			// they only matter at first boot.
			pulumi.IgnoreChanges([]string{"userData", "sshKeys", "image"}))
		if err != nil {
			return nil, err
		}
		c.Droplets = append(c.Droplets, d)
	}

	inbound := digitalocean.FirewallInboundRuleArray{sshRule(p)}
	if lb := args.LoadBalancer; lb != nil {
		inbound = append(inbound, digitalocean.FirewallInboundRuleArgs{
			Protocol:               pulumi.String("tcp"),
			PortRange:              pulumi.String(strconv.Itoa(AppPort)),
			SourceLoadBalancerUids: pulumi.StringArray{lb.LB.ID().ToStringOutput()},
		})
	}
	if p.VMEntry() {
		// Caddy on app-1: mvp, and the hand-over (keepVmEntry), while DNS
		// may still send users to it. The firewall goes by the app tag, so
		// the other droplets have the ports open with nothing behind them.
		for _, port := range []string{"80", "443"} {
			inbound = append(inbound, digitalocean.FirewallInboundRuleArgs{
				Protocol:        pulumi.String("tcp"),
				PortRange:       pulumi.String(port),
				SourceAddresses: anywhere,
			})
		}
	}
	c.Firewall, err = digitalocean.NewFirewall(ctx, "app-firewall", &digitalocean.FirewallArgs{
		Name:          pulumi.String(args.Names.of("app")),
		Tags:          pulumi.StringArray{args.Access.AppTag.Name},
		InboundRules:  inbound,
		OutboundRules: outboundAll(),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}

	ips := pulumi.StringArray{}
	for _, d := range c.Droplets {
		ips = append(ips, d.Ipv4Address)
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"publicIps": ips, "firewallId": c.Firewall.ID()}); err != nil {
		return nil, err
	}
	return c, nil
}

// sshRule admits SSH from the stack's admin CIDRs only.
func sshRule(p *plan.Plan) digitalocean.FirewallInboundRuleArgs {
	return digitalocean.FirewallInboundRuleArgs{
		Protocol:        pulumi.String("tcp"),
		PortRange:       pulumi.String("22"),
		SourceAddresses: pulumi.ToStringArray(p.AdminCIDRs),
	}
}

// outboundAll lets droplets reach the internet (packages, images, APIs) and
// the VPC.
func outboundAll() digitalocean.FirewallOutboundRuleArray {
	return digitalocean.FirewallOutboundRuleArray{
		digitalocean.FirewallOutboundRuleArgs{Protocol: pulumi.String("tcp"), PortRange: pulumi.String("1-65535"), DestinationAddresses: anywhere},
		digitalocean.FirewallOutboundRuleArgs{Protocol: pulumi.String("udp"), PortRange: pulumi.String("1-65535"), DestinationAddresses: anywhere},
		digitalocean.FirewallOutboundRuleArgs{Protocol: pulumi.String("icmp"), DestinationAddresses: anywhere},
	}
}
