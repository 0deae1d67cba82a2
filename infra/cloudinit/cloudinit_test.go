package cloudinit

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flavormonk/flavormonk/infra/plan"
)

var update = flag.Bool("update", false, "rewrite testdata/*.yaml")

const (
	key1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHxVbW9ja2tleWZvcnRlc3RzMDEyMzQ1Njc4OWFiY2Rl ops@flavormonk"
	key2 = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDmockrsakeyfortestsonly0123456789 ci"
)

func base(role Role, cloud string) Host {
	h := Host{Role: role, Cloud: cloud, AdminUser: "flavormonk", SSHPublicKeys: []string{key1}, PrivateCIDR: "10.10.0.0/16"}
	if role == RoleDB {
		h.PostgresVersion = "15" // the default image's (plan.TestedImages)
	}
	return h
}

func dev(cloud, name string, id int64) string {
	if cloud == "hetzner" {
		return HetznerVolumeDevice(id)
	}
	return DigitalOceanVolumeDevice(name)
}

// variants are the golden cases: every role on both clouds, in the shapes
// the phases use.
func variants() map[string]Host {
	out := map[string]Host{}
	for _, cloud := range Clouds {
		// mvp: one app VM, Caddy with a domain (TLS via ACME) or plain :80.
		h := base(RoleApp, cloud)
		h.Caddy = &Caddy{Domain: "flavormonk.example", Email: "ops@flavormonk.example"}
		out["app-"+cloud+"-mvp-domain"] = h
		h = base(RoleApp, cloud)
		h.Caddy = &Caddy{}
		h.AdminCIDRs = []string{"203.0.113.0/24", "2001:db8::/32"}
		h.SSHPublicKeys = []string{key1, key2}
		out["app-"+cloud+"-mvp-plain"] = h
		// upgrade: behind the load balancer.
		h = base(RoleApp, cloud)
		out["app-"+cloud+"-upgrade"] = h

		h = base(RoleDB, cloud)
		h.AllowFrom = []string{"10.10.1.0/24"}
		h.DataDevice = dev(cloud, "flavormonk-db-data", 100001)
		if cloud == "hetzner" {
			h.BackupDevice = HetznerVolumeDevice(100002)
		}
		out["db-"+cloud] = h

		h = base(RoleRedis, cloud)
		h.AllowFrom = []string{"10.10.1.2", "10.10.1.3"}
		h.AdminCIDRs = []string{"198.51.100.7"}
		out["redis-"+cloud] = h

		h = base(RoleChroma, cloud)
		h.AllowFrom = []string{"10.10.1.0/24"}
		h.DataDevice = dev(cloud, "flavormonk-chroma-data", 100003)
		h.ChromaVersion = "1.0.20"
		out["chroma-"+cloud] = h
	}
	h := base(RoleDB, "hetzner")
	h.AllowFrom = []string{"10.10.1.2", "10.10.1.3", "10.10.2.0/24"}
	h.DataDevice = HetznerVolumeDevice(100001)
	h.BackupDevice = HetznerVolumeDevice(100002)
	h.BackupMount = "/srv/backup"
	h.BackupKeep = 30
	h.PostgresVersion = "16"
	h.AdminCIDRs = []string{"198.51.100.0/24"}
	out["db-hetzner-custom"] = h
	// Debian 13 (trixie) ships PostgreSQL 17 (plan.TestedImages).
	h = base(RoleDB, "hetzner")
	h.AllowFrom = []string{"10.10.1.0/24"}
	h.DataDevice = HetznerVolumeDevice(100001)
	h.BackupDevice = HetznerVolumeDevice(100002)
	h.PostgresVersion = "17"
	out["db-hetzner-pg17"] = h
	h = base(RoleChroma, "hetzner")
	h.AllowFrom = []string{"10.10.1.0/24"}
	h.DataDevice = HetznerVolumeDevice(100003)
	h.ChromaVersion = "0.6.3"
	out["chroma-hetzner-0x"] = h
	// scale on Hetzner: the first k3s server, a joining server, an agent.
	k3s := func(server, init bool, ip string) Host {
		h := base(RoleK3s, "hetzner")
		h.K3s = &K3s{Version: "v1.33.4+k3s1", Server: server, ClusterInit: init, NodeIP: ip,
			ClusterCIDR: "10.244.0.0/16", ServiceCIDR: "10.245.0.0/16"}
		if !init {
			h.K3s.JoinURL = "https://10.10.0.64:6443"
		}
		return h
	}
	out["k3s-hetzner-server-init"] = k3s(true, true, "10.10.0.64")
	out["k3s-hetzner-server-join"] = k3s(true, false, "10.10.0.65")
	out["k3s-hetzner-agent"] = k3s(false, false, "10.10.0.72")
	return out
}

func sortedNames(m map[string]Host) []string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func requireServices() bool { return os.Getenv("FLAVORMONK_TEST_REQUIRE_SERVICES") == "1" }

// tool finds a binary or skips (fails under FLAVORMONK_TEST_REQUIRE_SERVICES=1).
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
			if _, err := os.Stat(filepath.Join(d, name)); err == nil {
				return filepath.Join(d, name)
			}
		}
		if requireServices() {
			t.Fatalf("%s is not installed (apt-get install -y %s; scripts/deps.sh does it)", name, pkg)
		}
		t.Skipf("%s is not installed (apt-get install -y %s); skipping", name, pkg)
	}
	return p
}

