package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flavormonk/flavormonk/app/postgres"
	"github.com/flavormonk/flavormonk/app/recipes"
	"github.com/jackc/pgx/v5"
)

func TestUnits(t *testing.T) {
	svc, timer, err := Units(Options{RequiresMounts: []string{"/mnt/data"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"RequiresMountsFor=/mnt/backup /mnt/data",
		"Environment=FLAVORMONK_BACKUP_DIR=/mnt/backup",
		"Environment=FLAVORMONK_BACKUP_KEEP=14",
		`Environment="FLAVORMONK_BACKUP_DB=dbname=flavormonk"`,
		"Environment=FLAVORMONK_BACKUP_RUNAS=postgres",
		"ExecStart=" + ScriptPath,
		"Type=oneshot",
	} {
		if !strings.Contains(svc, want) {
			t.Errorf("service lacks %q:\n%s", want, svc)
		}
	}
	for _, want := range []string{"OnCalendar=" + DefaultOnCalendar, "Persistent=true", "WantedBy=timers.target"} {
		if !strings.Contains(timer, want) {
			t.Errorf("timer lacks %q:\n%s", want, timer)
		}
	}
	for _, bad := range []Options{
		{Keep: -1}, {Dir: "relative"}, {Dir: "/mnt/x; rm -rf /"}, {Database: "a b"},
		{OnCalendar: "daily\nExecStart=/bin/sh"}, {RequiresMounts: []string{"../x"}},
	} {
		if _, _, err := Units(bad); err == nil {
			t.Errorf("Units(%+v): want an error", bad)
		}
	}
}

func TestS3EnvFile(t *testing.T) {
	s := S3{Endpoint: "https://fsn1.example.com", Bucket: "b", Prefix: "db", AccessKeyID: "AK", SecretAccessKey: "SK"}
	got, err := s.EnvFile()
	if err != nil {
		t.Fatal(err)
	}
	want := "FLAVORMONK_BACKUP_S3_ENDPOINT=https://fsn1.example.com\nFLAVORMONK_BACKUP_S3_BUCKET=b\n" +
		"FLAVORMONK_BACKUP_S3_PREFIX=db/\nFLAVORMONK_BACKUP_S3_ACCESS_KEY_ID=AK\nFLAVORMONK_BACKUP_S3_SECRET_ACCESS_KEY=SK\n"
	if got != want {
		t.Errorf("EnvFile:\n%s\nwant:\n%s", got, want)
	}
	for _, bad := range []S3{{}, {Endpoint: "fsn1.example.com", Bucket: "b", AccessKeyID: "a", SecretAccessKey: "s"},
		{Endpoint: "https://x", Bucket: "b", AccessKeyID: "a", SecretAccessKey: "s\nEVIL=1"}} {
		if _, err := bad.EnvFile(); err == nil {
			t.Errorf("EnvFile(%+v): want an error", bad)
		}
	}
}

func TestScriptsParse(t *testing.T) {
	for name, s := range map[string]string{"backup.sh": Script, "restore.sh": RestoreScript} {
		cmd := exec.Command("bash", "-n")
		cmd.Stdin = strings.NewReader(s)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("bash -n %s: %v\n%s", name, err, out)
		}
		if !strings.HasPrefix(s, "#!/bin/bash\n") {
			t.Errorf("%s lacks its #!/bin/bash line", name)
		}
	}
}

// --- the restore drill ---------------------------------------------------

func requireServices() bool { return os.Getenv("FLAVORMONK_TEST_REQUIRE_SERVICES") == "1" }

func serverURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("FLAVORMONK_TEST_POSTGRES_URL")
	if u == "" {
		if requireServices() {
			t.Fatal("FLAVORMONK_TEST_POSTGRES_URL is not set (start one with scripts/postgres.sh start)")
		}
		t.Skip("FLAVORMONK_TEST_POSTGRES_URL is not set; skipping the restore drill")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is required")
	}
	found := false
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_dump"); len(m) > 0 {
		found = true
	} else if _, err := exec.LookPath("pg_dump"); err == nil {
		found = true
	}
	if !found {
		if requireServices() {
			t.Fatal("pg_dump is not installed (apt-get install postgresql)")
		}
		t.Skip("pg_dump is not installed; skipping the restore drill")
	}
	return u
}

