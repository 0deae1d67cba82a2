package digitalocean

import (
	"strings"
	"time"

	"github.com/pulumi/pulumi-digitalocean/sdk/v4/go/digitalocean"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
)

// LoadBalancer is the upgrade phase's entry: a DigitalOcean load balancer
// in the VPC in front of every app droplet (by tag), ending TLS with a
// Let's Encrypt certificate when the domain is in DigitalOcean DNS.
type LoadBalancer struct {
	pulumi.ResourceState

	LB *digitalocean.LoadBalancer
	// Certificate is nil without a domain (plain HTTP).
	Certificate *digitalocean.Certificate
}

type loadBalancerArgs struct {
	Plan    *plan.Plan
	Names   names
	Network *Network
	Access  *Access
}

func newLoadBalancer(ctx *pulumi.Context, name string, args *loadBalancerArgs) (*LoadBalancer, error) {
	c := &LoadBalancer{}
	if err := ctx.RegisterComponentResource("flavormonk:digitalocean:LoadBalancer", name, c); err != nil {
		return nil, err
	}
	p := args.Plan
	if p.Phase == plan.Scale {
		// The cluster's cloud controller makes the load balancer for the
		// app's Service; only the certificate stays here, under the same
		// name as in upgrade, so it is kept rather than re-issued.
		if p.TLSAtLoadBalancer() {
			var err error
			if c.Certificate, err = newCertificate(ctx, p, args.Names, c); err != nil {
				return nil, err
			}
		}
		return c, ctx.RegisterResourceOutputs(c, pulumi.Map{})
	}
	lbArgs := &digitalocean.LoadBalancerArgs{
		Name:       pulumi.String(args.Names.of("lb")),
		Region:     pulumi.String(p.Region),
		Size:       pulumi.String(p.Sizes[plan.RoleLB]),
		VpcUuid:    args.Network.VPC.ID(),
		ProjectId:  args.Network.Project.ID(),
		DropletTag: args.Access.AppTag.Name,
		Healthcheck: &digitalocean.LoadBalancerHealthcheckArgs{
			Protocol: pulumi.String("http"),
			Port:     pulumi.Int(AppPort),
			Path:     pulumi.String("/readyz"),
			// The app's drain delay is derived from these (plan.DrainDelay).
			CheckIntervalSeconds:   pulumi.Int(int(plan.LBCheckInterval / time.Second)),
			ResponseTimeoutSeconds: pulumi.Int(int(plan.LBCheckTimeout / time.Second)),
			HealthyThreshold:       pulumi.Int(plan.LBHealthyThreshold),
			UnhealthyThreshold:     pulumi.Int(plan.LBUnhealthyThreshold),
		},
	}
	if p.TLSAtLoadBalancer() {
		var err error
		// Named after the domain: a new domain gets a new certificate that
		// exists before the old one goes.
		c.Certificate, err = newCertificate(ctx, p, args.Names, c)
		if err != nil {
			return nil, err
		}
		lbArgs.ForwardingRules = digitalocean.LoadBalancerForwardingRuleArray{
			digitalocean.LoadBalancerForwardingRuleArgs{
				EntryProtocol:   pulumi.String("https"),
				EntryPort:       pulumi.Int(443),
				TargetProtocol:  pulumi.String("http"),
				TargetPort:      pulumi.Int(AppPort),
				CertificateName: c.Certificate.Name, // survives Let's Encrypt renewals, unlike the id
			},
			// Port 80 only redirects to HTTPS (RedirectHttpToHttps).
			digitalocean.LoadBalancerForwardingRuleArgs{
				EntryProtocol:  pulumi.String("http"),
				EntryPort:      pulumi.Int(80),
				TargetProtocol: pulumi.String("http"),
				TargetPort:     pulumi.Int(AppPort),
			},
		}
		lbArgs.RedirectHttpToHttps = pulumi.Bool(true)
		// The program manages the domain's A record itself (dns.go).
		lbArgs.DisableLetsEncryptDnsRecords = pulumi.Bool(true)
	} else {
		// No domain: plain HTTP on the load balancer's IP (the stack's
		// "note" output says so).
		lbArgs.ForwardingRules = digitalocean.LoadBalancerForwardingRuleArray{
			digitalocean.LoadBalancerForwardingRuleArgs{
				EntryProtocol:  pulumi.String("http"),
				EntryPort:      pulumi.Int(80),
				TargetProtocol: pulumi.String("http"),
				TargetPort:     pulumi.Int(AppPort),
			},
		}
	}
	var err error
	if c.LB, err = digitalocean.NewLoadBalancer(ctx, "lb", lbArgs, pulumi.Parent(c)); err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"ip": c.LB.Ip}); err != nil {
		return nil, err
	}
	return c, nil
}

