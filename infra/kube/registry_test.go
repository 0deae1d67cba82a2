package kube_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/flavormonk/flavormonk/infra/kube"
	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/stack"
	"github.com/flavormonk/flavormonk/infra/wiring"
)

const registryToken = "SENTINEL-REGISTRY-TOKEN"

// With a private registry the cluster gets a dockerconfigjson Secret
// (golden, redacted; valid for its kind) and the app's pods and the
// migration Job pull with it; the other objects are as without one.
func TestRegistryObjects(t *testing.T) {
	for _, cloud := range []string{"digitalocean", "hetzner"} {
		t.Run(cloud, func(t *testing.T) {
			cfg := config(cloud)
			cfg["flavormonk:registry"] = `{"server": "ghcr.io", "username": "acme-bot"}`
			cfg["flavormonk:registryPassword"] = registryToken
			c, err := mockrun.Run(stack.Program(wiring.Clouds(), nil), mockrun.Options{Config: cfg, SecretKeys: append(slices.Clone(secretKeys), "flavormonk:registryPassword")})
			if err != nil {
				t.Fatal(err)
			}
			objs := kubeObjects(c)
			sec, ok := objs["Secret-registry-credentials"]
			if !ok {
				t.Fatal("no Secret-registry-credentials")
			}
			if len(objs) != len(kubeObjects(capture(t, cloud)))+1 {
				t.Errorf("%d objects: want one more than without a registry", len(objs))
			}
			raw, _ := json.Marshal(mockrun.PlainMap(sec.Inputs, false))
			if err := validObject(sec.Type, raw); err != nil {
				t.Error(err)
			}
			var s corev1.Secret
			if err := json.Unmarshal(raw, &s); err != nil {
				t.Fatal(err)
			}
			if s.Type != corev1.SecretTypeDockerConfigJson || s.Name != kube.RegistrySecret || s.Namespace != kube.Namespace {
				t.Errorf("secret %s %s/%s", s.Type, s.Namespace, s.Name)
			}
			if !sec.Inputs["stringData"].ContainsSecrets() {
				t.Error("stringData is not a secret input")
			}
			var dc struct {
				Auths map[string]map[string]string `json:"auths"`
			}
			if err := json.Unmarshal([]byte(s.StringData[corev1.DockerConfigJsonKey]), &dc); err != nil {
				t.Fatal(err)
			}
			if a := dc.Auths["ghcr.io"]; a["username"] != "acme-bot" || a["password"] != registryToken ||
				a["auth"] != base64.StdEncoding.EncodeToString([]byte("acme-bot:"+registryToken)) || len(dc.Auths) != 1 {
				t.Errorf("auths %v", dc.Auths)
			}

			// The golden holds the shape, the data redacted.
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(mockrun.PlainMap(sec.Inputs, true)); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(buf.Bytes(), []byte(registryToken)) {
				t.Fatal("the redacted Secret shows the token")
			}
			path := filepath.Join("testdata", "registry", "Secret-registry-credentials.json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if want, err := os.ReadFile(path); err != nil || !bytes.Equal(want, buf.Bytes()) {
				t.Errorf("the registry Secret differs from %s (run go test ./kube -update and review the diff): %v\n%s", path, err, buf.Bytes())
			}

			dep := decode[appsv1.Deployment](t, objs["Deployment-app"])
			job := decode[batchv1.Job](t, objs["Job-migrate"])
			for name, refs := range map[string][]corev1.LocalObjectReference{
				"Deployment-app": dep.Spec.Template.Spec.ImagePullSecrets,
				"Job-migrate":    job.Spec.Template.Spec.ImagePullSecrets,
			} {
				if len(refs) != 1 || refs[0].Name != kube.RegistrySecret {
					t.Errorf("%s: imagePullSecrets %v", name, refs)
				}
				raw, _ := json.Marshal(mockrun.PlainMap(objs[name].Inputs, true))
				if err := validObject(objs[name].Type, raw); err != nil {
					t.Error(err)
				}
			}
			if !objs["Job-migrate"].DependsOnResource(sec) {
				t.Error("the migration Job does not wait for the pull secret")
			}
			// The public images (Sentinel, metrics-server) need none.
			for name, r := range objs {
				if name == "Deployment-app" || name == "Job-migrate" {
					continue
				}
				if raw, _ := json.Marshal(mockrun.PlainMap(r.Inputs, true)); bytes.Contains(raw, []byte("imagePullSecrets")) {
					t.Errorf("%s pulls with the registry's secret", name)
				}
			}
		})
	}
}

func TestDockerConfigJSON(t *testing.T) {
	got, err := kube.DockerConfigJSON("https://index.docker.io/v1/", "acme", "tok")
	if err != nil || got != `{"auths":{"https://index.docker.io/v1/":{"username":"acme","password":"tok","auth":"YWNtZTp0b2s="}}}` {
		t.Fatalf("%s %v", got, err)
	}
	for _, args := range [][3]string{{"", "u", "p"}, {"ghcr.io", "", "p"}, {"ghcr.io", "u", ""}} {
		if _, err := kube.DockerConfigJSON(args[0], args[1], args[2]); err == nil {
			t.Errorf("accepted %q", args)
		}
	}
}
