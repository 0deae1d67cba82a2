package stack_test

import (
	"strings"
	"testing"

	"github.com/flavormonk/flavormonk/infra/cloudinit"
)

// Every app host gets the unit's stop settings as a drop-in before its
// deploy restarts the app, so that a host made before the drain (whose
// first unit killed the app after 30 s) lets the app drain too: the
// template's drop-in always, the legacy unit's where that unit is still
// installed (it serves until the deploy retires it).
func TestDeployInstallsStopDropIn(t *testing.T) {
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		for _, phase := range []string{"mvp", "upgrade"} {
			t.Run(cloud+"/"+phase, func(t *testing.T) {
				c := runRegistry(t, config(cloud, phase), secretKeys, false)
				pairs := appHostPairs(t, c)
				if len(pairs) == 0 {
					t.Fatal("no deploy commands")
				}
				for _, p := range pairs {
					create := createOf(p.bundle)
					files := bundleFiles(t, create)
					if got := files[cloudinit.AppStopDropInPath]; got != cloudinit.AppStopDropIn {
						t.Errorf("%s: drop-in %q, want %q", p.bundle.Name, got, cloudinit.AppStopDropIn)
					}
					if got := files[cloudinit.LegacyStopDropInPath]; got != cloudinit.LegacyStopDropIn {
						t.Errorf("%s: legacy drop-in %q, want %q", p.bundle.Name, got, cloudinit.LegacyStopDropIn)
					}
					if !strings.Contains(create, "{ [ ! -e "+cloudinit.LegacyUnitPath+" ] || { echo ") {
						t.Errorf("%s: the legacy drop-in is not limited to hosts with the legacy unit", p.bundle.Name)
					}
					if i, j := strings.Index(create, cloudinit.AppStopDropInPath), strings.Index(create, "sudo systemctl daemon-reload"); i < 0 || j < i {
						t.Errorf("%s: systemd is not reloaded after the drop-in", p.bundle.Name)
					}
					if !p.deploy.DependsOnResource(p.bundle) {
						t.Errorf("%s runs without waiting for %s", p.deploy.Name, p.bundle.Name)
					}
				}
			})
		}
	}
}