func TestGolden(t *testing.T) {
	vs := variants()
	if !*update {
		// Every golden file belongs to a variant.
		files, _ := filepath.Glob("testdata/*.yaml")
		for _, f := range files {
			if _, ok := vs[strings.TrimSuffix(filepath.Base(f), ".yaml")]; !ok {
				t.Errorf("%s has no variant (run go test -update)", f)
			}
		}
	}
	for _, name := range sortedNames(vs) {
		got, err := Render(vs[name])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		path := filepath.Join("testdata", name+".yaml")
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run go test ./cloudinit -update)", name, err)
		}
		if string(want) != got {
			t.Errorf("%s differs from %s (run go test ./cloudinit -update and review the diff)", name, path)
		}
	}
}

// TestSchema validates every golden file with cloud-init's own validator.
func TestSchema(t *testing.T) {
	ci := tool(t, "cloud-init", "cloud-init")
	for _, name := range sortedNames(variants()) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", name+".yaml")
			out, err := exec.Command(ci, "schema", "-c", path).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Valid cloud-config") {
				t.Errorf("cloud-init schema -c %s: %v\n%s", path, err, out)
			}
		})
	}
}

// --- reading a rendered document back ----------------------------------------

type rfile struct {
	path, owner, perms, content string
	deferred                    bool
}

// files renders h and returns its write_files by path, straight from the
// builder (the YAML itself is checked by cloud-init schema and the golden
// comparison).
func files(t *testing.T, h Host) (map[string]rfile, *config) {
	t.Helper()
	n, err := validate(h)
	if err != nil {
		t.Fatal(err)
	}
	c, err := build(n)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]rfile{}
	for _, f := range c.files {
		if _, dup := m[f.path]; dup {
			t.Errorf("%s written twice", f.path)
		}
		m[f.path] = rfile{f.path, f.owner, f.perms, f.content, f.deferred}
	}
	return m, c
}

