// Package indexer keeps a vector index in step with the store: it embeds
// the recipes whose text changed (by content hash), in batches, deletes the
// ones that are gone, and moves embeddings in and out as files so a machine
// with a GPU can compute them for a server without one.
package indexer

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// TextFunc is the text embedded for a recipe.
type TextFunc func(*flavormonk.Recipe) string

// Indexer embeds recipes from Store into Index with Embedder.
type Indexer struct {
	Store    flavormonk.Store
	Embedder flavormonk.Embedder
	Index    flavormonk.VectorIndex
	Text     TextFunc
	Batch    int // recipes per embedding call; default 64
	Log      *slog.Logger
	// Progress, when set, is called after each batch with done and total.
	Progress func(done, total int)

	revision int64 // store revision the index reflects (Follow)
}

// Stats says what a sync did.
type Stats struct {
	Embedded  int
	Unchanged int
	Deleted   int
	Duration  time.Duration
}

func (ix *Indexer) meta() flavormonk.IndexMeta {
	return flavormonk.IndexMeta{Model: ix.Embedder.Model(), Dimensions: ix.Embedder.Dimensions()}
}

// Hash identifies a recipe's embedded text under a model.
func Hash(model, text string) string {
	s := sha256.Sum256([]byte(model + "\x00" + text))
	return hex.EncodeToString(s[:12])
}

// Sync brings the whole index up to date: embeds new and changed recipes,
// deletes vectors of recipes that no longer exist.
func (ix *Indexer) Sync(ctx context.Context) (Stats, error) {
	start := time.Now()
	var st Stats
	rev, err := ix.Store.Revision(ctx)
	if err != nil {
		return st, err
	}
	have, err := ix.Index.Hashes(ctx)
	if err != nil {
		return st, err
	}
	total, err := ix.Store.CountRecipes(ctx)
	if err != nil {
		return st, err
	}
	seen := make(map[string]bool, total)
	var pending []*flavormonk.Recipe
	done := 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if err := ix.embed(ctx, pending); err != nil {
			return err
		}
		st.Embedded += len(pending)
		done += len(pending)
		pending = pending[:0]
		if ix.Progress != nil {
			ix.Progress(done, total)
		}
		return nil
	}
	after := ""
	for {
		page, err := ix.Store.Recipes(ctx, after, 500)
		if err != nil {
			return st, err
		}
		for _, r := range page {
			seen[r.ID] = true
			if have[r.ID] == Hash(ix.Embedder.Model(), ix.Text(r)) {
				st.Unchanged++
				done++
				continue
			}
			pending = append(pending, r)
			if len(pending) >= ix.batch() {
				if err := flush(); err != nil {
					return st, err
				}
			}
		}
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	if err := flush(); err != nil {
		return st, err
	}
	if ix.Progress != nil {
		ix.Progress(done, total)
	}
	var gone []string
	for id := range have {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		if err := ix.Index.Delete(ctx, gone); err != nil {
			return st, err
		}
		st.Deleted = len(gone)
	}
	ix.revision = rev
	st.Duration = time.Since(start)
	return st, nil
}

func (ix *Indexer) batch() int {
	if ix.Batch <= 0 {
		return 64
	}
	return ix.Batch
}

func (ix *Indexer) embed(ctx context.Context, rs []*flavormonk.Recipe) error {
	texts := make([]string, len(rs))
	for i, r := range rs {
		texts[i] = ix.Text(r)
	}
	vecs, err := ix.Embedder.Embed(ctx, texts)
	if err != nil {
		return fmt.Errorf("embedding %d recipes: %w", len(rs), err)
	}
	if len(vecs) != len(rs) {
		return fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), len(rs))
	}
	items := make([]flavormonk.VectorItem, len(rs))
	for i, r := range rs {
		items[i] = flavormonk.VectorItem{ID: r.ID, Vector: vecs[i], Hash: Hash(ix.Embedder.Model(), texts[i])}
	}
	return ix.Index.Upsert(ctx, ix.meta(), items)
}

