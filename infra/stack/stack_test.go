package stack_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/plan"
	"github.com/flavormonk/flavormonk/infra/stack"
	"github.com/flavormonk/flavormonk/infra/transition"
	"github.com/flavormonk/flavormonk/infra/wiring"
)

const (
	sentinelSSH    = "SENTINEL-SSH-PRIVATE-KEY"
	sentinelOpenAI = "SENTINEL-OPENAI-KEY"
)

func config(cloud, phase string) map[string]string {
	m := map[string]string{
		"flavormonk:cloud":         cloud,
		"flavormonk:phase":         phase,
		"flavormonk:appImage":      "ghcr.io/acme/flavormonk:v1.0.0",
		"flavormonk:adminCidrs":    `["198.51.100.10/32"]`,
		"flavormonk:sshPublicKeys": `["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIexampleexampleexample ops@x"]`,
		"flavormonk:sshPrivateKey": sentinelSSH,
		"flavormonk:openaiApiKey":  sentinelOpenAI,
	}
	if phase == "upgrade" {
		m["flavormonk:replicateApiToken"] = "SENTINEL-REPLICATE"
	}
	return m
}

var secretKeys = []string{"flavormonk:sshPrivateKey", "flavormonk:openaiApiKey", "flavormonk:replicateApiToken"}

type result struct {
	capture *mockrun.Capture
	outputs map[string]any
	secret  map[string]bool
	env     []string
}

func runStack(t *testing.T, cfg map[string]string) *result {
	t.Helper()
	r := &result{outputs: map[string]any{}, secret: map[string]bool{}}
	var mu sync.Mutex
	hooks := &stack.Hooks{
		Output: func(name string, v any, secret bool) {
			mu.Lock()
			r.outputs[name], r.secret[name] = v, secret
			mu.Unlock()
		},
		AppEnv: func(env []string) { r.env = env },
	}
	c, err := mockrun.Run(stack.Program(wiring.Clouds(), hooks), mockrun.Options{Config: cfg, SecretKeys: secretKeys})
	if err != nil {
		t.Fatal(err)
	}
	r.capture = c
	return r
}

func TestStacks(t *testing.T) {
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		for _, phase := range []string{"mvp", "upgrade"} {
			t.Run(cloud+"/"+phase, func(t *testing.T) {
				r := runStack(t, config(cloud, phase))
				for _, k := range []string{"appUrl", "publicIps", "phase", "cloud", "monthlyCost", "databaseUrl", "appEnv"} {
					if _, ok := r.outputs[k]; !ok {
						t.Errorf("output %s missing", k)
					}
				}
				for _, k := range []string{"databaseUrl", "appEnv"} {
					if !r.secret[k] {
						t.Errorf("output %s is not secret", k)
					}
				}
				if r.outputs["phase"] != phase || r.outputs["cloud"] != cloud {
					t.Errorf("outputs phase/cloud = %v/%v", r.outputs["phase"], r.outputs["cloud"])
				}
				cost := fmt.Sprint(r.outputs["monthlyCost"])
				cur := map[string]string{"hetzner": "EUR", "digitalocean": "USD"}[cloud]
				if !strings.Contains(cost, cur) {
					t.Errorf("monthly cost %q not in %s", cost, cur)
				}
				env := strings.Join(r.env, "\n")
				if !strings.Contains(env, "FLAVORMONK_TIER="+phase) || !strings.Contains(env, "FLAVORMONK_STORE=postgres") {
					t.Errorf("app env:\n%s", env)
				}
				// Secrets never in user data, nor in any non-secret input.
				for _, res := range r.capture.Resources {
					b, _ := json.Marshal(res.Inputs.Mappable())
					s := string(b)
					if res.Type == "command:remote:Command" {
						continue // stdin and connection carry secrets, as secret inputs
					}
					for _, sentinel := range []string{sentinelSSH, sentinelOpenAI, "mock-random-db-password", "mock-random-redis-password"} {
						if strings.Contains(s, sentinel) {
							t.Errorf("%s %s holds a secret in its inputs", res.Type, res.Name)
						}
					}
				}
				// Every app host gets its environment and the image, one after another.
				deploys := 0
				for _, res := range r.capture.ByType("command:remote:Command") {
					if strings.HasPrefix(res.Name, "deploy-") {
						deploys++
						create := res.Inputs["create"].StringValue()
						if !strings.Contains(create, "install -D -m 0600") || !strings.Contains(create, "ghcr.io/acme/flavormonk:v1.0.0") {
							t.Errorf("%s: %s", res.Name, create)
						}
					}
				}
				if deploys == 0 || (phase == "upgrade" && deploys < 2) {
					t.Errorf("%d deploy commands", deploys)
				}
			})
		}
	}
}

// mvp → upgrade → mvp keeps every stateful resource and its
// replacement-forcing inputs, on both clouds.
func TestTransitions(t *testing.T) {
	for _, cloud := range []string{"hetzner", "digitalocean"} {
		mvp := runStack(t, config(cloud, "mvp")).capture
		up := runStack(t, config(cloud, "upgrade")).capture
		for _, step := range []struct {
			name     string
			from, to *mockrun.Capture
		}{{"mvp→upgrade", mvp, up}, {"upgrade→mvp", up, mvp}} {
			rep := transition.Check(step.from, step.to)
			if !rep.OK() {
				var b strings.Builder
				rep.Write(&b)
				t.Errorf("%s %s:\n%s", cloud, step.name, b.String())
			}
		}
	}
}

// The check itself catches a replacement and a deletion.
func TestTransitionCheckCatchesReplacement(t *testing.T) {
	a := runStack(t, config("hetzner", "mvp")).capture
	cfg := config("hetzner", "mvp")
	cfg["flavormonk:region"] = "nbg1"
	b := runStack(t, cfg).capture
	rep := transition.Check(a, b)
	if rep.OK() {
		t.Fatal("moving the location was not flagged")
	}
	found := false
	for _, p := range rep.Problems {
		found = found || p.Input == "location"
	}
	if !found {
		t.Fatalf("problems: %v", rep.Problems)
	}
}

func TestConfigErrorsFailThePreview(t *testing.T) {
	for name, mut := range map[string]func(map[string]string){
		"unknown cloud":      func(m map[string]string) { m["flavormonk:cloud"] = "aws" },
		"scale":              func(m map[string]string) { m["flavormonk:phase"] = "scale" },
		"no ssh private key": func(m map[string]string) { delete(m, "flavormonk:sshPrivateKey") },
		"no openai key":      func(m map[string]string) { delete(m, "flavormonk:openaiApiKey") },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := config("hetzner", "mvp")
			mut(cfg)
			_, err := mockrun.Run(stack.Program(wiring.Clouds(), nil), mockrun.Options{Config: cfg, SecretKeys: secretKeys})
			if err == nil || !strings.Contains(err.Error(), "config flavormonk:") {
				t.Fatalf("err = %v", err)
			}
		})
	}
	// A secret in plain config is refused.
	cfg := config("hetzner", "mvp")
	_, err := mockrun.Run(stack.Program(wiring.Clouds(), nil), mockrun.Options{Config: cfg})
	if err == nil || !strings.Contains(err.Error(), "--secret") {
		t.Fatalf("plain secret: %v", err)
	}
	_ = plan.Namespace
}
