// Command fmrehearse rehearses a deployment phase locally on real services:
// Postgres (a fresh database), and for upgrade and scale a disposable Redis
// and ChromaDB started through scripts/redis.sh and scripts/chroma.sh. It
// builds the real flavormonk binary, migrates, runs the app (two replicas
// behind a round-robin reverse proxy for scale), indexes the bundled
// recipes, runs a smoke test, then a short load during which Redis and then
// ChromaDB are stopped, and prints a report. Everything listens on
// 127.0.0.1; every subprocess and disposable service is ended on exit.
//
//	fmrehearse -phase mvp|upgrade|scale [flags]
//	fmrehearse -phase rollout [flags]
//
// -phase rollout rehearses a deploy instead (rollout.go): two app
// instances behind a real HAProxy and one host's blue and green behind a
// real Caddy, then the hand-over between them (one host behind both),
// rolled onto a new build by the production deploy script under a steady
// load; it fails on any failed request.
//
// The Postgres cluster comes from -postgres-url or
// FLAVORMONK_REHEARSE_POSTGRES_URL, else scripts/postgres.sh start. The exit
// status is 1 when any response was a 5xx or a transport error, the smoke
// test failed, a recipe imported through one replica was not found through
// the other in time, or the rehearsal could not run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/recipes"
)

type options struct {
	phase    string
	duration time.Duration
	conns    int
	bin      string
	pgURL    string
	keep     bool
	budget   time.Duration
	maxFresh time.Duration
	roll     rolloutOptions
	paths    string
}

func main() {
	// The wrappers FM_SYSTEMCTL, FM_DOCKER and FM_JOURNALCTL name run
	// this binary as a shim (shim.go).
	if tool := os.Getenv(shimEnv); tool != "" {
		os.Exit(shimMain(tool))
	}
	var o options
	fs := flag.NewFlagSet("fmrehearse", flag.ExitOnError)
	fs.StringVar(&o.phase, "phase", "mvp", "phase to rehearse: mvp, upgrade or scale; or rollout")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "length of the load")
	fs.IntVar(&o.conns, "c", 16, "concurrent connections of the load")
	fs.StringVar(&o.bin, "bin", "", "flavormonk binary (default: build ./cmd/flavormonk)")
	fs.StringVar(&o.pgURL, "postgres-url", os.Getenv("FLAVORMONK_REHEARSE_POSTGRES_URL"), "URL of a Postgres cluster the rehearsal may create a database on (default: scripts/postgres.sh start)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (logs, binary) even when the rehearsal passes")
	fs.DurationVar(&o.budget, "timeout", 10*time.Minute, "bound of the whole rehearsal")
	fs.DurationVar(&o.maxFresh, "freshness", 10*time.Second, "longest acceptable time for an import to be found through the other replica")
	fs.IntVar(&o.roll.Rate, "rate", 50, "rollout: requests per second of the steady load")
	fs.DurationVar(&o.roll.Hold, "hold", 5*time.Second, "rollout: load before the first and after the last deploy")
	fs.DurationVar(&o.roll.Drain, "drain", lbDrain, "rollout: FLAVORMONK_DRAIN_DELAY behind HAProxy (default: fall × interval + check timeout, as infra/plan derives upgrade's)")
	fs.DurationVar(&o.roll.BGDrain, "bluegreen-drain", 0, "rollout: FLAVORMONK_DRAIN_DELAY of the blue/green host (default: mvp's, 0)")
	fs.IntVar(&o.roll.LBProbes, "lb-probes", 3, "rollout: --lb-probes of the load-balanced deploys (0: do not wait for the load balancer)")
	fs.DurationVar(&o.roll.MaxGap, "max-gap", time.Second, "rollout: longest acceptable time without a good answer")
	fs.DurationVar(&o.roll.Timeout, "deploy-timeout", 60*time.Second, "rollout: --timeout of each deploy")
	fs.StringVar(&o.roll.Script, "script", "", "rollout: the deploy script (default infra/cloudinit/files/deploy.sh)")
	fs.IntVar(&o.roll.Rounds, "rounds", 2, "rollout: new versions rolled out one after the other (2: blue → green → blue)")
	fs.BoolVar(&o.roll.Broken, "broken", true, "rollout: then deploy a build that never gets ready; deploy.sh must refuse it under the load")
	fs.StringVar(&o.paths, "paths", "lb,bluegreen,handover", "rollout: which paths to rehearse: lb, bluegreen, handover (app-1 behind Caddy and HAProxy at once)")
	_ = fs.Parse(os.Args[1:])
	switch o.phase {
	case "mvp", "upgrade", "scale", "rollout":
	default:
		fmt.Fprintf(os.Stderr, "fmrehearse: unknown -phase %q; allowed: mvp, upgrade, scale, rollout\n", o.phase)
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "fmrehearse: unexpected arguments:", fs.Args())
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, o.budget)
	if o.phase == "rollout" {
		code := mainRollout(ctx, o)
		cancel()
		stop()
		os.Exit(code)
	}
	r := &rehearsal{opt: o, rep: &Report{Phase: o.phase}}
	err := r.run(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (the rehearsal is bounded to %s)", err, o.budget)
		} else if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		r.rep.Failures = append(r.rep.Failures, "rehearsal did not complete: "+err.Error())
	}
	r.cleanup()
	cancel()
	stop()
	r.rep.print(os.Stdout)
	if r.work != "" && (r.opt.keep || r.rep.failed()) {
		fmt.Printf("\nlogs and files kept in %s\n", r.work)
	}
	if r.rep.failed() {
		os.Exit(1)
	}
}