// Refresh applies the store's changes since the last sync or refresh.
func (ix *Indexer) Refresh(ctx context.Context) (bool, error) {
	rev, err := ix.Store.Revision(ctx)
	if err != nil || rev <= ix.revision {
		return false, err
	}
	cs, err := ix.Store.Changes(ctx, ix.revision)
	if err != nil {
		return false, err
	}
	for i := 0; i < len(cs.Upserted); i += ix.batch() {
		if err := ix.embed(ctx, cs.Upserted[i:min(i+ix.batch(), len(cs.Upserted))]); err != nil {
			return false, err
		}
	}
	if len(cs.Deleted) > 0 {
		if err := ix.Index.Delete(ctx, cs.Deleted); err != nil {
			return false, err
		}
	}
	ix.revision = cs.Revision
	return true, nil
}

// Follow keeps the index current until ctx ends: a full sync first (retried
// until it succeeds), then a refresh every interval. Failures are logged and
// retried; search degrades to lexical meanwhile.
func (ix *Indexer) Follow(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	synced := false
	for {
		var err error
		if !synced {
			var st Stats
			if st, err = ix.Sync(ctx); err == nil {
				synced = true
				if st.Embedded+st.Deleted > 0 {
					ix.Log.Info("vector index synced", "embedded", st.Embedded, "unchanged", st.Unchanged, "deleted", st.Deleted, "took", st.Duration.Round(time.Millisecond))
				}
			}
		} else {
			_, err = ix.Refresh(ctx)
		}
		if err != nil && ctx.Err() == nil {
			ix.Log.Warn("vector index update failed; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// exported is one line of an embeddings file.
type exported struct {
	ID     string    `json:"id"`
	Hash   string    `json:"hash"`
	Model  string    `json:"model"`
	Vector []float32 `json:"vector"`
}

// Export writes the embeddings of every stored recipe as JSON lines,
// computing those the index lacks or holds stale.
func (ix *Indexer) Export(ctx context.Context, w io.Writer) (int, error) {
	if _, err := ix.Sync(ctx); err != nil {
		return 0, err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	n := 0
	after := ""
	for {
		page, err := ix.Store.Recipes(ctx, after, 256)
		if err != nil {
			return n, err
		}
		texts := make([]string, len(page))
		for i, r := range page {
			texts[i] = ix.Text(r)
		}
		vecs, err := ix.Embedder.Embed(ctx, texts)
		if err != nil {
			return n, err
		}
		for i, r := range page {
			if err := enc.Encode(exported{ID: r.ID, Hash: Hash(ix.Embedder.Model(), texts[i]), Model: ix.Embedder.Model(), Vector: vecs[i]}); err != nil {
				return n, err
			}
			n++
		}
		if len(page) < 256 {
			break
		}
		after = page[len(page)-1].ID
	}
	return n, bw.Flush()
}

// Import reads an embeddings file into the index. Lines for another model
// or dimension than this indexer's are refused, naming the line.
func (ix *Indexer) Import(ctx context.Context, r io.Reader) (int, error) {
	meta := ix.meta()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var batch []flavormonk.VectorItem
	n, line := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := ix.Index.Upsert(ctx, meta, batch); err != nil {
			return err
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var e exported
		if err := json.Unmarshal([]byte(text), &e); err != nil {
			return n, flavormonk.Errorf(flavormonk.EINVALID, "line %d: not an embeddings line: %v", line, err)
		}
		if e.Model != meta.Model || len(e.Vector) != meta.Dimensions || !flavormonk.ValidID(e.ID) {
			return n, flavormonk.Errorf(flavormonk.EINVALID, "line %d: %q was embedded with %s (%d dimensions); this index uses %s (%d)",
				line, e.ID, e.Model, len(e.Vector), meta.Model, meta.Dimensions)
		}
		batch = append(batch, flavormonk.VectorItem{ID: e.ID, Vector: e.Vector, Hash: e.Hash})
		if len(batch) >= 256 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return n, flavormonk.Errorf(flavormonk.EINVALID, "reading the embeddings file: %v", err)
	}
	return n, flush()
}

// Nearest embeds a query text and returns the recipes nearest to it.
func (ix *Indexer) Nearest(ctx context.Context, text string, k int) ([]flavormonk.VectorHit, error) {
	vecs, err := ix.Embedder.Embed(ctx, []string{text})
	if err != nil {
		return nil, err
	}
	if len(vecs) != 1 {
		return nil, fmt.Errorf("embedder returned %d vectors for one text", len(vecs))
	}
	return ix.Index.Query(ctx, ix.meta(), vecs[0], k)
}

// Ping checks the vector index.
func (ix *Indexer) Ping(ctx context.Context) error { return ix.Index.Ping(ctx) }
