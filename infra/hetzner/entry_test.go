package hetzner

import (
	"slices"
	"testing"
)

// TestKeepVMEntry: in upgrade with keepVmEntry the app firewall keeps 80
// and 443 open to the world (Caddy on app-1 serves while DNS may still
// point there), the app trusts both Caddy's loopback and the load
// balancer's subnet, and app-1 keeps the mvp size; without the key the web
// ports close and app-1 has the upgrade size.
func TestKeepVMEntry(t *testing.T) {
	for _, keep := range []bool{false, true} {
		cfg := baseConfig("upgrade")
		if keep {
			cfg["keepVmEntry"] = "true"
		}
		r := deploy(t, cfg, nil)
		fw, _ := r.cap.Find(tFirewall, "fw-app")
		ports := openPorts(fw)
		web := slices.Contains(ports, "80") && slices.Contains(ports, "443")
		if web != keep || (!keep && (slices.Contains(ports, "80") || slices.Contains(ports, "443"))) {
			t.Errorf("keepVmEntry %v: app firewall ports %v", keep, ports)
		}
		for _, rule := range fw.Inputs["rules"].ArrayValue() {
			o := rule.ObjectValue()
			if p := str(o["port"]); (p == "80" || p == "443") && !slices.Equal(strs(o["sourceIps"]), anywhere) {
				t.Errorf("port %s admits %v, want the world", p, strs(o["sourceIps"]))
			}
		}
		wantTrusted := []string{"10.42.0.0/24"}
		if keep {
			wantTrusted = []string{"127.0.0.1/32", "10.42.0.0/24"}
		}
		if !slices.Equal(r.obs.trusted, wantTrusted) {
			t.Errorf("keepVmEntry %v: trusted proxies %v, want %v", keep, r.obs.trusted, wantTrusted)
		}
		app1, _ := r.cap.Find(tServer, "app-1")
		app2, _ := r.cap.Find(tServer, "app-2")
		want1 := "cx33"
		if keep {
			want1 = "cx23"
		}
		if got := str(app1.Inputs["serverType"]); got != want1 || str(app2.Inputs["serverType"]) != "cx33" {
			t.Errorf("keepVmEntry %v: app-1 %s (want %s), app-2 %s", keep, got, want1, str(app2.Inputs["serverType"]))
		}
		if len(r.cap.ByType(tLB)) != 1 || len(r.cap.ByType(tLBTarget)) != 2 {
			t.Errorf("keepVmEntry %v: the load balancer and its two targets are not all declared", keep)
		}
	}
}
