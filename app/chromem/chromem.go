// Package chromem is the embedded vector index: chromem-go, in process, kept
// in one file (FLAVORMONK_VECTOR_PATH). It is the local default and passes
// vectortest.Run.
//
// Storage. chromem-go's own persistent mode writes one file per document in
// a directory, on every add. This package instead runs chromem-go in memory
// and persists the whole database as a single file, chromem-go's export
// format (gob, uncompressed: float vectors barely compress). The file is
// loaded at Open and rewritten atomically (a temporary file in the same
// directory, fsync, rename) shortly after writes (FlushDelay after the first
// unflushed write, so that a bulk indexing run writes the file a few times,
// not once per batch), on Flush, and on Close. A crash can therefore lose the
// last FlushDelay of writes, never the file: the index is derived data, and
// the next `flavormonk index` run re-embeds whatever the content hashes say is
// missing. One process owns a file at a time.
//
// Layout. One collection, "recipes", created by the first Upsert with the
// index meta as collection metadata ("model", "dimensions"); every document
// holds its recipe's vector and, as document metadata, its content hash
// ("hash"). Vectors always arrive precomputed: the collection's embedding
// function fails if chromem-go ever calls it. chromem-go normalizes vectors
// and ranks by cosine similarity with an exhaustive scan, which at 10,000
// recipes of 384 dimensions takes a few milliseconds (see the benchmark).
package chromem

import (
	"bufio"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	cg "github.com/philippgille/chromem-go"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

const (
	collectionName = "recipes"
	metaModel      = "model"
	metaDimensions = "dimensions"
	docHash        = "hash"
)

// DefaultFlushDelay is how long after a write the file is rewritten.
const DefaultFlushDelay = time.Second

// Index is a flavormonk.VectorIndex in one file. Its methods are safe for
// concurrent use.
type Index struct {
	path       string
	flushDelay time.Duration

	// mu guards everything below and the chromem database's maps: writers
	// (Upsert, Delete) hold it exclusively, readers and the export shared,
	// because chromem-go's export reads the document maps without its own
	// lock.
	mu     sync.RWMutex
	db     *cg.DB
	col    *cg.Collection // nil until the first upsert
	meta   flavormonk.IndexMeta
	closed bool

	// fmu serializes writing the file.
	fmu sync.Mutex

	// smu guards the flush state.
	smu      sync.Mutex
	dirty    bool
	pending  bool // a timed flush is scheduled
	flushErr error
	timer    *time.Timer
}

var _ flavormonk.VectorIndex = (*Index)(nil)

// Open opens the index kept in the file at path, creating it with the first
// write when it does not exist. An empty path keeps the index in memory only.
func Open(path string) (*Index, error) {
	ix := &Index{path: path, flushDelay: DefaultFlushDelay, db: cg.NewDB()}
	if path == "" {
		return ix, nil
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		dir := filepath.Dir(path)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_VECTOR_PATH",
				"the directory of %s does not exist", path)
		}
		return ix, nil
	case err != nil:
		return nil, fmt.Errorf("vector index %s: %w", path, err)
	case fi.IsDir():
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_VECTOR_PATH",
			"%s is a directory; it must name a file", path)
	}
	if err := ix.load(); err != nil {
		return nil, fmt.Errorf("vector index %s: %w", path, err)
	}
	return ix, nil
}

// fileDB is chromem-go's export format (DB.ExportToWriter), decoded here
// rather than with DB.ImportFromFile because chromem-go offers no way to read
// a collection's metadata back, and the index meta lives there.
type fileDB struct {
	Collections map[string]*fileCollection
}

type fileCollection struct {
	Name      string
	Metadata  map[string]string
	Documents map[string]*cg.Document
}

func (ix *Index) load() error {
	f, err := os.Open(ix.path)
	if err != nil {
		return err
	}
	defer f.Close()
	var db fileDB
	if err := gob.NewDecoder(bufio.NewReaderSize(f, 1<<20)).Decode(&db); err != nil {
		return fmt.Errorf("not a vector index file (%v); delete it and re-index", err)
	}
	fc := db.Collections[collectionName]
	if fc == nil {
		return nil
	}
	m, err := parseMeta(fc.Metadata)
	if err != nil {
		return err
	}
	col, err := ix.db.CreateCollection(collectionName, fc.Metadata, refuseToEmbed)
	if err != nil {
		return err
	}
	ctx := context.Background()
	for _, d := range fc.Documents {
		if d == nil {
			continue
		}
		if len(d.Embedding) != m.Dimensions {
			return fmt.Errorf("document %q has %d dimensions, the index %d", d.ID, len(d.Embedding), m.Dimensions)
		}
		if err := col.AddDocument(ctx, *d); err != nil {
			return err
		}
	}
	ix.col, ix.meta = col, m
	return nil
}

