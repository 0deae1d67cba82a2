package plan

import (
	"encoding/json"
	"fmt"
	"strings"
)

// EntryHost is the app server Caddy runs on while it is the stack's entry
// (mvp, and the hand-over): the one app server every phase with servers
// keeps.
const EntryHost = "app-1"

// DNSRecordTTL is the TTL, in seconds, of the domain's record the program
// manages in DigitalOcean DNS: how long resolvers may keep sending users to
// the address it pointed at before a move.
const DNSRecordTTL = 300

// VMEntry reports whether Caddy on app-1 serves the web ports (80/443):
// in mvp, where it is the stack's only entry, and in upgrade while
// keepVmEntry is set — the first `pulumi up` of a hand-over, in which the
// load balancer serves beside it until the DNS record has moved and its
// TTL has passed.
func (p *Plan) VMEntry() bool { return p.Phase == MVP || p.KeepVMEntry }

// ServesVMEntry reports whether the named app host runs Caddy on 80/443
// (app-1 while VMEntry); the app there listens on loopback for Caddy and,
// outside mvp, on its private address for the load balancer too.
func (p *Plan) ServesVMEntry(host string) bool { return p.VMEntry() && host == EntryHost }

// AppSize is the size of the named app server: the phase's app size, but
// app-1 keeps the mvp size while keepVmEntry is set. A resize powers a
// server off, and during the hand-over app-1 may be the only server users
// reach (on the way in, DNS still points at it); it is resized in the
// second `pulumi up`, behind the load balancer, instead.
func (p *Plan) AppSize(host string) string {
	if p.KeepVMEntry && host == EntryHost && p.EntrySize != "" {
		return p.EntrySize
	}
	return p.Sizes[RoleApp]
}

// compileEntry reads keepVmEntry and, with it, app-1's mvp size. It runs
// after resolveSizes, which has validated the sizes JSON.
func (p *Plan) compileEntry(get Getter) error {
	raw, _ := get("keepVmEntry")
	switch v := strings.ToLower(strings.TrimSpace(raw)); v {
	case "", "false":
		return nil
	case "true":
	default:
		return keyErr("keepVmEntry", "%q is not a boolean; allowed: true, false", raw)
	}
	switch p.Phase {
	case MVP:
		return keyErr("keepVmEntry", "is for the hand-over between mvp and upgrade, set in phase upgrade; in mvp Caddy on app-1 is the entry anyway: unset it")
	case Scale:
		return keyErr("keepVmEntry", "is allowed in phase upgrade only: scale has no app servers, so app-1 cannot stay the entry; "+
			"move between mvp and scale through upgrade (README, \"Phase changes\")")
	}
	p.KeepVMEntry = true
	p.EntrySize = catalogs[p.Cloud].defaults[MVP][RoleApp]
	if raw, ok := get("sizes"); ok && strings.TrimSpace(raw) != "" {
		var over map[string]map[string]string
		if err := json.Unmarshal([]byte(raw), &over); err == nil && over[string(MVP)][string(RoleApp)] != "" {
			p.EntrySize = over[string(MVP)][string(RoleApp)]
		}
	}
	return nil
}

// HandOverNote is what the operator does next while keepVmEntry is set
// (the stack's handOver output); "" otherwise.
func (p *Plan) HandOverNote() string {
	if !p.KeepVMEntry {
		return ""
	}
	head := "keepVmEntry: Caddy on app-1 still serves 80/443 beside the load balancer. "
	if p.DNSZone != "" {
		return head + fmt.Sprintf("The record for %s has moved to the load balancer (after the app servers were deployed). "+
			"Way in: wait at least its TTL (%d s) after this up, then `pulumi config rm keepVmEntry` and `pulumi up`. "+
			"Way back to mvp: `pulumi config set phase mvp`, `pulumi config rm keepVmEntry`, `pulumi up` (the record moves to app-1 and the load balancer goes at the end of that up).",
			p.Domain, DNSRecordTTL)
	}
	where := "the records in the dnsRecords output"
	if p.Domain == "" {
		where = "your users (no domain: they use an IP address)"
	}
	return head + "Way in: point " + where + " at the load balancer, wait at least the old record's TTL, then `pulumi config rm keepVmEntry` and `pulumi up`. " +
		"Way back to mvp: point them at app-1 instead, wait the TTL, then `pulumi config set phase mvp`, `pulumi config rm keepVmEntry` and `pulumi up`."
}
