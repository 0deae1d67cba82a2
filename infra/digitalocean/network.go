package digitalocean

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-digitalocean/sdk/v4/go/digitalocean"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/plan"
)

// Network is the stack's Project and VPC. Both exist from mvp on: a
// database cluster cannot move into a VPC or project without replacement.
type Network struct {
	pulumi.ResourceState

	Project *digitalocean.Project
	VPC     *digitalocean.Vpc
}

type networkArgs struct {
	Plan  *plan.Plan
	Names names
}

func newNetwork(ctx *pulumi.Context, name string, args *networkArgs) (*Network, error) {
	c := &Network{}
	if err := ctx.RegisterComponentResource("flavormonk:digitalocean:Network", name, c); err != nil {
		return nil, err
	}
	p := args.Plan
	var err error
	c.Project, err = digitalocean.NewProject(ctx, "project", &digitalocean.ProjectArgs{
		Name:        pulumi.String(args.Names.of("")),
		Description: pulumi.String(fmt.Sprintf("Flavor Monk, stack %s", p.Stack)),
		Purpose:     pulumi.String("Web Application"),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	c.VPC, err = digitalocean.NewVpc(ctx, "vpc", &digitalocean.VpcArgs{
		Name:        pulumi.String(args.Names.of(p.Region)),
		Region:      pulumi.String(p.Region),
		IpRange:     pulumi.String(p.PrivateCIDR),
		Description: pulumi.String(fmt.Sprintf("Flavor Monk private network, stack %s", p.Stack)),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	return c, nil
}

// assign puts droplets and volumes (by URN) into the project and completes
// the component.
func (c *Network) assign(ctx *pulumi.Context, urns pulumi.StringArray) error {
	if _, err := digitalocean.NewProjectResources(ctx, "project-resources", &digitalocean.ProjectResourcesArgs{
		Project:   c.Project.ID(),
		Resources: urns,
	}, pulumi.Parent(c)); err != nil {
		return err
	}
	return ctx.RegisterResourceOutputs(c, pulumi.Map{
		"projectId": c.Project.ID(),
		"vpcId":     c.VPC.ID(),
	})
}

// Access is the stack's SSH keys and the tags that firewalls, the database
// firewalls and the load balancer select droplets by.
type Access struct {
	pulumi.ResourceState

	// SSHKeys are the keys' fingerprints, for droplets.
	SSHKeys pulumi.StringArray
	// AppTag is on every app droplet; ChromaTag on the Chroma droplet.
	AppTag    *digitalocean.Tag
	ChromaTag *digitalocean.Tag
}

type accessArgs struct {
	Plan  *plan.Plan
	Names names
}

func newAccess(ctx *pulumi.Context, name string, args *accessArgs) (*Access, error) {
	c := &Access{}
	if err := ctx.RegisterComponentResource("flavormonk:digitalocean:Access", name, c); err != nil {
		return nil, err
	}
	p := args.Plan
	seen := map[string]bool{}
	for _, pub := range p.SSHKeys {
		// Named by the key itself, so reordering the list changes nothing.
		id := keyID(pub)
		if seen[id] {
			continue // the same key listed twice (e.g. with another comment)
		}
		seen[id] = true
		k, err := digitalocean.NewSshKey(ctx, "ssh-"+id, &digitalocean.SshKeyArgs{
			Name:      pulumi.String(args.Names.of(id)),
			PublicKey: pulumi.String(pub),
		}, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		c.SSHKeys = append(c.SSHKeys, k.Fingerprint)
	}
	var err error
	c.AppTag, err = digitalocean.NewTag(ctx, "app-tag", &digitalocean.TagArgs{
		Name: pulumi.String(args.Names.of("app")),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	if p.Has(plan.RoleChroma) {
		c.ChromaTag, err = digitalocean.NewTag(ctx, "chroma-tag", &digitalocean.TagArgs{
			Name: pulumi.String(args.Names.of("chroma")),
		}, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
	}
	outs := pulumi.Map{"appTag": c.AppTag.Name, "sshKeys": c.SSHKeys}
	if c.ChromaTag != nil {
		outs["chromaTag"] = c.ChromaTag.Name
	}
	if err := ctx.RegisterResourceOutputs(c, outs); err != nil {
		return nil, err
	}
	return c, nil
}

// keyID is a short, stable identifier of an SSH public key (type and key
// material, not the comment).
func keyID(pub string) string {
	material := pub
	if f := strings.Fields(pub); len(f) >= 2 {
		material = f[0] + " " + f[1]
	}
	s := sha256.Sum256([]byte(material))
	return hex.EncodeToString(s[:4])
}
