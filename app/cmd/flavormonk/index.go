package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/embed"
	"github.com/flavormonk/flavormonk/app/indexer"
)

const indexUsage = `Usage: flavormonk index                 embed new and changed recipes into the vector index
       flavormonk index export FILE     write every recipe's embedding to FILE (JSON lines)
       flavormonk index import FILE     load embeddings from FILE into the vector index

Only recipes whose embedded text changed are embedded again (content hash).
export/import move embeddings between machines: compute them where a GPU is,
import them on a server without one. The index records the embedding model
and dimension and refuses vectors from another.
`

func runIndex(ctx context.Context, clk flavormonk.Clock, args []string, stdout, stderr io.Writer) error {
	fs := flags("index", stderr, indexUsage)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	if cfg.VectorBackend == config.VectorNone {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_VECTOR",
			"is none: there is no vector index to fill; set it to embedded or chroma")
	}
	log := newLogger(cfg, stderr)
	st, err := openStore(ctx, cfg, clk)
	if err != nil {
		return err
	}
	defer st.Close()
	vi, err := openVectorIndex(ctx, cfg)
	if err != nil {
		return err
	}
	defer vi.Close()
	emb, err := newEmbedder(cfg)
	if err != nil {
		return err
	}
	ix := &indexer.Indexer{Store: st, Embedder: emb, Index: vi, Text: embed.RecipeText, Log: log}
	rest := fs.Args()
	switch {
	case len(rest) == 0:
		ix.Progress = progress(stderr)
		s, err := ix.Sync(ctx)
		if err != nil {
			return err
		}
		rate := 0.0
		if s.Duration > 0 {
			rate = float64(s.Embedded) / s.Duration.Seconds()
		}
		fmt.Fprintf(stdout, "embedded %d, unchanged %d, deleted %d in %s (%.0f recipes/s) with %s\n",
			s.Embedded, s.Unchanged, s.Deleted, s.Duration.Round(time.Millisecond), rate, emb.Model())
		return nil
	case len(rest) == 2 && rest[0] == "export":
		f, err := os.Create(rest[1])
		if err != nil {
			return err
		}
		n, err := ix.Export(ctx, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "exported %d embeddings (%s, %d dimensions) to %s\n", n, emb.Model(), emb.Dimensions(), rest[1])
		return nil
	case len(rest) == 2 && rest[0] == "import":
		f, err := os.Open(rest[1])
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := ix.Import(ctx, f)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "imported %d embeddings from %s\n", n, rest[1])
		return nil
	}
	fs.Usage()
	return usageError{"index takes no argument, or export FILE, or import FILE"}
}

// progress draws a bar on a terminal and prints plain lines elsewhere
// (logs, CI), at most every few seconds.
func progress(w io.Writer) func(done, total int) {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = isatty.IsTerminal(f.Fd())
	}
	var last time.Time
	return func(done, total int) {
		if total <= 0 {
			return
		}
		if tty {
			width := 30
			fill := done * width / total
			fmt.Fprintf(w, "\r[%s%s] %d/%d", strings.Repeat("#", fill), strings.Repeat(" ", width-fill), done, total)
			if done >= total {
				fmt.Fprintln(w)
			}
			return
		}
		if done >= total || time.Since(last) > 2*time.Second {
			last = time.Now()
			fmt.Fprintf(w, "indexed %d of %d recipes\n", done, total)
		}
	}
}
