package digitalocean

import (
	"fmt"
	"net/url"

	"github.com/pulumi/pulumi-digitalocean/sdk/v4/go/digitalocean"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumix"

	"github.com/flavormonk/flavormonk/infra/plan"
)

// Names of the app's Postgres database and role.
const (
	DatabaseName = "flavormonk"
	DatabaseUser = "flavormonk"
)

// Postgres is the managed Postgres cluster, the app's database and role,
// and the database firewall.
type Postgres struct {
	pulumi.ResourceState

	Cluster *digitalocean.DatabaseCluster
	// URL is the app's connection string on the private host, TLS required (secret).
	URL pulumi.StringOutput
	// PoolURL is the transaction pool's connection string (scale; secret).
	PoolURL pulumi.StringOutput
}

type postgresArgs struct {
	Plan    *plan.Plan
	Names   names
	Network *Network
	Access  *Access
	// Cluster is the scale phase's DOKS cluster (nil before): the firewall
	// admits it besides the app tag, and the pods use a connection pool.
	Cluster *Cluster
}

// nodeCount is 2 in scale (a standby node that takes over on failure) and
// 1 before; changing it resizes the cluster in place.
func nodeCount(p *plan.Plan) int {
	if p.Phase == plan.Scale {
		return 2
	}
	return 1
}

// firewallRules admit the app droplets (tag rule) and, in scale, the DOKS
// cluster too (rule type k8s); never single addresses, never the world.
//
// The app tag stays in scale: moving upgrade → scale, this firewall changes
// as soon as the cluster exists, while the upgrade droplets still serve
// until the app runs in the cluster and they are deleted (deletes come last
// in an update). Dropping their rule first would cut them off before the
// pods serve. In scale no droplet carries the app tag, so the rule admits
// nothing extra. Moving back (scale → upgrade) the k8s rule goes in the same
// update that creates the droplets, so the pods lose the database before
// the droplets serve: README, "Moving back from scale", gives the order.
func firewallRules(a *Access, k *Cluster) digitalocean.DatabaseFirewallRuleArray {
	rules := tagRule(a.AppTag)
	if k != nil {
		rules = append(rules, digitalocean.DatabaseFirewallRuleArgs{Type: pulumi.String("k8s"), Value: k.Cluster.ID().ToStringOutput()})
	}
	return rules
}

func newPostgres(ctx *pulumi.Context, name string, args *postgresArgs) (*Postgres, error) {
	c := &Postgres{}
	if err := ctx.RegisterComponentResource("flavormonk:digitalocean:Postgres", name, c); err != nil {
		return nil, err
	}
	p := args.Plan
	var err error
	// Invariant 1 and 2: logical name, cluster name, engine, VPC and project
	// never depend on the phase; only size (an in-place resize) does.
	c.Cluster, err = digitalocean.NewDatabaseCluster(ctx, "db", &digitalocean.DatabaseClusterArgs{
		Name:               pulumi.String(args.Names.of("pg")),
		Engine:             pulumi.String("pg"),
		Version:            pulumi.String("16"),
		Size:               pulumi.String(p.Sizes[plan.RoleDB]),
		NodeCount:          pulumi.Int(nodeCount(p)),
		Region:             pulumi.String(p.Region),
		PrivateNetworkUuid: args.Network.VPC.ID(),
		ProjectId:          args.Network.Project.ID(),
	}, pulumi.Parent(c), pulumi.Protect(true))
	if err != nil {
		return nil, err
	}
	db, err := digitalocean.NewDatabaseDb(ctx, DatabaseName, &digitalocean.DatabaseDbArgs{
		ClusterId: c.Cluster.ID(),
		Name:      pulumi.String(DatabaseName),
	}, pulumi.Parent(c), pulumi.Protect(true)) // dropping it drops the data
	if err != nil {
		return nil, err
	}
	user, err := digitalocean.NewDatabaseUser(ctx, DatabaseUser, &digitalocean.DatabaseUserArgs{
		ClusterId: c.Cluster.ID(),
		Name:      pulumi.String(DatabaseUser),
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	// Invariant 3: only the app's droplets (or, in scale, the cluster's
	// nodes) reach the database.
	if _, err := digitalocean.NewDatabaseFirewall(ctx, "db-firewall", &digitalocean.DatabaseFirewallArgs{
		ClusterId: c.Cluster.ID(),
		Rules:     firewallRules(args.Access, args.Cluster),
	}, pulumi.Parent(c)); err != nil {
		return nil, err
	}
	if args.Cluster != nil {
		// Many pods, few backends: the smallest plans allow ~22–47
		// connections, so the pods share a transaction-mode pool (PgBouncer).
		pool, err := digitalocean.NewDatabaseConnectionPool(ctx, "db-pool", &digitalocean.DatabaseConnectionPoolArgs{
			ClusterId: c.Cluster.ID(),
			Name:      pulumi.String(DatabaseName + "-pool"),
			Mode:      pulumi.String("transaction"),
			Size:      pulumi.Int(p.Cluster.DBPoolSize),
			DbName:    db.Name,
			User:      user.Name,
		}, pulumi.Parent(c))
		if err != nil {
			return nil, err
		}
		c.PoolURL = connectionURL(user, pool.PrivateHost, pool.Port, pool.Name, true)
	}
	c.URL = connectionURL(user, c.Cluster.PrivateHost, c.Cluster.Port, db.Name, false)

	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"clusterId": c.Cluster.ID(), "privateHost": c.Cluster.PrivateHost}); err != nil {
		return nil, err
	}
	return c, nil
}

