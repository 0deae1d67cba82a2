package transition

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/plan"
)

// Side is one end of a transition: the compiled plan and what the program
// declared for it.
type Side struct {
	Plan *plan.Plan
	Run  *mockrun.Capture
}

// Outage is a server the transition powers off or restarts in place.
type Outage struct {
	URN      string
	Type     string
	Name     string
	What     string // e.g. "serverType cx23 → cx33"
	Downtime string // expected length and how it comes about
}

func (o Outage) String() string { return fmt.Sprintf("%s: %s — %s", o.URN, o.What, o.Downtime) }

// Window is a time in which users would get no answer.
type Window struct {
	What   string // who gets no answer, and why
	Length string
	// Avoid is the step that avoids it, or says that none does.
	Avoid string
}

func (w Window) String() string {
	return fmt.Sprintf("%s Expected: %s. Avoid: %s", w.What, w.Length, w.Avoid)
}

// inPlace is one input of a server type whose in-place update powers the
// machine off or restarts it, as the providers implement it.
type inPlace struct {
	typ, input string
	reboot     bool // a restart rather than a resize
	downtime   func(r mockrun.Resource) string
}

const (
	tHServer   = "hcloud:index/server:Server"
	tDroplet   = "digitalocean:index/droplet:Droplet"
	tDOCluster = "digitalocean:index/databaseCluster:DatabaseCluster"
	tHLB       = "hcloud:index/loadBalancer:LoadBalancer"
	tDOLB      = "digitalocean:index/loadBalancer:LoadBalancer"
)

// hetznerResize is the expected length of a server type change. The
// figure is an assumption, not measured here: terraform-provider-hcloud
// (which pulumi-hcloud wraps) powers the server off hard (Poweroff, not a
// graceful shutdown), calls change_type and Hetzner starts the server
// again; with keepDisk the disk is not copied to a larger one.
func hetznerResize(r mockrun.Resource) string {
	disk := "keepDisk: the disk keeps its size (no disk copy; the type can go back down later)"
	if v := r.Inputs[keyOf("keepDisk")]; !v.IsBool() || !v.BoolValue() {
		disk = "without keepDisk the disk is copied to the larger size: longer, and the type can never go back down"
	}
	return "about 1–3 min (assumption, not measured): the provider powers the server off hard (no shutdown), Hetzner changes its type and starts it again; " + disk
}

var inPlaceTable = []inPlace{
	{typ: tHServer, input: "serverType", downtime: hetznerResize},
	// updatePublicNet: power off, change the primary IPs, power on.
	{typ: tHServer, input: "publicNets", reboot: true, downtime: func(mockrun.Resource) string {
		return "under a minute (assumption): the provider powers the server off hard, changes its public addresses and powers it on"
	}},
	{typ: tHServer, input: "rescue", reboot: true, downtime: func(mockrun.Resource) string {
		return "a reset (hard reboot), under a minute (assumption); in rescue mode the system does not boot at all"
	}},
	{typ: tHServer, input: "iso", reboot: true, downtime: func(mockrun.Resource) string {
		return "a reset (hard reboot), under a minute (assumption)"
	}},
	// terraform-provider-digitalocean: PowerOff, Resize, PowerOn.
	{typ: tDroplet, input: "size", downtime: func(r mockrun.Resource) string {
		disk := "CPU and RAM only (resizeDisk false: the type can go back down)"
		if v := r.Inputs[keyOf("resizeDisk")]; !v.IsBool() || v.BoolValue() {
			disk = "with the disk (resizeDisk): longer, about a minute per GB in use, and never back down"
		}
		return "about 1–2 min (assumption, not measured): the provider powers the droplet off hard, resizes it, " + disk + ", and powers it on"
	}},
	{typ: tDOCluster, input: "size", downtime: func(mockrun.Resource) string {
		return "DigitalOcean resizes the cluster online (status resizing → online) and moves it to new nodes; " +
			"open connections drop once at the switch (assumption: seconds; the app's pool reconnects)"
	}},
}

