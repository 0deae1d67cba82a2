// Command plan previews a stack offline: it runs the Pulumi program under
// mocks with the stack's config (placeholders for secrets), and prints the
// resources it declares, the outputs, the monthly cost and, with -to, the
// transition check. It needs no cloud credentials; `pulumi preview` remains
// the authority against live state.
//
//	go run ./cmd/plan -stack dev [-phase upgrade] [-cloud digitalocean] [-to upgrade]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"

	"gopkg.in/yaml.v3"

	"github.com/flavormonk/flavormonk/infra/cost"
	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
	"github.com/flavormonk/flavormonk/infra/transition"
	"github.com/flavormonk/flavormonk/infra/wiring"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "plan:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stackName := fs.String("stack", "dev", "stack whose Pulumi.<stack>.yaml is read")
	dir := fs.String("dir", ".", "folder holding Pulumi.yaml and the stack files")
	phase := fs.String("phase", "", "override the stack's phase (mvp, upgrade, scale)")
	cloud := fs.String("cloud", "", "override the stack's cloud (hetzner, digitalocean); cloud-specific keys fall back to defaults")
	to := fs.String("to", "", "also check the transition to this phase (the way back is shown, for information)")
	var sets []string
	fs.Func("set", "KEY=VALUE: also check the transition to this config change (repeatable; with or without -to), e.g. -set serverImage=debian-13", func(s string) error {
		k, _, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, got %q", s)
		}
		sets = append(sets, s)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, secrets, err := readStack(filepath.Join(*dir, "Pulumi."+*stackName+".yaml"))
	if err != nil {
		return err
	}
	if *cloud != "" {
		if cfg[plan.Namespace+":cloud"] != *cloud {
			for _, k := range []string{"region", "serverImage", "sizes", "dnsZone"} {
				delete(cfg, plan.Namespace+":"+k)
			}
			fmt.Fprintf(stdout, "note: cloud overridden to %s; region, serverImage, sizes and dnsZone use that cloud's defaults\n", *cloud)
		}
		cfg[plan.Namespace+":cloud"] = *cloud
	}
	if *phase != "" {
		cfg[plan.Namespace+":phase"] = *phase
	}
	from, err := preview(*stackName, cfg, secrets, stdout, true)
	if err != nil {
		return err
	}
	if *to == "" && len(sets) == 0 {
		return nil
	}
	fromPhase := cfg[plan.Namespace+":phase"]
	if fromPhase == "" {
		fromPhase = string(plan.MVP)
	}
	if *to == "" {
		*to = fromPhase
	}
	toCfg := clone(cfg)
	toCfg[plan.Namespace+":phase"] = *to
	for _, s := range sets {
		k, v, _ := strings.Cut(s, "=")
		toCfg[plan.Namespace+":"+k] = v
	}
	target, err := preview(*stackName, toCfg, secrets, stdout, false)
	if err != nil {
		return err
	}
	// The exit status follows the move asked for. The way back is shown
	// too, since a phase change is often undone, but only as information:
	// `make plan STACK=prod PHASE=mvp TO=upgrade` must not fail because the
	// return trip would meet the protected Valkey.
	change := ""
	if len(sets) > 0 {
		change = " with " + strings.Join(sets, ", ")
	}
	fmt.Fprintf(stdout, "\n== transition %s → %s%s ==\n", fromPhase, *to, change)
	rep := transition.Check(from, target)
	rep.Write(stdout)
	fmt.Fprintf(stdout, "\n== remote commands the move to %s runs over SSH (new or changed) ==\n", *to)
	writeCommands(stdout, from, target)
	fmt.Fprintf(stdout, "\n== for information, not checked: the way back, %s → %s ==\n", *to, fromPhase)
	transition.Check(target, from).Write(stdout)
	var errs []error
	if len(rep.AtRisk()) > 0 {
		errs = append(errs, fmt.Errorf("the move to %s would replace or delete a stateful or protected resource (see above)", *to))
	}
	if len(rep.Dropped()) > 0 {
		errs = append(errs, fmt.Errorf("protected resource dropped — operator step needed: the move to %s deletes a protected resource, "+
			"which `pulumi up` refuses until it is unprotected (the command is above; README, \"Moving a DigitalOcean stack back to mvp\")", *to))
	}
	return errors.Join(errs...)
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// readStack reads a stack file's config: structured values as JSON text,
// secure values replaced by placeholders (their names returned as secrets).
func readStack(path string) (map[string]string, []string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the stack config: %w", err)
	}
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg := map[string]string{}
	var secrets []string
	for k, v := range doc.Config {
		if !strings.Contains(k, ":") {
			k = plan.Namespace + ":" + k
		}
		switch x := v.(type) {
		case string:
			cfg[k] = x
		case map[string]any:
			if _, ok := x["secure"]; ok && len(x) == 1 {
				cfg[k] = "offline-placeholder-" + strings.TrimPrefix(k, plan.Namespace+":")
				secrets = append(secrets, k)
				continue
			}
			j, _ := json.Marshal(x)
			cfg[k] = string(j)
		default:
			j, _ := json.Marshal(x)
			cfg[k] = string(j)
		}
	}
	// Secrets a real stack holds but a committed file cannot: placeholders.
	for _, s := range []string{"sshPrivateKey", "openaiApiKey", "replicateApiToken"} {
		k := plan.Namespace + ":" + s
		if _, ok := cfg[k]; !ok {
			cfg[k] = "offline-placeholder-" + s
			secrets = append(secrets, k)
		}
	}
	return cfg, secrets, nil
}

