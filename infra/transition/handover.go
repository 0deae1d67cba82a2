package transition

import (
	"fmt"
	"strings"

	"github.com/flavormonk/flavormonk/infra/plan"
)

// lbDropsTarget is how long the load balancer keeps sending new requests
// to a target that went away: its unhealthy threshold of failed checks.
const lbDropsTarget = plan.LBUnhealthyThreshold * plan.LBCheckInterval

// CheckPhases is Check plus what the transition does to serving: the
// in-place resizes and reboots with their expected downtime, the windows
// in which no server would answer, and, when the move between mvp and
// upgrade goes through the keepVmEntry hand-over, its steps.
func CheckPhases(from, to Side) *Report {
	rep := Check(from.Run, to.Run)
	rep.Resizes, rep.Reboots = outages(from.Run, to.Run)
	behindLB := false
	for _, e := range entries(from) {
		behindLB = behindLB || e == atLB
	}
	for i, o := range rep.Resizes {
		if strings.HasPrefix(o.Name, "app-") && behindLB {
			rep.Resizes[i].Downtime += fmt.Sprintf("; behind the load balancer the other app servers serve, requests in flight on it fail, "+
				"and the load balancer stops sending it new ones within %s (%d failed checks %s apart)",
				lbDropsTarget, plan.LBUnhealthyThreshold, plan.LBCheckInterval)
		}
	}
	rep.Windows = windows(from, to, rep.Resizes)
	rep.HandOver = handOver(from, to)
	rep.serving = true
	return rep
}

// handOver is the numbered runbook of the keepVmEntry hand-over when the
// transition is part of one (either of its two ups, or the one-up move it
// replaces), built from the two plans; nil otherwise.
func handOver(from, to Side) []string {
	fp, tp := from.Plan, to.Plan
	var wayIn, wayBack bool
	var step int // which of the two ups this transition is (0: the one-up move)
	switch {
	case fp.Phase == plan.MVP && tp.Phase == plan.Upgrade:
		wayIn = true
		if tp.KeepVMEntry {
			step = 1
		}
	case fp.KeepVMEntry && tp.Phase == plan.Upgrade && !tp.KeepVMEntry:
		wayIn, step = true, 2
	case fp.Phase == plan.Upgrade && !fp.KeepVMEntry && tp.Phase == plan.MVP:
		wayBack = true
	case fp.Phase == plan.Upgrade && !fp.KeepVMEntry && tp.KeepVMEntry:
		wayBack, step = true, 1
	case fp.KeepVMEntry && tp.Phase == plan.MVP:
		wayBack, step = true, 2
	default:
		return nil
	}
	up, mvp := tp, fp // the upgrade and the mvp end, for sizes
	if wayBack {
		up, mvp = fp, tp
	}
	small, big := mvp.Sizes[plan.RoleApp], up.Sizes[plan.RoleApp]
	if mvp.Phase != plan.MVP {
		small = mvp.EntrySize // the hand-over's upgrade end: app-1 at its mvp size
	}
	dns := managedDNS(tp) || managedDNS(fp)
	domain := tp.Domain
	if domain == "" {
		domain = "the app"
	}
	resize := fmt.Sprintf("app-1 is resized %s → %s", small, big)
	if wayBack {
		resize = fmt.Sprintf("app-1 is resized %s → %s", big, small)
	}
	if small == big {
		resize = "app-1 keeps its size (" + big + ")"
	}
	var steps []string
	if wayIn {
		steps = []string{
			"`pulumi config set phase upgrade`, `pulumi config set keepVmEntry true`, `pulumi up`: the load balancer, the other app servers and the data services come up; " +
				"app-1 keeps its mvp size (" + small + "), Caddy and 80/443, and now also serves the load balancer on its private address",
		}
		if dns {
			steps = append(steps, fmt.Sprintf("Nothing to do for DNS: in that up the program moved the record for %s to the load balancer once the app servers were deployed "+
				"(the last deploy waited for the load balancer's %d healthy checks)", domain, plan.LBHealthyThreshold))
		} else {
			steps = append(steps, "Check that the load balancer serves (curl the appUrl output), then "+pointAt(tp, "the load balancer"))
		}
		steps = append(steps,
			"Wait at least the old record's TTL"+ttlNote(dns)+", so no resolver still sends users to app-1",
			"`pulumi config rm keepVmEntry`, `pulumi up`: app-1's 80/443 close and Caddy stops; "+strings.Replace(resize, "is resized", "is resized behind the load balancer", 1))
	} else {
		steps = []string{
			"Staying in upgrade, `pulumi config set keepVmEntry true`, `pulumi up`: Caddy is installed and started on app-1 and 80/443 open there beside the load balancer; " +
				strings.Replace(resize, "is resized", "is resized behind the load balancer", 1),
		}
		if dns {
			steps = append(steps,
				"Nothing to do for DNS yet: the program moves the record to app-1 in the last step",
				"Check on app-1 that Caddy runs and the app answers it: `systemctl is-active caddy` and `curl -s http://127.0.0.1:8080/readyz`")
		} else {
			steps = append(steps,
				upper(pointAt(tp, "app-1"))+caddyRestart(tp),
				"Wait at least the old record's TTL, so no resolver still sends users to the load balancer")
		}
		last := "`pulumi config set phase mvp`, `pulumi config rm keepVmEntry`, `pulumi up`: the load balancer, the other app servers and the upgrade data services go at the end of the up"
		if fp.Cloud == plan.DigitalOcean {
			last += " (the protected Valkey first needs the unprotect step: README, \"Moving a DigitalOcean stack back to mvp\")"
		}
		steps = append(steps, last)
	}
	for i := range steps {
		steps[i] = fmt.Sprintf("%d. %s", i+1, steps[i])
	}
	switch step {
	case 1:
		steps = append([]string{"This transition is the first `pulumi up` of the hand-over:"}, steps...)
	case 2:
		steps = append([]string{"This transition is the last `pulumi up` of the hand-over; the steps before it must be done:"}, steps...)
	default:
		steps = append([]string{"To move without a window, hand over in two ups instead of this one:"}, steps...)
	}
	return steps
}

func ttlNote(dns bool) string {
	if dns {
		return fmt.Sprintf(" (%d s) after that up", plan.DNSRecordTTL)
	}
	return " (your DNS provider shows it)"
}

// pointAt is the operator's DNS step: the records, or without a domain
// whatever reaches the app by address.
func pointAt(p *plan.Plan, target string) string {
	addr := target + "'s public address (the publicIps output)"
	if target == "app-1" {
		addr = "app-1's public address (the cloud's console, or `hcloud server list`)"
	}
	if p.Domain == "" {
		return "move whatever reaches the app by address (no domain: users, bookmarks, a record kept elsewhere) to " + addr
	}
	return "point the records for " + p.Domain + " at " + addr
}

func caddyRestart(p *plan.Plan) string {
	if p.Domain == "" {
		return ""
	}
	return ", then restart Caddy on app-1 (`sudo systemctl restart caddy`) so it obtains its certificate at once"
}

func upper(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
