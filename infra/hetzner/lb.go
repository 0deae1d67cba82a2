package hetzner

import (
	"fmt"
	"time"

	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
)

// Config keys (secrets) of a certificate to upload to the load balancer.
const (
	keyTLSCertificate = "tlsCertificate"
	keyTLSPrivateKey  = "tlsPrivateKey"
)

// UploadedTLS is a certificate and key (PEM) to upload to the load
// balancer instead of asking Hetzner for a managed certificate. Both are
// secret outputs.
type UploadedTLS struct {
	Certificate pulumi.StringOutput
	PrivateKey  pulumi.StringOutput
}

// uploadedTLSFromConfig reads the stack's tlsCertificate/tlsPrivateKey
// secrets: both or neither. Neither means a Hetzner managed certificate.
func uploadedTLSFromConfig(ctx *pulumi.Context, p *plan.Plan) (*UploadedTLS, error) {
	get := func(key string) (string, bool) {
		v, ok := ctx.GetConfig(plan.Namespace + ":" + key)
		return v, ok && v != ""
	}
	cert, hasCert := get(keyTLSCertificate)
	key, hasKey := get(keyTLSPrivateKey)
	switch {
	case !hasCert && !hasKey:
		return nil, nil
	case !hasCert:
		return nil, &plan.Error{Key: keyTLSCertificate, Message: "must be set (as a secret) together with tlsPrivateKey, or unset both to use a Hetzner managed certificate"}
	case !hasKey:
		return nil, &plan.Error{Key: keyTLSPrivateKey, Message: "must be set (as a secret) together with tlsCertificate, or unset both to use a Hetzner managed certificate"}
	}
	if p.Domain == "" {
		return nil, &plan.Error{Key: keyTLSCertificate, Message: "is set but no domain is: set domain to the name the certificate is for"}
	}
	return &UploadedTLS{
		Certificate: pulumi.ToSecret(pulumi.String(cert)).(pulumi.StringOutput),
		PrivateKey:  pulumi.ToSecret(pulumi.String(key)).(pulumi.StringOutput),
	}, nil
}

// loadBalancer fronts the app servers from upgrade on. It joins the
// private network and reaches each app server on its private address, port
// 8080, health-checking /readyz. With a domain, TLS ends here (HTTPS 443,
// HTTP 80 redirects); without one it serves plain HTTP on 80.
type loadBalancer struct {
	pulumi.ResourceState

	LB *hcloud.LoadBalancer
	// Certificate reports whether a certificate resource was declared.
	Certificate bool
	// Watched is the load balancer and its targets for the rollout's wait.
	Watched stack.LoadBalancer

	// The service, declared by Open once the app serves.
	serviceName string
	service     *hcloud.LoadBalancerServiceArgs
	attached    *hcloud.LoadBalancerNetwork
	entry       stack.Entry
}

var _ stack.Edge = (*loadBalancer)(nil)

// Open declares the service (listen port → the targets' port) once the
// app serves — its deploy commands or Deployment exist: the destination
// port changes between upgrade (8080) and scale (the node port), and
// switching before the new app serves is an outage.
func (c *loadBalancer) Open(ctx *pulumi.Context, app stack.Serving) (*stack.Entry, error) {
	if _, err := hcloud.NewLoadBalancerService(ctx, c.serviceName, c.service, pulumi.Parent(c),
		pulumi.DependsOn(append([]pulumi.Resource{c.attached}, app.Ready...))); err != nil {
		return nil, err
	}
	e := c.entry
	return &e, nil
}

type lbArgs struct {
	Targets []*hcloud.Server
	// TargetNames are the targets' logical names ("app-1", "k3s-agent-1").
	TargetNames []string
	// Port is where the targets serve: the app (8080) or, in scale, the
	// app Service's node port on every k3s node.
	Port int
	TLS  *UploadedTLS // nil: Hetzner managed certificate
}

