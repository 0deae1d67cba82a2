// Package backup holds the Hetzner db server's nightly logical backup: the
// shell scripts that dump and restore the app database, the systemd service
// and timer that run the dump, and the format of the S3 settings file the
// remote command writes. infra/cloudinit renders them into the db server's
// user data; the restore drill in this package's tests runs the very same
// scripts against a real Postgres.
//
// No secret ever passes through this package's rendered units: the S3 keys
// live in EnvPath, written over SSH (EnvFile renders its content).
package backup

import (
	_ "embed"
	"fmt"
	"regexp"
	"strings"
)

// Script is backup.sh, installed as ScriptPath. It takes every setting from
// FLAVORMONK_BACKUP_* environment variables, with the db server's defaults.
//
//go:embed backup.sh
var Script string

// RestoreScript is restore.sh, installed as RestorePath:
// `flavormonk-restore DUMP [DATABASE]` restores into an empty database.
//
//go:embed restore.sh
var RestoreScript string

// Paths and defaults on the db server.
const (
	ScriptPath  = "/usr/local/sbin/flavormonk-backup"
	RestorePath = "/usr/local/sbin/flavormonk-restore"
	// EnvPath holds the optional S3 settings (mode 0600, root), written over
	// SSH by the remote command; see S3.EnvFile.
	EnvPath     = "/etc/flavormonk/backup.env"
	ServicePath = "/etc/systemd/system/flavormonk-backup.service"
	TimerPath   = "/etc/systemd/system/flavormonk-backup.timer"
	// Unit is the timer to enable.
	Unit = "flavormonk-backup.timer"

	DefaultDir        = "/mnt/backup"
	DefaultKeep       = 14
	DefaultDatabase   = "flavormonk"
	DefaultOnCalendar = "*-*-* 03:00:00 UTC"
)

// Options shape the service and timer. The zero value means the defaults.
type Options struct {
	Dir        string // backup folder on the backup volume (DefaultDir)
	Keep       int    // dumps kept (DefaultKeep)
	Database   string // database name, dumped over the local socket as the postgres user (DefaultDatabase)
	OnCalendar string // systemd calendar expression (DefaultOnCalendar)
	// RequiresMounts are mount points the dump needs besides Dir, e.g. the
	// data volume's.
	RequiresMounts []string
}

var (
	safePath = regexp.MustCompile(`^/[A-Za-z0-9._/-]*$`)
	safeName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
	safeCal  = regexp.MustCompile(`^[A-Za-z0-9*:,./ ~-]+$`)
)

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if o.Keep == 0 {
		o.Keep = DefaultKeep
	}
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.OnCalendar == "" {
		o.OnCalendar = DefaultOnCalendar
	}
	if !safePath.MatchString(o.Dir) || strings.Contains(o.Dir, "..") {
		return o, fmt.Errorf("backup: Dir %q: must be an absolute path of letters, digits, . _ - /", o.Dir)
	}
	for _, m := range o.RequiresMounts {
		if !safePath.MatchString(m) || strings.Contains(m, "..") {
			return o, fmt.Errorf("backup: RequiresMounts %q: must be an absolute path", m)
		}
	}
	if o.Keep < 1 || o.Keep > 1000 {
		return o, fmt.Errorf("backup: Keep %d: must be between 1 and 1000", o.Keep)
	}
	if !safeName.MatchString(o.Database) {
		return o, fmt.Errorf("backup: Database %q: must be a plain identifier", o.Database)
	}
	if !safeCal.MatchString(o.OnCalendar) {
		return o, fmt.Errorf("backup: OnCalendar %q: not a calendar expression", o.OnCalendar)
	}
	return o, nil
}

// Units renders the systemd service and timer (contents of ServicePath and
// TimerPath). The service runs ScriptPath as root; pg_dump itself runs as
// the postgres user over the local socket (peer authentication, no password).
func Units(o Options) (service, timer string, err error) {
	o, err = o.withDefaults()
	if err != nil {
		return "", "", err
	}
	mounts := strings.Join(append([]string{o.Dir}, o.RequiresMounts...), " ")
	service = fmt.Sprintf(`[Unit]
Description=Flavor Monk nightly pg_dump to %[1]s
RequiresMountsFor=%[2]s
After=postgresql.service
Wants=postgresql.service

[Service]
Type=oneshot
Environment=FLAVORMONK_BACKUP_DIR=%[1]s
Environment=FLAVORMONK_BACKUP_KEEP=%[3]d
Environment="FLAVORMONK_BACKUP_DB=dbname=%[4]s"
Environment=FLAVORMONK_BACKUP_RUNAS=postgres
Environment=FLAVORMONK_BACKUP_ENV=%[5]s
ExecStart=%[6]s
Nice=10
IOSchedulingClass=idle
PrivateTmp=yes
ProtectSystem=full
ProtectHome=yes
NoNewPrivileges=yes
TimeoutStartSec=6h
`, o.Dir, mounts, o.Keep, o.Database, EnvPath, ScriptPath)
	timer = fmt.Sprintf(`[Unit]
Description=Flavor Monk nightly pg_dump

[Timer]
OnCalendar=%s
RandomizedDelaySec=20min
Persistent=true

[Install]
WantedBy=timers.target
`, o.OnCalendar)
	return service, timer, nil
}

// S3 is the optional off-site copy's settings. Its keys are secrets: render
// the file with EnvFile inside the Pulumi program's secret outputs and write
// it to EnvPath (mode 0600, owner root) over SSH.
type S3 struct {
	Endpoint        string // e.g. https://fsn1.your-objectstorage.com
	Bucket          string
	Prefix          string // optional key prefix, e.g. "db/" (a trailing / is added)
	Region          string // optional; rclone's default when empty
	AccessKeyID     string
	SecretAccessKey string
}

// EnvFile renders the content of EnvPath. Values may not contain line breaks
// or quotes.
func (s S3) EnvFile() (string, error) {
	if s.Endpoint == "" || s.Bucket == "" || s.AccessKeyID == "" || s.SecretAccessKey == "" {
		return "", fmt.Errorf("backup: S3 needs Endpoint, Bucket, AccessKeyID and SecretAccessKey")
	}
	if !strings.HasPrefix(s.Endpoint, "https://") && !strings.HasPrefix(s.Endpoint, "http://") {
		return "", fmt.Errorf("backup: S3 Endpoint %q: must be an http(s) URL", s.Endpoint)
	}
	prefix := s.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	var b strings.Builder
	for _, kv := range [][2]string{
		{"FLAVORMONK_BACKUP_S3_ENDPOINT", s.Endpoint},
		{"FLAVORMONK_BACKUP_S3_BUCKET", s.Bucket},
		{"FLAVORMONK_BACKUP_S3_PREFIX", prefix},
		{"FLAVORMONK_BACKUP_S3_REGION", s.Region},
		{"FLAVORMONK_BACKUP_S3_ACCESS_KEY_ID", s.AccessKeyID},
		{"FLAVORMONK_BACKUP_S3_SECRET_ACCESS_KEY", s.SecretAccessKey},
	} {
		if strings.ContainsAny(kv[1], "\r\n\"'") {
			return "", fmt.Errorf("backup: %s must not contain line breaks or quotes", kv[0])
		}
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
		}
	}
	return b.String(), nil
}