type rehearsal struct {
	opt    options
	rep    *Report
	root   string
	work   string
	st     state
	pgBase string
	dbName string
	redis  *service
	chroma *service
	bin    string
	env    map[string]string
	reps   []*proc
	proxy  *proxy
	seeded []*flavormonk.Recipe
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fmrehearse: "+format+"\n", args...)
}

func (r *rehearsal) hybrid() bool { return r.opt.phase != "mvp" }

func (r *rehearsal) run(ctx context.Context) error {
	o := r.opt
	var err error
	if r.root, err = workspaceRoot(); err != nil {
		return err
	}
	if r.work, err = os.MkdirTemp("", "fmrehearse-"+o.phase+"-"); err != nil {
		return err
	}
	r.st.PID = os.Getpid()
	r.st.save(r.work)
	script := func(name string) string { return filepath.Join(r.root, "scripts", name) }

	// Postgres: the shared cluster, a fresh database on it.
	r.pgBase = o.pgURL
	if r.pgBase == "" {
		logf("starting Postgres (scripts/postgres.sh start)")
		out, err := runCmd(ctx, 3*time.Minute, "postgres.sh start", exec.Command(script("postgres.sh"), "start"), filepath.Join(r.work, "services.log"))
		if err != nil {
			return err
		}
		r.pgBase = strings.TrimSpace(out)
	}
	reapStale(r.pgBase, logf)
	r.dbName = fmt.Sprintf("fmrehearse_%s_%d_%d", o.phase, time.Now().Unix(), os.Getpid())
	r.st.Database = r.dbName
	r.st.save(r.work)
	dbURL, err := freshDatabase(ctx, r.pgBase, r.dbName)
	if err != nil {
		r.dbName = ""
		return err
	}
	r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("Postgres: fresh database %s on %s", r.dbName, hostOf(r.pgBase)))

	// The binary and the disposable services, side by side.
	var wg sync.WaitGroup
	var buildErr, redisErr, chromaErr error
	buildStart := time.Now()
	var buildTook time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		if o.bin != "" {
			r.bin = o.bin
			return
		}
		r.bin = filepath.Join(r.work, "flavormonk")
		logf("building ./cmd/flavormonk")
		cmd := exec.Command("go", "build", "-o", r.bin, "./cmd/flavormonk")
		cmd.Dir = filepath.Join(r.root, "app")
		_, buildErr = runCmd(ctx, 5*time.Minute, "go build", cmd, filepath.Join(r.work, "build.log"))
		buildTook = time.Since(buildStart)
	}()
	var svcMu sync.Mutex
	if r.hybrid() {
		wg.Add(2)
		go func() {
			defer wg.Done()
			logf("starting a disposable Redis (scripts/redis.sh)")
			s, err := startService(ctx, "redis", script("redis.sh"), filepath.Join(r.work, "redis"), filepath.Join(r.work, "services.log"), 2*time.Minute)
			svcMu.Lock()
			r.redis, redisErr = s, err
			if s != nil {
				r.st.Services = append(r.st.Services, s)
				r.st.save(r.work)
			}
			svcMu.Unlock()
		}()
		go func() {
			defer wg.Done()
			logf("starting a disposable ChromaDB (scripts/chroma.sh)")
			s, err := startService(ctx, "chroma", script("chroma.sh"), filepath.Join(r.work, "chroma"), filepath.Join(r.work, "services.log"), 4*time.Minute)
			svcMu.Lock()
			r.chroma, chromaErr = s, err
			if s != nil {
				r.st.Services = append(r.st.Services, s)
				r.st.save(r.work)
			}
			svcMu.Unlock()
		}()
	}
	wg.Wait()
	if err := errors.Join(buildErr, redisErr, chromaErr); err != nil {
		return err
	}
	if buildTook > 0 {
		r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("binary: built in %.1f s", buildTook.Seconds()))
	}

	r.env = map[string]string{
		"FLAVORMONK_TIER":           o.phase,
		"FLAVORMONK_POSTGRES_URL":   dbURL,
		"FLAVORMONK_INFERENCE":      "offline",
		"FLAVORMONK_SECURE_COOKIES": "false",
		"FLAVORMONK_INDEX_POLL":     "1s",
		"FLAVORMONK_RATE_LIMIT":     "0",
		"FLAVORMONK_SEED":           "true",
		"FLAVORMONK_LOG_FORMAT":     "text",
	}
	if r.hybrid() {
		addr, pw, err := redisAddr(r.redis.URL)
		if err != nil {
			return err
		}
		r.env["FLAVORMONK_REDIS_ADDRS"] = addr
		r.env["FLAVORMONK_REDIS_PASSWORD"] = pw
		r.env["FLAVORMONK_CHROMA_URL"] = r.chroma.URL
		r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("Redis: disposable on %s; ChromaDB: disposable on %s", addr, hostOf(r.chroma.URL)))
	}
	if o.phase == "scale" {
		r.env["FLAVORMONK_TRUSTED_PROXIES"] = "127.0.0.1/32"
	}

	// Migrate, then the replicas (A seeds the empty store).
	t0 := time.Now()
	if _, err := runCmd(ctx, 90*time.Second, "flavormonk migrate", r.command(nil, "migrate"), filepath.Join(r.work, "migrate.log")); err != nil {
		return err
	}
	r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("migrate: %.2f s", time.Since(t0).Seconds()))
	names := []string{"A"}
	if o.phase == "scale" {
		names = append(names, "B")
	}
	for _, name := range names {
		p, d, err := r.startReplica(ctx, name)
		if err != nil {
			return err
		}
		r.reps = append(r.reps, p)
		r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("replica %s: %s (metrics %s), ready in %.2f s", name, p.addr, p.metricsAddr, d.Seconds()))
	}
	if r.seeded, err = recipes.Bundled(); err != nil {
		return err
	}

	if r.hybrid() {
		if err := r.index(ctx); err != nil {
			return err
		}
	}

	base := "http://" + r.reps[0].addr
	if o.phase == "scale" {
		if r.proxy, err = startProxy(r.reps); err != nil {
			return err
		}
		base = r.proxy.url
		r.rep.Setup = append(r.rep.Setup, fmt.Sprintf("proxy: %s, round robin over %d replicas, X-Forwarded-For set", r.proxy.url, len(r.reps)))
	}

	logf("smoke test")
	r.rep.Smoke = smoke(base, r.reps, r.hybrid())

	logf("freshness: importing a recipe")
	if err := r.freshness(ctx); err != nil {
		r.rep.Failures = append(r.rep.Failures, "freshness: "+err.Error())
	}

	return r.load(ctx, base)
}