func (d *deployer) newLoadBalancer(name string, a lbArgs) (*loadBalancer, error) {
	ctx, p := d.ctx, d.p
	c := &loadBalancer{}
	if err := component(ctx, "LoadBalancer", name, c); err != nil {
		return nil, err
	}
	var err error
	c.LB, err = hcloud.NewLoadBalancer(ctx, "lb", &hcloud.LoadBalancerArgs{
		Name:             pulumi.String(d.n.physical("lb")),
		LoadBalancerType: pulumi.String(p.Sizes[plan.RoleLB]),
		Location:         pulumi.String(p.Region),
		Algorithm:        hcloud.LoadBalancerAlgorithmArgs{Type: pulumi.String("round_robin")},
		Labels:           pulumi.ToStringMap(d.n.labels(string(plan.RoleLB))),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	lbID := intID(ctx, c.LB.ID())
	attached, err := hcloud.NewLoadBalancerNetwork(ctx, "lb-network", &hcloud.LoadBalancerNetworkArgs{
		LoadBalancerId:        lbID,
		NetworkId:             d.net.NetworkID,
		Ip:                    pulumi.String(d.l.lb.String()),
		EnablePublicInterface: pulumi.Bool(true),
	}, pulumi.Parent(c), pulumi.DependsOn([]pulumi.Resource{d.net.Subnet}))
	if err != nil {
		return nil, err
	}
	c.Watched = stack.LoadBalancer{ID: lbID, Port: a.Port, Targets: map[string]pulumi.IntOutput{}}
	for i, srv := range a.Targets {
		t, err := hcloud.NewLoadBalancerTarget(ctx, "lb-target-"+a.TargetNames[i], &hcloud.LoadBalancerTargetArgs{
			LoadBalancerId: lbID,
			Type:           pulumi.String("server"),
			ServerId:       intID(ctx, srv.ID()),
			UsePrivateIp:   pulumi.Bool(true),
		}, pulumi.Parent(c), pulumi.DependsOn([]pulumi.Resource{attached}))
		if err != nil {
			return nil, err
		}
		c.Watched.Targets[a.TargetNames[i]] = targetServerID(a.TargetNames[i], t)
	}

	health := hcloud.LoadBalancerServiceHealthCheckArgs{
		Protocol: pulumi.String("http"),
		Port:     pulumi.Int(a.Port),
		// The app's drain delay is derived from these (plan.DrainDelay).
		Interval: pulumi.Int(int(plan.LBCheckInterval / time.Second)),
		Timeout:  pulumi.Int(int(plan.LBCheckTimeout / time.Second)),
		Retries:  pulumi.Int(plan.LBUnhealthyThreshold),
		Http: hcloud.LoadBalancerServiceHealthCheckHttpArgs{
			Path: pulumi.String("/readyz"),
			// /readyz answers 503 only when the store is unreachable.
			StatusCodes: pulumi.ToStringArray([]string{"2??"}),
		},
	}
	svc := &hcloud.LoadBalancerServiceArgs{
		LoadBalancerId:  c.LB.ID().ToStringOutput(),
		DestinationPort: pulumi.Int(a.Port),
		HealthCheck:     health,
	}
	svcName := "lb-http"
	if p.Domain != "" {
		certID, err := d.certificate(c, a.TLS)
		if err != nil {
			return nil, err
		}
		c.Certificate = true
		svcName = "lb-https"
		svc.Protocol = pulumi.String("https")
		svc.ListenPort = pulumi.Int(443)
		svc.Http = hcloud.LoadBalancerServiceHttpArgs{
			Certificates: pulumi.IntArray{certID},
			// Port 80 answers with a redirect to HTTPS.
			RedirectHttp: pulumi.Bool(true),
		}
	} else {
		// No domain: plain HTTP (the stack's note output says so).
		svc.Protocol = pulumi.String("http")
		svc.ListenPort = pulumi.Int(80)
	}
	c.serviceName, c.service, c.attached = svcName, svc, attached
	c.entry = entry(p, c.LB.Ipv4, c.LB.Ipv6)
	return c, ctx.RegisterResourceOutputs(c, pulumi.Map{
		"ipv4":      c.LB.Ipv4,
		"ipv6":      c.LB.Ipv6,
		"privateIp": pulumi.String(d.l.lb.String()),
	})
}

// certificate declares the load balancer's certificate for p.Domain: an
// uploaded one when the stack has tlsCertificate/tlsPrivateKey, otherwise
// a Hetzner managed certificate (Let's Encrypt, DNS-01 by Hetzner — works
// only when the domain's zone is in Hetzner DNS of the same project; we
// cannot check that from here, so it is the documented default).
func (d *deployer) certificate(parent pulumi.Resource, tls *UploadedTLS) (pulumi.IntOutput, error) {
	if tls != nil {
		cert, err := hcloud.NewUploadedCertificate(d.ctx, "lb-certificate", &hcloud.UploadedCertificateArgs{
			Name:        pulumi.String(d.n.physical("uploaded-cert")),
			Certificate: tls.Certificate,
			PrivateKey:  tls.PrivateKey,
			Labels:      pulumi.ToStringMap(d.n.labels(string(plan.RoleLB))),
		}, pulumi.Parent(parent))
		if err != nil {
			return pulumi.IntOutput{}, err
		}
		return intID(d.ctx, cert.ID()), nil
	}
	cert, err := hcloud.NewManagedCertificate(d.ctx, "lb-certificate", &hcloud.ManagedCertificateArgs{
		Name:        pulumi.String(d.n.physical("managed-cert")),
		DomainNames: pulumi.ToStringArray([]string{d.p.Domain}),
		Labels:      pulumi.ToStringMap(d.n.labels(string(plan.RoleLB))),
	}, pulumi.Parent(parent))
	if err != nil {
		return pulumi.IntOutput{}, err
	}
	return intID(d.ctx, cert.ID()), nil
}

// targetServerID is the server a target holds, once the target exists.
func targetServerID(name string, t *hcloud.LoadBalancerTarget) pulumi.IntOutput {
	return t.ServerId.ApplyT(func(id *int) (int, error) {
		if id == nil {
			return 0, fmt.Errorf("hetzner: load balancer target %s holds no server", name)
		}
		return *id, nil
	}).(pulumi.IntOutput)
}
