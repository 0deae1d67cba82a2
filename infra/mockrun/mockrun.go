// Package mockrun runs the Pulumi program under pulumi.WithMocks and
// captures every resource it declares, with the options that matter to the
// phase-change invariants (protect, retainOnDelete, ignoreChanges) and the
// secret outputs. The offline plan and the tests both use it, so they see
// exactly what `pulumi up` would be asked to create. In both modes it
// refuses what a real provider refuses at preview (a secret in a command's
// triggers or environment), since `pulumi up` previews first.
package mockrun

import (
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Resource is one declared resource.
type Resource struct {
	Type           string
	Name           string
	URN            string
	Parent         string
	Custom         bool
	Inputs         resource.PropertyMap
	Protect        bool
	RetainOnDelete bool
	IgnoreChanges  []string
	DependsOn      []string
	Provider       string
	// Aliases are the URNs the resource declares it was known by
	// (pulumi.Aliases), resolved as the engine resolves them.
	Aliases []string
	// AdditionalSecretOutputs are outputs the program marks secret.
	AdditionalSecretOutputs []string
}

// Capture is what one run declared.
type Capture struct {
	mu        sync.Mutex
	Resources []Resource
	Outputs   map[string]any // stack outputs, resolved (secrets included, marked in Secret)
	Secret    map[string]bool
}

// ByType returns the resources of a type token, e.g. "hcloud:index/server:Server".
func (c *Capture) ByType(t string) []Resource {
	var out []Resource
	for _, r := range c.Resources {
		if r.Type == t {
			out = append(out, r)
		}
	}
	return out
}

// Find returns the resource with a type and logical name.
func (c *Capture) Find(t, name string) (Resource, bool) {
	for _, r := range c.Resources {
		if r.Type == t && r.Name == name {
			return r, true
		}
	}
	return Resource{}, false
}

type mocks struct {
	c              *Capture
	project, stack string
	generation     string
	onResource     func(Resource)
}

// secretTriggerTypes are the resource types whose provider refuses a
// secret in triggers (and in environment and the other list and map inputs)
// at preview. pulumi-command v1.1.0 fails the whole preview with
// "triggers[0]: malformed secret: missing value" (for environment:
// "malformed RPC secret: missing value") when such an input holds a secret
// not yet known; the mocks resolve every output, so the guard refuses any
// secret there, known or not.
var secretTriggerTypes = map[string]bool{
	"command:remote:Command":      true,
	"command:remote:CopyToRemote": true,
	"command:local:Command":       true,
}

// secretSafeInputs are the command inputs that carry a secret through a
// real preview. connection holds the private key, which comes from stack
// config and so is known (secret known values pass) at preview; stdin and
// the create/update/delete scripts are plain strings the provider takes
// secret and unknown alike.
var secretSafeInputs = map[resource.PropertyKey]bool{
	"connection": true,
	"stdin":      true,
	"create":     true,
	"update":     true,
	"delete":     true,
}

// secretTriggerError is the guard's failure: a secret in a command input
// the provider refuses it in, at Path (as the provider names it, e.g.
// "triggers[0]" or "environment.DB_PASSWORD").
type secretTriggerError struct {
	Type, Name, Path string
}

func (e *secretTriggerError) Error() string {
	return fmt.Sprintf("%s %s: %s: malformed secret: missing value (the command provider refuses a secret unknown at preview in triggers, "+
		"environment and its other list and map inputs, and `pulumi up` previews first: hash a trigger with stack.TriggerHash, "+
		"which returns the hash as a plain value, and pass secrets through stdin or a file)", e.Type, e.Name, e.Path)
}

// guardSecrets finds the first secret in an input the command provider
// refuses it in, in a stable order: every input but secretSafeInputs. The
// list and map ones (triggers, environment) are known to fail; a scalar
// one (dir, a path) is refused too, as nothing needs a secret there and the
// provider's handling of it is unverified.
func guardSecrets(in resource.PropertyMap) (string, bool) {
	for _, k := range in.StableKeys() {
		if secretSafeInputs[k] {
			continue
		}
		if p, ok := secretPath(in[k], string(k)); ok {
			return p, true
		}
	}
	return "", false
}

// secretPath returns the path of the first secret inside v.
func secretPath(v resource.PropertyValue, path string) (string, bool) {
	switch {
	case v.IsSecret():
		return path, true
	case v.IsOutput():
		if v.OutputValue().Secret {
			return path, true
		}
		return secretPath(v.OutputValue().Element, path)
	case v.IsArray():
		for i, e := range v.ArrayValue() {
			if p, ok := secretPath(e, fmt.Sprintf("%s[%d]", path, i)); ok {
				return p, true
			}
		}
	case v.IsObject():
		obj := v.ObjectValue()
		for _, k := range obj.StableKeys() {
			if p, ok := secretPath(obj[k], path+"."+string(k)); ok {
				return p, true
			}
		}
	}
	return "", false
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	// Always on, not only in Preview mode: `pulumi up` previews first, so
	// what fails a preview fails a deployment too.
	if secretTriggerTypes[args.TypeToken] {
		if path, ok := guardSecrets(args.Inputs); ok {
			return "", nil, &secretTriggerError{Type: args.TypeToken, Name: args.Name, Path: path}
		}
	}
	r := Resource{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Inputs: args.Inputs, Provider: args.Provider}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Parent = rpc.GetParent()
		r.Protect = rpc.GetProtect()
		r.RetainOnDelete = rpc.GetRetainOnDelete()
		r.IgnoreChanges = rpc.GetIgnoreChanges()
		r.DependsOn = rpc.GetDependencies()
		r.AdditionalSecretOutputs = rpc.GetAdditionalSecretOutputs()
	}
	r.URN = urn(m.project, m.stack, r)
	if rpc := args.RegisterRPC; rpc != nil {
		r.Aliases = aliasURNs(m.project, m.stack, r, rpc.GetAliasURNs(), rpc.GetAliases())
	}
	m.c.mu.Lock()
	m.c.Resources = append(m.c.Resources, r)
	m.c.mu.Unlock()
	if m.onResource != nil {
		m.onResource(r)
	}
	return args.Name + "-id", fakeOutputs(args.TypeToken, args.Name, m.generation, args.Inputs), nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	switch args.Token {
	case "digitalocean:index/getKubernetesVersions:getKubernetesVersions":
		// The newest patch of the asked prefix, as the API would answer.
		prefix := "1.33."
		if v, ok := args.Args["versionPrefix"]; ok && v.IsString() {
			prefix = v.StringValue()
		}
		latest := prefix + "1-do.0"
		return resource.NewPropertyMapFromMap(map[string]any{
			"latestVersion": latest, "validVersions": []any{latest}, "versionPrefix": prefix, "id": "versions",
		}), nil
	}
	return resource.PropertyMap{}, nil
}