// command is a flavormonk command with the shared environment plus extra.
func (r *rehearsal) command(extra map[string]string, args ...string) *exec.Cmd {
	env := map[string]string{}
	for k, v := range r.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	cmd := exec.Command(r.bin, args...)
	cmd.Env = cleanEnv(env)
	return cmd
}

func (r *rehearsal) startReplica(ctx context.Context, name string) (*proc, time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	mport, err := freePort()
	if err != nil {
		return nil, 0, err
	}
	addr, maddr := fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", mport)
	cmd := r.command(map[string]string{"FLAVORMONK_ADDR": addr, "FLAVORMONK_METRICS_ADDR": maddr}, "serve")
	logf("starting replica %s on %s", name, addr)
	p, err := start(name, cmd, filepath.Join(r.work, "replica-"+name+".log"))
	if err != nil {
		return nil, 0, err
	}
	p.addr, p.metricsAddr = addr, maddr
	d, err := waitReady(ctx, p, "http://"+addr+"/readyz", 90*time.Second)
	if err != nil {
		p.stop()
		return nil, 0, err
	}
	return p, d, nil
}

var indexLine = regexp.MustCompile(`embedded (\d+), unchanged (\d+), deleted (\d+) in (\S+) \(([\d.]+) recipes/s\)`)

