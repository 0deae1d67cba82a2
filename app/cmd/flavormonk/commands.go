package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/redis"
)

func flags(name string, stderr io.Writer, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, help)
		fs.PrintDefaults()
	}
	return fs
}

// errHelp ends a command after its -h output, successfully.
var errHelp = errors.New("help shown")

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return errHelp
		}
		return usageError{err.Error()}
	}
	return nil
}

func runServe(ctx context.Context, clk flavormonk.Clock, args []string, stderr io.Writer) error {
	fs := flags("serve", stderr, "Usage: flavormonk serve\n\nServes the site on FLAVORMONK_ADDR and metrics on FLAVORMONK_METRICS_ADDR.\n")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"serve takes no arguments"}
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	if cfg.CacheBackend == config.CacheRedis {
		// The Redis client's own messages (failed dials in its pool) go,
		// rate-limited, to this logger rather than slog.Default(). go-redis has
		// one logger per process (redis.SetLogger sets go-redis/v9's
		// package-level logger; its client Options have none), so this is
		// the one call, made before any client exists.
		redis.SetLogger(log)
	}
	m := NewMain(cfg, log)
	m.Clock = clk
	second, stop := secondSignal()
	defer stop()
	m.Interrupt = second
	defer m.Close()
	if err := m.Open(ctx); err != nil {
		return err
	}
	return m.Run(ctx)
}

func runMigrate(ctx context.Context, clk flavormonk.Clock, args []string, stderr io.Writer) error {
	fs := flags("migrate", stderr, "Usage: flavormonk migrate\n\nApplies the store's migrations (under an advisory lock on Postgres) and exits.\n")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	cfg.MigrateOnStart = true // migrating is this command's whole point
	st, err := openStore(ctx, cfg, clk)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.CountRecipes(ctx)
	if err != nil {
		return err
	}
	log.Info("store migrated", "store", cfg.StoreDriver, "recipes", n)
	return nil
}

func runConfig(args []string, stdout io.Writer) error {
	fs := flags("config", stdout, "Usage: flavormonk config [-vars]\n\nPrints the effective configuration with secrets redacted.\n")
	vars := fs.Bool("vars", false, "list every variable with its allowed values and per-tier defaults")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *vars {
		printVars(stdout)
		return nil
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	for _, line := range cfg.Redacted() {
		fmt.Fprintln(stdout, line)
	}
	return nil
}

func printVars(w io.Writer) {
	for _, v := range config.Schema() {
		fmt.Fprintf(w, "%s\n    %s\n", v.Name, v.Help)
		if len(v.Aliases) > 0 {
			fmt.Fprintf(w, "    also read from: %s\n", strings.Join(v.Aliases, ", "))
		}
		if v.Secret {
			fmt.Fprintf(w, "    secret: may be given as %s_FILE; never printed\n", v.Name)
		}
		if len(v.Allowed) > 0 {
			fmt.Fprintf(w, "    allowed: %s\n", strings.Join(v.Allowed, ", "))
		}
		var defs []string
		for _, t := range config.Tiers {
			d := v.DefaultFor(t)
			if d == "" {
				d = `""`
			}
			defs = append(defs, string(t)+"="+d)
		}
		fmt.Fprintf(w, "    default: %s\n", strings.Join(defs, " "))
	}
}