// MockKubeconfig is what a mocked cluster or kubeconfig fetch returns.
const MockKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: mock
  cluster:
    server: https://203.0.113.50:6443
    certificate-authority-data: bW9jaw==
contexts:
- name: mock
  context: {cluster: mock, user: mock}
current-context: mock
users:
- name: mock
  user: {token: mock-kube-token}
`

// urn builds the resource's URN as the engine does (so a URN the plan
// prints is the one `pulumi state` commands take): the qualified type is
// the parent's qualified type and this type joined by "$" (children of the
// root stack have none), so moving a resource to another parent changes its
// URN — which `pulumi up` treats as a delete and a create.
func urn(project, stack string, r Resource) string {
	qt := r.Type
	if pq := qualifiedType(r.Parent); pq != "" && pq != "pulumi:pulumi:Stack" {
		qt = pq + "$" + r.Type
	}
	return fmt.Sprintf("urn:pulumi:%s::%s::%s::%s", stack, project, qt, r.Name)
}

// aliasURNs resolves a resource's aliases to URNs: a spec's unset fields
// are the resource's own (name, type, stack, project, parent).
func aliasURNs(project, stack string, r Resource, urns []string, specs []*pulumirpc.Alias) []string {
	out := append([]string(nil), urns...)
	for _, a := range specs {
		if u := a.GetUrn(); u != "" {
			out = append(out, u)
			continue
		}
		sp := a.GetSpec()
		if sp == nil {
			continue
		}
		old := Resource{Type: r.Type, Name: r.Name, Parent: r.Parent}
		if sp.GetName() != "" {
			old.Name = sp.GetName()
		}
		if sp.GetType() != "" {
			old.Type = sp.GetType()
		}
		switch {
		case sp.GetNoParent():
			old.Parent = ""
		case sp.GetParentUrn() != "":
			old.Parent = sp.GetParentUrn()
		}
		p, s := project, stack
		if sp.GetProject() != "" {
			p = sp.GetProject()
		}
		if sp.GetStack() != "" {
			s = sp.GetStack()
		}
		out = append(out, urn(p, s, old))
	}
	return out
}

// OldURNs returns, for each declared URN, the URNs the engine would take
// for this resource's previous ones: its own aliases and, for a child, its
// URN under each old URN of its parent. The SDK sends no aliases for the
// child (the monitor takes alias specs and the engine derives them), so
// without the second part a child of a moved component would look moved
// without an alias.
func (c *Capture) OldURNs() map[string][]string {
	byURN := map[string]Resource{}
	for _, r := range c.Resources {
		byURN[r.URN] = r
	}
	out := map[string][]string{}
	var old func(u string, depth int) []string
	old = func(u string, depth int) []string {
		if l, ok := out[u]; ok {
			return l
		}
		r, ok := byURN[u]
		if !ok || depth > len(byURN) {
			return nil
		}
		l := slices.Clone(r.Aliases)
		if p, ok := byURN[r.Parent]; ok {
			project, stack := urnProjectStack(r.URN)
			for _, pa := range old(p.URN, depth+1) {
				l = append(l, inheritedAlias(project, stack, r, p.Name, pa))
			}
		}
		out[u] = l
		return l
	}
	for u := range byURN {
		old(u, 0)
	}
	return out
}

// inheritedAlias is the old URN the engine derives for a child from an old
// URN of its parent (its inheritedChildAlias): the child under the parent's
// old URN, and a name that began with the parent's name begins with the
// parent's old name instead.
func inheritedAlias(project, stack string, child Resource, parentName, parentOld string) string {
	name := child.Name
	if rest, ok := strings.CutPrefix(name, parentName); ok {
		name = urnName(parentOld) + rest
	}
	return urn(project, stack, Resource{Type: child.Type, Name: name, Parent: parentOld})
}

func urnName(u string) string {
	parts := strings.Split(u, "::")
	return parts[len(parts)-1]
}

// urnProjectStack reads the stack and project out of a URN
// (urn:pulumi:<stack>::<project>::…).
func urnProjectStack(u string) (project, stack string) {
	parts := strings.Split(strings.TrimPrefix(u, "urn:pulumi:"), "::")
	if len(parts) < 2 {
		return "", ""
	}
	return parts[1], parts[0]
}

func qualifiedType(u string) string {
	parts := strings.Split(u, "::")
	if len(parts) < 4 {
		return ""
	}
	return parts[len(parts)-2]
}

// fakeIP derives a stable documentation address from a name.
func fakeIP(name string, private bool) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	v := h.Sum32()
	if private {
		return fmt.Sprintf("10.42.0.%d", 2+v%250)
	}
	return fmt.Sprintf("203.0.113.%d", 1+v%254)
}

// fakeOutputs adds what the clouds compute (addresses, hosts, URIs) to the
// inputs, so programs that build on them see realistic values.
func fakeOutputs(t, name, generation string, in resource.PropertyMap) resource.PropertyMap {
	out := in.Copy()
	set := func(k string, v any) {
		if _, ok := out[resource.PropertyKey(k)]; !ok {
			out[resource.PropertyKey(k)] = resource.NewPropertyValue(v)
		}
	}
	switch {
	case strings.HasPrefix(t, "hcloud:index/server:Server"), strings.HasPrefix(t, "digitalocean:index/droplet:Droplet"):
		set("ipv4Address", fakeIP(name, false))
		set("ipv6Address", "2001:db8::1")
		set("ipv4AddressPrivate", fakeIP(name, true))
		set("urn", "do:droplet:"+name)
	case strings.HasPrefix(t, "hcloud:index/loadBalancer:LoadBalancer"):
		set("ipv4", fakeIP(name, false))
		set("ipv6", "2001:db8::2")
	case strings.HasPrefix(t, "digitalocean:index/loadBalancer:LoadBalancer"):
		set("ip", fakeIP(name, false))
		set("urn", "do:loadbalancer:"+name)
	case strings.HasPrefix(t, "digitalocean:index/databaseCluster:DatabaseCluster"):
		host := name + ".db.ondigitalocean.example"
		set("host", host)
		set("privateHost", "private-"+host)
		set("port", 25060)
		set("user", "doadmin")
		set("password", "mock-password")
		set("uri", "postgresql://doadmin:mock-password@"+host+":25060/defaultdb?sslmode=require")
		set("privateUri", "postgresql://doadmin:mock-password@private-"+host+":25060/defaultdb?sslmode=require")
		set("urn", "do:dbaas:"+name)
	case strings.HasPrefix(t, "digitalocean:index/databaseUser:DatabaseUser"):
		set("password", "mock-user-password")
	case strings.HasPrefix(t, "hcloud:index/volume:Volume"):
		set("linuxDevice", "/dev/disk/by-id/scsi-0HC_Volume_"+name)
	case strings.HasPrefix(t, "digitalocean:index/certificate:Certificate"):
		set("uuid", "mock-certificate-uuid-"+name)
	case strings.HasPrefix(t, "digitalocean:index/volume:Volume"):
		set("urn", "do:volume:"+name)
	case strings.HasPrefix(t, "digitalocean:index/vpc:Vpc"):
		set("urn", "do:vpc:"+name)
	case strings.HasPrefix(t, "digitalocean:index/kubernetesCluster:KubernetesCluster"):
		set("endpoint", "https://"+name+".k8s.ondigitalocean.example")
		set("kubeConfigs", []any{map[string]any{"rawConfig": MockKubeconfig, "host": "https://" + name + ".k8s.ondigitalocean.example"}})
		set("clusterUrn", "do:kubernetes:"+name)
	case strings.HasPrefix(t, "digitalocean:index/databaseConnectionPool:DatabaseConnectionPool"):
		host := name + ".db.ondigitalocean.example"
		set("host", host)
		set("privateHost", "private-"+host)
		set("port", 25061)
		set("password", "mock-pool-password")
	case t == "command:remote:Command":
		out := ""
		if strings.Contains(name, "kubeconfig") {
			out = MockKubeconfig
		}
		set("stdout", out)
		set("stderr", "")
	case t == "kubernetes:core/v1:Service":
		if spec := in["spec"]; spec.IsObject() {
			if ty := spec.ObjectValue()["type"]; ty.IsString() && ty.StringValue() == "LoadBalancer" {
				set("status", map[string]any{"loadBalancer": map[string]any{"ingress": []any{map[string]any{"ip": fakeIP(name+"-lb", false)}}}})
			}
		}
	case strings.HasPrefix(t, "random:index/randomPassword:RandomPassword"):
		set("result", "mock-random-"+generation+name)
	case strings.HasPrefix(t, "tls:index/privateKey:PrivateKey"):
		set("privateKeyOpenssh", "mock-private-key")
		set("publicKeyOpenssh", "ssh-ed25519 AAAAmock")
	}
	return out
}

// Redacted stands for a secret value in Plain's output.
const Redacted = "[secret]"

// Plain converts a captured input to plain Go values (maps, slices,
// strings, float64, bool, nil) as the provider would receive them: known
// outputs are unwrapped, and secrets are replaced by Redacted when redact
// is set (otherwise unwrapped too). Unknown values become nil.
func Plain(v resource.PropertyValue, redact bool) any {
	switch {
	case v.IsSecret():
		if redact {
			return redactLeaves(Plain(v.SecretValue().Element, false))
		}
		return Plain(v.SecretValue().Element, redact)
	case v.IsOutput():
		o := v.OutputValue()
		if !o.Known {
			return nil
		}
		if o.Secret && redact {
			return redactLeaves(Plain(o.Element, false))
		}
		return Plain(o.Element, redact)
	case v.IsComputed(), v.IsNull():
		return nil
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = Plain(e, redact)
		}
		return out
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = Plain(e, redact)
		}
		return out
	case v.IsString():
		return v.StringValue()
	case v.IsNumber():
		return v.NumberValue()
	case v.IsBool():
		return v.BoolValue()
	}
	return v.Mappable()
}

// redactLeaves keeps a secret's shape (a map's keys say what it holds)
// and hides every value.
func redactLeaves(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = redactLeaves(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactLeaves(e)
		}
		return out
	}
	return Redacted
}

// DependsOnResource reports whether r declared a dependency on other
// (dependencies are recorded as the engine's URNs, which urn reproduces).
func (r Resource) DependsOnResource(other Resource) bool {
	return slices.Contains(r.DependsOn, other.URN)
}

// PlainMap is Plain over a resource's inputs.
func PlainMap(m resource.PropertyMap, redact bool) map[string]any {
	return Plain(resource.NewObjectProperty(m), redact).(map[string]any)
}

// Options for Run.
type Options struct {
	Project    string            // default "flavormonk"
	Stack      string            // default "dev"
	Config     map[string]string // "flavormonk:cloud" → "hetzner"
	SecretKeys []string          // config keys that are secret
	// Preview runs the program as `pulumi preview` does (a dry run). The
	// guard against inputs a real provider refuses at preview (see
	// secretTriggerTypes) runs in both modes.
	Preview bool
	// Generation goes into every generated secret (random passwords), so
	// a test can stand for a stack whose passwords were regenerated.
	Generation string
	// OnResource, when set, is called with each resource as it is
	// declared (from the engine's goroutines), so a test can see the
	// order of declarations against other events of the run.
	OnResource func(Resource)
}

// Run runs program under mocks and returns what it declared, with the
// stack outputs resolved.
func Run(program pulumi.RunFunc, o Options) (*Capture, error) {
	if o.Project == "" {
		o.Project = "flavormonk"
	}
	if o.Stack == "" {
		o.Stack = "dev"
	}
	c := &Capture{Outputs: map[string]any{}, Secret: map[string]bool{}}
	wrapped := func(ctx *pulumi.Context) error {
		if err := program(ctx); err != nil {
			return err
		}
		return nil
	}
	err := pulumi.RunErr(wrapped, pulumi.WithMocks(o.Project, o.Stack, &mocks{c: c, project: o.Project, stack: o.Stack, generation: o.Generation, onResource: o.OnResource}), func(info *pulumi.RunInfo) {
		info.Config = o.Config
		info.ConfigSecretKeys = o.SecretKeys
		info.DryRun = o.Preview
	})
	if err != nil {
		return c, err
	}
	sort.SliceStable(c.Resources, func(i, j int) bool { return c.Resources[i].URN < c.Resources[j].URN })
	return c, nil
}
