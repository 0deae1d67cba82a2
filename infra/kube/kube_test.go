package kube_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	appconfig "github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/infra/kube"
	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/stack"
	"github.com/flavormonk/flavormonk/infra/wiring"
)

var update = flag.Bool("update", false, "rewrite testdata/*/*.json")

func config(cloud string) map[string]string {
	m := map[string]string{
		"flavormonk:cloud":             cloud,
		"flavormonk:phase":             "scale",
		"flavormonk:appImage":          "ghcr.io/acme/flavormonk:v1.0.0",
		"flavormonk:adminCidrs":        `["198.51.100.10/32"]`,
		"flavormonk:sshPublicKeys":     `["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICULUbtwh0qjnM7olCUJrtceG8Wv631ji5o2jRlqtZRu ops@x"]`,
		"flavormonk:sshPrivateKey":     "SENTINEL-SSH-PRIVATE-KEY",
		"flavormonk:openaiApiKey":      "SENTINEL-OPENAI-KEY",
		"flavormonk:replicateApiToken": "SENTINEL-REPLICATE",
		"flavormonk:domain":            "recipes.example.com",
		"flavormonk:podsMin":           "3",
		"flavormonk:podsMax":           "12",
		"flavormonk:podsTargetCpu":     "65",
	}
	if cloud == "digitalocean" {
		m["flavormonk:dnsZone"] = "example.com"
	}
	return m
}

var secretKeys = []string{"flavormonk:sshPrivateKey", "flavormonk:openaiApiKey", "flavormonk:replicateApiToken"}

