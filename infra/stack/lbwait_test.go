package stack_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flavormonk/flavormonk/infra/lbhealth"
	"github.com/flavormonk/flavormonk/infra/lbhealth/lbhealthtest"
	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/stack"
	"github.com/flavormonk/flavormonk/infra/wiring"
)

// events is one run's log of declared commands and load-balancer waits,
// in the order they happened.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) { e.mu.Lock(); e.log = append(e.log, s); e.mu.Unlock() }

func (e *events) index(s string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Index(e.log, s)
}

// fakeWatcher records each wait in the run's log; failOn makes the wait
// of that call (from 1) fail.
type fakeWatcher struct {
	ev     *events
	failOn int

	mu      sync.Mutex
	targets []lbhealth.Target
	timeout []time.Duration
}

var errNeverHealthy = errors.New("fake: never healthy")

func (w *fakeWatcher) WaitHealthy(_ context.Context, t lbhealth.Target, timeout time.Duration) error {
	w.mu.Lock()
	w.targets = append(w.targets, t)
	w.timeout = append(w.timeout, timeout)
	n := len(w.targets)
	w.mu.Unlock()
	w.ev.add(fmt.Sprintf("wait %d begin", t.ServerID))
	// Give the engine the chance to run ahead if anything were not gated.
	time.Sleep(20 * time.Millisecond)
	w.ev.add(fmt.Sprintf("wait %d end", t.ServerID))
	if n == w.failOn {
		return &lbhealth.Error{Target: t, Err: errNeverHealthy}
	}
	return nil
}

func runWatched(t *testing.T, cfg map[string]string, w *fakeWatcher, preview bool) (*mockrun.Capture, map[string]any, error) {
	t.Helper()
	outputs := map[string]any{}
	var mu sync.Mutex
	hooks := &stack.Hooks{
		LBWatcher: w,
		Output:    func(name string, v any, _ bool) { mu.Lock(); outputs[name] = v; mu.Unlock() },
	}
	c, err := mockrun.Run(stack.Program(wiring.Clouds(), hooks), mockrun.Options{
		Config: cfg, SecretKeys: secretKeys, Preview: preview,
		OnResource: func(r mockrun.Resource) {
			if r.Type == "command:remote:Command" {
				w.ev.add("create " + r.Name)
			}
		},
	})
	return c, outputs, err
}

// serverIDs maps each app host to the server ID its load-balancer target
// holds, as the run declared it.
func serverIDs(t *testing.T, c *mockrun.Capture) map[string]int64 {
	t.Helper()
	ids := map[string]int64{}
	for _, r := range c.ByType("hcloud:index/loadBalancerTarget:LoadBalancerTarget") {
		ids[strings.TrimPrefix(r.Name, "lb-target-")] = int64(r.Inputs["serverId"].NumberValue())
	}
	if len(ids) == 0 {
		t.Fatal("no load balancer targets")
	}
	return ids
}

// On Hetzner behind the load balancer each deploy starts only once the
// previous server is healthy there, the last wait finishes the run, and
// the waits ask about the right load balancer, servers and port.
func TestRolloutWaitsForTheLoadBalancer(t *testing.T) {
	cfg := config("hetzner", "upgrade")
	cfg["flavormonk:appCount"] = "3"
	w := &fakeWatcher{ev: &events{}}
	c, outputs, err := runWatched(t, cfg, w, false)
	if err != nil {
		t.Fatal(err)
	}
	ids := serverIDs(t, c)
	lb, ok := c.Find("hcloud:index/loadBalancerTarget:LoadBalancerTarget", "lb-target-app-1")
	if !ok {
		t.Fatal("no target for app-1")
	}
	lbID := int64(lb.Inputs["loadBalancerId"].NumberValue())
	var want []lbhealth.Target
	for _, h := range []string{"app-1", "app-2", "app-3"} {
		want = append(want, lbhealth.Target{LoadBalancerID: lbID, ServerID: ids[h], Port: 8080})
	}
	if !slices.Equal(w.targets, want) {
		t.Errorf("waited for %v, want %v", w.targets, want)
	}
	for _, d := range w.timeout {
		if d != stack.LBWaitTimeout {
			t.Errorf("timeout %s, want %s", d, stack.LBWaitTimeout)
		}
	}
	for i, h := range []string{"app-1", "app-2"} {
		end := w.ev.index(fmt.Sprintf("wait %d end", ids[h]))
		begin := w.ev.index(fmt.Sprintf("wait %d begin", ids[h]))
		deployed, next := w.ev.index("create deploy-"+h), w.ev.index(fmt.Sprintf("create deploy-app-%d", i+2))
		if deployed < 0 || begin < deployed || end < 0 || next < end {
			t.Errorf("%s: deploy, wait and the next deploy out of order:\n%s", h, strings.Join(w.ev.log, "\n"))
		}
	}
	if w.ev.index(fmt.Sprintf("wait %d end", ids["app-3"])) < 0 {
		t.Errorf("the last server was not waited for:\n%s", strings.Join(w.ev.log, "\n"))
	}
	// The next deploy's stdin is the environment itself, still secret:
	// its inputs do not change because of the wait.
	env, _ := outputs["appEnv"].(string)
	if !strings.Contains(env, "FLAVORMONK_TIER=upgrade") {
		t.Fatalf("appEnv output %q", env)
	}
	for _, h := range []string{"app-1", "app-2", "app-3"} {
		d, _ := c.Find("command:remote:Command", "deploy-"+h)
		stdin := d.Inputs["stdin"]
		if !stdin.ContainsSecrets() {
			t.Errorf("deploy-%s: stdin is not secret", h)
		}
		if got := mockrun.Plain(stdin, false); got != env {
			t.Errorf("deploy-%s: stdin %q, want the app environment", h, got)
		}
	}
}

