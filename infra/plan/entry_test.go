package plan

import (
	"errors"
	"strings"
	"testing"
)

// keepVmEntry is the hand-over between mvp and upgrade: allowed in upgrade
// only, a boolean, and while set Caddy on app-1 serves beside the load
// balancer and app-1 keeps its mvp size.
func TestKeepVMEntry(t *testing.T) {
	for _, tc := range []struct {
		name, phase, value, want string
	}{
		{"mvp", "mvp", "true", "in mvp Caddy on app-1 is the entry anyway"},
		{"scale", "scale", "true", "allowed in phase upgrade only"},
		{"not a boolean", "upgrade", "yes", `"yes" is not a boolean; allowed: true, false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base("hetzner")
			m["phase"], m["keepVmEntry"] = tc.phase, tc.value
			_, err := compile(m)
			var ke *Error
			if !errors.As(err, &ke) || ke.Key != "keepVmEntry" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a keepVmEntry error with %q", err, tc.want)
			}
		})
	}
	for _, v := range []string{"", "false", "FALSE"} {
		m := base("hetzner")
		m["keepVmEntry"] = v // allowed in mvp when off
		p, err := compile(m)
		if err != nil || p.KeepVMEntry || !p.VMEntry() {
			t.Fatalf("mvp, keepVmEntry %q: %v %+v", v, err, p)
		}
		m["phase"] = "upgrade"
		if p, err = compile(m); err != nil || p.VMEntry() || p.AppSize("app-1") != "cx33" || p.HandOverNote() != "" {
			t.Fatalf("upgrade, keepVmEntry %q: %v VMEntry %v app-1 %s", v, err, p.VMEntry(), p.AppSize("app-1"))
		}
	}

	m := base("hetzner")
	m["phase"], m["keepVmEntry"], m["domain"] = "upgrade", "true", "recipes.example.com"
	p, err := compile(m)
	if err != nil {
		t.Fatal(err)
	}
	if !p.VMEntry() || !p.ServesVMEntry("app-1") || p.ServesVMEntry("app-2") {
		t.Errorf("VMEntry %v, app-1 %v, app-2 %v", p.VMEntry(), p.ServesVMEntry("app-1"), p.ServesVMEntry("app-2"))
	}
	if p.AppSize("app-1") != "cx23" || p.AppSize("app-2") != "cx33" {
		t.Errorf("sizes: app-1 %s, app-2 %s; want the mvp size cx23 for app-1 only", p.AppSize("app-1"), p.AppSize("app-2"))
	}
	if n := p.HandOverNote(); !strings.Contains(n, "point the records in the dnsRecords output at the load balancer") || !strings.Contains(n, "pulumi config rm keepVmEntry") {
		t.Errorf("hand-over note: %s", n)
	}
	m["sizes"] = `{"mvp": {"app": "cpx22"}}`
	if p, err = compile(m); err != nil || p.AppSize("app-1") != "cpx22" {
		t.Errorf("app-1 with an mvp size override: %v %s", err, p.AppSize("app-1"))
	}

	m = base("digitalocean")
	m["phase"], m["keepVmEntry"], m["domain"], m["dnsZone"] = "upgrade", "true", "recipes.example.com", "example.com"
	if p, err = compile(m); err != nil {
		t.Fatal(err)
	}
	if p.AppSize("app-1") != "s-1vcpu-2gb" || p.AppSize("app-2") != "s-2vcpu-4gb" {
		t.Errorf("DigitalOcean sizes: app-1 %s, app-2 %s", p.AppSize("app-1"), p.AppSize("app-2"))
	}
	if n := p.HandOverNote(); !strings.Contains(n, "recipes.example.com has moved to the load balancer") || !strings.Contains(n, "(300 s)") {
		t.Errorf("hand-over note with DigitalOcean DNS: %s", n)
	}
}
