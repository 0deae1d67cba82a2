package cloudinit

import (
	"embed"
	"fmt"
	"strings"
	"text/template"

	"github.com/flavormonk/flavormonk/infra/backup"
)

// The files the hosts receive. Literal ones are embedded as they are;
// those that depend on the host are text/templates (*.tmpl) executed on
// the normalized host (the Caddyfile on its Caddy, the k3s config on its
// K3s).

//go:embed files/net.sh
var netSh string

//go:embed files/private-ip.sh
var privateIPSh string

//go:embed files/volume.sh
var volumeSh string

//go:embed files/allow.sh
var allowSh string

//go:embed files/db-init.sh
var dbInitSh string

//go:embed files/db-setup.sh
var dbSetupSh string

//go:embed files/pg-listen.sh
var pgListenSh string

//go:embed files/redis-conf.sh
var redisConfSh string

//go:embed files/chroma-run.sh
var chromaRunSh string

//go:embed files/app-env.sh
var appEnvSh string

//go:embed files/app-run.sh
var appRunSh string

//go:embed files/k3s-start.sh
var k3sStartSh string

//go:embed files/deploy.sh
var deploySh string

//go:embed files/20auto-upgrades
var autoUpgrades string

//go:embed files/app-README
var appReadme string

//go:embed files/flavormonk@.service
var appUnit string

//go:embed files/postgresql.conf
var pgConf string

//go:embed files/redis.conf
var redisConf string

//go:embed files/redis-unit.conf
var redisUnit string

//go:embed files/*.tmpl
var templateFiles embed.FS

var templates = template.Must(template.New("").Option("missingkey=error").Funcs(template.FuncMap{
	"appPort":          func() int { return AppPort },
	"greenPort":        func() int { return GreenPort },
	"metricsPort":      func() int { return MetricsPort },
	"greenMetricsPort": func() int { return GreenMetrics },
	"caddyUpstream":    func() string { return CaddyUpstreamPath },
	"k3sAPIPort":       func() int { return K3sAPIPort },
	"k3sTokenPath":     func() string { return K3sTokenPath },
	"dbName":           func() string { return DBName },
	"dbRole":           func() string { return DBRole },
	"backupUnit":       func() string { return backup.Unit },
	"nftSet":           func(xs []string) string { return "{ " + strings.Join(xs, ", ") + " }" },
	// hbaAddr writes a single address as the /32 network pg_hba wants.
	"hbaAddr": func(a string) string {
		if !strings.Contains(a, "/") {
			a += "/32"
		}
		return a
	},
}).ParseFS(templateFiles, "files/*.tmpl"))

// execute renders the template files/name with data. The templates only
// read fields that validate has checked, so an error is a bug here.
func execute(name string, data any) (string, error) {
	var b strings.Builder
	if err := templates.ExecuteTemplate(&b, name, data); err != nil {
		return "", fmt.Errorf("cloudinit: %s: %w", name, err)
	}
	return b.String(), nil
}

// AppStopDropIn is a systemd drop-in for flavormonk@.service
// (AppStopDropInPath) holding the unit's stop settings (ExecStop's docker
// stop timeout and TimeoutStopSec). User data never re-runs, so hosts made
// before the app drained on shutdown keep their first unit's shorter
// timeouts, which would kill the app in the middle of its drain; every
// app-host bundle (AppHostFiles) installs this drop-in, taken from the same
// unit file, so that old and new hosts stop alike.
var AppStopDropIn = func() string {
	var b strings.Builder
	b.WriteString("# Written by each deploy: the stop settings of the current unit.\n[Service]\nExecStop=\n")
	for _, line := range strings.Split(appUnit, "\n") {
		if strings.HasPrefix(line, "ExecStop=") || strings.HasPrefix(line, "TimeoutStopSec=") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}()

// LegacyStopDropIn is AppStopDropIn for flavormonk.service, the single
// unit (container "flavormonk") of hosts made before the colours, so that
// it drains like a colour while flavormonk-deploy retires it.
var LegacyStopDropIn = strings.ReplaceAll(AppStopDropIn, " flavormonk-%i", " flavormonk")

// upstream is Caddy's first upstream snippet: blue, where the first deploy
// starts the app.
var upstream = fmt.Sprintf("reverse_proxy 127.0.0.1:%d\n", AppPort)
