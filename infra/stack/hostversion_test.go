package stack_test

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
	"github.com/flavormonk/flavormonk/infra/wiring"
)

// chromaCommand runs stack.ChromaVersion for one version under mocks and
// returns the command it declares.
func chromaCommand(t *testing.T, version string) mockrun.Resource {
	t.Helper()
	c, err := mockrun.Run(func(ctx *pulumi.Context) error {
		h := stack.Host{Name: "chroma", Role: plan.RoleChroma, PublicIP: pulumi.String("203.0.113.5").ToStringOutput(),
			PrivateIP: pulumi.String("10.42.0.5").ToStringOutput()}
		in := &stack.Inputs{SSHPrivateKey: pulumi.ToSecret(pulumi.String(sentinelSSH)).(pulumi.StringOutput)}
		// A stand-in for the machine the command waits for.
		machine, err := remote.NewCommand(ctx, "machine", &remote.CommandArgs{Connection: stack.Connection(h, in), Create: pulumi.String("true")})
		if err != nil {
			return err
		}
		h.Resource = machine
		_, err = stack.ChromaVersion(ctx, h, in, version)
		return err
	}, mockrun.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, ok := c.Find("command:remote:Command", "chroma-version")
	if !ok {
		t.Fatal("no chroma-version command")
	}
	return r
}

// TestChromaVersionTrigger: a new Chroma pin changes the command's trigger
// (so `pulumi up` re-runs it on the running host) and the image it sets.
func TestChromaVersionTrigger(t *testing.T) {
	a, b := chromaCommand(t, "1.0.20"), chromaCommand(t, "1.0.21")
	trig := func(r mockrun.Resource) string { return mockrun.Plain(r.Inputs["triggers"], false).([]any)[0].(string) }
	if trig(a) != "1.0.20" || trig(b) != "1.0.21" {
		t.Errorf("triggers %q, %q: want the versions", trig(a), trig(b))
	}
	create := mockrun.Plain(b.Inputs["create"], false).(string)
	if !strings.Contains(create, "chromadb/chroma:1.0.21") || !strings.HasPrefix(create, stack.Booted) {
		t.Errorf("create %q", create)
	}
	stdin := mockrun.Plain(b.Inputs["stdin"], false).(string)
	for _, want := range []string{"docker pull", "FLAVORMONK_CHROMA_IMAGE=", "systemctl restart flavormonk-chroma", "/api/v2/heartbeat"} {
		if !strings.Contains(stdin, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	if _, err := mockrun.Run(func(ctx *pulumi.Context) error {
		_, err := stack.ChromaVersion(ctx, stack.Host{}, &stack.Inputs{}, "0.6.3; reboot")
		return err
	}, mockrun.Options{}); err == nil || !strings.Contains(err.Error(), "1.x release") {
		t.Errorf("a bad version: %v", err)
	}
}

// TestChromaVersionEveryChromaHost: every phase with a Chroma server runs
// the command on it, pinned to the version its user data installs.
func TestChromaVersionEveryChromaHost(t *testing.T) {
	for _, tc := range []struct {
		cloud, phase string
		want         bool
	}{
		{"hetzner", "mvp", false}, {"hetzner", "upgrade", true}, {"hetzner", "scale", true},
		{"digitalocean", "mvp", false}, {"digitalocean", "upgrade", true}, {"digitalocean", "scale", true},
	} {
		cfg := config(tc.cloud, tc.phase)
		c, err := mockrun.Run(stack.Program(wiring.Clouds(), nil), mockrun.Options{Config: cfg, SecretKeys: secretKeys})
		if err != nil {
			t.Fatal(err)
		}
		r, ok := c.Find("command:remote:Command", "chroma-version")
		if ok != tc.want {
			t.Fatalf("%s/%s: chroma-version declared %v, want %v", tc.cloud, tc.phase, ok, tc.want)
		}
		if !ok {
			continue
		}
		var ud string
		for _, d := range c.Resources {
			if d.Name == "chroma" && (strings.HasSuffix(d.Type, "Server") || strings.HasSuffix(d.Type, "Droplet")) {
				ud, _ = mockrun.Plain(d.Inputs["userData"], false).(string)
				if !r.DependsOnResource(d) {
					t.Errorf("%s/%s: chroma-version does not wait for the chroma machine", tc.cloud, tc.phase)
				}
			}
		}
		v := mockrun.Plain(r.Inputs["triggers"], false).([]any)[0].(string)
		if !strings.Contains(ud, "FLAVORMONK_CHROMA_IMAGE=chromadb/chroma:"+v+"\n") {
			t.Errorf("%s/%s: command pins %s, user data another", tc.cloud, tc.phase, v)
		}
	}
}
