package transition

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/flavormonk/flavormonk/infra/mockrun"
)

func res(typ, name string, in map[string]any) mockrun.Resource {
	return mockrun.Resource{Type: typ, Name: name, URN: "urn:pulumi:stack::flavormonk::" + typ + "::" + name,
		Inputs: resource.NewPropertyMapFromMap(in), Protect: true}
}

const (
	tDB     = "digitalocean:index/databaseCluster:DatabaseCluster"
	tDBName = "digitalocean:index/databaseDb:DatabaseDb"
)

func capture(rs ...mockrun.Resource) *mockrun.Capture { return &mockrun.Capture{Resources: rs} }

func TestDatabaseDbIsStateful(t *testing.T) {
	db := res(tDBName, "flavormonk", map[string]any{"clusterId": "db-id", "name": "flavormonk"})
	if !IsStateful(db) {
		t.Fatal("DatabaseDb is not stateful")
	}
	renamed := res(tDBName, "flavormonk", map[string]any{"clusterId": "db-id", "name": "other"})
	rep := Check(capture(db), capture(renamed))
	if rep.OK() || rep.Problems[0].Input != "name" {
		t.Errorf("a renamed database: %v", rep.Problems)
	}
	moved := res(tDBName, "flavormonk", map[string]any{"clusterId": "other-id", "name": "flavormonk"})
	if rep := Check(capture(db), capture(moved)); rep.OK() || rep.Problems[0].Input != "clusterId" {
		t.Errorf("a database on another cluster: %v", rep.Problems)
	}
	if rep := Check(capture(db), capture()); rep.OK() {
		t.Error("a deleted database was not flagged")
	}
}

func TestDatabaseShrinkFlagged(t *testing.T) {
	in := func(size string) map[string]any {
		return map[string]any{"name": "fm-pg", "engine": "pg", "region": "fra1", "size": size}
	}
	big, small := res(tDB, "db", in("db-s-1vcpu-2gb")), res(tDB, "db", in("db-s-1vcpu-1gb"))
	rep := Check(capture(big), capture(small))
	if rep.OK() {
		t.Fatal("shrinking the database was not flagged")
	}
	msg := rep.Problems[0].String()
	for _, want := range []string{"db-s-1vcpu-2gb", "db-s-1vcpu-1gb", "cannot shrink", "sizes"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if rep := Check(capture(small), capture(big)); !rep.OK() {
		t.Errorf("growing the database: %v", rep.Problems)
	}
	if rep := Check(capture(big), capture(big)); !rep.OK() {
		t.Errorf("same size: %v", rep.Problems)
	}
	// A storage size set explicitly may not shrink either.
	a, b := in("db-s-2vcpu-4gb"), in("db-s-2vcpu-4gb")
	a["storageSizeMib"], b["storageSizeMib"] = 61440.0, 40960.0
	if rep := Check(capture(res(tDB, "db", a)), capture(res(tDB, "db", b))); rep.OK() {
		t.Error("a smaller storageSizeMib was not flagged")
	}
	// The cache cluster is not stateful: it may shrink.
	if rep := Check(capture(res(tDB, "cache", in("db-s-1vcpu-2gb"))), capture(res(tDB, "cache", in("db-s-1vcpu-1gb")))); !rep.OK() {
		t.Errorf("the cache: %v", rep.Problems)
	}
}

// A protected resource that holds no data of record (DigitalOcean's
// managed Valkey, "cache") is not stateful, but Pulumi refuses to delete
// it and its protection is meant to prevent a replacement: both are
// reported. An unprotected one comes and goes freely.
func TestProtectedCacheReported(t *testing.T) {
	in := map[string]any{"name": "fm-valkey", "engine": "valkey", "region": "fra1", "size": "db-s-1vcpu-1gb"}
	cache := res(tDB, "cache", in)
	if IsStateful(cache) {
		t.Fatal("the cache counts as stateful")
	}
	rep := Check(capture(cache), capture())
	if rep.OK() || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0].String(), "protected, so `pulumi up` stops before deleting it") ||
		!strings.Contains(rep.Problems[0].String(), "pulumi state unprotect --stack stack '"+cache.URN+"'") ||
		!rep.Problems[0].Dropped || len(rep.AtRisk()) != 0 || len(rep.Dropped()) != 1 {
		t.Fatalf("removing the protected cache: %v", rep.Problems)
	}
	moved := res(tDB, "cache", map[string]any{"name": "fm-valkey", "engine": "valkey", "region": "ams3", "size": "db-s-1vcpu-1gb"})
	if rep := Check(capture(cache), capture(moved)); rep.OK() || rep.Problems[0].Input != "region" {
		t.Fatalf("replacing the protected cache: %v", rep.Problems)
	}
	if rep := Check(capture(), capture(cache)); !rep.OK() {
		t.Fatalf("adding the cache: %v", rep.Problems)
	}
	cache.Protect, moved.Protect = false, false
	if rep := Check(capture(cache), capture()); !rep.OK() {
		t.Fatalf("removing an unprotected cache: %v", rep.Problems)
	}
	if rep := Check(capture(cache), capture(moved)); !rep.OK() {
		t.Fatalf("replacing an unprotected cache: %v", rep.Problems)
	}
}

// TestServerImageNote: a serverImage change under the Hetzner db server is
// no replacement (image is ignored after creation) but is reported, with
// both PostgreSQL majors and the runbook, when the major differs.
func TestServerImageNote(t *testing.T) {
	const tServer = "hcloud:index/server:Server"
	db := func(image string) mockrun.Resource {
		r := res(tServer, "db", map[string]any{"image": image, "location": "fsn1"})
		r.IgnoreChanges = []string{"userData", "sshKeys", "image"}
		return r
	}
	rep := Check(capture(db("debian-12")), capture(db("debian-13")))
	if !rep.OK() {
		t.Errorf("an ignored image change flagged as a replacement: %v", rep.Problems)
	}
	if len(rep.Notes) != 1 {
		t.Fatalf("notes %q, want one", rep.Notes)
	}
	for _, want := range []string{"debian-12 → debian-13", "PostgreSQL 15", "PostgreSQL 17", "not replaced", "data volume survives", "Changing serverImage on a stack with data"} {
		if !strings.Contains(rep.Notes[0], want) {
			t.Errorf("note lacks %q: %s", want, rep.Notes[0])
		}
	}
	var out strings.Builder
	rep.Write(&out)
	if !strings.Contains(out.String(), "NOTE: ") {
		t.Errorf("report does not print the note:\n%s", out.String())
	}
	if rep := Check(capture(db("debian-12")), capture(db("debian-12"))); len(rep.Notes) != 0 {
		t.Errorf("no change, notes %q", rep.Notes)
	}
	app := res(tServer, "app-1", map[string]any{"image": "debian-12"})
	app2 := res(tServer, "app-1", map[string]any{"image": "debian-13"})
	if rep := Check(capture(app), capture(app2)); len(rep.Notes) != 0 {
		t.Errorf("an app server's image: notes %q", rep.Notes)
	}
}
