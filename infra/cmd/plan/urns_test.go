package main

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
	"github.com/flavormonk/flavormonk/infra/wiring"
)

var (
	update          = flag.Bool("update", false, "rewrite testdata/urns/*.txt")
	allowURNRemoval = flag.Bool("allow-urn-removal", false, "with -update: let a URN leave its golden though no resource declares an alias to it (a resource deleted on purpose)")
)

// urnCase is one run of the program whose URNs are kept in a golden file.
type urnCase struct {
	name  string // golden file name, without .txt
	stack string // Pulumi.<stack>.yaml in the repository root
	cloud string
	phase string
	// extra config (keys without the namespace) and the extra secret keys.
	extra   map[string]string
	secrets []string
}

// urnCases: every committed stack in every cloud × phase, and the
// variants that declare resources the committed stacks do not (a domain
// on Hetzner, an uploaded certificate, three control planes, S3 backups, a
// private registry).
func urnCases(t *testing.T) []urnCase {
	t.Helper()
	files, err := filepath.Glob("../../../Pulumi.*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no stack files (%v)", err)
	}
	var cases []urnCase
	for _, f := range files {
		s := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		for _, c := range []string{"hetzner", "digitalocean"} {
			for _, ph := range []string{"mvp", "upgrade", "scale"} {
				cases = append(cases, urnCase{name: s + "-" + c + "-" + ph, stack: s, cloud: c, phase: ph})
			}
		}
	}
	domain := map[string]string{"domain": "recipes.example.com"}
	for _, ph := range []string{"mvp", "upgrade", "scale"} {
		cases = append(cases, urnCase{name: "dev-hetzner-" + ph + "-domain", stack: "dev", cloud: "hetzner", phase: ph, extra: domain})
	}
	// An uploaded certificate makes lb-certificate an uploaded one (another
	// resource type) where the load balancer terminates TLS.
	uploadedTLS := map[string]string{"domain": "recipes.example.com", "tlsCertificate": "CERT", "tlsPrivateKey": "KEY"}
	for _, ph := range []string{"upgrade", "scale"} {
		cases = append(cases, urnCase{name: "dev-hetzner-" + ph + "-uploaded-tls", stack: "dev", cloud: "hetzner", phase: ph,
			extra: uploadedTLS, secrets: []string{"tlsCertificate", "tlsPrivateKey"}})
	}
	s3Backup := map[string]string{"backupS3Endpoint": "https://s3.example.com", "backupS3Bucket": "dumps",
		"backupS3AccessKey": "ACCESS", "backupS3SecretKey": "SECRET"}
	for _, ph := range []string{"mvp", "upgrade", "scale"} {
		cases = append(cases, urnCase{name: "dev-hetzner-" + ph + "-s3-backup", stack: "dev", cloud: "hetzner", phase: ph,
			extra: s3Backup, secrets: []string{"backupS3AccessKey", "backupS3SecretKey"}})
	}
	// A private registry adds a login command per app server, and in
	// scale the cluster's pull secret.
	registry := map[string]string{"registry": `{"server": "ghcr.io", "username": "acme-bot"}`, "registryPassword": "TOKEN"}
	for _, c := range []struct{ stack, cloud string }{{"dev", "hetzner"}, {"prod", "digitalocean"}} {
		for _, ph := range []string{"mvp", "upgrade", "scale"} {
			cases = append(cases, urnCase{name: c.stack + "-" + c.cloud + "-" + ph + "-registry", stack: c.stack, cloud: c.cloud, phase: ph,
				extra: registry, secrets: []string{"registryPassword"}})
		}
	}
	cases = append(cases,
		urnCase{name: "dev-hetzner-scale-3-servers", stack: "dev", cloud: "hetzner", phase: "scale",
			extra: map[string]string{"controlPlanes": "3"}},
		urnCase{name: "prod-digitalocean-upgrade-no-domain", stack: "prod", cloud: "digitalocean", phase: "upgrade",
			extra: map[string]string{"domain": "", "dnsZone": ""}},
	)
	return cases
}

