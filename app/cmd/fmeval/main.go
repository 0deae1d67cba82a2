// Command fmeval measures search quality: it loads the bundled recipes into
// an in-process index, runs every query of the judged set (by default
// app/quality/testdata/judged.json, built in) through lexical search and
// through hybrid search (the local embedder's nearest neighbours fused with
// the lexical ranking), and prints mean recall@k and nDCG@k per mode, the
// means per kind of query, and the queries where the two modes differ most.
//
//	go run ./cmd/fmeval [-k 10] [-judged path] [-neighbours 50] [-show 12] [-v]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/flavormonk/flavormonk/app/embed"
	"github.com/flavormonk/flavormonk/app/quality"
	"github.com/flavormonk/flavormonk/app/recipes"
	"github.com/flavormonk/flavormonk/app/search"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fmeval:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("fmeval", flag.ContinueOnError)
	k := fs.Int("k", 10, "score the first `k` results of each query")
	judgedPath := fs.String("judged", "", "judged query set (JSON); default the built-in "+quality.BundledJudgedPath)
	neighbours := fs.Int("neighbours", 50, "nearest neighbours by cosine fused into hybrid search")
	show := fs.Int("show", 12, "show the `n` queries where lexical and hybrid differ most")
	verbose := fs.Bool("v", false, "print every query's figures for each mode")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *k < 1 || *k > search.MaxLimit {
		return fmt.Errorf("-k must be between 1 and %d", search.MaxLimit)
	}
	if *neighbours < 1 {
		return errors.New("-neighbours must be positive")
	}

	rs, err := recipes.Bundled()
	if err != nil {
		return err
	}
	ids := make(map[string]bool, len(rs))
	for _, r := range rs {
		ids[r.ID] = true
	}
	var judged []quality.Judged
	source := "built-in " + quality.BundledJudgedPath
	if *judgedPath == "" {
		if judged, err = quality.Parse(quality.BundledJudged, ids); err != nil {
			return fmt.Errorf("%s: %w", quality.BundledJudgedPath, err)
		}
	} else {
		source = *judgedPath
		if judged, err = quality.Load(*judgedPath, ids); err != nil {
			return err
		}
	}

	ix := search.New()
	ix.Apply(rs, nil, 1)
	emb := embed.NewLocal()
	vs, err := quality.EmbedRecipes(ctx, emb, rs, embed.RecipeText, 64)
	if err != nil {
		return err
	}

	lex, err := quality.Evaluate(judged, quality.Lexical(ix, *k), *k)
	if err != nil {
		return err
	}
	lex.Name = "lexical"
	hyb, err := quality.Evaluate(judged, quality.Hybrid(ctx, ix, vs, *k, *neighbours), *k)
	if err != nil {
		return err
	}
	hyb.Name = "hybrid"

	fmt.Fprintf(out, "Flavor Monk search quality: %d judged queries (%s) over %d bundled recipes, k=%d\n",
		len(judged), source, len(rs), *k)
	fmt.Fprintf(out, "hybrid: lexical fused with the %d nearest recipes by cosine, embedder %s (%d dimensions)\n\n",
		*neighbours, emb.Model(), emb.Dimensions())

	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "mode\trecall@%d\tnDCG@%d\n", *k, *k)
	for _, r := range []quality.Report{lex, hyb} {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\n", r.Name, r.MeanRecall, r.MeanNDCG)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(out, "\nby kind of query (recall@%d / nDCG@%d)\n", *k, *k)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "kind\tqueries\tlexical\thybrid\n")
	hk := map[string]quality.KindMean{}
	for _, m := range hyb.KindMeans() {
		hk[m.Kind] = m
	}
	for _, m := range lex.KindMeans() {
		h := hk[m.Kind]
		fmt.Fprintf(tw, "%s\t%d\t%.3f / %.3f\t%.3f / %.3f\n", kindName(m.Kind), m.Queries, m.Recall, m.NDCG, h.Recall, h.NDCG)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	deltas, err := quality.Compare(lex, hyb, *show)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nqueries where the modes differ most (%d shown)\n", len(deltas))
	if len(deltas) == 0 {
		fmt.Fprintln(out, "(none: both modes score every query the same)")
	} else {
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "query\tkind\tnDCG lexical\tnDCG hybrid\tΔ\trecall lexical\trecall hybrid\n")
		for _, d := range deltas {
			fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.3f\t%+.3f\t%.3f\t%.3f\n",
				d.Query, kindName(d.Kind), d.NDCGA, d.NDCGB, d.NDCGB-d.NDCGA, d.RecallA, d.RecallB)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	if *verbose {
		for _, r := range []quality.Report{lex, hyb} {
			fmt.Fprintln(out)
			if err := r.Write(out); err != nil {
				return err
			}
		}
	}
	return nil
}

func kindName(k string) string {
	if k == "" {
		return "-"
	}
	return k
}
