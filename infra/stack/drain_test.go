package stack_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/plan"
)

// TestDrainFollowsHealthCheck: in upgrade, both clouds' load balancers
// check the app with plan's interval, timeout and thresholds, and the app's
// environment carries the drain delay derived from those same numbers, so
// neither can change without the other.
func TestDrainFollowsHealthCheck(t *testing.T) {
	secs := func(d time.Duration) string { return fmt.Sprint(int(d / time.Second)) }
	want := "FLAVORMONK_DRAIN_DELAY=" + (plan.LBCheckInterval*plan.LBUnhealthyThreshold + plan.DrainMargin).String()
	for cloud, check := range map[string]struct {
		token, field string
		keys         map[string]string
	}{
		"hetzner": {"hcloud:index/loadBalancerService:LoadBalancerService", "healthCheck", map[string]string{
			"interval": secs(plan.LBCheckInterval), "timeout": secs(plan.LBCheckTimeout), "retries": fmt.Sprint(plan.LBUnhealthyThreshold)}},
		"digitalocean": {"digitalocean:index/loadBalancer:LoadBalancer", "healthcheck", map[string]string{
			"checkIntervalSeconds": secs(plan.LBCheckInterval), "responseTimeoutSeconds": secs(plan.LBCheckTimeout),
			"unhealthyThreshold": fmt.Sprint(plan.LBUnhealthyThreshold), "healthyThreshold": fmt.Sprint(plan.LBHealthyThreshold)}},
	} {
		t.Run(cloud, func(t *testing.T) {
			r := runStack(t, config(cloud, "upgrade"))
			lbs := r.capture.ByType(check.token)
			if len(lbs) == 0 {
				t.Fatalf("no %s", check.token)
			}
			for _, lb := range lbs {
				hc, _ := mockrun.PlainMap(lb.Inputs, true)[check.field].(map[string]any)
				for k, v := range check.keys {
					if got := fmt.Sprint(hc[k]); got != v {
						t.Errorf("%s %s: %s.%s = %s, want %s", check.token, lb.Name, check.field, k, got, v)
					}
				}
			}
			if !slices.Contains(r.env, want) {
				t.Errorf("the app's environment lacks %s", want)
			}
		})
	}
}
