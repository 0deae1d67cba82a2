package cloudinit

import (
	"fmt"
	"strings"

	"github.com/flavormonk/flavormonk/infra/backup"
)

// builder assembles one host's document from a normalized Host. The first
// error (a template or the backup units) sticks and build returns it.
type builder struct {
	n   *normalized
	c   *config
	err error
}

func (b *builder) add(f file) { b.c.files = append(b.c.files, f) }

// exe adds a root-owned executable.
func (b *builder) exe(path, content string) {
	b.add(file{path: path, owner: "root:root", perms: "0755", content: content})
}

// conf adds a root-owned file.
func (b *builder) conf(path, perms, content string) {
	b.add(file{path: path, owner: "root:root", perms: perms, content: content})
}

// execute renders the template files/name with data.
func (b *builder) execute(name string, data any) string {
	if b.err != nil {
		return ""
	}
	s, err := execute(name, data)
	if err != nil {
		b.err = err
	}
	return s
}

// build lays out the host's packages, files and first-boot script. The
// order of the files is the order cloud-init writes them (those deferred
// until after the packages last), so it is kept stable for the goldens.
func build(n *normalized) (*config, error) {
	b := &builder{n: n, c: &config{
		comment: fmt.Sprintf("Flavor Monk %s host on %s (Debian 12), rendered by infra/cloudinit.\n"+
			"Holds no secret: they arrive over SSH from the remote command.", n.Role, n.Cloud),
		user:     n.AdminUser,
		packages: []string{"nftables", "unattended-upgrades", "apt-listchanges", "curl", "ca-certificates"},
	}}
	for _, k := range n.SSHPublicKeys {
		b.c.keys = append(b.c.keys, strings.TrimSpace(k))
	}
	b.common()
	switch n.Role {
	case RoleApp:
		b.app()
	case RoleDB:
		b.db()
	case RoleRedis:
		b.redis()
	case RoleK3s:
		b.k3s()
	case RoleChroma:
		b.chroma()
	}
	b.exe("/usr/local/sbin/flavormonk-firstboot", b.execute("firstboot.sh.tmpl", n))
	b.c.runcmd = []string{"/usr/local/sbin/flavormonk-firstboot"}
	if b.err != nil {
		return nil, b.err
	}
	return b.c, nil
}

// common: host facts, SSH, automatic security updates, firewall.
func (b *builder) common() {
	n := b.n
	b.conf(HostEnvPath, "0644", b.execute("host.env.tmpl", n))
	b.conf("/etc/ssh/sshd_config.d/10-flavormonk.conf", "0644", b.execute("sshd.conf.tmpl", n))
	b.add(file{path: "/etc/apt/apt.conf.d/20auto-upgrades", owner: "root:root", perms: "0644", deferred: true, content: autoUpgrades})
	b.add(file{path: "/etc/nftables.conf", owner: "root:root", perms: "0644", deferred: true, content: b.execute("nftables.conf.tmpl", n)})
	b.conf("/usr/local/lib/flavormonk/net.sh", "0644", netSh)
	b.exe("/usr/local/sbin/flavormonk-private-ip", privateIPSh)
}

func (b *builder) app() {
	n := b.n
	b.c.packages = append(b.c.packages, "docker.io")
	if n.Caddy != nil {
		b.c.packages = append(b.c.packages, "caddy")
		b.add(file{path: CaddyfilePath, owner: "root:root", perms: "0644", deferred: true, content: b.execute("Caddyfile.tmpl", n.Caddy)})
		// The deploy owns the upstream once it exists: a bundle must not
		// switch Caddy away from the colour that serves.
		b.add(file{path: CaddyUpstreamPath, owner: "root:root", perms: "0644", deferred: true, once: true, content: upstream})
	}
	b.conf("/etc/flavormonk/README", "0644", appReadme)
	b.exe("/usr/local/sbin/flavormonk-app-env", appEnvSh)
	b.exe("/usr/local/sbin/flavormonk-app-run", appRunSh)
	b.exe(DeployPath, deploySh)
	b.conf(AppUnitPath, "0644", appUnit)
}

// File is one file of an app host (AppHostFiles).
type File struct {
	Path, Perms, Content string // owned by root:root
	// Once: written only where the host has no such file (Caddy's
	// upstream, which flavormonk-deploy owns once it exists).
	Once bool
	// IfExists: written only where this other file exists (the legacy
	// unit's drop-in).
	IfExists string
}

