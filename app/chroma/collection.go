package chroma

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

func (ix *Index) ensureDatabase(ctx context.Context) error {
	err := ix.do(ctx, http.MethodGet, ix.dbp, nil, nil)
	if err == nil {
		return nil
	}
	if statusOf(err) != http.StatusNotFound {
		return ix.wrap(ctx, "get database "+ix.opts.Database, err)
	}
	tenantURL := ix.base + "/tenants/" + url.PathEscape(ix.opts.Tenant)
	if err := ix.do(ctx, http.MethodGet, tenantURL, nil, nil); err != nil {
		if statusOf(err) != http.StatusNotFound {
			return ix.wrap(ctx, "get tenant "+ix.opts.Tenant, err)
		}
		err := ix.do(ctx, http.MethodPost, ix.base+"/tenants", map[string]any{"name": ix.opts.Tenant}, nil)
		if err != nil && statusOf(err) != http.StatusConflict {
			return ix.wrap(ctx, "create tenant "+ix.opts.Tenant, err)
		}
	}
	err = ix.do(ctx, http.MethodPost, tenantURL+"/databases", map[string]any{"name": ix.opts.Database}, nil)
	if err != nil && statusOf(err) != http.StatusConflict {
		return ix.wrap(ctx, "create database "+ix.opts.Database, err)
	}
	return nil
}

// collURL is the URL of the collection's endpoint op ("" for the
// collection itself), by id.
func (ix *Index) collURL(c *collection, op string) string {
	u := ix.dbp + "/collections/" + url.PathEscape(c.ID)
	if op != "" {
		u += "/" + op
	}
	return u
}

// collection returns the collection, looking it up when not known yet; nil
// (and no error) when it does not exist.
func (ix *Index) collection(ctx context.Context, refresh bool) (*collection, error) {
	ix.mu.Lock()
	if ix.closed {
		ix.mu.Unlock()
		return nil, errClosed
	}
	c := ix.coll
	ix.mu.Unlock()
	if c != nil && !refresh {
		return c, nil
	}
	var got collection
	err := ix.do(ctx, http.MethodGet, ix.dbp+"/collections/"+url.PathEscape(ix.opts.Collection), nil, &got)
	if err != nil {
		if statusOf(err) == http.StatusNotFound {
			ix.setCollection(nil)
			return nil, nil
		}
		return nil, ix.wrap(ctx, "get collection "+ix.opts.Collection, err)
	}
	if got.ID == "" {
		return nil, ix.wrap(ctx, "get collection "+ix.opts.Collection, errors.New("the reply has no collection id"))
	}
	ix.setCollection(&got)
	return &got, nil
}

func (ix *Index) setCollection(c *collection) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.coll = c
	ix.meta = flavormonk.IndexMeta{}
	if c != nil {
		ix.meta = metaOf(c.Metadata)
	}
}

func metaOf(md map[string]any) flavormonk.IndexMeta {
	var m flavormonk.IndexMeta
	if md == nil {
		return m
	}
	m.Model, _ = md[MetaModel].(string)
	switch n := md[MetaDimensions].(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			m.Dimensions = int(i)
		} else if f, err := n.Float64(); err == nil {
			m.Dimensions = int(f)
		}
	case float64:
		m.Dimensions = int(n)
	case int:
		m.Dimensions = n
	case int64:
		m.Dimensions = int(n)
	}
	return m
}

func (ix *Index) recorded() flavormonk.IndexMeta {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.meta
}

// Meta returns the recorded model and dimension, re-read from the server.
func (ix *Index) Meta(ctx context.Context) (flavormonk.IndexMeta, error) {
	ctx, cancel := ix.deadline(ctx, 1)
	defer cancel()
	c, err := ix.collection(ctx, true)
	if err != nil || c == nil {
		return flavormonk.IndexMeta{}, err
	}
	return ix.recorded(), nil
}

func validMeta(m flavormonk.IndexMeta) error {
	if m.Model == "" {
		return flavormonk.Errorf(flavormonk.EINVALID, "the embedding model is empty")
	}
	if m.Dimensions <= 0 {
		return flavormonk.Errorf(flavormonk.EINVALID, "the embedding dimension must be positive, got %d", m.Dimensions)
	}
	return nil
}

