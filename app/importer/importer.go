// Package importer brings recipes into the store from schema.org JSON-LD: a
// file (.json, .html, .htm), a directory of them, or a web page fetched
// with safehttp. Importing is idempotent (the store reports a re-imported,
// unchanged recipe as "unchanged"), a bad file never stops the others, and
// rejected recipes never touch the store.
package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/jsonld"
	"github.com/flavormonk/flavormonk/app/safehttp"
)

// MaxFileBytes caps each file (and each fetched page) an import reads.
const MaxFileBytes = jsonld.MaxDocumentBytes

// Actions in a report, beside the store's created/updated/unchanged.
const (
	ActionRejected = "rejected" // a recipe in the document could not be used
	ActionSkipped  = "skipped"  // a file that is not .json/.html/.htm
	ActionFailed   = "failed"   // the whole source could not be read, parsed or stored
)

// Importer imports recipes into Store.
type Importer struct {
	Store flavormonk.Store
	// Client fetches URLs; nil means safehttp.New(safehttp.Options{}).
	Client *safehttp.Client
	// Log receives one line per source; nil discards.
	Log *slog.Logger
	// OnImported, when set, is called once per Import with the ids of the
	// recipes created or updated (not unchanged), e.g. to update a search
	// index at once.
	OnImported func(ids []string)
}

// Item is what happened to one recipe, or to one source as a whole.
type Item struct {
	Source string `json:"source"`           // file path or URL
	Index  int    `json:"index"`            // the recipe's position in the source; -1 for the source itself
	ID     string `json:"id,omitempty"`     // recipe id
	Name   string `json:"name,omitempty"`   // recipe name
	Action string `json:"action"`           // created, updated, unchanged, rejected, skipped, failed
	Reason string `json:"reason,omitempty"` // why it was rejected, skipped or failed
}

// Report lists every item of an import and the totals per action.
type Report struct {
	Items     []Item `json:"items"`
	Created   int    `json:"created"`
	Updated   int    `json:"updated"`
	Unchanged int    `json:"unchanged"`
	Rejected  int    `json:"rejected"`
	Skipped   int    `json:"skipped"`
	Failed    int    `json:"failed"`
}

func (r *Report) add(it Item) {
	r.Items = append(r.Items, it)
	switch it.Action {
	case flavormonk.ActionCreated:
		r.Created++
	case flavormonk.ActionUpdated:
		r.Updated++
	case flavormonk.ActionUnchanged:
		r.Unchanged++
	case ActionRejected:
		r.Rejected++
	case ActionSkipped:
		r.Skipped++
	case ActionFailed:
		r.Failed++
	}
}

// WriteText prints the report for people: one line per item, then totals.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, it := range r.Items {
		src := it.Source
		if it.Index >= 0 {
			src = fmt.Sprintf("%s#%d", it.Source, it.Index)
		}
		what := it.ID
		if it.Name != "" {
			what = strings.TrimSpace(it.ID + " " + fmt.Sprintf("%q", it.Name))
		}
		if it.Reason != "" {
			what = strings.TrimSpace(what + " — " + it.Reason)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", it.Action, src, what)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d created, %d updated, %d unchanged, %d rejected, %d skipped, %d failed\n",
		r.Created, r.Updated, r.Unchanged, r.Rejected, r.Skipped, r.Failed)
	return err
}

// Import imports arg: an http(s) URL, a file, or a directory walked
// recursively. It returns an error, with the report so far, when arg cannot
// be imported at all (no such file, a refused or failed fetch, a single
// file that fails), when ctx ends, or when the store fails; a failing file
// inside a directory is only reported.
func (im *Importer) Import(ctx context.Context, arg string) (*Report, error) {
	rep := &Report{}
	var err error
	switch {
	case strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://"):
		err = im.importURL(ctx, rep, arg)
	default:
		var fi os.FileInfo
		fi, err = os.Stat(arg)
		switch {
		case err != nil:
			err = flavormonk.Errorf(flavormonk.ENOTFOUND, "cannot import %s: %v", arg, pathErr(err))
		case fi.IsDir():
			err = im.importDir(ctx, rep, arg)
		default:
			if !importable(arg) {
				err = flavormonk.Errorf(flavormonk.EINVALID, "cannot import %s: only .json, .html and .htm files hold recipes", arg)
				break
			}
			err = im.importFile(ctx, rep, arg)
		}
	}
	var ids []string
	for _, it := range rep.Items {
		if it.Action == flavormonk.ActionCreated || it.Action == flavormonk.ActionUpdated {
			ids = append(ids, it.ID)
		}
	}
	if len(ids) > 0 && im.OnImported != nil {
		im.OnImported(ids)
	}
	var se *sourceError
	if errors.As(err, &se) {
		err = se.err
	}
	return rep, err
}

func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func importable(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json", ".html", ".htm":
		return true
	}
	return false
}

func (im *Importer) log() *slog.Logger {
	if im.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return im.Log
}