func capture(t *testing.T, cloud string) *mockrun.Capture {
	t.Helper()
	c, err := mockrun.Run(stack.Program(wiring.Clouds(), nil), mockrun.Options{Config: config(cloud), SecretKeys: secretKeys})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// kubeObjects are the captured Kubernetes objects by "Kind-logicalname".
func kubeObjects(c *mockrun.Capture) map[string]mockrun.Resource {
	out := map[string]mockrun.Resource{}
	for _, r := range c.Resources {
		if strings.HasPrefix(r.Type, "kubernetes:") && r.Custom {
			out[kindOf(r.Type)+"-"+r.Name] = r
		}
	}
	return out
}

// kindOf and apiVersionOf read a type token like kubernetes:apps/v1:Deployment.
func kindOf(token string) string { return token[strings.LastIndex(token, ":")+1:] }

func apiVersionOf(token string) string {
	parts := strings.Split(token, ":")
	gv := parts[1]
	if strings.HasPrefix(gv, "core/") {
		return strings.TrimPrefix(gv, "core/")
	}
	if strings.HasPrefix(gv, "apiregistration/") {
		return "apiregistration.k8s.io/" + strings.TrimPrefix(gv, "apiregistration/")
	}
	if strings.HasPrefix(gv, "rbac/") {
		return "rbac.authorization.k8s.io/" + strings.TrimPrefix(gv, "rbac/")
	}
	if strings.HasPrefix(gv, "networking/") {
		return "networking.k8s.io/" + strings.TrimPrefix(gv, "networking/")
	}
	return gv
}

// TestGolden: the rendered objects of both clouds match testdata, and each
// is a valid object of its kind.
func TestGolden(t *testing.T) {
	for _, cloud := range []string{"digitalocean", "hetzner"} {
		t.Run(cloud, func(t *testing.T) {
			objs := kubeObjects(capture(t, cloud))
			dir := filepath.Join("testdata", cloud)
			if *update {
				_ = os.RemoveAll(dir)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
			if !*update && len(files) != len(objs) {
				t.Errorf("%d golden files, %d objects (run go test ./kube -update)", len(files), len(objs))
			}
			for _, name := range sortedKeys(objs) {
				r := objs[name]
				obj := mockrun.PlainMap(r.Inputs, true)
				raw, err := json.Marshal(obj)
				if err != nil {
					t.Fatal(err)
				}
				if err := validObject(r.Type, raw); err != nil {
					t.Errorf("%s: %v", name, err)
				}
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				if err := enc.Encode(stable(name, obj)); err != nil {
					t.Fatal(err)
				}
				got := buf.Bytes()
				path := filepath.Join(dir, name+".json")
				if *update {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				} else if want, err := os.ReadFile(path); err != nil || !bytes.Equal(want, got) {
					t.Errorf("%s differs from %s (run go test ./kube -update and review the diff): %v", name, path, err)
				}
			}
		})
	}
}

var envHashed = regexp.MustCompile(`^flavormonk-migrate-[0-9a-f]{10}$`)

// stable keeps the golden files about what infra renders: the app's
// environment (its keys belong to app/config, which other changes extend;
// TestAppObjects checks the values infra sets) and the hashes of it are
// replaced by placeholders.
func stable(name string, obj map[string]any) map[string]any {
	if name == "Secret-app-env" {
		obj["stringData"] = "[the app's environment for the scale tier, rendered by app/config; see TestAppObjects]"
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if k == "flavormonk/env-hash" {
					x[k] = "<hash of the environment>"
					continue
				}
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		case string:
			if envHashed.MatchString(x) {
				return "flavormonk-migrate-<hash of image and environment>"
			}
		}
		return v
	}
	return walk(obj).(map[string]any)
}

// apiService is apiregistration.k8s.io/v1 APIService, for a strict decode
// (k8s.io/kube-aggregator is not worth its weight for one kind).
type apiService struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Group                 string `json:"group"`
		Version               string `json:"version"`
		GroupPriorityMinimum  int32  `json:"groupPriorityMinimum"`
		VersionPriority       int32  `json:"versionPriority"`
		InsecureSkipTLSVerify bool   `json:"insecureSkipTLSVerify"`
		Service               struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"service"`
	} `json:"spec"`
}

// validObject decodes an object strictly (unknown fields are errors) into
// the upstream Go type of its kind and checks apiVersion, kind and name.
func validObject(token string, b []byte) error {
	var into any
	switch kindOf(token) {
	case "Namespace":
		into = &corev1.Namespace{}
	case "Secret":
		into = &corev1.Secret{}
	case "Service":
		into = &corev1.Service{}
	case "ServiceAccount":
		into = &corev1.ServiceAccount{}
	case "Deployment":
		into = &appsv1.Deployment{}
	case "Job":
		into = &batchv1.Job{}
	case "HorizontalPodAutoscaler":
		into = &autoscalingv2.HorizontalPodAutoscaler{}
	case "PodDisruptionBudget":
		into = &policyv1.PodDisruptionBudget{}
	case "NetworkPolicy":
		into = &networkingv1.NetworkPolicy{}
	case "ClusterRole":
		into = &rbacv1.ClusterRole{}
	case "ClusterRoleBinding":
		into = &rbacv1.ClusterRoleBinding{}
	case "RoleBinding":
		into = &rbacv1.RoleBinding{}
	case "APIService":
		into = &apiService{}
	default:
		return fmt.Errorf("no schema for kind %s: add one", kindOf(token))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("not a valid %s: %w", kindOf(token), err)
	}
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(b, &head)
	if head.Kind != kindOf(token) || head.APIVersion != apiVersionOf(token) {
		return fmt.Errorf("apiVersion/kind %s/%s, want %s/%s", head.APIVersion, head.Kind, apiVersionOf(token), kindOf(token))
	}
	if head.Metadata.Name == "" {
		return fmt.Errorf("no metadata.name")
	}
	return nil
}

// The decoder refuses what is not an object of the kind.
func TestValidObjectRefuses(t *testing.T) {
	for _, c := range []struct{ token, doc string }{
		{"kubernetes:apps/v1:Deployment", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replicaz":2}}`},
		{"kubernetes:apps/v1:Deployment", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replicas":"two"}}`},
		{"kubernetes:core/v1:Service", `{"apiVersion":"apps/v1","kind":"Service","metadata":{"name":"x"}}`},
		{"kubernetes:core/v1:Secret", `{"apiVersion":"v1","kind":"Secret","metadata":{}}`},
		{"kubernetes:core/v1:Pod", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}`},
	} {
		if err := validObject(c.token, []byte(c.doc)); err == nil {
			t.Errorf("accepted %s", c.doc)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// decode reads a captured object into its upstream type.
func decode[T any](t *testing.T, r mockrun.Resource) *T {
	t.Helper()
	b, err := json.Marshal(mockrun.PlainMap(r.Inputs, true))
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

// TestAppObjects: probes, resources, rollout, HPA bounds, PDB, /metrics
// in-cluster only, migration before rollout, secrets as secrets.
func TestAppObjects(t *testing.T) {
	for _, cloud := range []string{"digitalocean", "hetzner"} {
		t.Run(cloud, func(t *testing.T) {
			c := capture(t, cloud)
			objs := kubeObjects(c)
			for _, want := range []string{"Namespace-app-namespace", "Secret-app-env", "Job-migrate", "Deployment-app", "Service-app-public",
				"Service-app-metrics", "NetworkPolicy-app-network", "HorizontalPodAutoscaler-app-hpa", "PodDisruptionBudget-app-pdb"} {
				if _, ok := objs[want]; !ok {
					t.Fatalf("no %s", want)
				}
			}
			dep := decode[appsv1.Deployment](t, objs["Deployment-app"])
			ctr := dep.Spec.Template.Spec.Containers[0]
			if ctr.Image != "ghcr.io/acme/flavormonk:v1.0.0" || strings.Join(ctr.Args, " ") != "serve" {
				t.Errorf("container %s %v", ctr.Image, ctr.Args)
			}
			if p := ctr.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/readyz" || p.HTTPGet.Port.String() != "http" {
				t.Errorf("readiness probe %+v", p)
			}
			if p := ctr.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/healthz" {
				t.Errorf("liveness probe %+v", p)
			}
			for _, res := range []string{"cpu", "memory"} {
				req, lim := ctr.Resources.Requests[corev1.ResourceName(res)], ctr.Resources.Limits[corev1.ResourceName(res)]
				if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
					t.Errorf("%s request %s limit %s", res, req.String(), lim.String())
				}
			}
			ru := dep.Spec.Strategy.RollingUpdate
			if dep.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
				t.Errorf("strategy %+v", dep.Spec.Strategy)
			}
			if sc := ctr.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("container not read-only")
			}
			if len(ctr.EnvFrom) != 1 || ctr.EnvFrom[0].SecretRef == nil || ctr.EnvFrom[0].SecretRef.Name != kube.EnvSecret || len(ctr.Env) != 0 {
				t.Errorf("environment not from the Secret only: %+v %+v", ctr.EnvFrom, ctr.Env)
			}
			// The rollout waits for the migration Job.
			job := objs["Job-migrate"]
			if !objs["Deployment-app"].DependsOnResource(job) {
				t.Errorf("the Deployment does not wait for the migration Job")
			}
			j := decode[batchv1.Job](t, job)
			if strings.Join(j.Spec.Template.Spec.Containers[0].Args, " ") != "migrate" || j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("job %+v", j.Spec.Template.Spec)
			}

			hpa := decode[autoscalingv2.HorizontalPodAutoscaler](t, objs["HorizontalPodAutoscaler-app-hpa"])
			if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas != 3 || hpa.Spec.MaxReplicas != 12 || hpa.Spec.ScaleTargetRef.Name != kube.AppName {
				t.Errorf("hpa %+v", hpa.Spec)
			}
			if m := hpa.Spec.Metrics; len(m) != 1 || m[0].Resource == nil || m[0].Resource.Name != corev1.ResourceCPU || *m[0].Resource.Target.AverageUtilization != 65 {
				t.Errorf("hpa metrics %+v", m)
			}
			if *dep.Spec.Replicas != 3 || !contains(objs["Deployment-app"].IgnoreChanges, "spec.replicas") {
				t.Errorf("the Deployment starts at podsMin and leaves the count to the HPA")
			}
			pdb := decode[policyv1.PodDisruptionBudget](t, objs["PodDisruptionBudget-app-pdb"])
			if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.Selector.MatchLabels["app.kubernetes.io/name"] != kube.AppName {
				t.Errorf("pdb %+v", pdb.Spec)
			}

			// /metrics: not on the public Service; a ClusterIP Service and
			// a NetworkPolicy admitting in-cluster sources only.
			pub := decode[corev1.Service](t, objs["Service-app-public"])
			for _, p := range pub.Spec.Ports {
				if p.TargetPort.String() != "http" {
					t.Errorf("public Service targets %s", p.TargetPort.String())
				}
			}
			met := decode[corev1.Service](t, objs["Service-app-metrics"])
			if met.Spec.Type != corev1.ServiceTypeClusterIP {
				t.Errorf("metrics Service is %s", met.Spec.Type)
			}
			np := decode[networkingv1.NetworkPolicy](t, objs["NetworkPolicy-app-network"])
			for _, rule := range np.Spec.Ingress {
				for _, p := range rule.Ports {
					if p.Port.IntValue() == kube.MetricsPort && (len(rule.From) != 1 || rule.From[0].NamespaceSelector == nil || rule.From[0].IPBlock != nil) {
						t.Errorf("metrics port admitted from %+v", rule.From)
					}
				}
			}
			// Every Service but the public one stays inside the cluster.
			for name, r := range objs {
				if kindOf(r.Type) != "Service" || name == "Service-app-public" {
					continue
				}
				s := decode[corev1.Service](t, r)
				if s.Spec.Type != "" && s.Spec.Type != corev1.ServiceTypeClusterIP {
					t.Errorf("%s is %s", name, s.Spec.Type)
				}
			}
			switch cloud {
			case "digitalocean":
				if pub.Spec.Type != corev1.ServiceTypeLoadBalancer || len(pub.Spec.Ports) != 2 ||
					pub.Annotations["service.beta.kubernetes.io/do-loadbalancer-tls-ports"] != "443" ||
					pub.Annotations["service.beta.kubernetes.io/do-loadbalancer-redirect-http-to-https"] != "true" {
					t.Errorf("public Service %+v %v", pub.Spec, pub.Annotations)
				}
				// The cloud controller's health check is the program's
				// (plan.LBCheck*), not its own default of every 3 s.
				for k, want := range map[string]string{
					"check-interval-seconds":   "10",
					"response-timeout-seconds": "5",
					"unhealthy-threshold":      "3",
					"healthy-threshold":        "3",
				} {
					if got := pub.Annotations["service.beta.kubernetes.io/do-loadbalancer-healthcheck-"+k]; got != want {
						t.Errorf("public Service health check %s = %q, want %q", k, got, want)
					}
				}
				if _, ok := objs["Deployment-metrics-server"]; !ok {
					t.Error("DOKS needs metrics-server for the HPA")
				}
				// The migration takes a session advisory lock: it goes
				// around the transaction pool.
				jc := j.Spec.Template.Spec.Containers[0]
				if len(jc.Env) != 1 || jc.Env[0].Name != "FLAVORMONK_POSTGRES_URL" || jc.Env[0].ValueFrom.SecretKeyRef.Name != "flavormonk-migrate" {
					t.Errorf("migration env %+v", jc.Env)
				}
			case "hetzner":
				if pub.Spec.Type != corev1.ServiceTypeNodePort || len(pub.Spec.Ports) != 1 || pub.Spec.Ports[0].NodePort != kube.NodePort {
					t.Errorf("public Service %+v", pub.Spec)
				}
				if _, ok := objs["Deployment-metrics-server"]; ok {
					t.Error("k3s ships metrics-server; the program must not add a second")
				}
				if _, ok := objs["Deployment-sentinel"]; !ok {
					t.Error("no Redis Sentinel")
				}
			}
			// Secret data is a secret in the program (state encrypted),
			// never plain.
			for _, name := range []string{"Secret-app-env", "Secret-migrate-env", "Secret-sentinel-conf"} {
				r, ok := objs[name]
				if !ok {
					continue
				}
				sd := r.Inputs["stringData"]
				if !sd.ContainsSecrets() {
					t.Errorf("%s: stringData is not secret", name)
				}
			}
			env := mockrun.PlainMap(objs["Secret-app-env"].Inputs, false)["stringData"].(map[string]any)
			for k, want := range map[string]string{"FLAVORMONK_TIER": "scale", "FLAVORMONK_METRICS_ADDR": ":9090", "FLAVORMONK_STORE": "postgres"} {
				if env[k] != want {
					t.Errorf("env %s = %v, want %s", k, env[k], want)
				}
			}
			// The pods may take the app's whole stop: drain, grace period,
			// settling, as rendered into their environment.
			drain, err1 := time.ParseDuration(fmt.Sprint(env["FLAVORMONK_DRAIN_DELAY"]))
			grace, err2 := time.ParseDuration(fmt.Sprint(env["FLAVORMONK_SHUTDOWN_TIMEOUT"]))
			if err1 != nil || err2 != nil || drain <= 0 {
				t.Errorf("drain %v (%v), grace %v (%v)", env["FLAVORMONK_DRAIN_DELAY"], err1, env["FLAVORMONK_SHUTDOWN_TIMEOUT"], err2)
			}
			stop := drain + grace + appconfig.SettleTimeout
			if tg := dep.Spec.Template.Spec.TerminationGracePeriodSeconds; tg == nil || time.Duration(*tg)*time.Second < stop {
				t.Errorf("terminationGracePeriodSeconds (%v) is shorter than the app's stop (%s)", fmt.Sprint(derefOr(tg)), stop)
			}
			if cloud == "hetzner" && (env["FLAVORMONK_REDIS_MODE"] != "sentinel" || env["FLAVORMONK_REDIS_ADDRS"] != kube.SentinelAddr) {
				t.Errorf("redis env %v %v", env["FLAVORMONK_REDIS_MODE"], env["FLAVORMONK_REDIS_ADDRS"])
			}
			if cloud == "digitalocean" {
				if !strings.Contains(fmt.Sprint(env["FLAVORMONK_POSTGRES_URL"]), "/flavormonk-pool?sslmode=require") {
					t.Errorf("pods do not use the connection pool over TLS: %v", env["FLAVORMONK_POSTGRES_URL"])
				}
				if env["FLAVORMONK_POSTGRES_MAX_CONNS"] != "5" || env["FLAVORMONK_REDIS_TLS"] != "true" {
					t.Errorf("max conns %v, redis TLS %v", env["FLAVORMONK_POSTGRES_MAX_CONNS"], env["FLAVORMONK_REDIS_TLS"])
				}
				ms := mockrun.PlainMap(objs["Secret-migrate-env"].Inputs, false)["stringData"].(map[string]any)
				if u := fmt.Sprint(ms["FLAVORMONK_POSTGRES_URL"]); strings.Contains(u, "pool") || !strings.Contains(u, "sslmode=require") {
					t.Errorf("the migration does not go straight to Postgres: %s", u)
				}
			}
		})
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func TestParseEnv(t *testing.T) {
	m, err := kube.ParseEnv("A=1\n\nB=x=y\n")
	if err != nil || m["A"] != "1" || m["B"] != "x=y" || len(m) != 2 {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range []string{"A", "=1", "A B=1", "A=1\nA=2"} {
		if _, err := kube.ParseEnv(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseEnv(f *testing.F) {
	for _, s := range []string{"A=1\nB=2\n", "", "A", "A=1\nA=2", "K=v=w\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := kube.ParseEnv(s)
		if err != nil {
			return
		}
		for k, v := range m {
			if k == "" || strings.ContainsAny(k, "= \t\r\n") || strings.Contains(v, "\n") {
				t.Fatalf("bad pair %q=%q from %q", k, v, s)
			}
		}
	})
}

func derefOr(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
