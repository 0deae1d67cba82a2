package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/postgres"
	"github.com/flavormonk/flavormonk/app/recipes"
	"github.com/flavormonk/flavormonk/app/sqlite"
	"github.com/flavormonk/flavormonk/app/synth"
)

// Targets from the issue.
const (
	targetP99ms      = 50.0
	targetRatio      = 0.10
	goalRatio        = 0.25
	targetRSSBytes   = 60 << 20
	targetReadyMs    = 1000.0
	minDistinctQuery = 1000
)

// Results is what a run measured; it is also written as JSON.
type Results struct {
	Time      time.Time `json:"time"`
	GoVersion string    `json:"go_version"`
	CPUs      int       `json:"cpus"`
	Binary    string    `json:"binary"`

	Recipes   int `json:"recipes"`
	Synthetic int `json:"synthetic"`
	Bundled   int `json:"bundled"`

	Queries QueryStats `json:"queries"`
	Load    LoadConfig `json:"load"`

	StartToReady ReadyResult `json:"start_to_ready"`
	IdleRSS      []RSSResult `json:"idle_rss"`
	Runs         []Run       `json:"runs"`

	Failed bool     `json:"failed"` // a target was missed
	Errors bool     `json:"errors"` // a run had errors or non-2xx responses
	Notes  []string `json:"notes,omitempty"`
}

// QueryStats describes the query mix.
type QueryStats struct {
	Drawn    int     `json:"drawn"`
	Distinct int     `json:"distinct"`
	Filtered float64 `json:"filtered_share"`
	TextOnly float64 `json:"text_only_share"`
	NoText   float64 `json:"filters_only_share"`
	ZeroHits float64 `json:"zero_hit_share"` // of distinct queries, from the validation pass
	MeanHits float64 `json:"mean_total_matches"`
}

// LoadConfig is how the load was generated.
type LoadConfig struct {
	Tool        string  `json:"tool"`
	Connections int     `json:"connections"`
	Threads     int     `json:"threads"`
	Seconds     float64 `json:"seconds_per_run"`
	Warmup      float64 `json:"warmup_seconds"`
}

// ReadyResult is start to ready on SQLite.
type ReadyResult struct {
	SamplesMs []float64 `json:"samples_ms"`
	MedianMs  float64   `json:"median_ms"`
	Postgres  float64   `json:"postgres_ms,omitempty"` // one start, for information
	Pass      bool      `json:"pass"`
}

// RSSResult is the idle resident memory of `flavormonk serve`.
type RSSResult struct {
	Store     string `json:"store"`
	RSS       int64  `json:"rss_bytes"`
	HWM       int64  `json:"peak_rss_bytes"`
	AfterLoad int64  `json:"rss_after_load_bytes,omitempty"`
	Pass      bool   `json:"pass"`
}

// Run is one store's load test next to its baseline.
type Run struct {
	Store     string      `json:"store"`
	Trivial   *LoadResult `json:"trivial"`
	App       *LoadResult `json:"app"`
	Ratio     float64     `json:"ratio"`
	P99Pass   bool        `json:"p99_pass"`
	RatioPass bool        `json:"ratio_pass"`
	Goal      bool        `json:"goal_25pct"`
	Clean     bool        `json:"clean"` // no errors, every response 2xx
	Pass      bool        `json:"pass"`
}

type bench struct {
	opt    options
	dir    string
	bin    string
	load   *loader
	pgBase string // the server URL given
	pgDB   string // the database created, dropped at the end
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fmbench: "+format+"\n", args...)
}

func (b *bench) cleanup() {
	stopAll()
	if b.pgDB != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		if err := dropDatabase(ctx, b.pgBase, b.pgDB); err != nil {
			logf("dropping database %s: %v", b.pgDB, err)
		}
		cancel()
	}
	if b.dir != "" {
		if b.opt.keep {
			logf("kept %s", b.dir)
		} else {
			os.RemoveAll(b.dir)
		}
	}
}