func (im *Importer) importDir(ctx context.Context, rep *Report, dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if err != nil {
			rep.add(Item{Source: path, Index: -1, Action: ActionFailed, Reason: pathErr(err).Error()})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case d.IsDir():
			if path != dir && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir // .git and friends
			}
			return nil
		case !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0:
			rep.add(Item{Source: path, Index: -1, Action: ActionSkipped, Reason: "not a regular file"})
			return nil
		case !importable(path):
			rep.add(Item{Source: path, Index: -1, Action: ActionSkipped, Reason: "not a .json, .html or .htm file"})
			return nil
		}
		if err := im.importFile(ctx, rep, path); err != nil && !isSourceError(err) {
			return err // the store or ctx failed: the other files would fail too
		}
		return nil
	})
}

// sourceError marks a failure of one source, already in the report.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

func isSourceError(err error) bool {
	var se *sourceError
	return errors.As(err, &se)
}

func (im *Importer) fail(rep *Report, source string, err error) error {
	rep.add(Item{Source: source, Index: -1, Action: ActionFailed, Reason: flavormonk.ErrorMessage(err)})
	im.log().Warn("import failed", "source", source, "err", err)
	return &sourceError{err: err}
}

func (im *Importer) importFile(ctx context.Context, rep *Report, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return im.fail(rep, path, flavormonk.Errorf(flavormonk.EINVALID, "cannot read the file: %v", pathErr(err)))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return im.fail(rep, path, flavormonk.Errorf(flavormonk.EINVALID, "cannot read the file: %v", pathErr(err)))
	}
	if len(data) > MaxFileBytes {
		return im.fail(rep, path, flavormonk.Errorf(flavormonk.ETOOLARGE, "the file is larger than %d MB", MaxFileBytes>>20))
	}
	return im.importData(ctx, rep, path, data, "")
}

func (im *Importer) importURL(ctx context.Context, rep *Report, rawURL string) error {
	c := im.Client
	if c == nil {
		c = safehttp.New(safehttp.Options{MaxBytes: MaxFileBytes})
	}
	resp, err := c.Get(ctx, rawURL)
	if err != nil {
		return im.fail(rep, rawURL, err)
	}
	return im.importData(ctx, rep, rawURL, resp.Body, resp.URL)
}

// importData parses one document and stores its recipes.
func (im *Importer) importData(ctx context.Context, rep *Report, source string, data []byte, sourceURL string) error {
	recipes, rejects, err := jsonld.Parse(data, sourceURL)
	if err != nil {
		return im.fail(rep, source, err)
	}
	if len(recipes) == 0 && len(rejects) == 0 {
		return im.fail(rep, source, flavormonk.Errorf(flavormonk.EINVALID, "no schema.org Recipe found"))
	}
	// Indexes in the document, to report items in document order.
	items := make([]Item, 0, len(recipes)+len(rejects))
	for _, rj := range rejects {
		items = append(items, Item{Source: source, Index: rj.Index, Name: rj.Name, Action: ActionRejected, Reason: rj.Reason})
	}
	if len(recipes) > 0 {
		results, err := im.Store.UpsertRecipes(ctx, recipes)
		if err != nil {
			if ctx.Err() != nil || flavormonk.ErrorCode(err) != flavormonk.EINVALID {
				im.fail(rep, source, err)
				return err // not this source's fault: stop
			}
			// The store refused the batch for one recipe's sake: store them
			// one by one so that the others still get in.
			results = make([]flavormonk.UpsertResult, len(recipes))
			for i, r := range recipes {
				res, err := im.Store.UpsertRecipes(ctx, []*flavormonk.Recipe{r})
				switch {
				case err == nil && len(res) == 1:
					results[i] = res[0]
				case err != nil && flavormonk.ErrorCode(err) == flavormonk.EINVALID:
					results[i] = flavormonk.UpsertResult{ID: r.ID, Action: ActionRejected + ": " + flavormonk.ErrorMessage(err)}
				default:
					if err == nil {
						err = fmt.Errorf("store returned %d results for 1 recipe", len(res))
					}
					im.fail(rep, source, err)
					return err
				}
			}
		}
		if len(results) != len(recipes) {
			err := fmt.Errorf("store returned %d results for %d recipes", len(results), len(recipes))
			im.fail(rep, source, err)
			return err
		}
		idx := recipeIndexes(len(recipes), rejects)
		for i, r := range recipes {
			it := Item{Source: source, Index: idx[i], ID: r.ID, Name: r.Name, Action: results[i].Action}
			if reason, ok := strings.CutPrefix(it.Action, ActionRejected+": "); ok {
				it.Action, it.Reason = ActionRejected, reason
			}
			items = append(items, it)
		}
	}
	sortItems(items)
	for _, it := range items {
		rep.add(it)
	}
	im.log().Info("imported", "source", source, "recipes", len(recipes), "rejected", len(rejects))
	return nil
}

// recipeIndexes recovers each accepted recipe's index in the document: the
// indexes not taken by rejects, in order.
func recipeIndexes(n int, rejects []jsonld.Reject) []int {
	taken := map[int]bool{}
	for _, r := range rejects {
		taken[r.Index] = true
	}
	out := make([]int, 0, n)
	for i := 0; len(out) < n; i++ {
		if !taken[i] {
			out = append(out, i)
		}
	}
	return out
}

func sortItems(items []Item) {
	slices.SortStableFunc(items, func(a, b Item) int { return a.Index - b.Index })
}
