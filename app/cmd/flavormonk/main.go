// Command flavormonk serves the Flavor Monk site and API, and imports
// recipes. Configuration comes from the environment (see `flavormonk config -vars`).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

const usage = `Flavor Monk: recipes you can cook tonight.

Usage:
  flavormonk [serve]              serve the site and API (default)
  flavormonk import PATH|URL...   import schema.org Recipe JSON-LD from files, folders or web pages
  flavormonk index [export|import FILE]
                                  embed changed recipes into the vector index; move embeddings as a file
  flavormonk users invite|create-admin EMAIL|grant EMAIL PLAN|recheck
                                  closed-beta invites, the first admin, plans granted by hand, licence re-checks
  flavormonk usage [--from DATE] [--to DATE] [--by day,user,provider,model] [--json]
                                  assistant usage and cost report from the ledger
  flavormonk migrate              apply database migrations and exit
  flavormonk config [-vars]       print the effective configuration, secrets redacted
                                  (-vars: every variable, its allowed values and defaults per tier)
  flavormonk version              print the version
  flavormonk help                 this text

Configuration is read from environment variables (FLAVORMONK_*, and the vendors'
OPENAI_API_KEY, OPENAI_BASE_URL, REPLICATE_API_TOKEN, OLLAMA_HOST); secrets may
also come from NAME_FILE. FLAVORMONK_TIER=local|mvp|upgrade|scale picks the
defaults; FLAVORMONK_ADDR (default :8080) is the listen address.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, errHelp) {
		fmt.Fprintln(os.Stderr, "flavormonk:", describe(err))
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// secondSignal returns a channel closed on the second SIGTERM or Ctrl-C:
// the first ends serve's context (main), the second cuts the drain short.
// stop unregisters it.
func secondSignal() (second <-chan struct{}, stop func()) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		for n := 0; ; {
			select {
			case <-sig:
				if n++; n == 2 {
					close(done)
					return
				}
			case <-quit:
				return
			}
		}
	}()
	return done, func() { signal.Stop(sig); close(quit) }
}

// describe renders an error for a terminal: users' errors with their code.
func describe(err error) string {
	var fe *flavormonk.Error
	if errors.As(err, &fe) {
		return fmt.Sprintf("%s [%s]", err.Error(), fe.Code)
	}
	return err.Error()
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runAt(ctx, flavormonk.SystemClock, args, stdout, stderr)
}

// runAt runs a command with clk as the process's one clock: tests run
// commands at fixed instants.
func runAt(ctx context.Context, clk flavormonk.Clock, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, clk, args, stderr)
	case "import":
		return runImport(ctx, clk, args, stdout, stderr)
	case "users":
		return runUsers(ctx, clk, args, stdout, stderr)
	case "usage":
		return runUsage(ctx, clk, args, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, clk, args, stderr)
	case "config":
		return runConfig(args, stdout)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "flavormonk", flavormonk.BuildVersion())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "index":
		return runIndex(ctx, clk, args, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", cmd)}
}
