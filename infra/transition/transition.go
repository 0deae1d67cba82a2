// Package transition checks that moving a stack from one phase to another
// keeps every stateful resource: the same URN (so Pulumi updates rather
// than deletes), and the same value for every input whose change would make
// the provider replace it, unless the program ignores changes to it.
package transition

import (
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

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
	// The app's database inside the cluster: dropping it drops the data.
	"digitalocean:index/databaseDb:DatabaseDb": {"clusterId", "name"},
	"digitalocean:index/volume:Volume":         {"region", "name", "filesystemType", "snapshotId"},
	"digitalocean:index/vpc:Vpc":               {"region", "ipRange"},
	"digitalocean:index/project:Project":       {},
}

// statefulNames narrows types shared with stateless resources (servers) to
// the ones that hold data.
var statefulNames = map[string][]string{
	"hcloud:index/server:Server": {"db"},
	// "cache" (managed Valkey) is a cache, never the only copy of anything:
	// not stateful, but protected, which Check treats on its own.
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
	// Message, when set, says why the change fails (one the provider
	// would attempt in place but the cloud refuses).
	Message string
	// Dropped marks a protected resource the target phase no longer
	// declares: no data is lost by the plan itself, but `pulumi up` stops
	// until an operator unprotects it.
	Dropped bool
}

func (p Problem) String() string {
	if p.Message != "" {
		return fmt.Sprintf("%s: %s", p.URN, p.Message)
	}
	if p.Input == "" {
		return fmt.Sprintf("%s would be deleted", p.URN)
	}
	return fmt.Sprintf("%s would be replaced: input %q changes from %s to %s", p.URN, p.Input, p.Before, p.After)
}

// Report is what a transition adds, changes and removes, and its problems.
type Report struct {
	Added, Changed, Removed []string
	Problems                []Problem
	// Notes are changes that keep the data but need the operator's
	// attention (a serverImage change under the db server).
	Notes []string

	// Filled by CheckPhases (serving.go): servers resized or rebooted in
	// place, the windows in which no server would answer, and the
	// keepVmEntry hand-over's numbered steps when it applies.
	Resizes, Reboots []Outage
	Windows          []Window
	HandOver         []string
	serving          bool // CheckPhases ran
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
			switch {
			case isStateful(r):
				rep.Problems = append(rep.Problems, Problem{URN: r.URN})
			case r.Protect:
				// Pulumi refuses to delete a protected resource, so the
				// phase change stops there; only an operator may let it go.
				rep.Problems = append(rep.Problems, Problem{URN: r.URN, Dropped: true, Message: fmt.Sprintf(
					"the target phase no longer declares it, and it is protected, so `pulumi up` stops before deleting it; "+
						"if what it holds may go, unprotect it on purpose first: %s", UnprotectCommand(r.URN))})
			}
			continue
		}
		if !reflect.DeepEqual(r.Inputs.Mappable(), n.Inputs.Mappable()) {
			rep.Changed = append(rep.Changed, r.URN)
		}
		// A protected resource that is not stateful (DigitalOcean's managed
		// Valkey) is protected so that it is not replaced either: its
		// type's replacement-forcing inputs are checked as well.
		if !isStateful(r) && !r.Protect {
			continue
		}
		if pr, bad := shrinks(r, n); bad && isStateful(r) {
			rep.Problems = append(rep.Problems, pr)
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
	rep.Notes = imageNotes(from, to)
	sort.Strings(rep.Added)
	sort.Strings(rep.Changed)
	sort.Strings(rep.Removed)
	return rep
}

// OK reports whether the transition keeps every stateful resource.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// AtRisk are the problems that replace or delete a resource (data loss
// for a stateful one).
func (r *Report) AtRisk() []Problem {
	return slices.DeleteFunc(slices.Clone(r.Problems), func(p Problem) bool { return p.Dropped })
}

// Dropped are the protected resources the target no longer declares:
// each needs an operator to unprotect it before `pulumi up` goes on.
func (r *Report) Dropped() []Problem {
	return slices.DeleteFunc(slices.Clone(r.Problems), func(p Problem) bool { return !p.Dropped })
}

// UnprotectCommand is the command that lets a protected resource go,
// naming the stack (read from the URN) so it cannot hit another one.
func UnprotectCommand(urn string) string {
	stack, _, _ := strings.Cut(strings.TrimPrefix(urn, "urn:pulumi:"), "::")
	return fmt.Sprintf("pulumi state unprotect --stack %s '%s'", stack, urn)
}

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
	// Data loss and an operator step are different news: the first means
	// do not move, the second means move after one deliberate command.
	if risk := r.AtRisk(); len(risk) == 0 {
		fmt.Fprintln(w, "stateful resources: all kept, no replacement-forcing input changes")
	} else {
		fmt.Fprintf(w, "STATEFUL OR PROTECTED RESOURCES AT RISK (%d):\n", len(risk))
		for _, p := range risk {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "NOTE: %s\n", n)
	}
	if dropped := r.Dropped(); len(dropped) > 0 {
		fmt.Fprintf(w, "PROTECTED RESOURCE DROPPED — OPERATOR STEP NEEDED (%d):\n", len(dropped))
		for _, p := range dropped {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	r.writeServing(w)
}

func short(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// doDBSize reads the memory of a DigitalOcean database plan slug
// ("db-s-2vcpu-4gb" → 4); each larger plan has a larger disk.
var doDBSize = regexp.MustCompile(`^db-[a-z0-9]+-[0-9]+vcpu-([0-9]+)gb`)

// shrinks flags a DigitalOcean managed database (a stateful one) moving to
// a smaller plan or storage size: the provider resizes in place, but
// DigitalOcean cannot shrink a managed database's disk and refuses, so the
// phase change fails halfway.
func shrinks(before, after mockrun.Resource) (Problem, bool) {
	if before.Type != "digitalocean:index/databaseCluster:DatabaseCluster" {
		return Problem{}, false
	}
	str := func(r mockrun.Resource, k string) string {
		if v := r.Inputs[keyOf(k)]; v.IsString() {
			return v.StringValue()
		}
		return ""
	}
	a, b := str(before, "size"), str(after, "size")
	ma, mb := doDBSize.FindStringSubmatch(a), doDBSize.FindStringSubmatch(b)
	if ma != nil && mb != nil {
		ga, _ := strconv.Atoi(ma[1])
		gb, _ := strconv.Atoi(mb[1])
		if gb < ga {
			return Problem{URN: before.URN, Input: "size", Before: a, After: b, Message: fmt.Sprintf(
				"size %s → %s: DigitalOcean cannot shrink a managed database's disk (a smaller plan has a smaller one), so the resize fails; "+
					"keep config flavormonk:sizes.<phase>.%s at %s or larger in the phase you move to", a, b, before.Name, a)}, true
		}
	}
	num := func(r mockrun.Resource) float64 {
		if v := r.Inputs[keyOf("storageSizeMib")]; v.IsNumber() {
			return v.NumberValue()
		}
		if v := r.Inputs[keyOf("storageSizeMib")]; v.IsString() {
			f, _ := strconv.ParseFloat(v.StringValue(), 64)
			return f
		}
		return 0
	}
	if sa, sb := num(before), num(after); sa > 0 && sb > 0 && sb < sa {
		return Problem{URN: before.URN, Input: "storageSizeMib", Before: fmt.Sprint(sa), After: fmt.Sprint(sb), Message: fmt.Sprintf(
			"storageSizeMib %v → %v: DigitalOcean cannot shrink a managed database's disk; keep the storage size", sa, sb)}, true
	}
	return Problem{}, false
}
