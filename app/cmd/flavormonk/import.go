package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/importer"
	"github.com/flavormonk/flavormonk/app/safehttp"
)

func runImport(ctx context.Context, clk flavormonk.Clock, args []string, stdout, stderr io.Writer) error {
	fs := flags("import", stderr, `Usage: flavormonk import FILE|DIR|URL...

Imports schema.org Recipe JSON-LD from .json files, HTML pages (their
application/ld+json scripts), folders of them, or http(s) URLs. Re-importing
is idempotent. Prints a report naming each item and, for rejected ones, why.
URLs resolving to private, loopback or link-local addresses are refused.
Exits 1 when any item was rejected (the others are still imported).
`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError{"import needs at least one FILE, DIR or URL"}
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	st, err := openStore(ctx, cfg, clk)
	if err != nil {
		return err
	}
	defer st.Close()
	imp := &importer.Importer{
		Store:  st,
		Client: safehttp.New(safehttp.Options{Timeout: cfg.ImportTimeout, MaxBytes: cfg.ImportMaxBytes}),
		Log:    log,
	}
	failed := 0
	for _, arg := range fs.Args() {
		rep, err := imp.Import(ctx, arg)
		bad := 0
		if rep != nil {
			rep.WriteText(stdout)
			bad = rep.Rejected + rep.Failed
		}
		if err != nil {
			fmt.Fprintf(stdout, "%s: %s\n", arg, describe(err))
			// A source that fails is usually in the report already.
			bad = max(bad, 1)
		}
		failed += bad
	}
	switch {
	case failed == 1:
		return errors.New("1 item not imported; see the report above")
	case failed > 1:
		return fmt.Errorf("%d items not imported; see the report above", failed)
	}
	return nil
}
