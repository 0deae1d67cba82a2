package digitalocean

import (
	"strconv"

	"github.com/pulumi/pulumi-digitalocean/sdk/v4/go/digitalocean"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/plan"
)

// Chroma is the vector store: a droplet in the VPC with its data on a
// protected volume, reachable on ChromaPort from the app droplets only.
type Chroma struct {
	pulumi.ResourceState

	Droplet *digitalocean.Droplet
	Volume  *digitalocean.Volume
	// URL is the server's address on the private network.
	URL pulumi.StringOutput
}

type chromaArgs struct {
	Plan    *plan.Plan
	Names   names
	Network *Network
	Access  *Access
	Cluster *Cluster // scale: the DOKS nodes reach Chroma
}

func newChroma(ctx *pulumi.Context, name string, args *chromaArgs) (*Chroma, error) {
	c := &Chroma{}
	if err := ctx.RegisterComponentResource("flavormonk:digitalocean:Chroma", name, c); err != nil {
		return nil, err
	}
	p := args.Plan
	volName := args.Names.of("chroma-data")
	var err error
	// Invariant 1: the data outlives the droplet, a phase change and a
	// `pulumi destroy`.
	c.Volume, err = digitalocean.NewVolume(ctx, "chroma-data", &digitalocean.VolumeArgs{
		Name:                   pulumi.String(volName),
		Region:                 pulumi.String(p.Region),
		Size:                   pulumi.Int(p.ChromaVolumeGB),
		InitialFilesystemType:  pulumi.String("ext4"),
		InitialFilesystemLabel: pulumi.String("fm-chroma"), // the label cloud-init gives a blank volume
		Description:            pulumi.String("Flavor Monk vector store data, stack " + p.Stack),
	}, pulumi.Parent(c), pulumi.Protect(true), pulumi.RetainOnDelete(true))
	if err != nil {
		return nil, err
	}
	// The volume exists from mvp on (same parent, same URN), so moving
	// back to mvp keeps it; the droplet that mounts it comes with upgrade.
	if !p.Has(plan.RoleChroma) {
		return c, ctx.RegisterResourceOutputs(c, pulumi.Map{"volumeId": c.Volume.ID()})
	}
	userData, err := chromaUserData(&chromaUserDataArgs{Plan: p, VolumeName: volName})
	if err != nil {
		return nil, err
	}
	c.Droplet, err = digitalocean.NewDroplet(ctx, "chroma", &digitalocean.DropletArgs{
		Name:       pulumi.String(args.Names.of("chroma")),
		Region:     pulumi.String(p.Region),
		Size:       pulumi.String(p.Sizes[plan.RoleChroma]),
		Image:      pulumi.String(p.ServerImage),
		VpcUuid:    args.Network.VPC.ID(),
		SshKeys:    args.Access.SSHKeys,
		Tags:       pulumi.StringArray{args.Access.ChromaTag.Name},
		UserData:   pulumi.String(userData),
		Monitoring: pulumi.Bool(true),
		ResizeDisk: pulumi.Bool(false),
	}, pulumi.Parent(c), pulumi.IgnoreChanges([]string{"userData", "sshKeys", "image"}))
	if err != nil {
		return nil, err
	}
	// A separate attachment, so the droplet can be replaced without
	// touching the volume.
	if _, err := digitalocean.NewVolumeAttachment(ctx, "chroma-data-attachment", &digitalocean.VolumeAttachmentArgs{
		DropletId: c.Droplet.ID().ApplyT(dropletNumber).(pulumi.IntOutput),
		VolumeId:  c.Volume.ID(),
	}, pulumi.Parent(c)); err != nil {
		return nil, err
	}
	// Invariant 3: Chroma has no auth of its own. The cloud firewall (which
	// DigitalOcean applies to VPC traffic too) admits ChromaPort from the app
	// tag (and in scale the cluster) only; the droplet's nftables rules admit
	// the private network only.
	chromaIn := digitalocean.FirewallInboundRuleArgs{
		Protocol:   pulumi.String("tcp"),
		PortRange:  pulumi.String(strconv.Itoa(ChromaPort)),
		SourceTags: pulumi.StringArray{args.Access.AppTag.Name},
	}
	if args.Cluster != nil {
		// Scale: the cluster's nodes too; the app tag stays so the
		// upgrade droplets keep working until they are gone (see
		// firewallRules).
		chromaIn.SourceKubernetesIds = pulumi.StringArray{args.Cluster.Cluster.ID().ToStringOutput()}
	}
	if _, err := digitalocean.NewFirewall(ctx, "chroma-firewall", &digitalocean.FirewallArgs{
		Name:          pulumi.String(args.Names.of("chroma")),
		Tags:          pulumi.StringArray{args.Access.ChromaTag.Name},
		InboundRules:  digitalocean.FirewallInboundRuleArray{sshRule(p), chromaIn},
		OutboundRules: outboundAll(),
	}, pulumi.Parent(c)); err != nil {
		return nil, err
	}
	c.URL = pulumi.Sprintf("http://%s:%d", c.Droplet.Ipv4AddressPrivate, ChromaPort)
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"url": c.URL, "volumeId": c.Volume.ID()}); err != nil {
		return nil, err
	}
	return c, nil
}

// dropletNumber converts a droplet's ID to the number a volume attachment
// takes. DigitalOcean's droplet IDs are numeric; only the offline mocks
// make up others, which map to 0 (a droplet that does not exist).
func dropletNumber(id pulumi.ID) int {
	n, err := strconv.Atoi(string(id))
	if err != nil {
		return 0
	}
	return n
}
