package hetzner

import (
	"fmt"
	"net/netip"

	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumix"

	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
)

// serverIgnoreChanges are the server inputs Hetzner can only change by
// replacing the machine. They are set at creation and ignored afterwards
// (invariant 2), so neither a phase change nor a new cloud-init template,
// key list or OS image ever rebuilds a server. New settings reach running
// machines through the SSH rollout instead.
var serverIgnoreChanges = []string{"userData", "sshKeys", "image"}

type serverSpec struct {
	Name      string // logical name, phase-independent ("db", "app-1")
	Role      plan.Role
	Size      string // "" for the role's size
	PrivateIP netip.Addr
	Firewall  pulumi.IntOutput
	UserData  pulumi.StringInput
	Protect   bool
	Parent    pulumi.Resource
	DependsOn []pulumi.Resource
}

// server declares one machine on the stack's subnet with a fixed private
// address, the role's firewall from its creation on, and the role's size.
func (d *deployer) server(s serverSpec) (*hcloud.Server, stack.Host, error) {
	p := d.p
	deps := append([]pulumi.Resource{d.net.Subnet}, s.DependsOn...)
	size := s.Size
	if size == "" {
		size = p.Sizes[s.Role]
	}
	srv, err := hcloud.NewServer(d.ctx, s.Name, &hcloud.ServerArgs{
		Name:       pulumi.String(d.n.physical(s.Name)),
		ServerType: pulumi.String(size),
		Image:      pulumi.String(p.ServerImage),
		Location:   pulumi.String(p.Region),
		SshKeys:    d.access.KeyIDs,
		UserData:   s.UserData,
		// Attached at creation so the machine is never reachable unfiltered.
		FirewallIds: pulumi.IntArray{s.Firewall},
		Networks: hcloud.ServerNetworkTypeArray{hcloud.ServerNetworkTypeArgs{
			NetworkId: d.net.NetworkID,
			Ip:        pulumi.String(s.PrivateIP.String()),
		}},
		// Public addresses for egress (packages, images) and SSH; the
		// firewall decides what may come in.
		PublicNets: hcloud.ServerPublicNetArray{hcloud.ServerPublicNetArgs{
			Ipv4Enabled: pulumi.Bool(true),
			Ipv6Enabled: pulumi.Bool(true),
		}},
		// Resizing between phases keeps the original disk, so a stack can
		// move back to a smaller type (upgrade → mvp).
		KeepDisk: pulumi.Bool(true),
		Labels:   pulumi.ToStringMap(d.n.labels(string(s.Role))),
	},
		pulumi.Parent(s.Parent),
		pulumi.DependsOn(deps),
		pulumi.IgnoreChanges(serverIgnoreChanges),
		pulumi.Protect(s.Protect),
	)
	if err != nil {
		return nil, stack.Host{}, err
	}
	ip := s.PrivateIP.String()
	h := stack.Host{
		Name:     s.Name,
		Role:     s.Role,
		PublicIP: srv.Ipv4Address,
		// The address is fixed by the layout; deriving it from the server's
		// ID makes users of it wait for the machine.
		PrivateIP: srv.ID().ApplyT(func(pulumi.ID) string { return ip }).(pulumi.StringOutput),
		Resource:  srv,
	}
	return srv, h, nil
}

type volumeSpec struct {
	Name   string // logical name, phase-independent ("db-data")
	Role   string // label
	GB     int
	Server *hcloud.Server
	Parent pulumi.Resource
}

// dataVolume declares a volume that holds data: protected, retained when
// removed from the program, delete-protected at Hetzner, formatted ext4 and
// not automounted (cloud-init mounts it), attached by a separate
// attachment so the volume itself never depends on a server.
func (d *deployer) dataVolume(v volumeSpec) (*hcloud.Volume, error) {
	vol, err := hcloud.NewVolume(d.ctx, v.Name, &hcloud.VolumeArgs{
		Name:             pulumi.String(d.n.physical(v.Name)),
		Size:             pulumi.Int(v.GB),
		Location:         pulumi.String(d.p.Region),
		Format:           pulumi.String("ext4"),
		Automount:        pulumi.Bool(false),
		DeleteProtection: pulumi.Bool(true),
		Labels:           pulumi.ToStringMap(d.n.labels(v.Role)),
	}, pulumi.Parent(v.Parent), pulumi.Protect(true), pulumi.RetainOnDelete(true))
	if err != nil {
		return nil, err
	}
	return vol, nil
}

