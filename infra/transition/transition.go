// Package transition checks that moving a stack from one phase to another
// keeps every stateful resource: the same URN (so Pulumi updates rather
// than deletes), and the same value for every input whose change would make
// the provider replace it, unless the program ignores changes to it.
package transition

import (
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"

	"github.com/flavormonk/flavormonk/infra/mockrun"
)

// Stateful lists each stateful resource type with the inputs whose change
// forces its replacement (from the providers' schemas: ForceNew fields).
// A type here is checked on every phase change.
var Stateful = map[string][]string{
	// Hetzner: the db server holds Postgres; volumes hold the data and dumps.
	"hcloud:index/server:Server":               {"image", "location", "datacenter", "sshKeys", "userData", "placementGroupId"},
	"hcloud:index/volume:Volume":               {"location", "serverId"},
	"hcloud:index/network:Network":             {"ipRange"},
	"hcloud:index/networkSubnet:NetworkSubnet": {"networkId", "ipRange", "networkZone", "type"},
	// DigitalOcean: the managed database, the vector-store volume, the VPC
	// the database lives in, and the project.
	"digitalocean:index/databaseCluster:DatabaseCluster": {"name", "engine", "region", "privateNetworkUuid", "projectId"},
	"digitalocean:index/volume:Volume":                   {"region", "name", "filesystemType", "snapshotId"},
	"digitalocean:index/vpc:Vpc":                         {"region", "ipRange"},
	"digitalocean:index/project:Project":                 {},
}

// statefulNames narrows types shared with stateless resources (servers) to
// the ones that hold data.
var statefulNames = map[string][]string{
	"hcloud:index/server:Server": {"db"},
	// "cache" (managed Valkey) is a cache, never the only copy of anything.
	"digitalocean:index/databaseCluster:DatabaseCluster": {"db"},
}

// IsStateful reports whether a resource holds data the checks protect.
func IsStateful(r mockrun.Resource) bool { return isStateful(r) }

func isStateful(r mockrun.Resource) bool {
	if _, ok := Stateful[r.Type]; !ok {
		return false
	}
	if names, ok := statefulNames[r.Type]; ok {
		return slices.Contains(names, r.Name)
	}
	return true
}

// Problem is one way a transition would lose or replace data.
type Problem struct {
	URN    string
	Input  string // "" when the resource would be deleted
	Before string
	After  string
}

func (p Problem) String() string {
	if p.Input == "" {
		return fmt.Sprintf("%s would be deleted", p.URN)
	}
	return fmt.Sprintf("%s would be replaced: input %q changes from %s to %s", p.URN, p.Input, p.Before, p.After)
}

// Report is what a transition adds, changes and removes, and its problems.
type Report struct {
	Added, Changed, Removed []string
	Problems                []Problem
}

// Check compares the resources of two runs of the same stack.
func Check(from, to *mockrun.Capture) *Report {
	rep := &Report{}
	after := map[string]mockrun.Resource{}
	for _, r := range to.Resources {
		after[r.URN] = r
	}
	before := map[string]bool{}
	for _, r := range from.Resources {
		before[r.URN] = true
		n, ok := after[r.URN]
		if !ok {
			rep.Removed = append(rep.Removed, r.URN)
			if isStateful(r) {
				rep.Problems = append(rep.Problems, Problem{URN: r.URN})
			}
			continue
		}
		if !reflect.DeepEqual(r.Inputs.Mappable(), n.Inputs.Mappable()) {
			rep.Changed = append(rep.Changed, r.URN)
		}
		if !isStateful(r) {
			continue
		}
		for _, in := range Stateful[r.Type] {
			if slices.Contains(n.IgnoreChanges, in) {
				continue
			}
			a, b := r.Inputs[keyOf(in)], n.Inputs[keyOf(in)]
			if !reflect.DeepEqual(a.Mappable(), b.Mappable()) {
				rep.Problems = append(rep.Problems, Problem{URN: r.URN, Input: in, Before: short(a.String()), After: short(b.String())})
			}
		}
	}
	for _, r := range to.Resources {
		if !before[r.URN] {
			rep.Added = append(rep.Added, r.URN)
		}
	}
	sort.Strings(rep.Added)
	sort.Strings(rep.Changed)
	sort.Strings(rep.Removed)
	return rep
}

// OK reports whether the transition keeps every stateful resource.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Write prints the report.
func (r *Report) Write(w io.Writer) {
	for _, s := range []struct {
		title string
		l     []string
	}{{"added", r.Added}, {"changed", r.Changed}, {"removed", r.Removed}} {
		fmt.Fprintf(w, "%s (%d):\n", s.title, len(s.l))
		for _, u := range s.l {
			fmt.Fprintf(w, "  %s\n", u)
		}
	}
	if r.OK() {
		fmt.Fprintln(w, "stateful resources: all kept, no replacement-forcing input changes")
		return
	}
	fmt.Fprintf(w, "STATEFUL RESOURCES AT RISK (%d):\n", len(r.Problems))
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
}

func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