// TestNftables checks the firewall of every variant: rules load (nft -c),
// the data port is admitted only from AllowFrom on the private network, and
// nothing else is open beyond SSH (and Caddy's ports on an mvp app host).
func TestNftables(t *testing.T) {
	vs := variants()
	for _, name := range sortedNames(vs) {
		h := vs[name]
		fs, _ := files(t, h)
		rules := fs["/etc/nftables.conf"].content
		if rules == "" {
			t.Fatalf("%s: no /etc/nftables.conf", name)
		}
		if strings.Contains(rules, "flush ruleset") {
			t.Errorf("%s: flush ruleset would drop docker's tables", name)
		}
		if strings.Contains(rules, "0.0.0.0/0") || strings.Contains(rules, "::/0") {
			t.Errorf("%s: rules mention the whole internet", name)
		}
		port := h.Role.DataPort()
		accepts := 0
		for _, line := range strings.Split(rules, "\n") {
			l := strings.TrimSpace(line)
			if strings.HasPrefix(l, "#") || l == "" {
				continue
			}
			if strings.HasPrefix(l, "define DATA_CLIENTS") {
				want := "define DATA_CLIENTS = { " + strings.Join(canonical(h.AllowFrom), ", ") + " }"
				if l != want {
					t.Errorf("%s: %q, want %q", name, l, want)
				}
			}
			if !strings.Contains(l, "dport") {
				continue
			}
			switch {
			case port != 0 && strings.Contains(l, fmt.Sprintf("dport %d ", port)):
				if strings.HasSuffix(l, "accept") && !strings.Contains(l, "iif \"lo\"") {
					if !strings.Contains(l, "ip saddr $DATA_CLIENTS ip daddr $PRIVATE_NET") {
						t.Errorf("%s: data port rule admits more than the app nodes: %q", name, l)
					}
					accepts++
				}
			case strings.Contains(l, "dport 22 "):
				if len(h.AdminCIDRs) > 0 && !strings.Contains(l, "saddr $SSH_CLIENTS") {
					t.Errorf("%s: SSH open beyond the admin CIDRs: %q", name, l)
				}
			case h.Role == RoleApp && h.Caddy != nil && (l == "tcp dport { 80, 443 } accept" || l == "udp dport 443 accept"):
			case h.Role == RoleK3s && h.K3s.Server && l == fmt.Sprintf("tcp dport %d accept", K3sAPIPort):
				// the API; the cloud firewall admits the admin CIDRs only
			case h.Role == RoleApp && l == fmt.Sprintf("ip saddr $PRIVATE_NET ip daddr $PRIVATE_NET tcp dport %d accept", AppPort):
				// every app host, Caddy or not: ready for a load balancer
			default:
				t.Errorf("%s: unexpected port rule %q", name, l)
			}
		}
		if port != 0 && accepts != 2 {
			t.Errorf("%s: %d accept rules for port %d, want 2 (prerouting and input)", name, accepts, port)
		}
		if h.Role == RoleApp && strings.Contains(rules, fmt.Sprint(MetricsPort)) {
			t.Errorf("%s: the metrics port must stay closed", name)
		}
	}

	nft := tool(t, "nft", "nftables")
	dir := t.TempDir()
	for _, name := range sortedNames(vs) {
		fs, _ := files(t, vs[name])
		p := filepath.Join(dir, name+".nft")
		if err := os.WriteFile(p, []byte(fs["/etc/nftables.conf"].content), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(nft, "-c", "-f", p).CombinedOutput(); err != nil {
			t.Errorf("nft -c -f %s: %v\n%s", name, err, out)
		}
	}
}

func canonical(xs []string) []string {
	var out []string
	for _, x := range xs {
		p, err := parseAddrOrPrefix(x)
		if err != nil {
			out = append(out, x)
			continue
		}
		if p.Bits() == 32 {
			out = append(out, p.Addr().String())
		} else {
			out = append(out, p.String())
		}
	}
	return out
}

// allowedSecretWords lists, trimmed, every line of user data that may say
// "password" or "secret": settings that turn passwords off and the scripts
// that receive secrets over SSH. A new such line must be reviewed here.
var allowedSecretWords = map[string]bool{
	"PasswordAuthentication no":                                                    true,
	"PermitEmptyPasswords no":                                                      true,
	"password_encryption = 'scram-sha-256'":                                        true,
	"ssh_pwauth: false":                                                            true,
	"# Holds no secret: they arrive over SSH from the remote command.":             true,
	"# with the role's password on stdin (never as an argument: arguments are":     true,
	"# visible to every process). Creates the login role or updates its password,": true,
	"secret=\"\"":                  true,
	"IFS= read -r secret || true":  true,
	"secret=${secret%$'\\r'}":      true,
	"if ((${#secret} < 16)); then": true,
	"log \"FAILED: expected the role's secret (16 characters or more) on stdin\"": true,
	"lit=${secret//\\'/\\'\\'}":                          true,
	"# The SQL, secret included, reaches psql on stdin.": true,
	"ALTER ROLE \"$role\" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD '$lit';": true,
	"# start; the password from flavormonk-secret.conf, written over SSH.":                               true,
	"include /etc/redis/flavormonk-secret.conf":                                                          true,
	"secrets-encryption: true":                      true,
	"- path: \"/etc/redis/flavormonk-secret.conf\"": true,
	// backup.sh documents and reads the S3 settings file.
	"# FLAVORMONK_BACKUP_S3_ENDPOINT, _BUCKET, _ACCESS_KEY_ID, _SECRET_ACCESS_KEY":                                                         true,
	"FLAVORMONK_BACKUP_S3_SECRET_ACCESS_KEY) S3_SECRET=$val ;;":                                                                            true,
	"[[ -n \"$S3_KEY\" && -n \"$S3_SECRET\" ]] || fail \"$STEP: $ENVFILE lacks FLAVORMONK_BACKUP_S3_ACCESS_KEY_ID or _SECRET_ACCESS_KEY\"": true,
	"export RCLONE_CONFIG_FLAVORMONKS3_SECRET_ACCESS_KEY=$S3_SECRET":                                                                       true,
	"S3_ENDPOINT=\"\" S3_BUCKET=\"\" S3_KEY=\"\" S3_SECRET=\"\" S3_REGION=\"\" S3_PREFIX=\"\"":                                             true,
}

// harmless words that say "no password" rather than carry one.
var harmless = strings.NewReplacer("--no-password", "", "NOPASSWD", "", "lock_passwd: true", "",
	"No secrets here", "", "(no secrets)", "")

var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`BEGIN [A-Z ]*PRIVATE KEY`),
	regexp.MustCompile(`PRIVATE KEY`),
	regexp.MustCompile(`(?m)^\s*(requirepass|masterauth)\s+\S`),
	regexp.MustCompile(`[a-z]+://[^/\s:@]+:[^/\s@]+@`), // credentials in a URL
	regexp.MustCompile(`(?i)(api[_-]?key|token|secret[_-]?access[_-]?key)\s*[=:]\s*["']?[A-Za-z0-9+/_-]{12,}`),
	regexp.MustCompile(`\b(sk-[A-Za-z0-9]{20,}|r8_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16})\b`),
}

// TestNoSecrets: no user data carries a secret value.
func TestNoSecrets(t *testing.T) {
	vs := variants()
	for _, name := range sortedNames(vs) {
		out, err := Render(vs[name])
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range secretPatterns {
			if m := re.FindString(out); m != "" {
				t.Errorf("%s: secret-looking text %q", name, m)
			}
		}
		for _, line := range strings.Split(out, "\n") {
			l := strings.TrimSpace(line)
			low := strings.ToLower(harmless.Replace(l))
			if (strings.Contains(low, "password") || strings.Contains(low, "secret") || strings.Contains(low, "passwd")) &&
				!allowedSecretWords[l] {
				t.Errorf("%s: unreviewed line mentions a secret: %q", name, l)
			}
		}
		fs, _ := files(t, vs[name])
		if f, ok := fs[RedisSecretPath]; ok && (f.content != "" || f.owner != "redis:redis" || f.perms != "0640" || !f.deferred) {
			t.Errorf("%s: %s must be created empty, redis:redis 0640, after the package: %+v", name, RedisSecretPath, f)
		}
		if _, ok := fs[EnvPath]; ok {
			t.Errorf("%s: the app's env file must come over SSH, not in user data", name)
		}
	}
}