func (d *deployer) attach(v volumeSpec, vol *hcloud.Volume) (*hcloud.VolumeAttachment, error) {
	return hcloud.NewVolumeAttachment(d.ctx, v.Name+"-attachment", &hcloud.VolumeAttachmentArgs{
		VolumeId:  intID(d.ctx, vol.ID()),
		ServerId:  intID(d.ctx, v.Server.ID()),
		Automount: pulumi.Bool(false),
	}, pulumi.Parent(v.Parent))
}

// database is the `db` server with Postgres, its data volume and the
// volume the nightly dumps go to. The name "db" never depends on the phase.
type database struct {
	pulumi.ResourceState

	Server *hcloud.Server
	Host   stack.Host
	Data   *hcloud.Volume
	Backup *hcloud.Volume
}

func (d *deployer) newDatabase(name string) (*database, error) {
	c := &database{}
	if err := component(d.ctx, "Database", name, c); err != nil {
		return nil, err
	}
	var err error
	dataSpec := volumeSpec{Name: "db-data", Role: "db-data", GB: d.p.DBVolumeGB, Parent: c}
	backupSpec := volumeSpec{Name: "db-backup", Role: "db-backup", GB: d.p.BackupVolumeGB, Parent: c}
	if c.Data, err = d.dataVolume(dataSpec); err != nil {
		return nil, err
	}
	if c.Backup, err = d.dataVolume(backupSpec); err != nil {
		return nil, err
	}
	ud := pulumix.Cast[pulumi.StringOutput](pulumix.Apply2Err(intID(d.ctx, c.Data.ID()), intID(d.ctx, c.Backup.ID()), func(data, backup int) (string, error) {
		return d.userData(userDataSpec{
			Role:         plan.RoleDB,
			AllowFrom:    d.dataClients(),
			DataVolume:   data,
			BackupVolume: backup,
		})
	}))
	srv, h, err := d.server(serverSpec{
		Name: "db", Role: plan.RoleDB, PrivateIP: d.l.db, Firewall: d.access.DataID,
		UserData: ud, Protect: true, Parent: c,
	})
	if err != nil {
		return nil, err
	}
	c.Server, c.Host = srv, h
	dataSpec.Server, backupSpec.Server = srv, srv
	if _, err := d.attach(dataSpec, c.Data); err != nil {
		return nil, err
	}
	if _, err := d.attach(backupSpec, c.Backup); err != nil {
		return nil, err
	}
	return c, d.ctx.RegisterResourceOutputs(c, pulumi.Map{
		"privateIp": h.PrivateIP,
		"publicIp":  h.PublicIP,
	})
}

// app is the app servers: one in mvp (behind Caddy on the same VM),
// p.AppCount from upgrade on (behind the load balancer). app-1 is the same
// resource in every phase.
type app struct {
	pulumi.ResourceState

	Servers []*hcloud.Server
	Hosts   []stack.Host
}

func (d *deployer) newApp(name string) (*app, error) {
	c := &app{}
	if err := component(d.ctx, "App", name, c); err != nil {
		return nil, err
	}
	count := 1
	if d.p.Phase != plan.MVP {
		count = d.p.AppCount
	}
	// mvp: Caddy in front on the VM. upgrade: the app on its private
	// address :8080 for the load balancer.
	spec := userDataSpec{Role: plan.RoleApp, Caddy: d.p.Phase == plan.MVP}
	ud, err := d.userData(spec)
	if err != nil {
		return nil, err
	}
	ips := pulumi.Map{}
	for i := 1; i <= count; i++ {
		n := fmt.Sprintf("app-%d", i)
		srv, h, err := d.server(serverSpec{
			Name: n, Role: plan.RoleApp, Size: d.p.AppSize(n), PrivateIP: d.l.app(i), Firewall: d.access.AppID,
			UserData: pulumi.String(ud), Parent: c,
		})
		if err != nil {
			return nil, err
		}
		c.Servers = append(c.Servers, srv)
		c.Hosts = append(c.Hosts, h)
		ips[n] = h.PublicIP
	}
	return c, d.ctx.RegisterResourceOutputs(c, pulumi.Map{"publicIps": ips})
}