// A preview asks nothing: the load balancer is not waited for, and the
// deploys are declared all the same.
func TestRolloutPreviewDoesNotWait(t *testing.T) {
	w := &fakeWatcher{ev: &events{}}
	c, _, err := runWatched(t, config("hetzner", "upgrade"), w, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.targets) != 0 {
		t.Errorf("a preview waited for %v", w.targets)
	}
	for _, h := range []string{"app-1", "app-2"} {
		if _, ok := c.Find("command:remote:Command", "deploy-"+h); !ok {
			t.Errorf("deploy-%s not declared in the preview", h)
		}
	}
}

// Where no load balancer reports its targets' health (mvp's one VM,
// DigitalOcean, the cluster), nothing is waited for.
func TestRolloutWaitsOnlyOnHetznerUpgrade(t *testing.T) {
	for _, tc := range [][2]string{{"hetzner", "mvp"}, {"hetzner", "scale"}, {"digitalocean", "upgrade"}} {
		w := &fakeWatcher{ev: &events{}}
		if _, _, err := runWatched(t, config(tc[0], tc[1]), w, false); err != nil {
			t.Fatalf("%s %s: %v", tc[0], tc[1], err)
		}
		if len(w.targets) != 0 {
			t.Errorf("%s %s waited for %v", tc[0], tc[1], w.targets)
		}
	}
}

// A server the load balancer never admits fails the run, and the next
// server keeps its old version: its deploy is never declared. The last
// server's wait fails the run too.
func TestRolloutStopsWhenAServerNeverTurnsHealthy(t *testing.T) {
	for _, tc := range []struct {
		failOn  int
		created []string
		absent  []string
	}{
		{1, []string{"deploy-app-1"}, []string{"deploy-app-2"}},
		{2, []string{"deploy-app-1", "deploy-app-2"}, nil},
	} {
		t.Run(fmt.Sprint("wait ", tc.failOn), func(t *testing.T) {
			w := &fakeWatcher{ev: &events{}, failOn: tc.failOn}
			c, _, err := runWatched(t, config("hetzner", "upgrade"), w, false)
			if err == nil || !strings.Contains(err.Error(), errNeverHealthy.Error()) {
				t.Fatalf("err = %v, want the wait's failure", err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("app-%d", tc.failOn)) {
				t.Errorf("error %q does not name the server", err)
			}
			for _, n := range tc.created {
				if _, ok := c.Find("command:remote:Command", n); !ok {
					t.Errorf("%s not declared", n)
				}
			}
			for _, n := range tc.absent {
				if _, ok := c.Find("command:remote:Command", n); ok {
					t.Errorf("%s declared after a failed wait", n)
				}
			}
		})
	}
}

// The wait runs where `pulumi up` runs, with the token the hcloud
// provider has: made from hcloud:token, it asks the API (here a local
// one at hcloud:endpoint) and the token reaches no resource, least of
// all a command on a VM.
func TestRolloutAsksTheAPIFromTheRunner(t *testing.T) {
	const token = "SENTINEL-HCLOUD-TOKEN"
	// The first `pulumi up` of the stack: the load balancer has no service
	// yet (the edge adds it after the rollout), so each wait asks once.
	lbID := mockID("lb")
	api := lbhealthtest.New(token, lbhealthtest.LoadBalancer{ID: lbID, Servers: []int64{mockID("app-1"), mockID("app-2")}})
	mux := http.NewServeMux()
	mux.Handle("/load_balancers/", api)
	mux.HandleFunc("/server_types", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var types []any
		for i, name := range []string{"cx23", "cx33"} {
			types = append(types, map[string]any{
				"id": i + 1, "name": name, "description": name, "category": "shared", "cores": 2, "memory": 4, "disk": 40,
				"storage_type": "local", "cpu_type": "shared", "architecture": "x86", "deprecated": false, "deprecation": nil,
				"prices": []any{}, "locations": []any{map[string]any{"id": 1, "name": "fsn1", "available": true, "recommended": true, "deprecation": nil}},
			})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"server_types": types, "meta": map[string]any{"pagination": map[string]any{
			"page": 1, "per_page": 50, "previous_page": nil, "next_page": nil, "last_page": 1, "total_entries": len(types)}}})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	cfg := config("hetzner", "upgrade")
	cfg["hcloud:token"], cfg["hcloud:endpoint"] = token, srv.URL
	c, err := mockrun.Run(stack.Program(wiring.Clouds(), nil), mockrun.Options{
		Config: cfg, SecretKeys: append(slices.Clone(secretKeys), "hcloud:token"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := api.Gets(lbID); got != 2 {
		t.Errorf("the API was asked %d times for load balancer %d, want once per app server", got, lbID)
	}
	for _, r := range c.Resources {
		b, _ := json.Marshal(mockrun.PlainMap(r.Inputs, false))
		if strings.Contains(string(b), token) {
			t.Errorf("%s %s holds the Hetzner token in its inputs", r.Type, r.Name)
		}
	}
}

// mockID is the numeric ID the hetzner package gives a resource under
// mocks, whose IDs are "<name>-id" (see its intID).
func mockID(name string) int64 {
	h := fnv.New32a()
	h.Write([]byte(name + "-id"))
	return int64(h.Sum32() & 0x7fffffff)
}