// AppHostFiles are the files that make h an app host of this program
// version in its current phase: the scripts and units its user data wrote
// (rendered by the same templates), host.env and the firewall for the
// phase, the units' stop drop-ins, and Caddy's files when h has Caddy.
// User data runs once, at creation; the program installs these over SSH
// before each deploy, so hosts made by older versions or in another phase
// run as this one expects. None holds a secret.
func AppHostFiles(h Host) ([]File, error) {
	if h.Role != RoleApp {
		return nil, fmt.Errorf("cloudinit: AppHostFiles: %s host: only app hosts", h.Role)
	}
	n, err := validate(h)
	if err != nil {
		return nil, err
	}
	b := &builder{n: n, c: &config{}}
	b.conf(HostEnvPath, "0644", b.execute("host.env.tmpl", n))
	b.conf("/usr/local/lib/flavormonk/net.sh", "0644", netSh)
	b.conf(NftablesPath, "0644", b.execute("nftables.conf.tmpl", n))
	b.app()
	if b.err != nil {
		return nil, b.err
	}
	out := make([]File, 0, len(b.c.files)+2)
	for _, f := range b.c.files {
		out = append(out, File{Path: f.path, Perms: f.perms, Content: f.content, Once: f.once})
	}
	return append(out,
		File{Path: AppStopDropInPath, Perms: "0644", Content: AppStopDropIn},
		File{Path: LegacyStopDropInPath, Perms: "0644", Content: LegacyStopDropIn, IfExists: LegacyUnitPath}), nil
}

func (b *builder) db() {
	n := b.n
	v := n.PostgresVersion
	b.c.packages = append(b.c.packages, "postgresql-"+v, "postgresql-client-"+v)
	// Before the package: no main cluster on the root disk.
	b.conf("/etc/postgresql-common/createcluster.conf", "0644", b.execute("createcluster.conf.tmpl", n))
	b.conf("/etc/flavormonk/postgresql/50-flavormonk.conf", "0644", pgConf)
	b.conf("/etc/flavormonk/postgresql/pg_hba.conf", "0640", b.execute("pg_hba.conf.tmpl", n))
	b.conf("/etc/systemd/system/postgresql@.service.d/flavormonk.conf", "0644", b.execute("postgresql-unit.conf.tmpl", n))
	b.exe("/usr/local/sbin/flavormonk-volume", volumeSh)
	b.exe("/usr/local/sbin/flavormonk-db-init", dbInitSh)
	b.exe("/usr/local/sbin/flavormonk-pg-listen", pgListenSh)
	b.exe(DBSetupPath, dbSetupSh)
	b.exe(AllowPath, allowSh)
	if !n.BackupOn {
		return
	}
	svc, timer, err := backup.Units(backup.Options{Dir: n.BackupMount, Keep: n.BackupKeep, Database: DBName, RequiresMounts: []string{n.DataMount}})
	if err != nil {
		b.err = err
		return
	}
	b.exe(backup.ScriptPath, backup.Script)
	b.exe(backup.RestorePath, backup.RestoreScript)
	b.conf(backup.ServicePath, "0644", svc)
	b.conf(backup.TimerPath, "0644", timer)
	b.c.packages = append(b.c.packages, "rclone")
}

func (b *builder) redis() {
	b.c.packages = append(b.c.packages, "redis-server")
	b.add(file{path: "/etc/redis/flavormonk.conf", owner: "redis:redis", perms: "0640", deferred: true, content: redisConf})
	// Empty until the remote command writes the password over SSH.
	b.add(file{path: RedisSecretPath, owner: "redis:redis", perms: "0640", deferred: true, content: ""})
	b.conf("/etc/systemd/system/redis-server.service.d/flavormonk.conf", "0644", redisUnit)
	b.exe("/usr/local/sbin/flavormonk-redis-conf", redisConfSh)
	b.exe(AllowPath, allowSh)
}

func (b *builder) k3s() {
	b.add(file{path: "/etc/rancher/k3s/config.yaml", owner: "root:root", perms: "0600", content: b.execute("k3s-config.yaml.tmpl", b.n.K3s)})
	b.exe(K3sStartPath, k3sStartSh)
}

func (b *builder) chroma() {
	b.c.packages = append(b.c.packages, "docker.io")
	b.conf("/etc/systemd/system/flavormonk-chroma.service", "0644", b.execute("flavormonk-chroma.service.tmpl", b.n))
	b.exe("/usr/local/sbin/flavormonk-volume", volumeSh)
	b.exe("/usr/local/sbin/flavormonk-chroma-run", chromaRunSh)
	b.exe(AllowPath, allowSh)
}