// index runs `flavormonk index`. The replicas follow the store into the
// vector index themselves, so it may find nothing left to embed; the rate
// is then measured on a scratch collection of the same server.
func (r *rehearsal) index(ctx context.Context) error {
	logf("flavormonk index")
	out, err := runCmd(ctx, 3*time.Minute, "flavormonk index", r.command(nil, "index"), filepath.Join(r.work, "index.log"))
	if err != nil {
		return err
	}
	line := lastLine(out)
	r.rep.Setup = append(r.rep.Setup, "index: "+line)
	m := indexLine.FindStringSubmatch(line)
	if m != nil {
		if n, _ := strconv.Atoi(m[1]); n >= len(r.seeded) {
			r.rep.IndexRate = m[5] + " recipes/s"
			return nil
		}
	}
	out, err = runCmd(ctx, 3*time.Minute, "flavormonk index (scratch collection)",
		r.command(map[string]string{"FLAVORMONK_CHROMA_COLLECTION": fmt.Sprintf("fmrehearse_rate_%d", os.Getpid())}, "index"),
		filepath.Join(r.work, "index.log"))
	if err != nil {
		r.rep.Notes = append(r.rep.Notes, "index rate on a scratch collection failed: "+err.Error())
		return nil
	}
	line = lastLine(out)
	r.rep.Setup = append(r.rep.Setup, "index rate, every recipe into a scratch collection: "+line)
	if m := indexLine.FindStringSubmatch(line); m != nil {
		r.rep.IndexRate = m[5] + " recipes/s"
	}
	return nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// freshness imports a new recipe with the CLI under replica A's settings
// and polls search through the last replica (B in scale) until it is found.
// The query is searched first, so a cached empty answer must be
// invalidated too.
func (r *rehearsal) freshness(ctx context.Context) error {
	token := randomWord(10)
	name := "Rehearsal " + strings.ToUpper(token[:1]) + token[1:] + " Tart"
	doc := fmt.Sprintf(`{"@context":"https://schema.org","@type":"Recipe","name":%q,
"description":"A recipe written by fmrehearse to measure index freshness across replicas.",
"recipeCuisine":"French","keywords":"rehearsal, tart","totalTime":"PT40M","recipeYield":"4 servings",
"recipeIngredient":["1 sheet puff pastry","3 apples, sliced","2 tbsp sugar","1 tbsp butter"],
"recipeInstructions":[{"@type":"HowToStep","text":"Lay the pastry on a tray and cover it with the apples."},
{"@type":"HowToStep","text":"Sprinkle with sugar, dot with butter and bake at 200 °C for 30 minutes."}]}`, name)
	file := filepath.Join(r.work, "fresh-recipe.json")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		return err
	}
	// Searched first (hybrid search answers any query with its nearest
	// recipes, so what matters is that this one is not among them yet).
	for _, p := range r.reps {
		res, _, err := search("http://"+p.addr, token)
		if err != nil {
			return err
		}
		if res.has(name) {
			return fmt.Errorf("%q already found through %s before the import", name, p.Name)
		}
	}
	if _, err := runCmd(ctx, time.Minute, "flavormonk import", r.command(nil, "import", file), filepath.Join(r.work, "import.log")); err != nil {
		return err
	}
	t0 := time.Now()
	found := make([]time.Duration, len(r.reps))
	deadline := t0.Add(3 * r.opt.maxFresh)
	for time.Now().Before(deadline) {
		all := true
		for i, p := range r.reps {
			if found[i] > 0 {
				continue
			}
			if res, _, err := search("http://"+p.addr, token); err == nil && res.has(name) {
				found[i] = time.Since(t0)
			} else {
				all = false
			}
		}
		if all {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	last := len(r.reps) - 1
	r.rep.Freshness = found[last]
	r.rep.FreshVia = r.reps[last].Name
	var parts []string
	for i, p := range r.reps {
		if found[i] > 0 {
			parts = append(parts, fmt.Sprintf("%s after %.2f s", p.Name, found[i].Seconds()))
		} else {
			parts = append(parts, fmt.Sprintf("%s: NOT FOUND within %s", p.Name, 3*r.opt.maxFresh))
		}
	}
	r.rep.FreshDetail = fmt.Sprintf("%q imported with the CLI under replica A's settings; found through %s", name, strings.Join(parts, ", "))
	switch {
	case found[last] == 0:
		return fmt.Errorf("the imported recipe was not found through replica %s within %s", r.reps[last].Name, 3*r.opt.maxFresh)
	case found[last] > r.opt.maxFresh:
		return fmt.Errorf("the imported recipe took %.1f s to be found through replica %s (limit %s)", found[last].Seconds(), r.reps[last].Name, r.opt.maxFresh)
	}
	return nil
}

func randomWord(n int) string {
	var b [16]byte
	f, err := os.Open("/dev/urandom")
	if err == nil {
		_, _ = f.Read(b[:])
		f.Close()
	}
	out := make([]byte, n)
	for i := range out {
		out[i] = 'a' + b[i%len(b)]%26
	}
	// Vowels every other letter keep it one word for any tokenizer.
	for i := 1; i < n; i += 2 {
		out[i] = "aeiou"[b[i%len(b)]%5]
	}
	return string(out)
}

// load runs the load through base; for upgrade and scale it stops Redis at
// a third and ChromaDB at two thirds of it.
func (r *rehearsal) load(ctx context.Context, base string) error {
	o := r.opt
	paths := workload(r.seeded, 3000, 1)
	r.rep.Load = fmt.Sprintf("%d connections for %s through %s; %d requests in the mix: 70%% search API (a third with filters, some misspelt), 10%% search page, 10%% recipe page/API, 10%% pantry API",
		o.conns, o.duration, map[bool]string{true: "the proxy", false: "replica A"}[r.proxy != nil], len(paths))

	var before []map[string]map[string]float64
	families := []string{"flavormonk_fallbacks_total", "flavormonk_cache_requests_total", "flavormonk_http_requests_total"}
	for _, p := range r.reps {
		m, err := scrape(p.metricsAddr, families...)
		if err != nil {
			r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("metrics of %s before the load: %v", p.Name, err))
		}
		before = append(before, m)
	}

	var events []event
	if r.hybrid() {
		events = []event{
			{at: o.duration / 3, win: winNoRedis, name: "Redis stopped", do: func() (time.Duration, error) { return r.redis.stop(ctx) }},
			{at: 2 * o.duration / 3, win: winNoChroma, name: "ChromaDB stopped", do: func() (time.Duration, error) { return r.chroma.stop(ctx) }},
		}
	}
	var cur atomic.Int32
	wctx, wcancel := context.WithCancel(ctx)
	rw := watchReady(wctx, r.reps, func() window { return window(cur.Load()) }, 250*time.Millisecond)
	logf("load: %d connections for %s", o.conns, o.duration)
	stats, evs, took := runLoad(ctx, base, paths, o.conns, o.duration, events, &cur)
	wcancel()
	r.rep.Events = evs
	r.rep.LoadSeconds = took.Seconds()
	total := &Stats{Seconds: took.Seconds()}
	for w := window(0); w < nWindows; w++ {
		if stats[w].Requests == 0 && w != winAllUp {
			continue
		}
		r.rep.Windows = append(r.rep.Windows, windowStats{Name: w.String(), Stats: stats[w], Ready: rw.summary(w), Non200: rw.non200(w)})
		total.add(stats[w])
	}
	r.rep.Total = total
	for _, ev := range evs {
		if ev.Err != nil {
			r.rep.Failures = append(r.rep.Failures, fmt.Sprintf("%s: %v", ev.Name, ev.Err))
		}
	}

	var after []map[string]map[string]float64
	for _, p := range r.reps {
		m, err := scrape(p.metricsAddr, families...)
		if err != nil {
			r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("metrics of %s after the load: %v", p.Name, err))
		}
		after = append(after, m)
	}
	r.rep.Fallbacks = counterDelta(before, after, "flavormonk_fallbacks_total")
	r.rep.Cache = counterDelta(before, after, "flavormonk_cache_requests_total")
	for i, p := range r.reps {
		var n float64
		if i < len(after) && after[i] != nil {
			for l, v := range after[i]["flavormonk_http_requests_total"] {
				n += v - before[i]["flavormonk_http_requests_total"][l]
			}
		}
		r.rep.PerReplica = append(r.rep.PerReplica, fmt.Sprintf("%s %.0f", p.Name, n))
	}
	if r.proxy != nil {
		r.rep.ProxyErrors = r.proxy.errors.Load()
	}
	return ctx.Err()
}

// cleanup ends everything the rehearsal started; it is bounded and runs
// after success, failure and interruption alike.
func (r *rehearsal) cleanup() {
	if r.proxy != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_ = r.proxy.srv.Shutdown(sctx)
		cancel()
	}
	stopAll()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, s := range []*service{r.redis, r.chroma} {
		if s == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.stop(context.Background()); err != nil {
				mu.Lock()
				r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("stopping %s: %v", s.Kind, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if r.dbName != "" {
		if err := dropDatabase(r.pgBase, r.dbName); err != nil {
			r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("dropping database %s: %v", r.dbName, err))
		}
	}
	if r.work == "" {
		return
	}
	_ = os.Remove(filepath.Join(r.work, "fmrehearse.json"))
	if !r.opt.keep && !r.rep.failed() {
		_ = os.RemoveAll(r.work)
	}
}

// workspaceRoot is the folder holding go.work (and scripts/).
func workspaceRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "scripts")); err == nil {
				return d, nil
			}
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return "", fmt.Errorf("no go.work with scripts/ above %s: run fmrehearse inside the workspace", dir)
}

func hostOf(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		u = u[i+1:]
	} else if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexAny(u, "/?"); i >= 0 {
		u = u[:i]
	}
	return u
}
