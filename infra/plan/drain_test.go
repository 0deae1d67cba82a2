package plan

import (
	"strings"
	"testing"
	"time"
)

// The drain delay each phase's app receives: none on the one mvp VM, the
// load balancer's time to see a target fail in upgrade, the endpoint
// removal in scale; and what a supervisor must allow for the app to stop.
func TestDrainDelay(t *testing.T) {
	for _, tc := range []struct {
		phase       string
		drain, stop time.Duration
		env         string
	}{
		{"mvp", 0, 35 * time.Second, "FLAVORMONK_DRAIN_DELAY=0s"},
		{"upgrade", 35 * time.Second, 70 * time.Second, "FLAVORMONK_DRAIN_DELAY=35s"},
		{"scale", 10 * time.Second, 45 * time.Second, "FLAVORMONK_DRAIN_DELAY=10s"},
	} {
		m := base("digitalocean")
		m["phase"] = tc.phase
		p, err := compile(m)
		if err != nil {
			t.Fatal(err)
		}
		if d := p.DrainDelay(); d != tc.drain {
			t.Errorf("%s: drain %s, want %s", tc.phase, d, tc.drain)
		}
		if d := p.AppStopTimeout(); d != tc.stop {
			t.Errorf("%s: stop timeout %s, want %s", tc.phase, d, tc.stop)
		}
		c, err := p.AppConfig(AppInputs{PostgresURL: "postgres://x@10.42.0.2/db", RedisAddrs: []string{"10.42.0.3:6379"},
			ChromaURL: "http://10.42.0.4:8000", OpenAIKey: "sk", ReplicateToken: "r8"})
		if err != nil {
			t.Fatal(err)
		}
		if env := strings.Join(c.Env(), "\n"); !strings.Contains(env, tc.env) {
			t.Errorf("%s: the app's environment lacks %s", tc.phase, tc.env)
		}
	}
	if got := LBCheckInterval*LBUnhealthyThreshold + DrainMargin; got != 35*time.Second {
		t.Errorf("upgrade's drain is %s", got)
	}
}