func (b *bench) run(ctx context.Context) (*Results, error) {
	o := b.opt
	res := &Results{Time: time.Now().UTC(), GoVersion: runtime.Version(), CPUs: runtime.NumCPU()}
	var err error
	if b.dir, err = os.MkdirTemp("", "fmbench-"); err != nil {
		return nil, err
	}

	b.load = &loader{kind: o.load, dir: b.dir, connections: o.connections, threads: o.threads}
	if b.load.kind == "wrk" {
		if _, err := exec.LookPath("wrk"); err != nil {
			b.load.kind = "go"
			note := "wrk is not installed (apt-get install wrk): using fmbench's built-in Go load generator, whose figures are not comparable with wrk's"
			res.Notes = append(res.Notes, note)
			logf("%s", note)
		}
	} else if b.load.kind != "go" {
		return nil, fmt.Errorf("-load must be wrk or go")
	}
	res.Load = LoadConfig{Tool: b.load.kind, Connections: o.connections, Threads: o.threads,
		Seconds: o.duration.Seconds(), Warmup: o.warmup.Seconds()}
	if b.load.kind == "go" {
		res.Load.Threads = 0
	}

	// The binary under test.
	b.bin = o.bin
	if b.bin == "" {
		b.bin = filepath.Join(b.dir, "flavormonk")
		logf("building flavormonk")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", b.bin, "github.com/flavormonk/flavormonk/app/cmd/flavormonk")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("building flavormonk: %w", err)
		}
	}
	res.Binary = b.bin

	// The collection and the queries.
	t0 := time.Now()
	all := synth.Generate(o.recipes, o.seed)
	bundled, err := recipes.Bundled()
	if err != nil {
		return nil, err
	}
	res.Synthetic, res.Bundled = len(all), len(bundled)
	all = append(all, bundled...)
	res.Recipes = len(all)
	qs := synth.Queries(all, o.queries, o.seed)
	paths := make([]string, len(qs))
	distinct := map[string]bool{}
	var filtered, noText int
	for i, q := range qs {
		paths[i] = "/api/v1/recipes?" + q
		distinct[paths[i]] = true
		v, _ := url.ParseQuery(q)
		if len(v) > 1 || !v.Has("q") {
			filtered++
		}
		if !v.Has("q") {
			noText++
		}
	}
	res.Queries = QueryStats{Drawn: len(qs), Distinct: len(distinct),
		Filtered: float64(filtered) / float64(len(qs)), NoText: float64(noText) / float64(len(qs)),
		TextOnly: float64(len(qs)-filtered) / float64(len(qs))}
	if len(distinct) < minDistinctQuery {
		return nil, fmt.Errorf("only %d distinct queries among %d drawn; raise -queries", len(distinct), len(qs))
	}
	pathsFile := filepath.Join(b.dir, "queries.txt")
	if err := os.WriteFile(pathsFile, []byte(strings.Join(paths, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	trivialFile := filepath.Join(b.dir, "trivial.txt")
	if err := os.WriteFile(trivialFile, []byte("/api/v1/recipes\n"), 0o644); err != nil {
		return nil, err
	}
	var distinctList []string
	for p := range distinct {
		distinctList = append(distinctList, p)
	}
	sort.Strings(distinctList)
	logf("%d recipes (%d synthetic + %d bundled), %d queries (%d distinct, %.0f%% with filters) in %s",
		res.Recipes, res.Synthetic, res.Bundled, len(qs), len(distinct), 100*res.Queries.Filtered, time.Since(t0).Round(time.Millisecond))

	// SQLite.
	dbPath := filepath.Join(b.dir, "bench.db")
	t0 = time.Now()
	if err := seedSQLite(ctx, dbPath, all); err != nil {
		return res, err
	}
	logf("seeded SQLite in %s", time.Since(t0).Round(time.Millisecond))
	sqliteEnv := map[string]string{"FLAVORMONK_STORE": "sqlite", "FLAVORMONK_SQLITE_PATH": dbPath}

	var app *proc
	for i := 0; i < max(1, o.starts); i++ {
		if app != nil {
			app.stop()
		}
		var d time.Duration
		app, d, err = startApp(ctx, b.bin, sqliteEnv)
		if err != nil {
			return res, err
		}
		res.StartToReady.SamplesMs = append(res.StartToReady.SamplesMs, ms(d))
	}
	res.StartToReady.MedianMs = median(res.StartToReady.SamplesMs)
	res.StartToReady.Pass = res.StartToReady.MedianMs <= targetReadyMs
	logf("start to ready on SQLite: median %.0f ms of %v", res.StartToReady.MedianMs, res.StartToReady.SamplesMs)

	if err := b.measureStore(ctx, res, "sqlite", app, pathsFile, trivialFile, distinctList, true); err != nil {
		return res, err
	}

	// Postgres.
	if o.pgURL != "" {
		b.pgBase = o.pgURL
		name := "fmbench_" + randomHex(6)
		dbURL, err := createDatabase(ctx, o.pgURL, name)
		if err != nil {
			return res, fmt.Errorf("postgres: %w", err)
		}
		b.pgDB = name
		t0 = time.Now()
		if err := seedPostgres(ctx, dbURL, all); err != nil {
			return res, err
		}
		logf("seeded Postgres database %s in %s", name, time.Since(t0).Round(time.Millisecond))
		app, d, err := startApp(ctx, b.bin, map[string]string{"FLAVORMONK_STORE": "postgres", "FLAVORMONK_POSTGRES_URL": dbURL})
		if err != nil {
			return res, err
		}
		res.StartToReady.Postgres = ms(d)
		if err := b.measureStore(ctx, res, "postgres", app, pathsFile, trivialFile, distinctList, false); err != nil {
			return res, err
		}
		ctx2, cancel := context.WithTimeout(ctx, 15*time.Second)
		if err := dropDatabase(ctx2, o.pgURL, name); err != nil {
			logf("dropping database %s: %v", name, err)
		} else {
			b.pgDB = ""
		}
		cancel()
	} else {
		res.Notes = append(res.Notes, "Postgres skipped: FLAVORMONK_BENCH_POSTGRES_URL is not set")
	}

	for _, r := range res.IdleRSS {
		res.Failed = res.Failed || !r.Pass
	}
	res.Failed = res.Failed || !res.StartToReady.Pass
	for _, r := range res.Runs {
		res.Failed = res.Failed || !r.Pass
		res.Errors = res.Errors || !r.Clean
	}
	report(os.Stdout, res)
	return res, nil
}

// measureStore reads the idle RSS of a ready app, checks every distinct
// query once, then loads the trivial baseline and the app back to back.
func (b *bench) measureStore(ctx context.Context, res *Results, store string, app *proc, pathsFile, trivialFile string, distinct []string, validateStats bool) error {
	defer app.stop()
	o := b.opt
	select {
	case <-time.After(o.settle):
	case <-ctx.Done():
		return ctx.Err()
	}
	rss, hwm, err := memory(app.pid())
	if err != nil {
		return err
	}
	logf("%s: idle RSS %.1f MB (peak %.1f MB)", store, mb(rss), mb(hwm))
	rr := RSSResult{Store: store, RSS: rss, HWM: hwm, Pass: rss <= targetRSSBytes}

	zero, total, err := validate(ctx, "http://"+app.addr, distinct)
	if err != nil {
		return fmt.Errorf("%s: %w", store, err)
	}
	if validateStats {
		res.Queries.ZeroHits = float64(zero) / float64(len(distinct))
		res.Queries.MeanHits = float64(total) / float64(len(distinct))
	}

	triv, err := startTrivial(ctx)
	if err != nil {
		return err
	}
	logf("%s: loading the trivial handler (%s warm-up + %s)", store, o.warmup, o.duration)
	tr, err := b.load.run(ctx, "http://"+triv.addr, trivialFile, triv.pid(), o.warmup, o.duration)
	triv.stop()
	if err != nil {
		return fmt.Errorf("trivial handler: %w", err)
	}
	logf("%s: loading flavormonk search (%s warm-up + %s)", store, o.warmup, o.duration)
	ar, err := b.load.run(ctx, "http://"+app.addr, pathsFile, app.pid(), o.warmup, o.duration)
	if err != nil {
		return fmt.Errorf("%s app: %w", store, err)
	}
	if app.exited() {
		return fmt.Errorf("%s: flavormonk exited under load (%v): %s", store, app.Err, app.Log)
	}
	rr.AfterLoad, _, _ = memory(app.pid())
	res.IdleRSS = append(res.IdleRSS, rr)

	run := Run{Store: store, Trivial: tr, App: ar}
	if tr.RPS > 0 {
		run.Ratio = ar.RPS / tr.RPS
	}
	run.P99Pass = ar.P99ms <= targetP99ms
	run.RatioPass = run.Ratio >= targetRatio
	run.Goal = run.Ratio >= goalRatio
	run.Clean = ar.Errors == 0 && ar.BadStatus == 0 && tr.Errors == 0 && tr.BadStatus == 0 && ar.Requests > 0
	run.Pass = run.P99Pass && run.RatioPass && run.Clean
	res.Runs = append(res.Runs, run)
	if !run.Clean {
		logf("%s: errors under load: app %d errors, %d non-2xx; trivial %d errors, %d non-2xx; app log: %s",
			store, ar.Errors, ar.BadStatus, tr.Errors, tr.BadStatus, app.Log)
	}
	return nil
}

// validate requests every distinct query once and checks for 200 and a
// search result; it returns how many matched nothing and the total matches.
func validate(ctx context.Context, base string, paths []string) (zero, total int, err error) {
	client := &http.Client{Timeout: 10 * time.Second}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []string
	)
	work := make(chan string)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+p, nil)
				resp, err := client.Do(req)
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("%s: %v", p, err))
					mu.Unlock()
					continue
				}
				var body struct {
					Total *int `json:"total"`
				}
				derr := json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				mu.Lock()
				switch {
				case resp.StatusCode != http.StatusOK:
					errs = append(errs, fmt.Sprintf("%s: HTTP %d", p, resp.StatusCode))
				case derr != nil || body.Total == nil:
					errs = append(errs, fmt.Sprintf("%s: not a search result (%v)", p, derr))
				default:
					total += *body.Total
					if *body.Total == 0 {
						zero++
					}
				}
				mu.Unlock()
			}
		}()
	}
	for _, p := range paths {
		select {
		case work <- p:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if ctx.Err() != nil {
		return 0, 0, ctx.Err()
	}
	if len(errs) > 0 {
		return zero, total, fmt.Errorf("%d of %d queries failed, e.g. %s", len(errs), len(paths), errs[0])
	}
	return zero, total, nil
}

func seedSQLite(ctx context.Context, path string, rs []*flavormonk.Recipe) error {
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	if err := upsertAll(ctx, st, rs); err != nil {
		st.Close()
		return fmt.Errorf("seeding SQLite: %w", err)
	}
	return st.Close()
}

func seedPostgres(ctx context.Context, dbURL string, rs []*flavormonk.Recipe) error {
	st, err := postgres.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	if err := upsertAll(ctx, st, rs); err != nil {
		st.Close()
		return fmt.Errorf("seeding Postgres: %w", err)
	}
	return st.Close()
}

func upsertAll(ctx context.Context, st flavormonk.Store, rs []*flavormonk.Recipe) error {
	for i := 0; i < len(rs); i += 1000 {
		if _, err := st.UpsertRecipes(ctx, rs[i:min(i+1000, len(rs))]); err != nil {
			return err
		}
	}
	n, err := st.CountRecipes(ctx)
	if err != nil {
		return err
	}
	if n != len(rs) {
		return fmt.Errorf("the store holds %d recipes, not %d", n, len(rs))
	}
	return nil
}

// createDatabase creates a database on the server at base and returns its URL.
func createDatabase(ctx context.Context, base, name string) (string, error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("connecting: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("creating database %s: %w", name, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func dropDatabase(ctx context.Context, base, name string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// workspaceRoot is the folder of go.work (or of go.mod), else ".".
func workspaceRoot() string {
	for _, v := range []string{"GOWORK", "GOMOD"} {
		out, err := exec.Command("go", "env", v).Output()
		if p := strings.TrimSpace(string(out)); err == nil && p != "" && p != "off" && p != os.DevNull {
			return filepath.Dir(p)
		}
	}
	return "."
}

func writeJSON(path string, res *Results) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
func mb(n int64) float64         { return float64(n) / (1 << 20) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
