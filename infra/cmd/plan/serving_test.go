package main

import (
	"bytes"
	"strings"
	"testing"
)

// serving is the part of a transition section CheckPhases adds: from the
// in-place resizes on.
func serving(t *testing.T, section string) string {
	t.Helper()
	_, s, ok := strings.Cut(section, "in-place resizes (")
	if !ok {
		t.Fatalf("no in-place resizes in:\n%s", section)
	}
	return "in-place resizes (" + s
}

// TestTransitionServing runs every cloud × phase pair (and the two ups of
// the keepVmEntry hand-over, both ways) through the real program and
// checks what the transition check says about serving: the resizes and
// reboots with their downtime, the windows without a serving server, and
// the hand-over steps. dev is Hetzner without a domain; prod is
// DigitalOcean with recipes.example.com in DigitalOcean DNS.
func TestTransitionServing(t *testing.T) {
	const (
		hDB      = "Database$hcloud:index/server:Server::db: serverType "
		hApp1    = "App$hcloud:index/server:Server::app-1: serverType "
		doApp1   = "AppTier$digitalocean:index/droplet:Droplet::app-1: size "
		doDB     = "Postgres$digitalocean:index/databaseCluster:DatabaseCluster::db: size "
		vmStops  = "app-1 stops serving 80/443"
		lbGoes   = "The load balancer is deleted"
		svcGoes  = "The cluster's load balancer goes"
		dbOff    = "The db server is off for its resize"
		app1Off  = "app-1, the only server users reach, is off"
		portSw   = "The load balancer's service switches its targets' port"
		cert     = "Caddy on app-1 needs a certificate for recipes.example.com"
		none     = "windows without a serving server: none"
		noResize = "in-place resizes (0):"
		handOver = "hand-over (keepVmEntry):"
		oneUp    = "To move without a window, hand over in two ups instead of this one:"
		firstUp  = "This transition is the first `pulumi up` of the hand-over:"
		lastUp   = "This transition is the last `pulumi up` of the hand-over"
	)
	type want struct{ has, lacks []string }
	for _, tc := range []struct {
		args      []string
		fwd, back want
	}{
		// Hetzner: mvp ↔ upgrade in one up. The db server and app-1 are
		// resized (powered off); app-1's web ports close while users still
		// arrive there; back, the load balancer goes while they do.
		{[]string{"-stack", "dev", "-to", "upgrade"},
			want{has: []string{"in-place resizes (2):", hDB + "cx23 → cx33 — about 1–3 min", "keepDisk: the disk keeps its size",
				hApp1 + "cx23 → cx33", vmStops, dbOff + " (serverType cx23 → cx33)", app1Off, handOver, oneUp,
				"1. `pulumi config set phase upgrade`, `pulumi config set keepVmEntry true`, `pulumi up`",
				"4. `pulumi config rm keepVmEntry`, `pulumi up`: app-1's 80/443 close and Caddy stops; app-1 is resized behind the load balancer cx23 → cx33"},
				lacks: []string{lbGoes, none, cert}},
			want{has: []string{hDB + "cx33 → cx23", hApp1 + "cx33 → cx23", "behind the load balancer the other app servers serve", lbGoes,
				"until you point the record at app-1 (Caddy)", dbOff, oneUp, "1. Staying in upgrade, `pulumi config set keepVmEntry true`, `pulumi up`",
				"app-1 is resized behind the load balancer cx33 → cx23"},
				lacks: []string{vmStops, app1Off, none}}},
		// The hand-over's first up: app-1 keeps its size and its web ports;
		// only the db resize remains. Back from there (the way back's last
		// up): the operator has moved the record, only the db resize.
		{[]string{"-stack", "dev", "-to", "upgrade", "-set", "keepVmEntry=true"},
			want{has: []string{"in-place resizes (1):", hDB + "cx23 → cx33", dbOff, firstUp}, lacks: []string{hApp1, vmStops, app1Off, lbGoes}},
			want{has: []string{"in-place resizes (1):", hDB + "cx33 → cx23", dbOff, lastUp}, lacks: []string{hApp1, vmStops, lbGoes}}},
		// In upgrade: the hand-over's first up on the way back, and back
		// from it the way in's last up. app-1 is resized behind the load
		// balancer; no window.
		{[]string{"-stack", "dev", "-phase", "upgrade", "-set", "keepVmEntry=true"},
			want{has: []string{hApp1 + "cx33 → cx23", "behind the load balancer the other app servers serve", none, firstUp,
				"2. Move whatever reaches the app by address"}, lacks: []string{hDB}},
			want{has: []string{hApp1 + "cx23 → cx33", none, lastUp}, lacks: []string{hDB}}},
		// No phase change: nothing.
		{[]string{"-stack", "dev", "-phase", "upgrade", "-to", "upgrade"},
			want{has: []string{noResize, "in-place reboots (0):", none}, lacks: []string{handOver}},
			want{has: []string{noResize, none}, lacks: []string{handOver}}},
		{[]string{"-stack", "dev", "-to", "mvp"},
			want{has: []string{noResize, none}, lacks: []string{handOver}}, want{has: []string{none}}},
		{[]string{"-stack", "dev", "-phase", "scale", "-to", "scale"},
			want{has: []string{noResize, none}, lacks: []string{handOver}}, want{has: []string{none}}},
		// Hetzner upgrade ↔ scale: the same load balancer switches port.
		{[]string{"-stack", "dev", "-phase", "upgrade", "-to", "scale"},
			want{has: []string{noResize, portSw + " (8080 → 30080)"}, lacks: []string{lbGoes, vmStops, handOver}},
			want{has: []string{portSw + " (30080 → 8080)"}, lacks: []string{lbGoes, handOver}}},
		// Hetzner mvp ↔ scale: go through upgrade.
		{[]string{"-stack", "dev", "-to", "scale"},
			want{has: []string{vmStops, "go through upgrade: mvp → upgrade by the two-up hand-over", dbOff}, lacks: []string{handOver}},
			want{has: []string{lbGoes, "go through upgrade: scale → upgrade, then upgrade → mvp", dbOff}, lacks: []string{handOver}}},

		// DigitalOcean (prod: its own sizes, DNS in DigitalOcean).
		{[]string{"-stack", "prod", "-phase", "mvp", "-to", "upgrade"},
			want{has: []string{doApp1 + "s-1vcpu-2gb → s-2vcpu-4gb — about 1–2 min", vmStops, "until the record has moved (once the new side serves) and the record's TTL (300 s) has passed",
				app1Off, oneUp, "2. Nothing to do for DNS: in that up the program moved the record for recipes.example.com to the load balancer",
				"3. Wait at least the old record's TTL (300 s) after that up"}, lacks: []string{lbGoes}},
			want{has: []string{lbGoes, "up to the record's TTL (300 s) after the record moves", "partly: first set keepVmEntry: true in upgrade", cert,
				"the protected Valkey first needs the unprotect step"}, lacks: []string{vmStops}}},
		{[]string{"-stack", "prod", "-phase", "mvp", "-to", "upgrade", "-set", "keepVmEntry=true"},
			want{has: []string{noResize, none, firstUp}},
			// DigitalOcean's record and load balancer change in the same up:
			// the hand-over leaves up to the TTL for cached resolvers.
			want{has: []string{lbGoes, "up to the record's TTL (300 s)", cert, lastUp}, lacks: []string{vmStops}}},
		{[]string{"-stack", "prod", "-to", "upgrade"},
			want{has: []string{noResize, none}, lacks: []string{handOver}}, want{has: []string{none}}},
		{[]string{"-stack", "prod", "-to", "scale"},
			want{has: []string{"Valkey$digitalocean:index/databaseCluster:DatabaseCluster::cache: size db-s-1vcpu-1gb → db-s-1vcpu-2gb", lbGoes,
				"none in this program: the record moves in the same up that deletes the old entry"}, lacks: []string{vmStops, handOver}},
			want{has: []string{svcGoes}, lacks: []string{handOver}}},
		{[]string{"-stack", "prod", "-phase", "mvp", "-to", "scale"},
			want{has: []string{vmStops, "go through upgrade"}, lacks: []string{handOver}},
			want{has: []string{svcGoes, cert}, lacks: []string{handOver}}},
		{[]string{"-stack", "prod", "-phase", "scale", "-to", "scale"},
			want{has: []string{noResize, none}}, want{has: []string{none}}},
		{[]string{"-stack", "prod", "-phase", "mvp", "-to", "mvp"},
			want{has: []string{noResize, none}}, want{has: []string{none}}},
		// DigitalOcean with its default sizes: the managed database is
		// resized online.
		{[]string{"-stack", "dev", "-cloud", "digitalocean", "-to", "upgrade"},
			want{has: []string{doDB + "db-s-1vcpu-1gb → db-s-1vcpu-2gb — DigitalOcean resizes the cluster online"}}, want{}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			// The way back may meet the protected Valkey (an operator
			// step): only the output matters here.
			_ = run(append([]string{"-dir", "../../.."}, tc.args...), &out, &errb)
			fwd, back := transitionSections(t, out.String())
			for _, side := range []struct {
				name, text string
				w          want
			}{{"forward", serving(t, fwd), tc.fwd}, {"back", serving(t, back), tc.back}} {
				for _, s := range side.w.has {
					if !strings.Contains(side.text, s) {
						t.Errorf("%s lacks %q:\n%s", side.name, s, side.text)
					}
				}
				for _, s := range side.w.lacks {
					if strings.Contains(side.text, s) {
						t.Errorf("%s has %q:\n%s", side.name, s, side.text)
					}
				}
			}
		})
	}
}