func str(r mockrun.Resource, k string) string {
	v := r.Inputs[keyOf(k)]
	switch {
	case v.IsString():
		return v.StringValue()
	case v.IsNumber():
		return fmt.Sprintf("%g", v.NumberValue())
	case v.IsNull():
		return ""
	}
	return short(v.String())
}

// outages lists the in-place resizes and reboots between two runs.
func outages(from, to *mockrun.Capture) (resizes, reboots []Outage) {
	after := map[string]mockrun.Resource{}
	for _, r := range to.Resources {
		after[r.URN] = r
	}
	for _, a := range from.Resources {
		b, ok := after[a.URN]
		if !ok {
			continue
		}
		for _, ip := range inPlaceTable {
			if ip.typ != a.Type || slices.Contains(b.IgnoreChanges, ip.input) {
				continue
			}
			va, vb := a.Inputs[keyOf(ip.input)], b.Inputs[keyOf(ip.input)]
			if va.IsNull() && vb.IsNull() || va.DeepEquals(vb) {
				continue
			}
			o := Outage{URN: a.URN, Type: a.Type, Name: a.Name, What: fmt.Sprintf("%s %s → %s", ip.input, str(a, ip.input), str(b, ip.input)), Downtime: ip.downtime(b)}
			if ip.reboot {
				reboots = append(reboots, o)
			} else {
				resizes = append(resizes, o)
			}
		}
	}
	return resizes, reboots
}

// entry is a place users arrive at.
type entry string

const (
	atVM      entry = "app-1 (Caddy)"
	atLB      entry = "the load balancer"
	atService entry = "the cluster's load balancer (the app's Service)"
)

// entries are where a run serves users: app-1's Caddy while VMEntry (and
// app-1 exists), the program's load balancer, or on DigitalOcean in scale
// the one the cluster makes for the app's Service.
func entries(s Side) []entry {
	var out []entry
	if s.Plan.VMEntry() && (has(s.Run, tHServer, plan.EntryHost) || has(s.Run, tDroplet, plan.EntryHost)) {
		out = append(out, atVM)
	}
	if has(s.Run, tHLB, "lb") || has(s.Run, tDOLB, "lb") {
		out = append(out, atLB)
	}
	if s.Plan.Cloud == plan.DigitalOcean && s.Plan.Phase == plan.Scale {
		out = append(out, atService)
	}
	return out
}

func has(c *mockrun.Capture, typ, name string) bool { _, ok := c.Find(typ, name); return ok }

// primary is where the program points the domain (DigitalOcean DNS), and
// where users arrive without a hand-over: the load balancer when there is
// one, app-1 otherwise.
func primary(s Side) entry {
	es := entries(s)
	if len(es) == 0 {
		return ""
	}
	return es[len(es)-1]
}

// managedDNS reports whether the program moves the domain's record itself.
func managedDNS(p *plan.Plan) bool { return p.DNSZone != "" }