// TestRoles checks each role's service layout.
func TestRoles(t *testing.T) {
	vs := variants()
	has := func(name, s, sub string) {
		t.Helper()
		if !strings.Contains(s, sub) {
			t.Errorf("%s: lacks %q", name, sub)
		}
	}
	for _, name := range sortedNames(vs) {
		h := vs[name]
		fs, c := files(t, h)
		first := fs["/usr/local/sbin/flavormonk-firstboot"].content
		sshd := fs["/etc/ssh/sshd_config.d/10-flavormonk.conf"].content
		has(name, sshd, "PasswordAuthentication no")
		has(name, sshd, "PermitRootLogin no")
		has(name, sshd, "AllowUsers flavormonk")
		has(name, fs["/etc/apt/apt.conf.d/20auto-upgrades"].content, `APT::Periodic::Unattended-Upgrade "1";`)
		if !contains(c.packages, "unattended-upgrades") || !contains(c.packages, "nftables") {
			t.Errorf("%s: packages %v", name, c.packages)
		}
		if len(c.runcmd) != 1 || c.runcmd[0] != "/usr/local/sbin/flavormonk-firstboot" {
			t.Errorf("%s: runcmd %v", name, c.runcmd)
		}
		hostEnv := fs[HostEnvPath].content
		switch h.Role {
		case RoleApp:
			if !contains(c.packages, "docker.io") {
				t.Errorf("%s: no container runtime", name)
			}
			unit := fs[AppUnitPath].content
			has(name, unit, "ConditionPathExists=/etc/flavormonk/env")
			has(name, unit, "ExecStart=/usr/local/sbin/flavormonk-app-run %i")
			has(name, fs["/usr/local/sbin/flavormonk-app-run"].content, `--env-file "$root/run/flavormonk/env$sfx"`)
			has(name, fs["/usr/local/sbin/flavormonk-app-env"].content, "FLAVORMONK_METRICS_ADDR=127.0.0.1:$metrics")
			has(name, fs["/usr/local/sbin/flavormonk-app-env"].content, "/etc/flavormonk/env")
			has(name, fs[DeployPath].content, "/readyz")
			has(name, hostEnv, "FLAVORMONK_APP_PORT=8080\nFLAVORMONK_GREEN_PORT=8081\nFLAVORMONK_METRICS_PORT=9090\nFLAVORMONK_GREEN_METRICS_PORT=9091\n")
			// The deploy enables the colour that serves; nothing else may.
			if strings.Contains(first, "enable flavormonk") {
				t.Errorf("%s: first boot enables an app unit:\n%s", name, first)
			}
			if h.Caddy != nil {
				has(name, hostEnv, "FLAVORMONK_LISTEN=loopback")
				has(name, hostEnv, "FLAVORMONK_CADDY=yes")
				cf := fs[CaddyfilePath].content
				has(name, cf, "import "+CaddyUpstreamPath+"\n")
				if up := fs[CaddyUpstreamPath]; up.content != "reverse_proxy 127.0.0.1:8080\n" || !up.deferred {
					t.Errorf("%s: Caddy's upstream %+v", name, up)
				}
				if h.Caddy.Domain != "" {
					has(name, cf, h.Caddy.Domain+" {")
					has(name, cf, "email "+h.Caddy.Email)
				} else {
					has(name, cf, ":80 {")
				}
			} else {
				has(name, hostEnv, "FLAVORMONK_LISTEN=private")
				has(name, hostEnv, "FLAVORMONK_CADDY=no")
				if _, ok := fs[CaddyfilePath]; ok || contains(c.packages, "caddy") {
					t.Errorf("%s: Caddy without Caddy", name)
				}
			}
		case RoleDB:
			v := h.PostgresVersion
			if !contains(c.packages, "postgresql-"+v) {
				t.Errorf("%s: packages %v", name, c.packages)
			}
			has(name, fs["/etc/postgresql-common/createcluster.conf"].content, "create_main_cluster = false")
			if fs["/etc/postgresql-common/createcluster.conf"].deferred {
				t.Errorf("%s: createcluster.conf must precede the package", name)
			}
			hba := fs["/etc/flavormonk/postgresql/pg_hba.conf"].content
			for _, a := range canonical(h.AllowFrom) {
				if !strings.Contains(a, "/") {
					a += "/32"
				}
				has(name, hba, "hostssl\tflavormonk\tflavormonk\t"+a+"\tscram-sha-256\n")
			}
			for _, l := range strings.Split(hba, "\n") {
				if strings.HasPrefix(l, "host") && !strings.HasSuffix(l, "scram-sha-256") {
					t.Errorf("%s: pg_hba line without scram: %q", name, l)
				}
				if strings.Contains(l, "trust") || strings.Contains(l, "0.0.0.0") {
					t.Errorf("%s: pg_hba line %q", name, l)
				}
			}
			has(name, fs["/etc/flavormonk/postgresql/50-flavormonk.conf"].content, "password_encryption = 'scram-sha-256'")
			has(name, first, "flavormonk-volume "+h.DataDevice+" ")
			has(name, first, "flavormonk-db-init")
			if _, ok := fs[DBSetupPath]; !ok {
				t.Errorf("%s: no %s", name, DBSetupPath)
			}
			if h.BackupDevice != "" {
				has(name, first, "flavormonk-volume "+h.BackupDevice+" ")
				has(name, first, "systemctl enable --now flavormonk-backup.timer")
				has(name, fs["/etc/systemd/system/flavormonk-backup.service"].content, "ExecStart=/usr/local/sbin/flavormonk-backup")
				has(name, fs["/usr/local/sbin/flavormonk-backup"].content, "pg_dump")
				if !contains(c.packages, "rclone") {
					t.Errorf("%s: no rclone for the S3 copy", name)
				}
			} else if _, ok := fs["/etc/systemd/system/flavormonk-backup.timer"]; ok {
				t.Errorf("%s: a backup timer without a backup volume", name)
			}
		case RoleRedis:
			has(name, fs["/etc/redis/flavormonk.conf"].content, "protected-mode yes")
			has(name, fs["/etc/redis/flavormonk.conf"].content, "include "+RedisSecretPath)
			has(name, fs["/usr/local/sbin/flavormonk-redis-conf"].content, "bind 127.0.0.1 -::1 $ip")
			has(name, first, "include /etc/redis/flavormonk.conf")
		case RoleChroma:
			has(name, hostEnv, "FLAVORMONK_CHROMA_IMAGE=chromadb/chroma:"+h.ChromaVersion+"\n")
			has(name, fs["/usr/local/sbin/flavormonk-chroma-run"].content, `--publish "$ip:$FLAVORMONK_DATA_PORT:8000"`)
			has(name, fs["/etc/systemd/system/flavormonk-chroma.service"].content, "RequiresMountsFor=/mnt/data")
			has(name, first, "flavormonk-volume "+h.DataDevice+" ")
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestScripts: every shell script in user data parses.
func TestScripts(t *testing.T) {
	vs := variants()
	seen := map[string]bool{}
	for _, name := range sortedNames(vs) {
		fs, _ := files(t, vs[name])
		for p, f := range fs {
			if !strings.HasPrefix(f.content, "#!/bin/bash") && !strings.HasSuffix(p, ".sh") {
				continue
			}
			if seen[f.content] {
				continue
			}
			seen[f.content] = true
			cmd := exec.Command("bash", "-n")
			cmd.Stdin = strings.NewReader(f.content)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s %s: bash -n: %v\n%s", name, p, err, out)
			}
		}
	}
}

// TestNetHelpers runs the address arithmetic the scripts share.
func TestNetHelpers(t *testing.T) {
	for _, c := range []struct {
		addr, cidr string
		in         bool
	}{
		{"10.10.1.2", "10.10.0.0/16", true},
		{"10.10.1.0/24", "10.10.0.0/16", true},
		{"10.11.0.1", "10.10.0.0/16", false},
		{"10.0.0.0/8", "10.10.0.0/16", false},
		{"10.10.255.255", "10.10.0.0/16", true},
		{"192.168.0.1", "192.168.0.0/24", true},
		{"256.1.1.1", "10.0.0.0/8", false},
		{"10.1.1", "10.0.0.0/8", false},
		{"10.10.1.2; rm -rf /", "10.10.0.0/16", false},
	} {
		cmd := exec.Command("bash", "-c", netSh+"\nfm_in_cidr \"$1\" \"$2\"", "x", c.addr, c.cidr)
		err := cmd.Run()
		if (err == nil) != c.in {
			t.Errorf("fm_in_cidr %s %s: %v, want in=%v", c.addr, c.cidr, err, c.in)
		}
	}
}

// TestAllow runs flavormonk-allow against copies of a db host's rules and
// pg_hba.conf (no reload) and checks the rewritten files still load.
func TestAllow(t *testing.T) {
	h := variants()["db-hetzner"]
	fs, _ := files(t, h)
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(etc, 0o755))
	conf := filepath.Join(etc, "nftables.conf")
	hba := filepath.Join(etc, "pg_hba.conf")
	must(os.WriteFile(conf, []byte(fs["/etc/nftables.conf"].content), 0o644))
	must(os.WriteFile(hba, []byte(fs["/etc/flavormonk/postgresql/pg_hba.conf"].content), 0o640))
	must(os.WriteFile(filepath.Join(dir, "net.sh"), []byte(netSh), 0o644))
	must(os.WriteFile(filepath.Join(dir, "host.env"), []byte(fs[HostEnvPath].content), 0o644))
	script := strings.NewReplacer(
		"/etc/flavormonk/host.env", filepath.Join(dir, "host.env"),
		"/usr/local/lib/flavormonk/net.sh", filepath.Join(dir, "net.sh"),
	).Replace(allowSh)
	nftDir := filepath.Dir(tool(t, "nft", "nftables"))
	run := func(args ...string) (string, error) {
		cmd := exec.Command("bash", append([]string{"-c", script, "flavormonk-allow"}, args...)...)
		cmd.Env = append(os.Environ(), "FLAVORMONK_NFT_CONF="+conf, "FLAVORMONK_PG_HBA="+hba,
			"FLAVORMONK_ALLOW_NO_RELOAD=1", "PATH="+nftDir+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("10.10.3.4", "10.10.4.0/24"); err != nil {
		t.Fatalf("flavormonk-allow: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(conf)
	if !strings.Contains(string(b), "\ndefine DATA_CLIENTS = { 10.10.3.4, 10.10.4.0/24 }\n") {
		t.Errorf("nftables.conf not rewritten:\n%s", b)
	}
	b, _ = os.ReadFile(hba)
	want := "# BEGIN flavormonk data clients\nhostssl\tflavormonk\tflavormonk\t10.10.3.4/32\tscram-sha-256\n" +
		"hostssl\tflavormonk\tflavormonk\t10.10.4.0/24\tscram-sha-256\n# END flavormonk data clients\n"
	if !strings.HasSuffix(string(b), want) || strings.Contains(string(b), "10.10.1.0/24") {
		t.Errorf("pg_hba.conf not rewritten:\n%s", b)
	}
	for _, bad := range [][]string{{"0.0.0.0/0"}, {"192.168.1.1"}, {"10.10.1.1 }; tcp dport 22 accept; {"}, {}} {
		before, _ := os.ReadFile(conf)
		if out, err := run(bad...); err == nil {
			t.Errorf("flavormonk-allow %q succeeded:\n%s", bad, out)
		}
		after, _ := os.ReadFile(conf)
		if string(before) != string(after) {
			t.Errorf("flavormonk-allow %q changed the rules", bad)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	ok := base(RoleDB, "hetzner")
	ok.AllowFrom = []string{"10.10.1.0/24"}
	ok.DataDevice = HetznerVolumeDevice(1)
	if _, err := Render(ok); err != nil {
		t.Fatalf("valid host: %v", err)
	}
	cases := map[string]func(h *Host){
		"unknown role":       func(h *Host) { h.Role = "web" },
		"unknown cloud":      func(h *Host) { h.Cloud = "aws" },
		"no keys":            func(h *Host) { h.SSHPublicKeys = nil },
		"private key":        func(h *Host) { h.SSHPublicKeys = []string{"-----BEGIN OPENSSH PRIVATE KEY-----"} },
		"not a key":          func(h *Host) { h.SSHPublicKeys = []string{"hello"} },
		"key with newline":   func(h *Host) { h.SSHPublicKeys = []string{key1 + "\nruncmd: [reboot]"} },
		"root admin":         func(h *Host) { h.AdminUser = "root" },
		"bad admin":          func(h *Host) { h.AdminUser = "Bad User" },
		"bad CIDR":           func(h *Host) { h.PrivateCIDR = "10.10.0.0/33" },
		"public CIDR":        func(h *Host) { h.PrivateCIDR = "8.8.0.0/16" },
		"unmasked CIDR":      func(h *Host) { h.PrivateCIDR = "10.10.0.1/16" },
		"no AllowFrom":       func(h *Host) { h.AllowFrom = nil },
		"AllowFrom outside":  func(h *Host) { h.AllowFrom = []string{"10.11.0.0/24"} },
		"AllowFrom world":    func(h *Host) { h.AllowFrom = []string{"0.0.0.0/0"} },
		"AllowFrom wider":    func(h *Host) { h.AllowFrom = []string{"10.0.0.0/8"} },
		"AllowFrom garbage":  func(h *Host) { h.AllowFrom = []string{"10.10.1.1 }; accept"} },
		"AllowFrom v6":       func(h *Host) { h.AllowFrom = []string{"fd00::1"} },
		"admin world":        func(h *Host) { h.AdminCIDRs = []string{"0.0.0.0/0"} },
		"admin world v6":     func(h *Host) { h.AdminCIDRs = []string{"::/0"} },
		"admin garbage":      func(h *Host) { h.AdminCIDRs = []string{"x"} },
		"no device":          func(h *Host) { h.DataDevice = "" },
		"bad device":         func(h *Host) { h.DataDevice = "/dev/sdb; rm -rf /" },
		"bad pg version":     func(h *Host) { h.PostgresVersion = "9.6" },
		"no pg version":      func(h *Host) { h.PostgresVersion = "" },
		"backup mount alone": func(h *Host) { h.BackupMount = "/mnt/backup" },
		"backup same device": func(h *Host) { h.BackupDevice = h.DataDevice },
		"backup keep":        func(h *Host) { h.BackupDevice = HetznerVolumeDevice(2); h.BackupKeep = -1 },
		"caddy on db":        func(h *Host) { h.Caddy = &Caddy{} },
		"app with AllowFrom": func(h *Host) { h.Role = RoleApp; h.DataDevice = "" },
		"app bad domain": func(h *Host) {
			h.Role, h.AllowFrom, h.DataDevice = RoleApp, nil, ""
			h.Caddy = &Caddy{Domain: "exa mple.com"}
		},
		"app bad email": func(h *Host) {
			h.Role, h.AllowFrom, h.DataDevice = RoleApp, nil, ""
			h.Caddy = &Caddy{Email: "nope"}
		},
		"redis with device": func(h *Host) { h.Role = RoleRedis },
		"chroma no version": func(h *Host) { h.Role = RoleChroma },
		"chroma bad version": func(h *Host) {
			h.Role = RoleChroma
			h.ChromaVersion = "latest"
		},
		"redis backup": func(h *Host) {
			h.Role, h.DataDevice = RoleRedis, ""
			h.BackupDevice = HetznerVolumeDevice(3)
		},
	}
	for name, mut := range cases {
		h := ok
		h.AllowFrom = append([]string(nil), ok.AllowFrom...)
		h.SSHPublicKeys = append([]string(nil), ok.SSHPublicKeys...)
		mut(&h)
		if out, err := Render(h); err == nil {
			t.Errorf("%s: want an error, got user data (%d bytes)", name, len(out))
		} else if !strings.HasPrefix(err.Error(), "cloudinit: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
}

func TestBlock(t *testing.T) {
	for in, want := range map[string]string{
		"":            `""`,
		"a\n":         "|\n  a",
		"a":           "|-\n  a",
		"a\n\n":       "|+\n  a\n",
		" a\nb\n":     "|2\n   a\n  b",
		"a\n\nb\n":    "|\n  a\n\n  b",
		"\tx\n":       "|2\n  \tx",
		"#!/x\n\ty\n": "|\n  #!/x\n  \ty",
	} {
		if got := block(in, "  "); got != want {
			t.Errorf("block(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestK3sStart runs flavormonk-k3s-start against a temporary folder with
// stand-ins for ip, systemctl and k3s: the token lands 0600 from stdin,
// the private interface and (servers) the public address are configured,
// and a short token or a bad address is refused.
func TestK3sStart(t *testing.T) {
	bin := t.TempDir()
	stub := func(name, body string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/bash\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stub("ip", `echo "2: eth0    inet 203.0.113.9/32 scope global eth0"; echo "3: enp7s0    inet 10.10.0.64/32 scope global enp7s0"`)
	stub("systemctl", `echo "$*" >>"$STUB_LOG"`)
	stub("k3s", `exit 0`)
	stub("sleep", `exit 0`)
	run := func(role, token string, args ...string) (string, string, error) {
		dir := t.TempDir()
		env := filepath.Join(dir, "host.env")
		_ = os.WriteFile(env, []byte("FLAVORMONK_K3S_ROLE="+role+"\nFLAVORMONK_NODE_IP=10.10.0.64\n"), 0o644)
		cmd := exec.Command("bash", append([]string{"-c", k3sStartSh, "flavormonk-k3s-start"}, args...)...)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FLAVORMONK_K3S_DIR="+filepath.Join(dir, "k3s"),
			"FLAVORMONK_HOST_ENV="+env, "STUB_LOG="+filepath.Join(dir, "systemctl.log"))
		cmd.Stdin = strings.NewReader(token)
		out, err := cmd.CombinedOutput()
		return dir, string(out), err
	}
	token := strings.Repeat("k", 48) + "\n"
	dir, out, err := run("server", token, "203.0.113.9")
	if err != nil {
		t.Fatalf("server: %v\n%s", err, out)
	}
	st, err := os.Stat(filepath.Join(dir, "k3s", "token"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", st, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "k3s", "token")); string(b) != token {
		t.Errorf("token file holds %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "k3s", "config.yaml.d", "40-flannel-iface.yaml")); !strings.Contains(string(b), `flannel-iface: "enp7s0"`) {
		t.Errorf("flannel interface: %s", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "k3s", "config.yaml.d", "50-public-address.yaml")); !strings.Contains(string(b), `- "203.0.113.9"`) {
		t.Errorf("tls-san: %s", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "systemctl.log")); !strings.Contains(string(b), "restart k3s") {
		t.Errorf("systemctl: %s", b)
	}
	dir, out, err = run("agent", token)
	if err != nil {
		t.Fatalf("agent: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "systemctl.log")); !strings.Contains(string(b), "restart k3s-agent") {
		t.Errorf("agent systemctl: %s", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "k3s", "config.yaml.d", "50-public-address.yaml")); err == nil {
		t.Error("an agent got a tls-san")
	}
	for name, c := range map[string]struct {
		token string
		args  []string
	}{"short token": {"short\n", nil}, "bad address": {token, []string{"203.0.113.9; rm -rf /"}}} {
		dir, out, err := run("server", c.token, c.args...)
		if err == nil {
			t.Errorf("%s accepted:\n%s", name, out)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "systemctl.log")); len(b) > 0 {
			t.Errorf("%s: k3s started anyway", name)
		}
	}
}

// The app unit lets the app stop as the phase's configuration says
// (drain, grace, settling) before docker or systemd kill it.
func TestAppUnitAllowsTheAppsStop(t *testing.T) {
	m := regexp.MustCompile(`docker stop -t (\d+) `).FindStringSubmatch(appUnit)
	n := regexp.MustCompile(`TimeoutStopSec=(\d+)`).FindStringSubmatch(appUnit)
	if m == nil || n == nil {
		t.Fatalf("no docker stop -t or TimeoutStopSec in the unit:\n%s", appUnit)
	}
	dockerT, _ := strconv.Atoi(m[1])
	systemdT, _ := strconv.Atoi(n[1])
	for _, ph := range []plan.Phase{plan.MVP, plan.Upgrade} {
		stop := (&plan.Plan{Phase: ph}).AppStopTimeout()
		if time.Duration(dockerT)*time.Second < stop || systemdT <= dockerT {
			t.Errorf("%s: docker stop -t %d, TimeoutStopSec=%d; the app may take %s to stop", ph, dockerT, systemdT, stop)
		}
	}
}

// TestDBInitRefusesOtherMajor runs flavormonk-db-init against a temporary
// volume with stand-ins: a volume holding another major's cluster and none
// of this server's stops it before anything is created (a replaced db
// server from another image must not start the app on an empty database),
// unless the operator left the new-major marker; a volume with this major's
// cluster, or none, goes on to the cluster step.
func TestDBInitRefusesOtherMajor(t *testing.T) {
	bin := t.TempDir()
	stub := func(name, body string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/bash\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stub("mountpoint", `exit 0`)
	stub("install", `exit 0`)
	stub("stat", `id -u`)
	stub("id", `echo 0`)
	// The cluster step is as far as the test goes: it records and stops.
	stub("pg_createcluster", `echo "pg_createcluster $*" >>"$STUB_LOG"; exit 3`)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	run := func(onVolume []string, marker bool) (string, string, error) {
		dir := t.TempDir()
		mount := filepath.Join(dir, "data")
		for _, m := range onVolume {
			d := filepath.Join(mount, "postgresql", m, "main")
			must(os.MkdirAll(d, 0o755))
			must(os.WriteFile(filepath.Join(d, "PG_VERSION"), []byte(m+"\n"), 0o600))
		}
		if marker {
			must(os.MkdirAll(filepath.Join(mount, "postgresql"), 0o755))
			must(os.WriteFile(filepath.Join(mount, "postgresql", "new-major-17"), nil, 0o644))
		}
		env := filepath.Join(dir, "host.env")
		must(os.WriteFile(env, []byte("FLAVORMONK_PG_VERSION=17\nFLAVORMONK_DATA_MOUNT="+mount+"\n"), 0o644))
		script := strings.Replace(dbInitSh, "/etc/flavormonk/host.env", env, 1)
		script = strings.ReplaceAll(script, "/etc/postgresql/", filepath.Join(dir, "etc")+"/")
		cmd := exec.Command("bash", "-c", script, "flavormonk-db-init")
		log := filepath.Join(dir, "stub.log")
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "STUB_LOG="+log)
		out, err := cmd.CombinedOutput()
		calls, _ := os.ReadFile(log)
		return string(out), string(calls), err
	}
	out, calls, err := run([]string{"15"}, false)
	if err == nil || calls != "" || !strings.Contains(out, "holds PostgreSQL 15 data and this server runs PostgreSQL 17") || !strings.Contains(out, "serverImage back") {
		t.Errorf("15 on the volume, server 17: err %v, calls %q\n%s", err, calls, out)
	}
	for name, c := range map[string]struct {
		onVolume []string
		marker   bool
	}{"empty volume": {nil, false}, "marked move": {[]string{"15"}, true}, "this major there too": {[]string{"15", "17"}, false}} {
		out, calls, _ := run(c.onVolume, c.marker)
		if strings.Contains(out, "FAILED: the data volume") || !strings.Contains(calls, "pg_createcluster") {
			t.Errorf("%s: refused or did not reach the cluster step: calls %q\n%s", name, calls, out)
		}
	}
}

// TestHetznerUserDataSize: Hetzner refuses user data over 32 KiB; the db
// server's is the largest.
func TestHetznerUserDataSize(t *testing.T) {
	for name, h := range variants() {
		if h.Cloud != "hetzner" {
			continue
		}
		ud, err := Render(h)
		if err != nil {
			t.Fatal(err)
		}
		if len(ud) > 32*1024 {
			t.Errorf("%s: user data is %d bytes; Hetzner accepts at most 32768", name, len(ud))
		}
	}
}

// The drop-in every deploy writes holds exactly the unit's stop settings,
// ExecStop reset first (a second ExecStop would otherwise run both).
func TestAppStopDropIn(t *testing.T) {
	var want []string
	for _, line := range strings.Split(appUnit, "\n") {
		if strings.HasPrefix(line, "ExecStop=") || strings.HasPrefix(line, "TimeoutStopSec=") {
			want = append(want, line)
		}
	}
	if len(want) != 2 {
		t.Fatalf("the unit has %d stop settings, want ExecStop and TimeoutStopSec: %q", len(want), want)
	}
	lines := strings.Split(strings.TrimSpace(AppStopDropIn), "\n")
	if !slices.Contains(lines, "[Service]") {
		t.Fatalf("no [Service] section:\n%s", AppStopDropIn)
	}
	i := slices.Index(lines, "ExecStop=")
	if i < 0 || slices.Index(lines, want[0]) < i {
		t.Errorf("ExecStop is not reset before it is set:\n%s", AppStopDropIn)
	}
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("drop-in lacks %q:\n%s", w, AppStopDropIn)
		}
	}
}
