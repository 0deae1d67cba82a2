package main

import (
	"bytes"
	"strings"
	"testing"
)

// The committed stacks plan offline, in every cloud × phase combination,
// and the transition check passes both ways.
func TestPlanCommittedStacks(t *testing.T) {
	cases := [][]string{
		{"-stack", "dev"},
		{"-stack", "prod"},
		{"-stack", "dev", "-phase", "upgrade"},
		{"-stack", "prod", "-phase", "mvp"},
		{"-stack", "dev", "-cloud", "digitalocean"},
		{"-stack", "prod", "-cloud", "hetzner", "-phase", "upgrade"},
		{"-stack", "dev", "-to", "upgrade"},
		{"-stack", "prod", "-phase", "scale"},
		{"-stack", "dev", "-phase", "scale", "-cloud", "hetzner"},
		{"-stack", "prod", "-phase", "scale", "-cloud", "hetzner"},
		{"-stack", "dev", "-phase", "scale", "-cloud", "digitalocean"},
		{"-stack", "prod", "-to", "scale"},
		{"-stack", "prod", "-phase", "scale", "-to", "upgrade"},
		{"-stack", "dev", "-to", "scale"},
		{"-stack", "dev", "-phase", "upgrade", "-to", "scale"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			if err := run(append([]string{"-dir", "../../.."}, args...), &out, &errb); err != nil {
				t.Fatalf("%v\n%s%s", err, out.String(), errb.String())
			}
			s := out.String()
			for _, want := range []string{"monthly cost:", "TOTAL", "appUrl:", "databaseUrl: [secret]", "appEnv: [secret]"} {
				if !strings.Contains(s, want) {
					t.Errorf("output lacks %q", want)
				}
			}
			if strings.Contains(strings.Join(args, " "), "-phase scale") {
				// The cluster, the app's objects and the kubeconfig as a secret.
				for _, want := range []string{"kubeconfig: [secret]", "kubernetes:Deployment", "app ", "kubernetes:HorizontalPodAutoscaler",
					"kubernetes:PodDisruptionBudget", "kubernetes:Job", "kubernetes:Service", "phase: scale"} {
					if !strings.Contains(s, want) {
						t.Errorf("scale plan lacks %q", want)
					}
				}
				if !strings.Contains(s, "digitalocean:KubernetesCluster") && !strings.Contains(s, "k3s-server-1") {
					t.Error("scale plan shows no cluster")
				}
			}
			if strings.Contains(s, "EUR") && strings.Contains(s, "USD") {
				t.Error("EUR and USD in one plan")
			}
			if strings.Contains(strings.Join(args, " "), "-to") && strings.Count(s, "stateful resources: all kept") != 2 {
				t.Errorf("transition check not passed both ways:\n%s", s)
			}
		})
	}
}

// Moving the prod stack (DigitalOcean) back to mvp would delete the
// protected Valkey, which `pulumi up` refuses: the check fails and says how
// to let it go; the way up is clean.
func TestPlanProtectedValkeyToMVP(t *testing.T) {
	for _, args := range [][]string{{"-stack", "prod", "-to", "mvp"}, {"-stack", "prod", "-phase", "mvp", "-to", "scale"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(append([]string{"-dir", "../../.."}, args...), &out, &errb)
			if err == nil || !strings.Contains(err.Error(), "stateful or protected resource") {
				t.Fatalf("err = %v", err)
			}
			sections := strings.Split(out.String(), "== transition ")[1:]
			if len(sections) != 2 {
				t.Fatalf("%d transition sections:\n%s", len(sections), out.String())
			}
			for _, sec := range sections {
				if strings.HasPrefix(sec, "mvp → ") {
					if !strings.Contains(sec, "stateful resources: all kept") {
						t.Errorf("up from mvp:\n%s", sec)
					}
					continue
				}
				if !strings.Contains(sec, "STATEFUL OR PROTECTED RESOURCES AT RISK (1)") ||
					!strings.Contains(sec, "::cache: the target phase no longer declares it, and it is protected") ||
					!strings.Contains(sec, "pulumi state unprotect 'urn:pulumi:prod::flavormonk::flavormonk:digitalocean:Valkey$digitalocean:index/databaseCluster:DatabaseCluster::cache'") {
					t.Errorf("down to mvp:\n%s", sec)
				}
			}
		})
	}
}

func TestPlanRefusesBadConfig(t *testing.T) {
	var out, errb bytes.Buffer
	err := run([]string{"-dir", "../../..", "-stack", "dev", "-phase", "huge"}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "allowed: mvp, upgrade, scale") {
		t.Fatalf("unknown phase: %v", err)
	}
	err = run([]string{"-dir", "../../..", "-stack", "nope"}, &out, &errb)
	if err == nil {
		t.Fatal("missing stack file accepted")
	}
}