// windows lists the times in which no server would answer users, from
// the two plans and what each run declares.
func windows(from, to Side, resizes []Outage) []Window {
	var out []Window
	fe, te := entries(from), entries(to)
	fp, tp := from.Plan, to.Plan
	ttl := "the record's TTL"
	if managedDNS(tp) {
		ttl = fmt.Sprintf("the record's TTL (%d s)", plan.DNSRecordTTL)
	}
	// Where users arrive when the up starts. With keepVmEntry the program
	// serves at both; the operator has moved the record (Hetzner) by the
	// hand-over's steps to the one the target keeps; the program's record
	// (DigitalOcean DNS) points at the load balancer.
	arrive := []entry{primary(from)}
	if fp.KeepVMEntry && !managedDNS(fp) {
		arrive = nil
		for _, e := range fe {
			if slices.Contains(te, e) {
				arrive = append(arrive, e)
			}
		}
	}
	for _, e := range arrive {
		if e == "" || slices.Contains(te, e) {
			continue
		}
		out = append(out, entryWindow(from, to, e, ttl))
	}
	// The record ends at app-1: Caddy there needs its certificate first.
	if fp.Phase != plan.MVP && tp.Phase == plan.MVP && tp.Domain != "" {
		out = append(out, Window{
			What: fmt.Sprintf("Caddy on app-1 needs a certificate for %s, which it can obtain (ACME HTTP-01) only once the record points at app-1: "+
				"HTTPS users who already resolve app-1 get TLS errors until then.", tp.Domain),
			Length: "seconds to a minute after the record moves (Caddy retries on its own; it keeps a certificate from an earlier mvp phase for up to 90 days, and then there is no gap)",
			Avoid:  "right after the record moves, restart Caddy on app-1 (`sudo systemctl restart caddy`) so it asks at once; there is no way around HTTP-01 without DNS credentials on the host",
		})
	}
	// Servers users depend on, powered off by a resize.
	for _, o := range resizes {
		if o.Type == tHServer && o.Name == "db" {
			out = append(out, Window{
				What:   fmt.Sprintf("The db server is off for its resize (%s): every app instance loses its store, so /readyz answers 503 and no page that reads the database is served.", o.What),
				Length: "as the resize, about 1–3 min (assumption)",
				Avoid:  fmt.Sprintf("none while the stack has one database server; keep config sizes.%s.db at the old type to skip it now, and resize by itself at a quiet hour", tp.Phase),
			})
		}
	}
	if w, ok := appResizeWindow(from, resizes); ok {
		out = append(out, w)
	}
	if w, ok := serviceSwitch(from.Run, to.Run); ok {
		out = append(out, w)
	}
	return out
}

// serviceSwitch reports the Hetzner load balancer's service moving to
// other targets' port (upgrade ↔ scale: the app servers' 8080, the k3s
// node port). It switches once the new side serves (its deploy commands
// or Deployment), but the targets on the new port count as healthy only
// after the load balancer has checked them there.
func serviceSwitch(from, to *mockrun.Capture) (Window, bool) {
	const svc = "hcloud:index/loadBalancerService:LoadBalancerService"
	for _, a := range from.ByType(svc) {
		for _, b := range to.ByType(svc) {
			if a.URN != b.URN || str(a, "destinationPort") == str(b, "destinationPort") {
				continue
			}
			return Window{
				What: fmt.Sprintf("The load balancer's service switches its targets' port (%s → %s) once the new side serves; "+
					"the targets on the new port count as healthy only after the load balancer has checked them there.", str(a, "destinationPort"), str(b, "destinationPort")),
				Length: fmt.Sprintf("up to one check interval (%s) (assumption, not measured)", plan.LBCheckInterval),
				Avoid:  "none in this program (the service has one destination port)",
			}, true
		}
	}
	return Window{}, false
}