func preview(stackName string, cfg map[string]string, secrets []string, w io.Writer, print bool) (*mockrun.Capture, error) {
	var p *plan.Plan
	var est *cost.Estimate
	outputs := map[string]string{}
	var secretOut []string
	var mu sync.Mutex // outputs resolve on their own goroutines
	hooks := &stack.Hooks{
		Plan:     func(x *plan.Plan) { p = x },
		Estimate: func(e *cost.Estimate) { est = e },
		Output: func(name string, v any, secret bool) {
			mu.Lock()
			defer mu.Unlock()
			if secret {
				secretOut = append(secretOut, name)
				outputs[name] = "[secret]"
				return
			}
			switch x := v.(type) {
			case string:
				outputs[name] = x
			default:
				j, _ := json.Marshal(x)
				outputs[name] = string(j)
			}
		},
	}
	// A preview, as `pulumi preview` runs the program: the mocks refuse
	// what a real provider refuses there (mockrun.Options.Preview).
	c, err := mockrun.Run(stack.Program(wiring.Clouds(), hooks), mockrun.Options{Stack: stackName, Config: cfg, SecretKeys: secrets, Preview: true})
	if err != nil {
		return nil, err
	}
	if !print {
		return c, nil
	}
	fmt.Fprintf(w, "stack %s: %s, phase %s, region %s\n\n", stackName, p.Cloud, p.Phase, p.Region)
	if r := p.Registry; r.Set() {
		// The token is never read here (the stack file holds it encrypted).
		fmt.Fprintf(w, "registry: %s, username %s, registryPassword: %s\n\n", r.Server, r.Username, mockrun.Redacted)
	}
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tNAME\tSETTINGS\tOPTIONS")
	rs := append([]mockrun.Resource(nil), c.Resources...)
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Type != rs[j].Type {
			return rs[i].Type < rs[j].Type
		}
		return rs[i].Name < rs[j].Name
	})
	for _, r := range rs {
		if !r.Custom {
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", shortType(r.Type), r.Name, settings(r), options(r))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nremote commands over SSH (each after its host's first boot):")
	writeCommands(w, nil, c)
	fmt.Fprintln(w, "\noutputs:")
	names := make([]string, 0, len(outputs))
	for k := range outputs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "  %s: %s\n", k, outputs[k])
	}
	if est != nil {
		// With a token, the clouds' own pricing APIs and a preflight of the
		// chosen types; without, the dated snapshot (each line names its source).
		hc, do := os.Getenv("HCLOUD_TOKEN"), os.Getenv("DIGITALOCEAN_TOKEN")
		if hc != "" || do != "" {
			items := make([]cost.Item, len(est.Lines))
			kinds := []string{}
			for i, l := range est.Lines {
				items[i] = l.Item
				kinds = append(kinds, l.Kind) // Preflight skips the kinds it does not check
			}
			if err := cost.Preflight(context.Background(), hc, do, string(p.Cloud), p.Region, kinds); err != nil {
				return nil, fmt.Errorf("preflight: %w", err)
			}
			if e, err := cost.Live(hc, do, cost.WithSnapshotFallback()).Price(context.Background(), string(p.Cloud), p.Region, items); err == nil {
				est = e
			} else {
				fmt.Fprintf(w, "live pricing failed (%v); showing the snapshot\n", err)
			}
		}
		fmt.Fprintln(w, "\nmonthly cost:")
		est.Budget = p.Budget
		est.Table(w)
		if p.Budget > 0 && est.Over(p.Budget) {
			fmt.Fprintf(w, "WARNING: %.2f %s is over the stack's budget of %.2f %s\n", est.Total, est.Currency, p.Budget, p.Currency())
		}
	}
	return c, nil
}