// SetFlushDelay sets how long after a write the file is rewritten (0: at the
// end of every write). Call it before using the index.
func (ix *Index) SetFlushDelay(d time.Duration) { ix.flushDelay = d }

// refuseToEmbed is the collection's embedding function: vectors always come
// from a flavormonk.Embedder, so chromem-go must never embed anything itself.
func refuseToEmbed(context.Context, string) ([]float32, error) {
	return nil, errors.New("chromem: vectors must be computed by the caller; the index does not embed")
}

func parseMeta(md map[string]string) (flavormonk.IndexMeta, error) {
	var m flavormonk.IndexMeta
	if md != nil {
		m.Model = md[metaModel]
		m.Dimensions, _ = strconv.Atoi(md[metaDimensions])
	}
	if m.Model == "" || m.Dimensions <= 0 {
		return m, fmt.Errorf("collection %q has no valid model/dimensions metadata (%v)", collectionName, md)
	}
	return m, nil
}

func errClosed() error {
	return flavormonk.Errorf(flavormonk.EUNAVAILABLE, "the vector index is closed")
}

// checkMeta compares the caller's meta with the recorded one. Call with mu held.
func (ix *Index) checkMeta(m flavormonk.IndexMeta) error {
	if m.Model == "" || m.Dimensions <= 0 {
		return flavormonk.Errorf(flavormonk.EINVALID, "vector index: the embedding model and dimension must be set (got %q, %d)", m.Model, m.Dimensions)
	}
	if ix.col != nil && m != ix.meta {
		return flavormonk.Errorf(flavormonk.EINVALID,
			"vector index built with %s, dimension %d; asked for %s, dimension %d; re-index to switch",
			ix.meta.Model, ix.meta.Dimensions, m.Model, m.Dimensions)
	}
	return nil
}

func checkVector(v []float32, dim int, what string) error {
	if len(v) != dim {
		return flavormonk.Errorf(flavormonk.EINVALID, "vector index: %s has %d dimensions, want %d", what, len(v), dim)
	}
	var sq float64
	for _, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return flavormonk.Errorf(flavormonk.EINVALID, "vector index: %s is not finite", what)
		}
		sq += f * f
	}
	if sq == 0 {
		return flavormonk.Errorf(flavormonk.EINVALID, "vector index: %s is all zeros", what)
	}
	return nil
}

// Meta implements flavormonk.VectorIndex.
func (ix *Index) Meta(ctx context.Context) (flavormonk.IndexMeta, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return flavormonk.IndexMeta{}, errClosed()
	}
	return ix.meta, nil
}

// Upsert implements flavormonk.VectorIndex.
func (ix *Index) Upsert(ctx context.Context, meta flavormonk.IndexMeta, items []flavormonk.VectorItem) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return errClosed()
	}
	if err := ix.checkMeta(meta); err != nil {
		return err
	}
	for _, it := range items {
		if it.ID == "" {
			return flavormonk.Errorf(flavormonk.EINVALID, "vector index: an item has an empty id")
		}
		if err := checkVector(it.Vector, meta.Dimensions, "the vector of "+strconv.Quote(it.ID)); err != nil {
			return err
		}
	}
	if len(items) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if ix.col == nil {
		col, err := ix.db.CreateCollection(collectionName, map[string]string{
			metaModel:      meta.Model,
			metaDimensions: strconv.Itoa(meta.Dimensions),
		}, refuseToEmbed)
		if err != nil {
			return fmt.Errorf("vector index: %w", err)
		}
		ix.col, ix.meta = col, meta
	}
	for _, it := range items {
		// Copy: chromem-go keeps the slice it is given when it is normalized already.
		doc := cg.Document{
			ID:        it.ID,
			Metadata:  map[string]string{docHash: it.Hash},
			Embedding: append([]float32(nil), it.Vector...),
		}
		if err := ix.col.AddDocument(ctx, doc); err != nil {
			_ = ix.scheduleFlushLocked()
			return fmt.Errorf("vector index: %w", err)
		}
	}
	return ix.scheduleFlushLocked()
}

// Delete implements flavormonk.VectorIndex.
func (ix *Index) Delete(ctx context.Context, ids []string) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return errClosed()
	}
	if ix.col == nil || len(ids) == 0 {
		return nil
	}
	if err := ix.col.Delete(ctx, nil, nil, ids...); err != nil {
		return fmt.Errorf("vector index: %w", err)
	}
	return ix.scheduleFlushLocked()
}

