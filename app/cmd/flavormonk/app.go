package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/account"
	"github.com/flavormonk/flavormonk/app/assistant"
	"github.com/flavormonk/flavormonk/app/backendmetrics"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/gumroad"
	"github.com/flavormonk/flavormonk/app/indexer"
	"github.com/flavormonk/flavormonk/app/limit"
	"github.com/flavormonk/flavormonk/app/postgres"
	"github.com/flavormonk/flavormonk/app/probes"
	"github.com/flavormonk/flavormonk/app/recipes"
	"github.com/flavormonk/flavormonk/app/search"
	"github.com/flavormonk/flavormonk/app/sqlite"
	metering "github.com/flavormonk/flavormonk/app/usage"
	"github.com/flavormonk/flavormonk/app/web"
)

// Main is the whole app, wired from a Config. The end-to-end tests start
// this same Main on port :0.
type Main struct {
	Config *config.Config
	Log    *slog.Logger
	// Clock is the one clock of the product: the stores, the meter,
	// sessions, limits and licences read the time from it. NewMain sets the
	// system clock; tests may set another before Open.
	Clock flavormonk.Clock

	Store   flavormonk.AppStore
	Cache   flavormonk.Cache
	Index   *search.Index
	Vectors *indexer.Indexer // nil without a vector index
	Server  *web.Server
	// Probes counts the load balancer's /readyz checks for the deploy
	// script (flavormonk_lb_probe_consecutive_ok on /metrics).
	Probes *probes.Counter

	// searcher is the composed search (lexical, hybrid, cache-aside) the
	// web handlers use; retriever is the assistant's view of it.
	searcher  search.Searcher
	retriever assistant.Retriever

	started  time.Time
	http     *http.Server
	metrics  *http.Server
	ln, mln  net.Listener
	bg       sync.WaitGroup
	cancelBG context.CancelFunc
	meter    *metering.Meter // its background prune is waited for on Close
	// rechecker re-checks licences in the background; nil when off.
	rechecker *gumroad.Rechecker

	// Interrupt, when closed, cuts the drain short (runServe closes it on a
	// second SIGTERM or Ctrl-C); nil waits the whole delay.
	Interrupt <-chan struct{}
	// After waits out the drain delay; nil is time.After. Tests end the
	// drain when they have looked at it.
	After func(time.Duration) <-chan time.Time
}

