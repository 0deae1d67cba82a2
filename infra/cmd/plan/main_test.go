package main

import (
	"bytes"
	"strings"
	"testing"
)

// The committed stacks plan offline, in every cloud × phase combination,
// and the transition asked for passes (the way back is shown as well).
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
		// The way back meets the protected Valkey; the way asked for is clean.
		{"-stack", "prod", "-phase", "mvp", "-to", "upgrade"},
		{"-stack", "prod", "-phase", "mvp", "-to", "scale"},
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
			if strings.Contains(strings.Join(args, " "), "-to") {
				fwd, back := transitionSections(t, s)
				if !strings.Contains(fwd, "stateful resources: all kept") || strings.Contains(fwd, "AT RISK") || strings.Contains(fwd, "DROPPED") {
					t.Errorf("transition check not passed:\n%s", fwd)
				}
				if !strings.Contains(back, "added (") {
					t.Errorf("the way back not shown:\n%s", back)
				}
			}
		})
	}
}

// transitionSections splits a plan's output into the checked transition
// and the way back, shown for information.
func transitionSections(t *testing.T, out string) (forward, back string) {
	t.Helper()
	_, rest, ok := strings.Cut(out, "\n== transition ")
	if !ok {
		t.Fatalf("no transition section:\n%s", out)
	}
	forward, back, ok = strings.Cut(rest, "\n== for information, not checked: the way back, ")
	if !ok {
		t.Fatalf("no way-back section:\n%s", out)
	}
	return forward, back
}

// Moving the prod stack (DigitalOcean) back to mvp would delete the
// protected Valkey, which `pulumi up` refuses: the check fails as an
// operator step (not data loss) and gives the unprotect command for this
// stack. Going up from mvp is clean, whatever the way back would meet; a
// move that also shrinks the database reports both, apart.
func TestPlanProtectedValkeyToMVP(t *testing.T) {
	unprotect := func(stack string) string {
		return "pulumi state unprotect --stack " + stack + " 'urn:pulumi:" + stack + "::flavormonk::flavormonk:digitalocean:Valkey$digitalocean:index/databaseCluster:DatabaseCluster::cache'"
	}
	const dropped = "protected resource dropped — operator step needed"
	for _, tc := range []struct {
		args     []string
		stack    string
		dataLoss bool
	}{
		{[]string{"-stack", "prod", "-to", "mvp"}, "prod", false},
		{[]string{"-stack", "prod", "-phase", "scale", "-to", "mvp"}, "prod", false},
		// The cloud's default sizes: mvp's database plan is smaller, and
		// DigitalOcean cannot shrink a managed database's disk.
		{[]string{"-stack", "dev", "-cloud", "digitalocean", "-phase", "upgrade", "-to", "mvp"}, "dev", true},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(append([]string{"-dir", "../../.."}, tc.args...), &out, &errb)
			if err == nil || !strings.Contains(err.Error(), dropped) {
				t.Fatalf("err = %v, want %q", err, dropped)
			}
			if got := strings.Contains(err.Error(), "would replace or delete a stateful or protected resource"); got != tc.dataLoss {
				t.Errorf("err = %v: data loss reported %v, want %v", err, got, tc.dataLoss)
			}
			fwd, back := transitionSections(t, out.String())
			if !strings.Contains(fwd, "PROTECTED RESOURCE DROPPED — OPERATOR STEP NEEDED (1):") ||
				!strings.Contains(fwd, "::cache: the target phase no longer declares it, and it is protected") ||
				!strings.Contains(fwd, unprotect(tc.stack)) {
				t.Errorf("down to mvp:\n%s", fwd)
			}
			if got := strings.Contains(fwd, "STATEFUL OR PROTECTED RESOURCES AT RISK"); got != tc.dataLoss {
				t.Errorf("down to mvp, data at risk shown %v, want %v:\n%s", got, tc.dataLoss, fwd)
			}
			if risk, _, _ := strings.Cut(fwd, "PROTECTED RESOURCE DROPPED"); tc.dataLoss &&
				(!strings.Contains(risk, "cannot shrink") || strings.Contains(risk[strings.Index(risk, "AT RISK"):], "::cache")) {
				t.Errorf("data at risk: want the shrink, not the Valkey:\n%s", fwd)
			}
			if !strings.HasPrefix(back, "mvp → ") || !strings.Contains(back, "stateful resources: all kept") {
				t.Errorf("up from mvp:\n%s", back)
			}
		})
	}
	// The way up exits 0 and shows the way back, labelled, with the step.
	var out, errb bytes.Buffer
	if err := run([]string{"-dir", "../../..", "-stack", "prod", "-phase", "mvp", "-to", "upgrade"}, &out, &errb); err != nil {
		t.Fatalf("mvp → upgrade: %v", err)
	}
	if _, back := transitionSections(t, out.String()); !strings.HasPrefix(back, "upgrade → mvp ==") || !strings.Contains(back, unprotect("prod")) {
		t.Errorf("the way back:\n%s", back)
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

// TestPlanServerImageChange: `-set serverImage=…` checks a config change
// (no phase change) and names the db server's PostgreSQL majors.
func TestPlanServerImageChange(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"-dir", "../../..", "-stack", "dev", "-set", "serverImage=debian-13"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s%s", err, out.String(), errb.String())
	}
	s := out.String()
	for _, want := range []string{"== transition mvp → mvp with serverImage=debian-13 ==", "NOTE: ", "debian-12 → debian-13", "PostgreSQL 15", "PostgreSQL 17"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if err := run([]string{"-dir", "../../..", "-stack", "dev", "-set", "serverImage"}, &out, &errb); err == nil {
		t.Error("-set without = accepted")
	}
}