// freshDatabase creates an empty database on the test server, drops it when
// the test ends, and returns its URL.
func freshDatabase(t *testing.T, admin string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connecting to the test server: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "flavormonk_drill_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("CREATE DATABASE: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("dropping %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("FLAVORMONK_TEST_POSTGRES_URL must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String()
}

// writeScript installs a script into dir and returns its path.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

type runResult struct {
	stderr string
	err    error
}

func run(t *testing.T, env []string, name string, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	err := cmd.Run()
	return runResult{stderr: stderr.String(), err: err}
}

var dumpName = regexp.MustCompile(`^flavormonk-\d{8}T\d{6}Z\.dump$`)

// dumps lists the dumps in dir, oldest first, checking each sidecar.
func dumps(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		switch {
		case dumpName.MatchString(n):
			out = append(out, n)
			b, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil {
				t.Fatal(err)
			}
			side, err := os.ReadFile(filepath.Join(dir, n+".sha256"))
			if err != nil {
				t.Errorf("%s has no sidecar: %v", n, err)
				continue
			}
			sum := sha256.Sum256(b)
			if want := hex.EncodeToString(sum[:]) + "  " + n + "\n"; string(side) != want {
				t.Errorf("%s.sha256 = %q, want %q", n, side, want)
			}
			if fi, _ := e.Info(); fi != nil && fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s has mode %v; dumps must not be readable by others", n, fi.Mode().Perm())
			}
		case strings.HasSuffix(n, ".sha256") && dumpName.MatchString(strings.TrimSuffix(n, ".sha256")):
		case n == ".flavormonk-backup.lock":
		default:
			t.Errorf("unexpected file %s in the backup folder", n)
		}
	}
	sort.Strings(out)
	return out
}

type snapshot struct {
	counts   map[string]int64
	recipes  string
	docs     string
	revision int64
	versions string
}

func takeSnapshot(t *testing.T, dsn string) snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	s := snapshot{counts: map[string]int64{}}
	for _, tb := range tables {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{tb}.Sanitize()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		s.counts[tb] = n
	}
	q := func(sql string, dst any) {
		t.Helper()
		if err := conn.QueryRow(ctx, sql).Scan(dst); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	q(`SELECT coalesce(md5(string_agg(id || ':' || content_hash || ':' || revision || ':' || name, ',' ORDER BY id)), '') FROM recipes`, &s.recipes)
	q(`SELECT coalesce(md5(string_agg(id || ':' || doc::text || ':' || created_at || ':' || updated_at, ',' ORDER BY id)), '') FROM recipes`, &s.docs)
	q(`SELECT last_value FROM recipe_revision`, &s.revision)
	q(`SELECT coalesce(string_agg(version::text, ',' ORDER BY version), '') FROM schema_migrations`, &s.versions)
	return s
}

