package mockrun_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/flavormonk/flavormonk/infra/mockrun"
)

// A command whose input (triggers, environment, or an input the provider
// takes secret at preview) holds the given value.
func commandWith(kind, input string, v func() pulumi.Input) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		var triggers pulumi.ArrayInput = pulumi.Array{pulumi.String("plain")}
		var env pulumi.StringMapInput
		create, stdin := pulumi.StringInput(pulumi.String("true")), pulumi.StringPtrInput(nil)
		key := pulumi.StringPtrInput(pulumi.String("plain-key"))
		switch input {
		case "triggers":
			triggers = pulumi.Array{pulumi.String("plain"), v()}
		case "environment":
			env = pulumi.StringMap{"PLAIN": pulumi.String("x"), "SECRET": v().(pulumi.StringInput)}
		case "create":
			create = v().(pulumi.StringInput)
		case "stdin":
			stdin = v().(pulumi.StringOutput).ToStringPtrOutput()
		case "connection":
			key = v().(pulumi.StringOutput).ToStringPtrOutput()
		}
		switch kind {
		case "remote":
			_, err := remote.NewCommand(ctx, "cmd", &remote.CommandArgs{
				Connection:  remote.ConnectionArgs{Host: pulumi.String("203.0.113.1"), PrivateKey: key},
				Create:      create,
				Stdin:       stdin,
				Environment: env,
				Triggers:    triggers,
			})
			return err
		default:
			_, err := local.NewCommand(ctx, "cmd", &local.CommandArgs{
				Create:      create,
				Stdin:       stdin,
				Environment: env,
				Triggers:    triggers,
			})
			return err
		}
	}
}

// The guard refuses a secret anywhere in a command's triggers or
// environment, as pulumi-command does at preview, and lets plain values
// (an unsecreted hash of a secret included) through. It holds for a
// deployment too: `pulumi up` previews first, so what a preview refuses
// never reaches the deployment.
func TestPreviewRefusesSecretTriggers(t *testing.T) {
	secret := func() pulumi.StringOutput { return pulumi.ToSecret(pulumi.String("s3cret")).(pulumi.StringOutput) }
	refused := []struct {
		name, input, path string
		v                 func() pulumi.Input
	}{
		{"secret", "triggers", "triggers[1]", func() pulumi.Input { return secret() }},
		{"hash of a secret", "triggers", "triggers[1]", func() pulumi.Input {
			return secret().ApplyT(func(s string) string { return "hash-of-" + s })
		}},
		{"secret in a list", "triggers", "triggers[1][1]", func() pulumi.Input { return pulumi.Array{pulumi.String("a"), secret()} }},
		{"secret in a map", "triggers", "triggers[1].env", func() pulumi.Input { return pulumi.Map{"env": secret(), "image": pulumi.String("x")} }},
		{"secret in environment", "environment", "environment.SECRET", func() pulumi.Input { return secret() }},
	}
	for _, kind := range []string{"remote", "local"} {
		for _, tc := range refused {
			for _, mode := range []struct {
				name    string
				preview bool
			}{{"preview", true}, {"up", false}} {
				t.Run(kind+"/"+tc.name+"/"+mode.name, func(t *testing.T) {
					_, err := mockrun.Run(commandWith(kind, tc.input, tc.v), mockrun.Options{Preview: mode.preview})
					want := "command:" + kind + ":Command cmd: " + tc.path + ": malformed secret: missing value"
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Fatalf("err = %v, want %q", err, want)
					}
				})
			}
		}
	}
	for _, kind := range []string{"remote", "local"} {
		c, err := mockrun.Run(commandWith(kind, "triggers", func() pulumi.Input {
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
	// The inputs the provider takes secret at preview pass: the scripts,
	// stdin, and the connection (its private key comes from config, known).
	for _, kind := range []string{"remote", "local"} {
		for _, input := range []string{"create", "stdin", "connection"} {
			if kind == "local" && input == "connection" {
				continue
			}
			if _, err := mockrun.Run(commandWith(kind, input, func() pulumi.Input { return secret() }), mockrun.Options{Preview: true}); err != nil {
				t.Errorf("%s: a secret %s refused: %v", kind, input, err)
			}
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

// Aliases resolve to the old URNs the engine would look for: a spec's
// unset fields are the resource's own, NoParent puts it at the root, Parent
// under that resource; a child of an aliased component has no alias of its
// own, and the engine derives its old URN from its parent's (a name that
// began with the parent's name begins with the parent's old name).
func TestAliasURNs(t *testing.T) {
	c, err := mockrun.Run(func(ctx *pulumi.Context) error {
		cmd := func(name string, opts ...pulumi.ResourceOption) error {
			_, err := local.NewCommand(ctx, name, &local.CommandArgs{Create: pulumi.String("true")}, opts...)
			return err
		}
		legacy := &struct{ pulumi.ResourceState }{}
		if err := ctx.RegisterComponentResource("flavormonk:test:Legacy", "legacy", legacy); err != nil {
			return err
		}
		group := &struct{ pulumi.ResourceState }{}
		if err := ctx.RegisterComponentResource("flavormonk:test:Group", "group", group,
			pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String("old")}})); err != nil {
			return err
		}
		for _, err := range []error{
			cmd("renamed", pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String("was")}})),
			cmd("moved-in", pulumi.Parent(legacy), pulumi.Aliases([]pulumi.Alias{{NoParent: pulumi.Bool(true)}})),
			cmd("moved-out", pulumi.Aliases([]pulumi.Alias{{Parent: legacy}})),
			cmd("group-first", pulumi.Parent(group)),
			cmd("plain", pulumi.Parent(group)),
			cmd("untouched"),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	}, mockrun.Options{Stack: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	const pre = "urn:pulumi:prod::flavormonk::"
	const cmdType = "command:local:Command"
	old := c.OldURNs()
	for _, tc := range []struct {
		urn  string
		want []string
	}{
		{pre + "flavormonk:test:Group::group", []string{pre + "flavormonk:test:Group::old"}},
		{pre + cmdType + "::renamed", []string{pre + cmdType + "::was"}},
		{pre + "flavormonk:test:Legacy$" + cmdType + "::moved-in", []string{pre + cmdType + "::moved-in"}},
		{pre + cmdType + "::moved-out", []string{pre + "flavormonk:test:Legacy$" + cmdType + "::moved-out"}},
		{pre + "flavormonk:test:Group$" + cmdType + "::group-first", []string{pre + "flavormonk:test:Group$" + cmdType + "::old-first"}},
		{pre + "flavormonk:test:Group$" + cmdType + "::plain", []string{pre + "flavormonk:test:Group$" + cmdType + "::plain"}},
		{pre + cmdType + "::untouched", nil},
	} {
		got, ok := old[tc.urn]
		if !ok {
			t.Errorf("%s not declared (declared: %v)", tc.urn, old)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("old URNs of %s = %v, want %v", tc.urn, got, tc.want)
		}
	}
	// The children declare no alias of their own: only the engine's
	// derivation (OldURNs) finds where they were.
	if r, _ := c.Find(cmdType, "group-first"); len(r.Aliases) != 0 {
		t.Errorf("child declares aliases %v", r.Aliases)
	}
}
