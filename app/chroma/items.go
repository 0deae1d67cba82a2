package chroma

import (
	"context"
	"fmt"
	"net/http"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Upsert adds or replaces items, in batches. The first upsert creates the
// collection and records meta.
func (ix *Index) Upsert(ctx context.Context, meta flavormonk.IndexMeta, items []flavormonk.VectorItem) error {
	if err := ix.check(); err != nil {
		return err
	}
	if err := validMeta(meta); err != nil {
		return err
	}
	for i, it := range items {
		if it.ID == "" {
			return flavormonk.Errorf(flavormonk.EINVALID, "item %d has an empty id", i)
		}
		if len(it.Vector) != meta.Dimensions {
			return flavormonk.Errorf(flavormonk.EINVALID, "item %q has a vector of %d floats; %s has dimension %d", it.ID, len(it.Vector), meta.Model, meta.Dimensions)
		}
	}
	if len(items) == 0 {
		return nil
	}
	for start := 0; start < len(items); start += ix.batch {
		batch := items[start:min(start+ix.batch, len(items))]
		if err := ix.upsertBatch(ctx, meta, batch); err != nil {
			if start > 0 {
				return fmt.Errorf("after %d of %d items: %w", start, len(items), err)
			}
			return err
		}
	}
	return nil
}

// upsertRequest is the body of POST …/collections/{id}/upsert.
type upsertRequest struct {
	IDs        []string            `json:"ids"`
	Embeddings [][]float32         `json:"embeddings"`
	Metadatas  []map[string]string `json:"metadatas"`
}

func (ix *Index) upsertBatch(ctx context.Context, meta flavormonk.IndexMeta, items []flavormonk.VectorItem) error {
	ctx, cancel := ix.deadline(ctx, writeFactor)
	defer cancel()
	req := upsertRequest{
		IDs:        make([]string, len(items)),
		Embeddings: make([][]float32, len(items)),
		Metadatas:  make([]map[string]string, len(items)),
	}
	for i, it := range items {
		req.IDs[i] = it.ID
		req.Embeddings[i] = it.Vector
		req.Metadatas[i] = map[string]string{hashKey: it.Hash}
	}
	for attempt := 0; ; attempt++ {
		c, err := ix.ensureCollection(ctx, meta)
		if err != nil {
			return err
		}
		err = ix.do(ctx, http.MethodPost, ix.collURL(c, "upsert"), req, nil)
		if err == nil {
			return nil
		}
		// The collection was dropped (e.g. by a re-index elsewhere): find or
		// create it again, once.
		if statusOf(err) == http.StatusNotFound && attempt == 0 {
			ix.setCollection(nil)
			continue
		}
		return ix.wrap(ctx, "upsert", err)
	}
}

// Delete removes ids; unknown ids are ignored.
func (ix *Index) Delete(ctx context.Context, ids []string) error {
	if err := ix.check(); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	ctx, cancel := ix.deadline(ctx, writeFactor)
	defer cancel()
	c, err := ix.collection(ctx, false)
	if err != nil || c == nil {
		return err
	}
	for start := 0; start < len(ids); start += ix.batch {
		part := ids[start:min(start+ix.batch, len(ids))]
		if err := ix.do(ctx, http.MethodPost, ix.collURL(c, "delete"), map[string]any{"ids": part}, nil); err != nil {
			if statusOf(err) == http.StatusNotFound {
				ix.setCollection(nil)
				return nil
			}
			return ix.wrap(ctx, "delete", err)
		}
	}
	return nil
}

// Query returns up to k hits, best first; Score is the cosine similarity.
func (ix *Index) Query(ctx context.Context, meta flavormonk.IndexMeta, vector []float32, k int) ([]flavormonk.VectorHit, error) {
	if err := ix.check(); err != nil {
		return nil, err
	}
	if err := validMeta(meta); err != nil {
		return nil, err
	}
	if k <= 0 {
		return nil, flavormonk.Errorf(flavormonk.EINVALID, "k must be positive, got %d", k)
	}
	if len(vector) != meta.Dimensions {
		return nil, flavormonk.Errorf(flavormonk.EINVALID, "the query vector has %d floats; %s has dimension %d", len(vector), meta.Model, meta.Dimensions)
	}
	ctx, cancel := ix.deadline(ctx, 1)
	defer cancel()
	return ix.query(ctx, meta, vector, k, false)
}

// queryReply is the part of the query reply that is used: one group per
// query embedding.
type queryReply struct {
	IDs       [][]string   `json:"ids"`
	Distances [][]*float64 `json:"distances"`
}

func (ix *Index) query(ctx context.Context, meta flavormonk.IndexMeta, vector []float32, k int, retried bool) ([]flavormonk.VectorHit, error) {
	c, err := ix.collection(ctx, false)
	if err != nil || c == nil {
		return nil, err
	}
	if c, err = ix.checkMeta(ctx, c, meta); err != nil || c == nil {
		return nil, err
	}
	req := map[string]any{
		"query_embeddings": [][]float32{vector},
		"n_results":        k,
		"include":          []string{"distances"},
	}
	var res queryReply
	if err := ix.do(ctx, http.MethodPost, ix.collURL(c, "query"), req, &res); err != nil {
		if statusOf(err) == http.StatusNotFound && !retried {
			// Dropped, perhaps re-created by a re-index elsewhere.
			ix.setCollection(nil)
			return ix.query(ctx, meta, vector, k, true)
		}
		return nil, ix.wrap(ctx, "query", err)
	}
	if len(res.IDs) == 0 {
		return nil, nil
	}
	hits := make([]flavormonk.VectorHit, 0, len(res.IDs[0]))
	for i, id := range res.IDs[0] {
		var d float64
		if len(res.Distances) > 0 && i < len(res.Distances[0]) && res.Distances[0][i] != nil {
			d = *res.Distances[0][i]
		}
		hits = append(hits, flavormonk.VectorHit{ID: id, Score: 1 - d})
	}
	return hits, nil
}

// getReply is the part of the get reply that is used.
type getReply struct {
	IDs       []string         `json:"ids"`
	Metadatas []map[string]any `json:"metadatas"`
}

// Hashes returns every id with its content hash, paging through the
// collection.
func (ix *Index) Hashes(ctx context.Context) (map[string]string, error) {
	if err := ix.check(); err != nil {
		return nil, err
	}
	lctx, cancel := ix.deadline(ctx, 1)
	c, err := ix.collection(lctx, false)
	cancel()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	if c == nil {
		return out, nil
	}
	for offset := 0; ; offset += pageSize {
		page, err := ix.page(ctx, c, offset)
		if err != nil {
			return nil, err
		}
		for i, id := range page.IDs {
			h := ""
			if i < len(page.Metadatas) && page.Metadatas[i] != nil {
				h, _ = page.Metadatas[i][hashKey].(string)
			}
			out[id] = h
		}
		if len(page.IDs) < pageSize {
			return out, nil
		}
	}
}

func (ix *Index) page(ctx context.Context, c *collection, offset int) (*getReply, error) {
	ctx, cancel := ix.deadline(ctx, writeFactor)
	defer cancel()
	req := map[string]any{"limit": pageSize, "offset": offset, "include": []string{"metadatas"}}
	var res getReply
	if err := ix.do(ctx, http.MethodPost, ix.collURL(c, "get"), req, &res); err != nil {
		return nil, ix.wrap(ctx, "list ids", err)
	}
	return &res, nil
}

// Count returns the number of items.
func (ix *Index) Count(ctx context.Context) (int, error) {
	if err := ix.check(); err != nil {
		return 0, err
	}
	ctx, cancel := ix.deadline(ctx, 1)
	defer cancel()
	c, err := ix.collection(ctx, false)
	if err != nil || c == nil {
		return 0, err
	}
	var n int
	if err := ix.do(ctx, http.MethodGet, ix.collURL(c, "count"), nil, &n); err != nil {
		if statusOf(err) == http.StatusNotFound {
			ix.setCollection(nil)
			return 0, nil
		}
		return 0, ix.wrap(ctx, "count", err)
	}
	return n, nil
}
