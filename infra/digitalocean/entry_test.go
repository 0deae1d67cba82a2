package digitalocean

import (
	"slices"
	"testing"
)

// TestKeepVMEntry: in upgrade with keepVmEntry the app firewall keeps 80
// and 443 open to the world beside the load balancer's rule for the app
// port, the app trusts Caddy's loopback and the VPC, and app-1 keeps the
// mvp size; without the key the web ports close.
func TestKeepVMEntry(t *testing.T) {
	for _, keep := range []bool{false, true} {
		cfg := baseConfig("upgrade")
		if keep {
			cfg["keepVmEntry"] = "true"
		}
		c, obs := mustDeploy(t, cfg)
		fw := find(t, c, tFirewall, "app-firewall")
		web := map[string]bool{}
		lbRule := false
		for _, rule := range objects(input(fw, "inboundRules")) {
			switch p := str(field(rule, "portRange")); p {
			case "80", "443":
				if src := strList(field(rule, "sourceAddresses")); !slices.Equal(src, []string{"0.0.0.0/0", "::/0"}) {
					t.Errorf("port %s admits %v, want the world", p, src)
				}
				web[p] = true
			case "8080":
				lbRule = slices.Equal(strList(field(rule, "sourceLoadBalancerUids")), []string{"lb-id"})
			}
		}
		if web["80"] != keep || web["443"] != keep || !lbRule {
			t.Errorf("keepVmEntry %v: web ports %v, load balancer rule %v", keep, web, lbRule)
		}
		obs.mu.Lock()
		wantTrusted := []string{"10.42.0.0/16"}
		if keep {
			wantTrusted = []string{"127.0.0.1/32", "10.42.0.0/16"}
		}
		if !slices.Equal(obs.trusted, wantTrusted) {
			t.Errorf("keepVmEntry %v: trusted proxies %v, want %v", keep, obs.trusted, wantTrusted)
		}
		obs.mu.Unlock()
		want1 := "s-2vcpu-4gb"
		if keep {
			want1 = "s-1vcpu-2gb"
		}
		if got := str(input(find(t, c, tDroplet, "app-1"), "size")); got != want1 {
			t.Errorf("keepVmEntry %v: app-1 size %s, want %s", keep, got, want1)
		}
		if got := str(input(find(t, c, tDroplet, "app-2"), "size")); got != "s-2vcpu-4gb" {
			t.Errorf("keepVmEntry %v: app-2 size %s", keep, got)
		}
	}
}
