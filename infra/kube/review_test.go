package kube_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// The Sentinels copy their configuration only when the writable volume has
// none, so a restarted container keeps the primary, replicas and epoch it
// learned (after a failover the Secret names the old primary).
func TestSentinelKeepsLearnedState(t *testing.T) {
	objs := kubeObjects(capture(t, "hetzner"))
	dep := decode[appsv1.Deployment](t, objs["Deployment-sentinel"])
	cmd := strings.Join(dep.Spec.Template.Spec.Containers[0].Command, " ")
	if !strings.Contains(cmd, "[ -f /data/sentinel.conf ] || cp /conf/sentinel.conf /data/sentinel.conf") ||
		!strings.HasSuffix(cmd, "exec redis-sentinel /data/sentinel.conf") {
		t.Errorf("sentinel command %q overwrites the learned configuration", cmd)
	}
}