// entryWindow is the window in which users who arrive at e, which stops
// serving in this up, get no answer.
func entryWindow(from, to Side, e entry, ttl string) Window {
	fp, tp := from.Plan, to.Plan
	w := Window{}
	switch e {
	case atVM:
		w.What = "app-1 stops serving 80/443 (its firewall closes them and Caddy stops) while users still arrive there."
	case atLB:
		w.What = "The load balancer is deleted while users still arrive there."
	case atService:
		w.What = "The cluster's load balancer goes with the app's Service while users still arrive there."
	}
	switch {
	case managedDNS(tp) && e == atVM:
		w.Length = "from app-1's firewall update, early in the up, until the record has moved (once the new side serves) and " + ttl + " has passed: several minutes"
	case managedDNS(tp):
		w.Length = "up to " + ttl + " after the record moves, for resolvers that cached the old address (the old entry is deleted at the end of the same up: deletes run last)"
	default:
		w.Length = "until you point the record at " + string(primary(to)) + " and " + ttl + " has passed (users who use the IP address: until they use the new one)"
	}
	switch {
	case e == atVM && tp.Phase == plan.Upgrade:
		w.Avoid = "hand over in two ups, the first with keepVmEntry: true (steps below)"
	case e == atVM && tp.Phase == plan.Scale:
		w.Avoid = "go through upgrade: mvp → upgrade by the two-up hand-over, then upgrade → scale (on Hetzner the load balancer stays the entry)"
	case e == atLB && tp.Phase == plan.MVP && fp.Phase == plan.Upgrade && managedDNS(tp):
		w.Avoid = "partly: first set keepVmEntry: true in upgrade, so Caddy serves on app-1 before the record moves (steps below); " +
			"the record and the load balancer still change in the same up, so resolvers that cached the load balancer's address meet nothing for up to " + ttl
	case e == atLB && tp.Phase == plan.MVP && fp.Phase == plan.Upgrade:
		w.Avoid = "hand over in two ups, the first with keepVmEntry: true in upgrade (steps below)"
	case e == atLB && tp.Phase == plan.MVP:
		w.Avoid = "go through upgrade: " + string(fp.Phase) + " → upgrade, then upgrade → mvp by the two-up hand-over"
	default:
		w.Avoid = "none in this program: the record moves in the same up that deletes the old entry"
	}
	return w
}

// appResizeWindow reports app servers powered off for a resize while they
// are all users can reach: app-1 as the only entry, or every server
// behind the load balancer at once (Pulumi updates them in parallel).
func appResizeWindow(from Side, resizes []Outage) (Window, bool) {
	var app []string
	for _, o := range resizes {
		if strings.HasPrefix(o.Name, "app-") {
			app = append(app, o.Name)
		}
	}
	if len(app) == 0 {
		return Window{}, false
	}
	fe := entries(from)
	if len(fe) == 1 && fe[0] == atVM && slices.Contains(app, plan.EntryHost) {
		return Window{
			What:   "app-1, the only server users reach, is off for its resize.",
			Length: "as the resize, about 1–3 min (assumption)",
			Avoid:  "hand over in two ups, the first with keepVmEntry: true, which keeps app-1 at its mvp size until the load balancer serves (steps below)",
		}, true
	}
	total := 0
	for _, r := range from.Run.Resources {
		if (r.Type == tHServer || r.Type == tDroplet) && strings.HasPrefix(r.Name, "app-") {
			total++
		}
	}
	if slices.Contains(fe, atLB) && len(app) == total {
		sort.Strings(app)
		return Window{
			What:   fmt.Sprintf("Every app server behind the load balancer (%s) is off for its resize at the same time.", strings.Join(app, ", ")),
			Length: "as the resize, about 1–3 min (assumption)",
			Avoid:  "none in one up (Pulumi updates them in parallel); change the app size at a quiet hour",
		}, true
	}
	return Window{}, false
}

// writeServing prints what CheckPhases found. Check alone leaves it empty
// and prints nothing here.
func (r *Report) writeServing(w io.Writer) {
	if !r.serving {
		return
	}
	fmt.Fprintf(w, "in-place resizes (%d):\n", len(r.Resizes))
	for _, o := range r.Resizes {
		fmt.Fprintf(w, "  %s\n", o)
	}
	fmt.Fprintf(w, "in-place reboots (%d):\n", len(r.Reboots))
	for _, o := range r.Reboots {
		fmt.Fprintf(w, "  %s\n", o)
	}
	if len(r.Windows) == 0 {
		fmt.Fprintln(w, "windows without a serving server: none")
	} else {
		fmt.Fprintf(w, "WINDOWS WITHOUT A SERVING SERVER (%d):\n", len(r.Windows))
		for _, x := range r.Windows {
			fmt.Fprintf(w, "  - %s\n", x)
		}
	}
	if len(r.HandOver) > 0 {
		fmt.Fprintln(w, "hand-over (keepVmEntry):")
		for _, s := range r.HandOver {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
}