// newCertificate is the Let's Encrypt certificate for the domain, named
// after it: a new domain gets a new certificate that exists before the old
// one goes.
func newCertificate(ctx *pulumi.Context, p *plan.Plan, n names, parent pulumi.Resource) (*digitalocean.Certificate, error) {
	return digitalocean.NewCertificate(ctx, "lb-certificate", &digitalocean.CertificateArgs{
		Name:    pulumi.String(n.of(strings.ReplaceAll(p.Domain, ".", "-"))),
		Type:    pulumi.String("lets_encrypt"),
		Domains: pulumi.StringArray{pulumi.String(p.Domain)},
	}, pulumi.Parent(parent))
}

// edge is where users arrive: the load balancer or app-1, or in scale the
// load balancer the cluster makes for the app's Service. Opening it points
// the domain there.
type edge struct {
	plan *plan.Plan
	// entry is the load balancer's or app-1's public address; zero in
	// scale, where the app's Service brings it (stack.Serving.Ingress).
	entry pulumi.StringOutput
}

var _ stack.Edge = (*edge)(nil)

// Open declares the domain's record and returns the entry.
func (e *edge) Open(ctx *pulumi.Context, app stack.Serving) (*stack.Entry, error) {
	p, target := e.plan, e.entry
	if p.Phase == plan.Scale {
		target = app.Ingress
	}
	dns, err := newDNS(ctx, "dns", &dnsArgs{Plan: p, Target: target, After: app.Ready})
	if err != nil {
		return nil, err
	}
	out := &stack.Entry{
		AppURL:     pulumi.Sprintf("http://%s", target),
		PublicIPs:  pulumi.StringArray{target}.ToStringArrayOutput(),
		DNSRecords: dns.ToCreate,
	}
	// mvp: Caddy on app-1 ends TLS; from upgrade on the load balancer does
	// (a domain needs dnsZone there, which Deploy checked).
	if p.Domain != "" && (p.Phase == plan.MVP || p.TLSAtLoadBalancer()) {
		out.AppURL = pulumi.String("https://" + p.Domain).ToStringOutput()
	}
	return out, nil
}

// DNS is the domain's A record in DigitalOcean DNS, when the stack names a
// DNS zone there; otherwise ToCreate lists the records the operator creates.
type DNS struct {
	pulumi.ResourceState

	// Record is nil when the program does not manage the zone.
	Record *digitalocean.DnsRecord
	// ToCreate is "name TYPE value" per record the operator must create.
	ToCreate pulumi.StringArrayOutput
}

type dnsArgs struct {
	Plan *plan.Plan
	// Target is the public IPv4 address the domain points at.
	Target pulumi.StringOutput
	// After are the deploy commands (servers) or the app's Deployment:
	// the record moves only once the app behind Target serves. From mvp to
	// upgrade the last deploy has waited for the load balancer's healthy
	// threshold of probes, so the record moves to a load balancer that
	// sends users to healthy servers.
	After []pulumi.Resource
}

func newDNS(ctx *pulumi.Context, name string, args *dnsArgs) (*DNS, error) {
	c := &DNS{}
	if err := ctx.RegisterComponentResource("flavormonk:digitalocean:DNS", name, c); err != nil {
		return nil, err
	}
	p := args.Plan
	switch {
	case p.Domain == "":
		c.ToCreate = pulumi.StringArray{}.ToStringArrayOutput()
	case p.DNSZone != "":
		var err error
		// One logical record in every phase: it moves from app-1 to the
		// load balancer by an update.
		c.Record, err = digitalocean.NewDnsRecord(ctx, "app-a-record", &digitalocean.DnsRecordArgs{
			Domain: pulumi.String(p.DNSZone),
			Type:   pulumi.String("A"),
			Name:   pulumi.String(recordName(p.Domain, p.DNSZone)),
			Value:  args.Target,
			Ttl:    pulumi.Int(plan.DNSRecordTTL),
		}, pulumi.Parent(c), pulumi.DependsOn(args.After))
		if err != nil {
			return nil, err
		}
		c.ToCreate = pulumi.StringArray{}.ToStringArrayOutput()
	default:
		c.ToCreate = pulumi.StringArray{pulumi.Sprintf("%s A %s", p.Domain, args.Target)}.ToStringArrayOutput()
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"toCreate": c.ToCreate}); err != nil {
		return nil, err
	}
	return c, nil
}

// recordName is the domain's name relative to its zone, "@" for the apex.
func recordName(domain, zone string) string {
	if domain == zone {
		return "@"
	}
	return strings.TrimSuffix(domain, "."+zone)
}
