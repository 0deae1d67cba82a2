package stack_test

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"

	"github.com/flavormonk/flavormonk/infra/cloudinit"
	"github.com/flavormonk/flavormonk/infra/mockrun"
)

// Every deploy installs the unit's stop settings as a drop-in before it
// restarts the app, so that a host made before the drain (whose first
// unit killed the app after 30 s) lets the app drain too.
func TestDeployInstallsStopDropIn(t *testing.T) {
	b64 := regexp.MustCompile(`echo ([A-Za-z0-9+/=]+) \| base64 -d \| sudo install -D -m 0644 -o root -g root /dev/stdin /etc/systemd/system/flavormonk.service.d/stop.conf && sudo systemctl daemon-reload && `)
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		for _, phase := range []string{"mvp", "upgrade"} {
			t.Run(cloud+"/"+phase, func(t *testing.T) {
				c := runRegistry(t, config(cloud, phase), secretKeys, false)
				deploys := 0
				for _, d := range c.ByType("command:remote:Command") {
					if !strings.HasPrefix(d.Name, "deploy-") {
						continue
					}
					deploys++
					create, _ := mockrun.Plain(d.Inputs["create"], false).(string)
					m := b64.FindStringSubmatchIndex(create)
					if m == nil {
						t.Fatalf("%s does not install the stop drop-in:\n%s", d.Name, create)
					}
					got, err := base64.StdEncoding.DecodeString(create[m[2]:m[3]])
					if err != nil || string(got) != cloudinit.AppStopDropIn {
						t.Errorf("%s: drop-in %q, want %q", d.Name, got, cloudinit.AppStopDropIn)
					}
					if i := strings.Index(create, "flavormonk-deploy"); i < m[1] {
						t.Errorf("%s: the deploy runs before the drop-in is installed:\n%s", d.Name, create)
					}
				}
				if deploys == 0 {
					t.Fatal("no deploy commands")
				}
			})
		}
	}
}