// Query implements flavormonk.VectorIndex.
func (ix *Index) Query(ctx context.Context, meta flavormonk.IndexMeta, vector []float32, k int) ([]flavormonk.VectorHit, error) {
	if k <= 0 {
		return nil, flavormonk.Errorf(flavormonk.EINVALID, "vector index: k must be positive, got %d", k)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return nil, errClosed()
	}
	if err := ix.checkMeta(meta); err != nil {
		return nil, err
	}
	if err := checkVector(vector, meta.Dimensions, "the query vector"); err != nil {
		return nil, err
	}
	if ix.col == nil {
		return nil, nil
	}
	n := ix.col.Count()
	if n == 0 {
		return nil, nil
	}
	k = min(k, n)
	res, err := ix.col.QueryEmbedding(ctx, vector, k, nil, nil)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("vector index: %w", err)
	}
	hits := make([]flavormonk.VectorHit, len(res))
	for i, r := range res {
		s := float64(r.Similarity)
		hits[i] = flavormonk.VectorHit{ID: r.ID, Score: max(-1, min(1, s))}
	}
	return hits, nil
}

// Hashes implements flavormonk.VectorIndex.
func (ix *Index) Hashes(ctx context.Context) (map[string]string, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return nil, errClosed()
	}
	out := map[string]string{}
	if ix.col == nil {
		return out, nil
	}
	n := ix.col.Count()
	if n == 0 {
		return out, nil
	}
	// chromem-go has no listing: an exhaustive query for all n documents is
	// one (the writers are locked out, so n cannot change under it).
	q := make([]float32, ix.meta.Dimensions)
	q[0] = 1
	res, err := ix.col.QueryEmbedding(ctx, q, n, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("vector index: %w", err)
	}
	for _, r := range res {
		out[r.ID] = r.Metadata[docHash]
	}
	return out, nil
}

// Count implements flavormonk.VectorIndex.
func (ix *Index) Count(ctx context.Context) (int, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return 0, errClosed()
	}
	if ix.col == nil {
		return 0, nil
	}
	return ix.col.Count(), nil
}

// Ping reports whether the index is open and its file was last written
// successfully.
func (ix *Index) Ping(ctx context.Context) error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return errClosed()
	}
	ix.smu.Lock()
	err := ix.flushErr
	ix.smu.Unlock()
	if err != nil {
		return flavormonk.Errorf(flavormonk.EUNAVAILABLE, "vector index: writing %s failed: %v", ix.path, err)
	}
	return nil
}

// Flush writes the file now if anything changed since it was last written.
func (ix *Index) Flush() error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return errClosed()
	}
	return ix.flushLocked()
}

// Close writes the file and closes the index. A second Close does nothing.
func (ix *Index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return nil
	}
	ix.closed = true
	ix.smu.Lock()
	if ix.timer != nil {
		ix.timer.Stop()
	}
	ix.smu.Unlock()
	return ix.flushLocked()
}

// scheduleFlushLocked arranges for the file to be written after a write.
// Call with mu held exclusively.
func (ix *Index) scheduleFlushLocked() error {
	ix.smu.Lock()
	ix.dirty = true
	if ix.path == "" {
		ix.dirty = false
		ix.smu.Unlock()
		return nil
	}
	if ix.flushDelay <= 0 {
		ix.smu.Unlock()
		return ix.flushLocked()
	}
	if !ix.pending {
		ix.pending = true
		if ix.timer == nil {
			ix.timer = time.AfterFunc(ix.flushDelay, ix.timedFlush)
		} else {
			ix.timer.Reset(ix.flushDelay)
		}
	}
	ix.smu.Unlock()
	return nil
}

func (ix *Index) timedFlush() {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if !ix.closed {
		_ = ix.flushLocked()
	}
}

// flushLocked writes the file if it is out of date. Call with mu held,
// shared or exclusive: writers are excluded either way, and fmu serializes
// flushers. Lock order: mu, fmu, smu.
func (ix *Index) flushLocked() error {
	if ix.path == "" {
		return nil
	}
	ix.fmu.Lock()
	defer ix.fmu.Unlock()
	ix.smu.Lock()
	dirty := ix.dirty
	ix.pending = false
	ix.smu.Unlock()
	if !dirty {
		ix.smu.Lock()
		defer ix.smu.Unlock()
		return ix.flushErr
	}
	err := ix.writeFile()
	ix.smu.Lock()
	ix.flushErr = err
	if err == nil {
		ix.dirty = false
	}
	ix.smu.Unlock()
	return err
}

func (ix *Index) writeFile() error {
	dir, base := filepath.Split(ix.path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	w := bufio.NewWriterSize(f, 1<<20)
	if err := ix.db.ExportToWriter(w, false, ""); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, ix.path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