// cache is the Redis server (upgrade): password required (delivered over
// SSH by the rollout, never in user data), reachable from the app range only.
type cache struct {
	pulumi.ResourceState

	Server *hcloud.Server
	Host   stack.Host
	// Replica is redis-2 in scale (a replica of Host, promoted by Sentinel
	// when the primary fails); zero before.
	Replica stack.Host
}

func (d *deployer) newRedis(name string) (*cache, error) {
	c := &cache{}
	if err := component(d.ctx, "Cache", name, c); err != nil {
		return nil, err
	}
	allow := d.dataClients()
	if d.p.Phase == plan.Scale {
		allow = append(allow, d.l.redis.String(), d.l.redis2.String())
	}
	ud, err := d.userData(userDataSpec{Role: plan.RoleRedis, AllowFrom: allow})
	if err != nil {
		return nil, err
	}
	srv, h, err := d.server(serverSpec{
		Name: "redis", Role: plan.RoleRedis, PrivateIP: d.l.redis, Firewall: d.access.DataID,
		UserData: pulumi.String(ud), Parent: c,
	})
	if err != nil {
		return nil, err
	}
	c.Server, c.Host = srv, h
	if d.p.Phase == plan.Scale {
		if _, c.Replica, err = d.server(serverSpec{
			Name: replicaName(1), Role: plan.RoleRedis, PrivateIP: d.l.redis2, Firewall: d.access.DataID,
			UserData: pulumi.String(ud), Parent: c,
		}); err != nil {
			return nil, err
		}
	}
	return c, d.ctx.RegisterResourceOutputs(c, pulumi.Map{"privateIp": h.PrivateIP})
}

// vectorStore is the ChromaDB server (upgrade) with its data on a
// protected, retained volume. Chroma has no usable auth of its own: the
// host's nftables admit the app range alone.
type vectorStore struct {
	pulumi.ResourceState

	Server *hcloud.Server
	Host   stack.Host
	Data   *hcloud.Volume
}

// newChroma declares the vector-store volume in every phase — it must
// outlive a move back to mvp, where Pulumi could not delete it anyway (it
// is protected) — and the server that mounts it only when the phase has one.
func (d *deployer) newChroma(name string, withServer bool) (*vectorStore, error) {
	c := &vectorStore{}
	if err := component(d.ctx, "VectorStore", name, c); err != nil {
		return nil, err
	}
	dataSpec := volumeSpec{Name: "chroma-data", Role: "chroma-data", GB: d.p.ChromaVolumeGB, Parent: c}
	var err error
	if c.Data, err = d.dataVolume(dataSpec); err != nil {
		return nil, err
	}
	if !withServer {
		return c, d.ctx.RegisterResourceOutputs(c, pulumi.Map{"volumeId": c.Data.ID()})
	}
	ud := intID(d.ctx, c.Data.ID()).ApplyT(func(id int) (string, error) {
		return d.userData(userDataSpec{
			Role:       plan.RoleChroma,
			AllowFrom:  d.dataClients(),
			DataVolume: id,
		})
	}).(pulumi.StringOutput)
	srv, h, err := d.server(serverSpec{
		Name: "chroma", Role: plan.RoleChroma, PrivateIP: d.l.chroma, Firewall: d.access.DataID,
		UserData: ud, Parent: c,
	})
	if err != nil {
		return nil, err
	}
	c.Server, c.Host = srv, h
	dataSpec.Server = srv
	if _, err := d.attach(dataSpec, c.Data); err != nil {
		return nil, err
	}
	return c, d.ctx.RegisterResourceOutputs(c, pulumi.Map{"privateIp": h.PrivateIP})
}