// TestHandOverOutputs: with keepVmEntry the stack says what to do next,
// and on DigitalOcean the domain's record moves only after every app
// server is deployed.
func TestHandOverOutputs(t *testing.T) {
	var out, errb bytes.Buffer
	cfg, secrets, err := readStack("../../../Pulumi.prod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg["flavormonk:keepVmEntry"] = "true"
	if _, err := preview("prod", cfg, secrets, &out, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "  handOver: keepVmEntry: Caddy on app-1 still serves 80/443 beside the load balancer. The record for recipes.example.com has moved") {
		t.Errorf("no handOver output:\n%s", out.String())
	}
	out.Reset()
	if err := run([]string{"-dir", "../../..", "-stack", "prod"}, &out, &errb); err != nil || strings.Contains(out.String(), "handOver:") {
		t.Errorf("handOver output without keepVmEntry (err %v)", err)
	}

	for _, phase := range []string{"mvp", "upgrade"} {
		cfg, secrets, err := readStack("../../../Pulumi.prod.yaml")
		if err != nil {
			t.Fatal(err)
		}
		cfg["flavormonk:phase"] = phase
		side, err := preview("prod", cfg, secrets, &out, false)
		if err != nil {
			t.Fatal(err)
		}
		rec, ok := side.Run.Find("digitalocean:index/dnsRecord:DnsRecord", "app-a-record")
		if !ok {
			t.Fatal("no DNS record")
		}
		deploys := 0
		for _, r := range side.Run.ByType("command:remote:Command") {
			if strings.HasPrefix(r.Name, "deploy-app-") {
				deploys++
				if !rec.DependsOnResource(r) {
					t.Errorf("%s: the DNS record does not wait for %s", phase, r.Name)
				}
			}
		}
		if deploys == 0 {
			t.Errorf("%s: no deploy commands", phase)
		}
	}
}