func mismatch(have, want flavormonk.IndexMeta) error {
	if have == want || have == (flavormonk.IndexMeta{}) {
		return nil
	}
	return flavormonk.Errorf(flavormonk.EINVALID,
		"index built with %s, dimension %d; this request uses %s, dimension %d; re-index to switch",
		have.Model, have.Dimensions, want.Model, want.Dimensions)
}

// checkMeta checks meta against the recorded one. On a mismatch it re-reads
// the collection first, since another replica may have re-indexed with
// another model; it returns the current collection, nil when it is gone.
func (ix *Index) checkMeta(ctx context.Context, c *collection, meta flavormonk.IndexMeta) (*collection, error) {
	if mismatch(ix.recorded(), meta) == nil {
		return c, nil
	}
	c, err := ix.collection(ctx, true)
	if err != nil || c == nil {
		return nil, err
	}
	if err := mismatch(ix.recorded(), meta); err != nil {
		return nil, err
	}
	return c, nil
}

// ensureCollection returns the collection, creating it with meta recorded,
// and checks meta against the recorded one.
func (ix *Index) ensureCollection(ctx context.Context, meta flavormonk.IndexMeta) (*collection, error) {
	c, err := ix.collection(ctx, false)
	if err != nil {
		return nil, err
	}
	if c != nil {
		if c, err = ix.checkMeta(ctx, c, meta); err != nil || c == nil {
			if err != nil {
				return nil, err
			}
			return ix.ensureCollection(ctx, meta) // dropped meanwhile
		}
		if ix.recorded() == meta {
			return c, nil
		}
		// A collection without our metadata (created by hand): record meta,
		// keeping its other keys (new_metadata replaces the whole map).
		md := make(map[string]any, len(c.Metadata)+2)
		for k, v := range c.Metadata {
			md[k] = v
		}
		md[MetaModel] = meta.Model
		md[MetaDimensions] = meta.Dimensions
		if err := ix.do(ctx, http.MethodPut, ix.collURL(c, ""), map[string]any{"new_metadata": md}, nil); err != nil {
			return nil, ix.wrap(ctx, "record index meta", err)
		}
		return ix.collection(ctx, true)
	}
	create := map[string]any{
		"name":          ix.opts.Collection,
		"get_or_create": true,
		"metadata": map[string]any{
			"hnsw:space":   "cosine",
			MetaModel:      meta.Model,
			MetaDimensions: meta.Dimensions,
		},
		"configuration": map[string]any{
			"hnsw": map[string]any{"space": "cosine", "ef_search": efSearch},
		},
	}
	var got collection
	if err := ix.do(ctx, http.MethodPost, ix.dbp+"/collections", create, &got); err != nil {
		return nil, ix.wrap(ctx, "create collection "+ix.opts.Collection, err)
	}
	if got.ID == "" {
		return nil, ix.wrap(ctx, "create collection "+ix.opts.Collection, errors.New("the reply has no collection id"))
	}
	ix.setCollection(&got)
	if have := ix.recorded(); have != meta {
		// Someone else created it first, possibly with another model.
		if err := mismatch(have, meta); err != nil {
			return nil, err
		}
		return ix.ensureCollection(ctx, meta)
	}
	return &got, nil
}

// Drop deletes the whole collection, meta included, so that the next
// upsert can record another model ("re-index to switch"). Dropping a
// collection that does not exist succeeds.
func (ix *Index) Drop(ctx context.Context) error {
	if err := ix.check(); err != nil {
		return err
	}
	ctx, cancel := ix.deadline(ctx, 3)
	defer cancel()
	err := ix.do(ctx, http.MethodDelete, ix.dbp+"/collections/"+url.PathEscape(ix.opts.Collection), nil, nil)
	ix.setCollection(nil)
	if err != nil && statusOf(err) != http.StatusNotFound {
		return ix.wrap(ctx, "drop collection "+ix.opts.Collection, err)
	}
	return nil
}