// urns runs the program for a case as the offline plan does and returns
// what it declared.
func urns(t *testing.T, c urnCase) *mockrun.Capture {
	t.Helper()
	cfg, secrets, err := readStack(filepath.Join("../../..", "Pulumi."+c.stack+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg[plan.Namespace+":cloud"] != c.cloud {
		// As -cloud does: the other cloud's region, image and sizes.
		for _, k := range []string{"region", "serverImage", "sizes", "dnsZone"} {
			delete(cfg, plan.Namespace+":"+k)
		}
	}
	cfg[plan.Namespace+":cloud"] = c.cloud
	cfg[plan.Namespace+":phase"] = c.phase
	for k, v := range c.extra {
		if v == "" {
			delete(cfg, plan.Namespace+":"+k)
			continue
		}
		cfg[plan.Namespace+":"+k] = v
	}
	for _, k := range c.secrets {
		secrets = append(secrets, plan.Namespace+":"+k)
	}
	capture, err := mockrun.Run(stack.Program(wiring.Clouds(), nil), mockrun.Options{Stack: c.stack, Config: cfg, SecretKeys: secrets, Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	return capture
}

// TestURNs keeps every resource's URN (its type, name and parent chain) per
// stack × cloud × phase. On a live stack a changed URN is a delete and a
// create — which protect refuses for the data — so any difference fails:
// a refactor keeps URNs as they are, or declares pulumi.Aliases to the old
// URN for each resource it moves, and only then is the golden rewritten
// (go test ./cmd/plan -run TestURNs -update). -update itself refuses to drop
// a URN that no resource takes over through an alias, as `pulumi up` would
// delete that resource; a resource removed on purpose needs
// -allow-urn-removal too.
func TestURNs(t *testing.T) {
	cases := urnCases(t)
	golden := map[string][]string{}
	known := map[string]bool{} // component types in the goldens
	read := map[string]bool{}  // golden files a case reads
	for _, c := range cases {
		if read[c.name] {
			t.Fatalf("two cases named %s", c.name)
		}
		read[c.name] = true
		b, err := os.ReadFile(filepath.Join("testdata", "urns", c.name+".txt"))
		if err != nil {
			if !*update {
				t.Fatalf("%v (run go test ./cmd/plan -run TestURNs -update)", err)
			}
			continue
		}
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if d := duplicates(lines); len(d) > 0 {
			t.Errorf("testdata/urns/%s.txt lists %d URNs but %d distinct ones: %v", c.name, len(lines), len(lines)-len(d), d)
		}
		golden[c.name] = lines
		for _, u := range lines {
			for _, ty := range parentTypes(u) {
				known[ty] = true
			}
		}
	}
	// A golden no case reads would keep a stack × phase "covered" that no
	// longer is.
	files, err := filepath.Glob(filepath.Join("testdata", "urns", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".txt"); !read[name] {
			t.Errorf("%s: no case reads it (delete it, or restore its case in urnCases)", f)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			capture := urns(t, c)
			var got []string
			for _, r := range capture.Resources {
				got = append(got, r.URN)
			}
			slices.Sort(got)
			// Two resources with one URN: the engine refuses the second
			// registration, which the mocks do not.
			if d := duplicates(got); len(d) > 0 {
				t.Fatalf("the program declares %d resources but %d distinct URNs: %v", len(got), len(got)-len(d), d)
			}
			path := filepath.Join("testdata", "urns", c.name+".txt")
			if *update {
				if want, ok := golden[c.name]; ok {
					checkRemovals(t, path, want, got, capture)
				}
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want := golden[c.name]
			aliased := aliasedToGolden(capture, want)
			for _, r := range capture.Resources {
				// A resource under a component type no golden knows: every
				// child's URN moves with it, so it must say where it was.
				for _, ty := range parentTypes(r.URN) {
					if !known[ty] && !aliased[r.URN] {
						t.Errorf("%s is parented to the new component type %s without a pulumi.Aliases to its old URN", r.URN, ty)
					}
				}
			}
			added, removed := diff(want, got)
			for _, u := range removed {
				t.Errorf("URN gone: %s", u)
			}
			for _, u := range added {
				note := ""
				if aliased[u] {
					note = " (aliased to its old URN: review, then run -update)"
				}
				t.Errorf("URN new: %s%s", u, note)
			}
		})
	}
}

// aliasedToGolden reports, per URN, whether one of the resource's old URNs
// (its aliases, or for a child the URN the engine derives from its parent's
// aliases) is in the golden.
func aliasedToGolden(c *mockrun.Capture, golden []string) map[string]bool {
	out := map[string]bool{}
	for u, old := range c.OldURNs() {
		out[u] = slices.ContainsFunc(old, func(a string) bool { return slices.Contains(golden, a) })
	}
	return out
}

// checkRemovals fails the -update of a golden that would drop a URN no
// declared resource takes over through an alias: on a live stack that
// resource would be deleted (and protect refuses it for the data), so the
// golden must not quietly forget it.
func checkRemovals(t *testing.T, path string, want, got []string, capture *mockrun.Capture) {
	t.Helper()
	_, removed := diff(want, got)
	takenOver := map[string]bool{}
	for _, old := range capture.OldURNs() {
		for _, u := range old {
			takenOver[u] = true
		}
	}
	var orphaned []string
	for _, u := range removed {
		if !takenOver[u] {
			orphaned = append(orphaned, u)
		}
	}
	if len(orphaned) == 0 || *allowURNRemoval {
		return
	}
	t.Fatalf("not rewriting %s: these URNs would leave it, and no resource (nor a parent) declares a pulumi.Aliases to them, "+
		"so `pulumi up` would delete them:\n  %s\nDeclare an alias on the resource that moved; if the resource is removed on purpose, "+
		"rerun with -update -allow-urn-removal.", path, strings.Join(orphaned, "\n  "))
}

// duplicates returns each extra occurrence of a URN in urns: none when the
// count equals the distinct count.
func duplicates(urns []string) []string {
	seen := map[string]bool{}
	var dup []string
	for _, u := range urns {
		if seen[u] {
			dup = append(dup, u)
		}
		seen[u] = true
	}
	return dup
}

// parentTypes are the component types in a URN's parent chain.
func parentTypes(urn string) []string {
	parts := strings.Split(urn, "::")
	if len(parts) < 4 {
		return nil
	}
	chain := strings.Split(parts[len(parts)-2], "$")
	return chain[:len(chain)-1]
}

// diff returns what is in got but not in want, and the reverse.
func diff(want, got []string) (added, removed []string) {
	in := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	w, g := in(want), in(got)
	for _, s := range got {
		if !w[s] {
			added = append(added, s)
		}
	}
	for _, s := range want {
		if !g[s] {
			removed = append(removed, s)
		}
	}
	return added, removed
}