// NewMain returns a Main for cfg; Open wires it.
func NewMain(cfg *config.Config, log *slog.Logger) *Main {
	return &Main{Config: cfg, Log: log, Clock: flavormonk.SystemClock, started: time.Now()}
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore is the store factory.
func openStore(ctx context.Context, cfg *config.Config, clk flavormonk.Clock) (flavormonk.AppStore, error) {
	switch cfg.StoreDriver {
	case config.StoreSQLite:
		return sqlite.Open(ctx, cfg.SQLitePath, sqlite.WithClock(clk))
	case config.StorePostgres:
		if !cfg.MigrateOnStart {
			st, err := postgres.Open(ctx, cfg.PostgresURL, postgres.WithMaxConns(int32(cfg.PostgresMaxConns)), postgres.WithoutMigrations(), postgres.WithClock(clk))
			if err != nil {
				return nil, err
			}
			if err := st.CheckSchema(ctx); err != nil {
				st.Close()
				return nil, err
			}
			return st, nil
		}
		return postgres.Open(ctx, cfg.PostgresURL, postgres.WithMaxConns(int32(cfg.PostgresMaxConns)), postgres.WithClock(clk))
	}
	return nil, config.NotImplemented("FLAVORMONK_STORE", cfg.StoreDriver)
}

// Open wires the app in the order data flows: store, cache, search
// (lexical index, vectors, cache-aside), meter and providers, assistant,
// accounts, web. It seeds an empty store, loads the search index and binds
// the listeners. Run serves.
func (m *Main) Open(ctx context.Context) error {
	cfg := m.Config
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	bm, err := backendmetrics.New(reg)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg, m.Clock)
	if err != nil {
		return fmt.Errorf("opening the %s store: %w", cfg.StoreDriver, err)
	}
	m.Store = st
	if cfg.SeedRecipes {
		n, err := recipes.Seed(ctx, st)
		if err != nil {
			return err
		}
		if n > 0 {
			m.Log.Info("seeded the empty store with the bundled recipes", "recipes", n)
		}
	}
	if m.Cache, err = openCache(ctx, cfg); err != nil {
		return err
	}
	if err := m.openSearch(ctx, reg, bm); err != nil {
		return err
	}
	asst, err := m.newAssistant(reg)
	if err != nil {
		return err
	}
	acc, requests := m.newAccounts(st, bm)
	m.Probes = probes.New(m.Clock)
	if err := reg.Register(m.Probes); err != nil {
		return err
	}
	if m.Server, err = web.New(m.webOptions(reg, bm, asst, acc, requests)); err != nil {
		return err
	}
	// Loading decoded every recipe once and wiring parsed the templates;
	// give that garbage back to the OS now rather than idling on it.
	debug.FreeOSMemory()
	if m.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_ADDR", "cannot listen on %s: %v", cfg.Addr, err)
	}
	if m.mln, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_METRICS_ADDR", "cannot listen on %s: %v", cfg.MetricsAddr, err)
	}
	m.http = &http.Server{
		Handler:           m.Server.Echo,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		// No whole-request read or write timeout: event streams live long
		// on their own routes; ordinary routes get a deadline in middleware.
		ReadTimeout:    0,
		WriteTimeout:   0,
		IdleTimeout:    cfg.IdleTimeout,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	m.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return nil
}

// webOptions are the web server's Options from the configuration and what
// Open built before it.
func (m *Main) webOptions(reg prometheus.Registerer, bm *backendmetrics.Metrics, asst *assistant.Assistant, acc *account.Service, requests *limit.Requests) web.Options {
	cfg := m.Config
	o := web.Options{
		Store:            m.Store,
		Searcher:         m.searcher,
		Index:            m.Index,
		Assistant:        asst,
		Accounts:         acc,
		Requests:         requests,
		Probes:           m.Probes,
		Degradable:       map[string]web.Pinger{},
		Log:              m.Log,
		Registerer:       reg,
		Metrics:          bm,
		Clock:            m.Clock,
		BaseURL:          cfg.BaseURL,
		RequestTimeout:   cfg.RequestTimeout,
		MaxBodyBytes:     cfg.MaxBodyBytes,
		MaxQueryBytes:    cfg.MaxQueryBytes,
		SearchMaxResults: cfg.SearchMaxResults,
		SecureCookies:    cfg.SecureCookies,
		TrustedProxies:   cfg.TrustedPrefixes(),
	}
	if m.hybrid() {
		o.Degradable["vector_index"] = m.Vectors
	}
	if m.Cache != nil {
		o.Degradable["cache"] = m.Cache
	}
	if _, ok := m.Store.(*postgres.Store); ok {
		o.StoreUnreachable = postgres.Unreachable
	}
	return o
}

// Addr is the public listener's address (useful with port 0).
func (m *Main) Addr() string { return m.ln.Addr().String() }

// MetricsAddr is the metrics listener's address.
func (m *Main) MetricsAddr() string { return m.mln.Addr().String() }

// URL is the public base URL of the running server.
func (m *Main) URL() string {
	a := m.Addr()
	if strings.HasPrefix(a, "[::]") || strings.HasPrefix(a, "0.0.0.0") {
		_, port, _ := net.SplitHostPort(a)
		a = "127.0.0.1:" + port
	}
	return "http://" + a
}

