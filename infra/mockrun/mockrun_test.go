package mockrun_test

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/mockrun"
)

// A command whose triggers hold the given value.
func commandWith(kind string, trigger func() pulumi.Input) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		switch kind {
		case "remote":
			_, err := remote.NewCommand(ctx, "cmd", &remote.CommandArgs{
				Connection: remote.ConnectionArgs{Host: pulumi.String("203.0.113.1")},
				Create:     pulumi.String("true"),
				Triggers:   pulumi.Array{pulumi.String("plain"), trigger()},
			})
			return err
		default:
			_, err := local.NewCommand(ctx, "cmd", &local.CommandArgs{
				Create:   pulumi.String("true"),
				Triggers: pulumi.Array{pulumi.String("plain"), trigger()},
			})
			return err
		}
	}
}

// The guard refuses a secret anywhere in a command's triggers at preview,
// as pulumi-command does, and lets plain values (an unsecreted hash of a
// secret included) through.
func TestPreviewRefusesSecretTriggers(t *testing.T) {
	secret := func() pulumi.StringOutput { return pulumi.ToSecret(pulumi.String("s3cret")).(pulumi.StringOutput) }
	refused := []struct {
		name, path string
		trigger    func() pulumi.Input
	}{
		{"secret", "triggers[1]", func() pulumi.Input { return secret() }},
		{"hash of a secret", "triggers[1]", func() pulumi.Input {
			return secret().ApplyT(func(s string) string { return "hash-of-" + s })
		}},
		{"secret in a list", "triggers[1][1]", func() pulumi.Input { return pulumi.Array{pulumi.String("a"), secret()} }},
		{"secret in a map", "triggers[1].env", func() pulumi.Input { return pulumi.Map{"env": secret(), "image": pulumi.String("x")} }},
	}
	for _, kind := range []string{"remote", "local"} {
		for _, tc := range refused {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				_, err := mockrun.Run(commandWith(kind, tc.trigger), mockrun.Options{Preview: true})
				want := "command:" + kind + ":Command cmd: " + tc.path + ": malformed secret: missing value"
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want %q", err, want)
				}
				// A deployment (not a preview) resolves the secret, which
				// the provider accepts: no guard there.
				if _, err := mockrun.Run(commandWith(kind, tc.trigger), mockrun.Options{}); err != nil {
					t.Fatalf("up: %v", err)
				}
			})
		}
	}
	for _, kind := range []string{"remote", "local"} {
		c, err := mockrun.Run(commandWith(kind, func() pulumi.Input {
			return pulumi.Unsecret(secret().ApplyT(func(s string) string { return "hash-of-" + s }))
		}), mockrun.Options{Preview: true})
		if err != nil {
			t.Fatalf("%s: an unsecreted hash refused: %v", kind, err)
		}
		cmds := c.ByType("command:" + kind + ":Command")
		if len(cmds) != 1 {
			t.Fatalf("%s: %d commands declared", kind, len(cmds))
		}
		if got := mockrun.Plain(cmds[0].Inputs["triggers"], false); len(got.([]any)) != 2 || got.([]any)[1] != "hash-of-s3cret" {
			t.Fatalf("%s: triggers %v", kind, got)
		}
	}
}

// URNs are the engine's, stack and parents included, so a URN the offline
// plan prints can be given to `pulumi state` as it is.
func TestURNsAreTheEngines(t *testing.T) {
	c, err := mockrun.Run(func(ctx *pulumi.Context) error {
		parent := &struct{ pulumi.ResourceState }{}
		if err := ctx.RegisterComponentResource("flavormonk:test:Group", "group", parent); err != nil {
			return err
		}
		first, err := local.NewCommand(ctx, "first", &local.CommandArgs{Create: pulumi.String("true")}, pulumi.Parent(parent))
		if err != nil {
			return err
		}
		_, err = local.NewCommand(ctx, "second", &local.CommandArgs{Create: pulumi.String("true")}, pulumi.DependsOn([]pulumi.Resource{first}))
		return err
	}, mockrun.Options{Stack: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := c.Find("command:local:Command", "first")
	second, _ := c.Find("command:local:Command", "second")
	if want := "urn:pulumi:prod::flavormonk::flavormonk:test:Group$command:local:Command::first"; first.URN != want {
		t.Errorf("URN %s, want %s", first.URN, want)
	}
	if !second.DependsOnResource(first) || first.DependsOnResource(second) {
		t.Errorf("dependencies %v of %s", second.DependsOn, first.URN)
	}
}
