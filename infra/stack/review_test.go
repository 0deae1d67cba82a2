package stack_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/plan"
)

// Hetzner scale: each pod's Postgres pool is sized so that podsMax pods,
// one surge pod and the reserve (admin, backups, the migration Job) stay
// within the db server's max_connections.
func TestHetznerScalePostgresConns(t *testing.T) {
	for podsMax, want := range map[string]int{"10": 8, "20": 4, "44": 2} {
		cfg := config("hetzner", "scale")
		cfg["flavormonk:podsMax"] = podsMax
		r := runStack(t, cfg)
		env := strings.Join(r.env, "\n")
		line := "FLAVORMONK_POSTGRES_MAX_CONNS=" + itoa(want)
		if !strings.Contains(env, line) {
			t.Errorf("podsMax %s: env lacks %s", podsMax, line)
		}
		var pods int
		_ = json.Unmarshal([]byte(podsMax), &pods)
		if (pods+1)*want+plan.PostgresReserve > plan.PostgresMaxConnections {
			t.Errorf("podsMax %s: %d connections per pod exceed max_connections", podsMax, want)
		}
	}
}

// The db server states the max_connections the pods' pools are sized from.
func TestHetznerDBStatesMaxConnections(t *testing.T) {
	c := runStack(t, config("hetzner", "scale")).capture
	db, ok := c.Find("hcloud:index/server:Server", "db")
	if !ok {
		t.Fatal("no db server")
	}
	if want := "max_connections = " + itoa(plan.PostgresMaxConnections); !strings.Contains(db.Inputs["userData"].StringValue(), want) {
		t.Errorf("db user data lacks %q", want)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// DigitalOcean scale: the database, cache and Chroma firewalls admit the
// cluster and still the app droplets' tag, so the upgrade droplets keep
// working until they are gone.
func TestDigitalOceanScaleFirewallsKeepAppTag(t *testing.T) {
	c := runStack(t, config("digitalocean", "scale")).capture
	for _, name := range []string{"db-firewall", "cache-firewall"} {
		fw, ok := c.Find("digitalocean:index/databaseFirewall:DatabaseFirewall", name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		b, _ := json.Marshal(mockrun.PlainMap(fw.Inputs, false)["rules"])
		s := string(b)
		if !strings.Contains(s, `"type":"k8s"`) || !strings.Contains(s, `"type":"tag"`) {
			t.Errorf("%s rules %s: want both the k8s and the app tag rule", name, s)
		}
	}
	fw, ok := c.Find("digitalocean:index/firewall:Firewall", "chroma-firewall")
	if !ok {
		t.Fatal("no chroma-firewall")
	}
	found := false
	for _, rule := range mockrun.PlainMap(fw.Inputs, false)["inboundRules"].([]any) {
		m := rule.(map[string]any)
		if m["portRange"] != "8000" {
			continue
		}
		found = true
		tags, _ := m["sourceTags"].([]any)
		kids, _ := m["sourceKubernetesIds"].([]any)
		if len(tags) == 0 || len(kids) == 0 {
			t.Errorf("chroma rule %v: want the app tag and the cluster", m)
		}
	}
	if !found {
		t.Error("no chroma port rule")
	}
}

// Hetzner scale: the migration Job and the Sentinels wait for the data
// hosts to admit the cluster range (the allow-* commands).
func TestHetznerScaleWaitsForAllow(t *testing.T) {
	c := runStack(t, config("hetzner", "scale")).capture
	job, ok := c.Find("kubernetes:batch/v1:Job", "migrate")
	if !ok {
		t.Fatal("no migrate Job")
	}
	sen, ok := c.Find("kubernetes:apps/v1:Deployment", "sentinel")
	if !ok {
		t.Fatal("no sentinel Deployment")
	}
	for _, name := range []string{"allow-db", "allow-redis", "allow-redis-2", "allow-chroma"} {
		allow, ok := c.Find("command:remote:Command", name)
		if !ok {
			t.Fatalf("no %s", name)
		}
		if !job.DependsOnResource(allow) || !sen.DependsOnResource(allow) {
			t.Errorf("%s: the Job (%v) or the Sentinels (%v) do not wait for it", name, job.DependsOnResource(allow), sen.DependsOnResource(allow))
		}
	}
}

// Hetzner: the load balancer's service switches port only once what it
// will point at serves: the app Deployment in scale, the deploy commands
// in upgrade.
func TestHetznerLBServiceWaitsForApp(t *testing.T) {
	c := runStack(t, config("hetzner", "scale")).capture
	svc, ok := c.Find("hcloud:index/loadBalancerService:LoadBalancerService", "lb-http")
	if !ok {
		t.Fatal("no lb-http in scale")
	}
	dep, _ := c.Find("kubernetes:apps/v1:Deployment", "app")
	if !svc.DependsOnResource(dep) {
		t.Errorf("scale: lb-http does not wait for the app Deployment: %v", svc.DependsOn)
	}
	c = runStack(t, config("hetzner", "upgrade")).capture
	svc, ok = c.Find("hcloud:index/loadBalancerService:LoadBalancerService", "lb-http")
	if !ok {
		t.Fatal("no lb-http in upgrade")
	}
	deploys := 0
	for _, r := range c.ByType("command:remote:Command") {
		if strings.HasPrefix(r.Name, "deploy-") {
			deploys++
			if !svc.DependsOnResource(r) {
				t.Errorf("upgrade: lb-http does not wait for %s", r.Name)
			}
		}
	}
	if deploys == 0 {
		t.Error("no deploy commands in upgrade")
	}
}

// Hetzner Redis: outside scale the setup step makes "redis" a primary again
// (a Sentinel failover may have left it a replica of the deleted redis-2)
// and persists that; the phase is among its triggers so moving back from
// scale re-runs it. In scale Sentinel owns the roles.
func TestHetznerRedisSetupPromotesOutsideScale(t *testing.T) {
	for _, phase := range []string{"upgrade", "scale"} {
		c := runStack(t, config("hetzner", phase)).capture
		r, ok := c.Find("command:remote:Command", "redis-setup")
		if !ok {
			t.Fatalf("%s: no redis-setup", phase)
		}
		create := r.Inputs["create"].StringValue()
		promotes := strings.Contains(create, "REPLICAOF NO ONE") && strings.Contains(create, "CONFIG REWRITE")
		if promotes != (phase != "scale") {
			t.Errorf("%s: redis-setup promotes=%v: %s", phase, promotes, create)
		}
		trig, _ := json.Marshal(mockrun.Plain(r.Inputs["triggers"], true))
		if !strings.Contains(string(trig), `"`+phase+`"`) {
			t.Errorf("%s: redis-setup triggers %s lack the phase", phase, trig)
		}
		if strings.Contains(create, "mock-random") {
			t.Errorf("%s: the Redis password is in the command line", phase)
		}
	}
}

// Hetzner 3 → 1 control planes: each joined server leaves the cluster
// (its node, hence its etcd member, deleted from server 1) before the
// server goes, the last joined first.
func TestHetznerServersLeaveBeforeDeletion(t *testing.T) {
	cfg := config("hetzner", "scale")
	cfg["flavormonk:controlPlanes"] = "3"
	c := runStack(t, cfg).capture
	s1, _ := c.Find("hcloud:index/server:Server", "k3s-server-1")
	var leaves []mockrun.Resource
	for _, i := range []string{"2", "3"} {
		l, ok := c.Find("command:remote:Command", "k3s-leave-k3s-server-"+i)
		if !ok {
			t.Fatalf("no leave step for k3s-server-%s", i)
		}
		srv, _ := c.Find("hcloud:index/server:Server", "k3s-server-"+i)
		name := mockrun.PlainMap(srv.Inputs, false)["name"].(string)
		del := l.Inputs["delete"].StringValue()
		if !strings.Contains(del, "k3s kubectl delete node "+name+" ") {
			t.Errorf("k3s-server-%s leave step: %s", i, del)
		}
		if !l.DependsOnResource(srv) || !l.DependsOnResource(s1) {
			t.Errorf("k3s-server-%s: the leave step is not deleted before the servers", i)
		}
		// It runs on server 1 (the same host as server 1's start step).
		host := func(r mockrun.Resource) any {
			return mockrun.PlainMap(r.Inputs, false)["connection"].(map[string]any)["host"]
		}
		start1, _ := c.Find("command:remote:Command", "k3s-start-k3s-server-1")
		if h, ok := host(l).(string); !ok || !strings.HasPrefix(h, "203.0.113.") || host(l) != host(start1) {
			t.Errorf("k3s-server-%s leave step runs on %v, not server 1 (%v)", i, host(l), host(start1))
		}
		leaves = append(leaves, l)
	}
	if !leaves[1].DependsOnResource(leaves[0]) {
		t.Error("the servers do not leave one at a time")
	}
	// Server 1 never leaves; with one control plane there is no leave step.
	if _, ok := c.Find("command:remote:Command", "k3s-leave-k3s-server-1"); ok {
		t.Error("k3s-server-1 has a leave step")
	}
	c = runStack(t, config("hetzner", "scale")).capture
	for _, r := range c.ByType("command:remote:Command") {
		if strings.HasPrefix(r.Name, "k3s-leave-") {
			t.Errorf("%s with one control plane", r.Name)
		}
	}
}