func shortType(t string) string {
	parts := strings.Split(t, ":")
	if len(parts) == 3 {
		if i := strings.LastIndex(parts[2], ""); i >= 0 {
			return parts[0] + ":" + parts[2]
		}
	}
	return t
}

// settings shows the inputs that say what a resource is.
func settings(r mockrun.Resource) string {
	var out []string
	if strings.HasPrefix(r.Type, "kubernetes:") {
		return kubeSettings(r)
	}
	for _, k := range []string{"serverType", "size", "location", "region", "image", "engine", "version", "nodeCount", "loadBalancerType", "ipRange", "format", "filesystemType"} {
		if v, ok := r.Inputs[keyOf(k)]; ok && !v.IsNull() {
			s := v.String()
			switch {
			case v.IsString():
				s = v.StringValue()
			case v.IsNumber():
				s = fmt.Sprintf("%g", v.NumberValue())
			}
			out = append(out, k+"="+s)
		}
	}
	return strings.Join(out, " ")
}

// kubeSettings shows a Kubernetes object's name and the numbers that
// matter for scale (replicas, HPA bounds, Service type).
func kubeSettings(r mockrun.Resource) string {
	obj := mockrun.PlainMap(r.Inputs, true)
	get := func(path ...string) any {
		var cur any = obj
		for _, k := range path {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = m[k]
		}
		return cur
	}
	var out []string
	add := func(label string, v any) {
		if v != nil && v != "" {
			out = append(out, fmt.Sprintf("%s=%v", label, v))
		}
	}
	add("name", get("metadata", "name"))
	add("namespace", get("metadata", "namespace"))
	add("replicas", get("spec", "replicas"))
	add("minReplicas", get("spec", "minReplicas"))
	add("maxReplicas", get("spec", "maxReplicas"))
	add("maxUnavailable", get("spec", "maxUnavailable"))
	add("type", get("spec", "type"))
	return strings.Join(out, " ")
}

func options(r mockrun.Resource) string {
	var out []string
	if r.Protect {
		out = append(out, "protect")
	}
	if r.RetainOnDelete {
		out = append(out, "retainOnDelete")
	}
	if len(r.IgnoreChanges) > 0 {
		out = append(out, "ignoreChanges="+strings.Join(r.IgnoreChanges, ","))
	}
	return strings.Join(out, " ")
}