func exec1(t *testing.T, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestRestoreDrill seeds the app's real schema and recipes, dumps it with
// the db server's backup script several times (rotation), restores the
// newest dump with the restore script into an empty database and compares.
func TestRestoreDrill(t *testing.T) {
	admin := serverURL(t)
	ctx := context.Background()
	src := freshDatabase(t, admin)

	st, err := postgres.Open(ctx, src)
	if err != nil {
		t.Fatalf("opening the app store: %v", err)
	}
	n, err := recipes.Seed(ctx, st)
	if err != nil {
		st.Close()
		t.Fatalf("seeding: %v", err)
	}
	if n == 0 {
		st.Close()
		t.Fatal("seeding stored no recipes")
	}
	all, err := st.Recipes(ctx, "", 1)
	if err != nil || len(all) == 0 {
		st.Close()
		t.Fatalf("listing recipes: %v", err)
	}
	// Something in every table: a deletion leaves a tombstone, visitors.
	if err := st.DeleteRecipe(ctx, all[0].ID); err != nil {
		st.Close()
		t.Fatalf("deleting a recipe: %v", err)
	}
	for range 3 {
		if _, err := st.CreateVisitor(ctx); err != nil {
			st.Close()
			t.Fatalf("creating a visitor: %v", err)
		}
	}
	st.Close()

	bin := t.TempDir()
	backupSh := writeScript(t, bin, "flavormonk-backup", Script)
	restoreSh := writeScript(t, bin, "flavormonk-restore", RestoreScript)
	dir := t.TempDir()
	env := []string{
		"FLAVORMONK_BACKUP_DB=" + src,
		"FLAVORMONK_BACKUP_DIR=" + dir,
		"FLAVORMONK_BACKUP_KEEP=3",
		"FLAVORMONK_BACKUP_ENV=" + filepath.Join(bin, "absent.env"),
	}

	// Four runs keep the newest three. The last one runs after one more
	// visitor arrived, so restoring the newest dump must bring it back.
	var names [][]string
	for i := range 4 {
		if i == 3 {
			exec1(t, src, "INSERT INTO visitors (id, created_at, seen_at) VALUES ('drill-last', now(), now())")
		}
		r := run(t, env, backupSh)
		if r.err != nil {
			t.Fatalf("backup run %d: %v\n%s", i+1, r.err, r.stderr)
		}
		if !strings.Contains(r.stderr, "flavormonk-backup: ok flavormonk-") {
			t.Errorf("backup run %d logged no ok line:\n%s", i+1, r.stderr)
		}
		if strings.Contains(r.stderr, src) || strings.Contains(r.stderr, "sslmode") {
			t.Errorf("backup run %d logged the connection string:\n%s", i+1, r.stderr)
		}
		names = append(names, dumps(t, dir))
	}
	for i, want := range []int{1, 2, 3, 3} {
		if len(names[i]) != want {
			t.Errorf("after run %d: %d dumps (%v), want %d", i+1, len(names[i]), names[i], want)
		}
	}
	final := names[3]
	if len(final) != 3 || final[0] == names[0][0] || final[0] != names[2][1] {
		t.Errorf("rotation kept %v; want the newest three of %v and %v", final, names[2], final)
	}
	newest := filepath.Join(dir, final[len(final)-1])

	want := takeSnapshot(t, src)
	if want.counts["recipes"] != int64(n-1) || want.counts["recipe_tombstones"] != 1 || want.counts["visitors"] != 4 {
		t.Fatalf("source counts %v: the seeding went wrong", want.counts)
	}

	dst := freshDatabase(t, admin)
	r := run(t, nil, restoreSh, newest, dst)
	if r.err != nil {
		t.Fatalf("restore: %v\n%s", r.err, r.stderr)
	}
	if !strings.Contains(r.stderr, "checksum ok") {
		t.Errorf("restore did not verify the checksum:\n%s", r.stderr)
	}
	got := takeSnapshot(t, dst)
	if len(got.counts) != len(want.counts) {
		t.Errorf("restored tables %v, want %v", got.counts, want.counts)
	}
	for tb, c := range want.counts {
		if got.counts[tb] != c {
			t.Errorf("table %s: %d rows restored, want %d", tb, got.counts[tb], c)
		}
	}
	if got.recipes != want.recipes || got.docs != want.docs {
		t.Errorf("recipe checksums differ: restored %s/%s, want %s/%s", got.recipes, got.docs, want.recipes, want.docs)
	}
	if got.revision != want.revision {
		t.Errorf("recipe_revision restored at %d, want %d", got.revision, want.revision)
	}
	if got.versions != want.versions || got.versions == "" {
		t.Errorf("schema_migrations restored %q, want %q", got.versions, want.versions)
	}
	t.Logf("restored %s: %v rows, recipes md5 %s", filepath.Base(newest), got.counts, got.recipes)

	// The app opens the restored database as it is: no migration left to do,
	// the recipes readable.
	st2, err := postgres.Open(ctx, dst)
	if err != nil {
		t.Fatalf("the app cannot open the restored database: %v", err)
	}
	cnt, err := st2.CountRecipes(ctx)
	st2.Close()
	if err != nil || cnt != n-1 {
		t.Errorf("restored store counts %d recipes (%v), want %d", cnt, err, n-1)
	}

	// Restoring over data is refused and changes nothing.
	r = run(t, nil, restoreSh, newest, dst)
	if r.err == nil || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("restore into a non-empty database: err %v\n%s", r.err, r.stderr)
	}
	// A dump that does not match its checksum is refused.
	corrupt := filepath.Join(t.TempDir(), filepath.Base(newest))
	b, _ := os.ReadFile(newest)
	b[len(b)/2] ^= 0xff
	_ = os.WriteFile(corrupt, b, 0o600)
	side, _ := os.ReadFile(newest + ".sha256")
	_ = os.WriteFile(corrupt+".sha256", side, 0o600)
	dst2 := freshDatabase(t, admin)
	r = run(t, nil, restoreSh, corrupt, dst2)
	if r.err == nil || !strings.Contains(r.stderr, "does not match") {
		t.Errorf("restore of a corrupt dump: err %v\n%s", r.err, r.stderr)
	}

	// A failing dump exits non-zero with a clear line and leaves the kept
	// dumps alone.
	bad := append([]string(nil), env...)
	bad[0] = "FLAVORMONK_BACKUP_DB=" + strings.Replace(src, "flavormonk_drill_", "flavormonk_absent_", 1)
	r = run(t, bad, backupSh)
	if r.err == nil || !strings.Contains(r.stderr, "flavormonk-backup: FAILED: pg_dump") {
		t.Errorf("backup of a missing database: err %v\n%s", r.err, r.stderr)
	}
	if after := dumps(t, dir); strings.Join(after, ",") != strings.Join(final, ",") {
		t.Errorf("a failed run changed the kept dumps: %v, want %v", after, final)
	}
}