// Run serves until ctx ends, then shuts down gracefully.
func (m *Main) Run(ctx context.Context) error {
	bgctx, cancel := context.WithCancel(context.Background())
	m.cancelBG = cancel
	m.bg.Add(2)
	go func() {
		defer m.bg.Done()
		m.Index.Follow(bgctx, m.Store, m.Config.IndexPoll, nil, m.Log)
	}()
	if m.Vectors != nil {
		m.bg.Add(1)
		go func() {
			defer m.bg.Done()
			m.Vectors.Follow(bgctx, m.Config.IndexPoll)
		}()
	}
	go func() {
		defer m.bg.Done()
		m.expireVisitors(bgctx)
	}()
	if rc := m.rechecker; rc != nil {
		m.bg.Add(1)
		go func() { defer m.bg.Done(); rc.Run(bgctx) }()
	}
	errc := make(chan error, 2)
	go func() { errc <- m.http.Serve(m.ln) }()
	go func() { errc <- m.metrics.Serve(m.mln) }()
	m.Server.SetReady(true)
	m.Log.Info("serving", "addr", m.Addr(), "metrics_addr", m.MetricsAddr(), "tier", m.Config.Tier,
		"store", m.Config.StoreDriver, "recipes", m.Index.Len(), "version", flavormonk.BuildVersion(),
		"ready_after", time.Since(m.started).Round(time.Millisecond))

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	m.Server.SetReady(false)
	if err == nil {
		m.drain()
	}
	if serr := m.shutdown(); serr != nil && err == nil {
		err = serr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// drain keeps serving, with /readyz failing, for the drain delay: a load
// balancer sends until its health check has failed often enough, and a
// listener closed before then turns those requests into errors.
func (m *Main) drain() {
	d := m.Config.DrainDelay
	if d <= 0 {
		return
	}
	m.Log.Info("draining", "delay", d)
	after := m.After
	if after == nil {
		after = time.After
	}
	select {
	case <-after(d):
	case <-m.Interrupt:
		m.Log.Info("drain cut short by a second signal")
	}
}

// shutdown stops accepting and lets in-flight requests, answer streams
// included, finish within the grace period (FLAVORMONK_SHUTDOWN_TIMEOUT).
// Streams still open then get an error event (unavailable, retry) and
// settle what they consumed; whatever remains after that is cut.
func (m *Main) shutdown() error {
	m.Log.Info("shutting down", "grace", m.Config.ShutdownTimeout)
	gctx, gcancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer gcancel()
	err := m.http.Shutdown(gctx)
	_ = m.metrics.Shutdown(gctx)
	sctx, scancel := context.WithTimeout(context.Background(), config.SettleTimeout)
	defer scancel()
	if serr := m.Server.EndStreams(sctx); serr != nil {
		m.Log.Error("answer streams did not settle after the grace period", "err", serr)
	}
	if err != nil {
		// Requests other than streams that outlived the grace period.
		m.Log.Warn("requests still in flight after the grace period are cut", "err", err)
		_ = m.http.Close()
		_ = m.metrics.Close()
		err = nil
	}
	return err
}

// visitorTTL is how long an anonymous session lives unseen.
const visitorTTL = 180 * 24 * time.Hour

// expireVisitors removes anonymous sessions unseen for 180 days.
func (m *Main) expireVisitors(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := m.Store.DeleteVisitorsBefore(ctx, m.Clock.Now().Add(-visitorTTL)); err != nil && ctx.Err() == nil {
			m.Log.Warn("expiring visitor sessions failed", "err", err)
		} else if n > 0 {
			m.Log.Info("expired visitor sessions", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close releases everything Open acquired.
func (m *Main) Close() error {
	if m.cancelBG != nil {
		m.cancelBG()
		m.bg.Wait()
	}
	if m.meter != nil {
		m.meter.Close()
	}
	if m.ln != nil {
		m.ln.Close()
	}
	if m.mln != nil {
		m.mln.Close()
	}
	if m.Vectors != nil {
		m.Vectors.Index.Close()
	}
	if m.Cache != nil {
		m.Cache.Close()
	}
	if m.Store != nil {
		return m.Store.Close()
	}
	return nil
}