// connectionURL is the user's postgresURL to a host (the cluster or its
// pool), as a secret.
func connectionURL(user *digitalocean.DatabaseUser, host pulumi.StringOutput, port pulumi.IntOutput, database pulumi.StringOutput, pooled bool) pulumi.StringOutput {
	u := pulumix.Apply5(user.Name, user.Password, host, port, database, func(name, password, host string, port int, database string) string {
		return postgresURL(postgresURLArgs{User: name, Password: password, Host: host, Port: port, Database: database, Pooled: pooled})
	})
	return pulumi.ToSecret(pulumix.Cast[pulumi.StringOutput](u)).(pulumi.StringOutput)
}

type postgresURLArgs struct {
	User, Password, Host, Database string
	Port                           int
	// Pooled: the URL goes through PgBouncer in transaction mode, where a
	// prepared statement made on one backend is unknown to the next, so the
	// app (pgx) uses unnamed statements and caches only their descriptions.
	Pooled bool
}

// postgresURL is the app's connection string; DigitalOcean's managed
// Postgres accepts TLS connections only.
func postgresURL(a postgresURLArgs) string {
	return (&url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(a.User, a.Password),
		Host:     fmt.Sprintf("%s:%d", a.Host, a.Port),
		Path:     "/" + a.Database,
		RawQuery: poolQuery(a.Pooled),
	}).String()
}

// tagRule is a database firewall admitting the droplets with a tag.
func tagRule(tag *digitalocean.Tag) digitalocean.DatabaseFirewallRuleArray {
	return digitalocean.DatabaseFirewallRuleArray{
		digitalocean.DatabaseFirewallRuleArgs{Type: pulumi.String("tag"), Value: tag.Name},
	}
}

// Valkey is the managed Valkey cluster (the app's Redis) and its firewall.
type Valkey struct {
	pulumi.ResourceState

	Cluster *digitalocean.DatabaseCluster
	// Addr is "privateHost:port"; the cluster accepts TLS only.
	Addr pulumi.StringOutput
	// Password is the cluster's default user's password (secret).
	Password pulumi.StringOutput
}

type valkeyArgs struct {
	Plan    *plan.Plan
	Names   names
	Network *Network
	Access  *Access
	Cluster *Cluster // scale: admit the DOKS cluster
}

func newValkey(ctx *pulumi.Context, name string, args *valkeyArgs) (*Valkey, error) {
	c := &Valkey{}
	if err := ctx.RegisterComponentResource("flavormonk:digitalocean:Valkey", name, c); err != nil {
		return nil, err
	}
	p := args.Plan
	var err error
	c.Cluster, err = digitalocean.NewDatabaseCluster(ctx, "cache", &digitalocean.DatabaseClusterArgs{
		Name:               pulumi.String(args.Names.of("valkey")),
		Engine:             pulumi.String("valkey"),
		Version:            pulumi.String("8"),
		Size:               pulumi.String(p.Sizes[plan.RoleRedis]),
		NodeCount:          pulumi.Int(nodeCount(p)), // scale: a standby node
		Region:             pulumi.String(p.Region),
		PrivateNetworkUuid: args.Network.VPC.ID(),
		ProjectId:          args.Network.Project.ID(),
		EvictionPolicy:     pulumi.String("allkeys_lru"),
	},
		// Protected, though it is a cache: replacing it would wipe the
		// shared rate-limit counters and every cached answer at once, under
		// a new host and password. Moving back to mvp stops at it until an
		// operator unprotects it on purpose (the transition check says so).
		pulumi.Parent(c), pulumi.Protect(true))
	if err != nil {
		return nil, err
	}
	if _, err := digitalocean.NewDatabaseFirewall(ctx, "cache-firewall", &digitalocean.DatabaseFirewallArgs{
		ClusterId: c.Cluster.ID(),
		Rules:     firewallRules(args.Access, args.Cluster),
	}, pulumi.Parent(c)); err != nil {
		return nil, err
	}
	c.Addr = pulumi.Sprintf("%s:%d", c.Cluster.PrivateHost, c.Cluster.Port)
	c.Password = pulumi.ToSecret(c.Cluster.Password).(pulumi.StringOutput)
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"clusterId": c.Cluster.ID(), "addr": c.Addr}); err != nil {
		return nil, err
	}
	return c, nil
}

func poolQuery(pooled bool) string {
	if pooled {
		return "sslmode=require&default_query_exec_mode=cache_describe"
	}
	return "sslmode=require"
}
