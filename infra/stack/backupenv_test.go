package stack_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flavormonk/flavormonk/infra/backup"
	"github.com/flavormonk/flavormonk/infra/mockrun"
	"github.com/flavormonk/flavormonk/infra/stack"
	"github.com/flavormonk/flavormonk/infra/wiring"
)

// The file db-backup-env writes on the db host is the one flavormonk-backup
// reads: the production script, fed exactly the stdin the rollout renders,
// copies the dump to the configured bucket. (It once wrote S3_ENDPOINT=…
// while the script read FLAVORMONK_BACKUP_S3_*, so the copy never ran and
// the script said "no S3 copy configured" and exited 0.)
func TestBackupEnvReachesTheScript(t *testing.T) {
	pg := os.Getenv("FLAVORMONK_TEST_POSTGRES_URL")
	if pg == "" {
		if os.Getenv("FLAVORMONK_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("FLAVORMONK_TEST_POSTGRES_URL is not set")
		}
		t.Skip("FLAVORMONK_TEST_POSTGRES_URL is not set: the script dumps a real database")
	}
	cfg := config("hetzner", "mvp")
	cfg["flavormonk:backupS3Endpoint"] = "https://s3.example.com"
	cfg["flavormonk:backupS3Bucket"] = "dumps"
	cfg["flavormonk:backupS3Region"] = "fsn1"
	cfg["flavormonk:backupS3AccessKey"] = "SENTINEL-S3-ACCESS"
	cfg["flavormonk:backupS3SecretKey"] = "SENTINEL-S3-SECRET"
	keys := append(slices.Clone(secretKeys), "flavormonk:backupS3AccessKey", "flavormonk:backupS3SecretKey")
	c, err := mockrun.Run(stack.Program(wiring.Clouds(), nil), mockrun.Options{Config: cfg, SecretKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	r, ok := c.Find("command:remote:Command", "db-backup-env")
	if !ok {
		t.Fatal("no db-backup-env command")
	}
	if !r.Inputs["stdin"].ContainsSecrets() {
		t.Fatal("db-backup-env's stdin is not secret")
	}
	stdin, _ := mockrun.Plain(r.Inputs["stdin"], false).(string)

	dir := t.TempDir()
	envFile := filepath.Join(dir, "backup.env")
	if err := os.WriteFile(envFile, []byte(stdin), 0o600); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "flavormonk-backup")
	record := filepath.Join(dir, "rclone.log")
	rclone := filepath.Join(dir, "rclone")
	for path, body := range map[string]string{
		script: backup.Script,
		rclone: "#!/bin/bash\n{ echo \"ARGS $*\"; env | grep '^RCLONE_CONFIG_FLAVORMONKS3_' | sort; } >>" + record + "\n",
	} {
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dumps := filepath.Join(dir, "dumps")
	if err := os.Mkdir(dumps, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(os.Environ(),
		"FLAVORMONK_BACKUP_DB="+pg,
		"FLAVORMONK_BACKUP_DIR="+dumps,
		"FLAVORMONK_BACKUP_ENV="+envFile,
		"FLAVORMONK_BACKUP_RCLONE="+rclone,
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("flavormonk-backup with the rendered file: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "no S3 copy configured") {
		t.Fatalf("the script does not see the S3 settings the rollout writes:\n%s", out.String())
	}
	logb, err := os.ReadFile(record)
	if err != nil {
		t.Fatalf("rclone never ran: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		" flavormonks3:dumps/",
		"RCLONE_CONFIG_FLAVORMONKS3_ENDPOINT=https://s3.example.com\n",
		"RCLONE_CONFIG_FLAVORMONKS3_ACCESS_KEY_ID=SENTINEL-S3-ACCESS\n",
		"RCLONE_CONFIG_FLAVORMONKS3_SECRET_ACCESS_KEY=SENTINEL-S3-SECRET\n",
	} {
		if !strings.Contains(string(logb), want) {
			t.Errorf("rclone calls lack %q:\n%s", want, logb)
		}
	}
	if strings.Contains(out.String(), "SENTINEL-S3") {
		t.Errorf("the script logged a key:\n%s", out.String())
	}
}
