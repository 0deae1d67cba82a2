package transition

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/plan"
)

// The in-place table: a Hetzner public-network change is a reboot, an
// ignored input is none, and app servers all resized at once behind the
// load balancer leave none serving.
func TestInPlaceTable(t *testing.T) {
	srv := func(name, typ string, pub bool) mockrun.Resource {
		r := res(tHServer, name, map[string]any{"serverType": typ, "keepDisk": true,
			"publicNets": []any{map[string]any{"ipv4Enabled": true, "ipv6Enabled": pub}}})
		r.IgnoreChanges = []string{"userData", "sshKeys", "image"}
		return r
	}
	lb := res(tHLB, "lb", map[string]any{"loadBalancerType": "lb11"})
	up := &plan.Plan{Cloud: plan.Hetzner, Phase: plan.Upgrade}

	from := capture(srv("app-1", "cx33", true), srv("app-2", "cx33", true), lb)
	to := capture(srv("app-1", "cx43", true), srv("app-2", "cx43", false), lb)
	rep := CheckPhases(Side{Plan: up, Run: from}, Side{Plan: up, Run: to})
	if len(rep.Resizes) != 2 || len(rep.Reboots) != 1 || rep.Reboots[0].Name != "app-2" || !strings.Contains(rep.Reboots[0].What, "publicNets") {
		t.Fatalf("resizes %v, reboots %v", rep.Resizes, rep.Reboots)
	}
	if len(rep.Windows) != 1 || !strings.Contains(rep.Windows[0].What, "Every app server behind the load balancer (app-1, app-2)") {
		t.Errorf("windows %v", rep.Windows)
	}
	if rep.HandOver != nil {
		t.Errorf("hand-over for a resize in upgrade: %v", rep.HandOver)
	}

	// One of two resized: the other serves; no window.
	to = capture(srv("app-1", "cx43", true), srv("app-2", "cx33", true), lb)
	if rep := CheckPhases(Side{Plan: up, Run: from}, Side{Plan: up, Run: to}); len(rep.Resizes) != 1 || len(rep.Windows) != 0 ||
		!strings.Contains(rep.Resizes[0].Downtime, "the other app servers serve") {
		t.Errorf("one resized: resizes %v, windows %v", rep.Resizes, rep.Windows)
	}

	// An input the program ignores after creation changes nothing.
	a, b := srv("db", "cx23", true), srv("db", "cx23", true)
	b.IgnoreChanges = append(b.IgnoreChanges, "serverType")
	b.Inputs[keyOf("serverType")] = resourceString("cx33")
	if rep := CheckPhases(Side{Plan: up, Run: capture(a)}, Side{Plan: up, Run: capture(b)}); len(rep.Resizes) != 0 {
		t.Errorf("an ignored serverType: %v", rep.Resizes)
	}

	var out strings.Builder
	rep.Write(&out)
	for _, want := range []string{"in-place resizes (2):", "in-place reboots (1):", "WINDOWS WITHOUT A SERVING SERVER (1):"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	Check(from, to).Write(&out)
	if strings.Contains(out.String(), "in-place") {
		t.Errorf("Check alone prints the serving part:\n%s", out.String())
	}
}

func resourceString(s string) resource.PropertyValue { return resource.NewStringProperty(s) }
