package plan

import (
	"errors"
	"strings"
	"testing"
)

// On Hetzner the pods share the db server's max_connections: podsMax must
// leave each pod at least two connections, and the error names podsMax.
func TestHetznerPodsMaxLeavesConnections(t *testing.T) {
	m := base("hetzner")
	m["phase"] = "scale"
	m["podsMax"] = "44"
	p, err := compile(m)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Cluster.PodPostgresConns(); got != 2 {
		t.Errorf("podsMax 44: %d connections per pod, want 2", got)
	}
	m["podsMax"] = "45"
	_, err = compile(m)
	var pe *Error
	if !errors.As(err, &pe) || pe.Key != "podsMax" || !strings.Contains(err.Error(), "max_connections") {
		t.Fatalf("podsMax 45: %v", err)
	}
	// DigitalOcean: the pods share the transaction pool instead.
	m = base("digitalocean")
	m["phase"] = "scale"
	m["podsMax"] = "100"
	if _, err := compile(m); err != nil {
		t.Fatalf("digitalocean podsMax 100: %v", err)
	}
}

// DigitalOcean scale: the pool's backends and the migration Job's direct
// connections fit the Postgres plan's connection limit.
func TestDigitalOceanPoolFitsPlan(t *testing.T) {
	m := base("digitalocean")
	m["phase"] = "scale"
	m["dbPoolSize"] = "42" // db-s-1vcpu-2gb: 47 connections
	if _, err := compile(m); err != nil {
		t.Fatalf("dbPoolSize 42: %v", err)
	}
	m["dbPoolSize"] = "43"
	_, err := compile(m)
	var pe *Error
	if !errors.As(err, &pe) || pe.Key != "dbPoolSize" || !strings.Contains(err.Error(), "db-s-1vcpu-2gb") || !strings.Contains(err.Error(), "at most 42") {
		t.Fatalf("dbPoolSize 43: %v", err)
	}
	m["sizes"] = `{"scale": {"db": "db-s-2vcpu-4gb"}}`
	if _, err := compile(m); err != nil {
		t.Fatalf("dbPoolSize 43 on db-s-2vcpu-4gb: %v", err)
	}
}