// TestBackupS3Copy runs the backup script with an S3 settings file and a
// stand-in rclone that records how it was called.
func TestBackupS3Copy(t *testing.T) {
	admin := serverURL(t)
	src := freshDatabase(t, admin)
	bin := t.TempDir()
	backupSh := writeScript(t, bin, "flavormonk-backup", Script)
	record := filepath.Join(bin, "rclone.log")
	rclone := writeScript(t, bin, "rclone", `#!/bin/bash
{ echo "ARGS $*"; env | grep '^RCLONE_CONFIG_FLAVORMONKS3_' | sort; } >>`+record+`
[[ -z "${FAIL_RCLONE:-}" ]]
`)
	envFile := filepath.Join(bin, "backup.env")
	s3 := S3{Endpoint: "https://s3.example.test", Bucket: "fm-backups", Prefix: "db", AccessKeyID: "AKIDTEST", SecretAccessKey: "sekrit-value"}
	content, err := s3.EnvFile()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(envFile, []byte("# written by the remote command\n"+content), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	env := []string{
		"FLAVORMONK_BACKUP_DB=" + src,
		"FLAVORMONK_BACKUP_DIR=" + dir,
		"FLAVORMONK_BACKUP_ENV=" + envFile,
		"FLAVORMONK_BACKUP_RCLONE=" + rclone,
	}
	r := run(t, env, backupSh)
	if r.err != nil {
		t.Fatalf("backup: %v\n%s", r.err, r.stderr)
	}
	ds := dumps(t, dir)
	if len(ds) != 1 {
		t.Fatalf("dumps %v", ds)
	}
	logb, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	log := string(logb)
	for _, want := range []string{
		"ARGS copyto --retries 3 -- " + filepath.Join(dir, ds[0]) + " flavormonks3:fm-backups/db/" + ds[0] + "\n",
		"ARGS copyto --retries 3 -- " + filepath.Join(dir, ds[0]) + ".sha256 flavormonks3:fm-backups/db/" + ds[0] + ".sha256\n",
		"RCLONE_CONFIG_FLAVORMONKS3_ENDPOINT=https://s3.example.test\n",
		"RCLONE_CONFIG_FLAVORMONKS3_SECRET_ACCESS_KEY=sekrit-value\n",
		"RCLONE_CONFIG_FLAVORMONKS3_TYPE=s3\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("rclone calls lack %q:\n%s", want, log)
		}
	}
	if strings.Contains(r.stderr, "sekrit") || strings.Contains(r.stderr, "AKIDTEST") {
		t.Errorf("the script logged a key:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "copied "+ds[0]+" to s3://fm-backups/db/") {
		t.Errorf("no copy line:\n%s", r.stderr)
	}

	// A failing copy fails the run (the local dump stays).
	r = run(t, append(env, "FAIL_RCLONE=1"), backupSh)
	if r.err == nil || !strings.Contains(r.stderr, "flavormonk-backup: FAILED: copy to s3://fm-backups/db/") {
		t.Errorf("failing copy: err %v\n%s", r.err, r.stderr)
	}
	if ds := dumps(t, dir); len(ds) != 2 {
		t.Errorf("after a failed copy: dumps %v, want 2", ds)
	}
}
