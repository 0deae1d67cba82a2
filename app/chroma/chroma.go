// Package chroma is a flavormonk.VectorIndex on a ChromaDB server, speaking
// its HTTP API v2 directly with net/http and encoding/json.
//
// It does not use github.com/amikos-tech/chroma-go: that client's v2 API
// (pkg/api/v2) imports its default embedding function, which pulls in
// github.com/yalue/onnxruntime_go and so needs cgo, while the container
// image is built with CGO_ENABLED=0 (ko, static base). The few endpoints
// used here are simple JSON.
//
// Vectors are precomputed by the app's embedder: the collection never embeds
// anything. It uses the cosine space; Score is 1 - Chroma's cosine distance.
// The collection is created on the first upsert, with metadata recording the
// embedding model and dimension; upserts and queries with another model or
// dimension are refused (EINVALID). Each item's content hash is its
// document metadata "hash".
//
// A server that is down, or answers with a 5xx, is an EUNAVAILABLE error;
// requests have short timeouts so that callers can fall back quickly.
package chroma

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Collection metadata keys.
const (
	MetaModel      = "flavormonk:model"
	MetaDimensions = "flavormonk:dimensions"
	hashKey        = "hash"
)

// Defaults.
const (
	DefaultTenant     = "default_tenant"
	DefaultDatabase   = "default_database"
	DefaultCollection = "recipes"
	DefaultTimeout    = 2 * time.Second
	// BatchSize is the most items one upsert request carries (the server's
	// own limit, from its pre-flight checks, is used when smaller).
	BatchSize = 1000
	// pageSize is the number of ids Hashes reads per request.
	pageSize = 1000
	// writeFactor scales Timeout for upserts, deletes and pages of ids,
	// which carry much more data and make the server do more work.
	writeFactor = 10
	// efSearch is the HNSW search breadth: higher than Chroma's 100 default
	// for better recall at small k.
	efSearch = 200
	// maxErrorBody bounds how much of an error reply is read.
	maxErrorBody = 64 << 10
)

// Options configures Open. URL is required; the rest have defaults.
type Options struct {
	URL        string // e.g. http://127.0.0.1:8000 (FLAVORMONK_CHROMA_URL)
	Tenant     string // default "default_tenant"
	Database   string // default "default_database"; created when missing
	Collection string // default "recipes"
	// Token, when set, is sent both as "Authorization: Bearer <token>" and
	// as "X-Chroma-Token: <token>", so that either server setting accepts it.
	Token string
	// Timeout bounds each read request (query, count, ping; default 2s);
	// writes and id pages get writeFactor times as long. Contexts with an
	// earlier deadline win. Connecting never waits more than 1s.
	Timeout time.Duration
	// HTTPClient replaces the default client (its Timeout is kept when set).
	HTTPClient *http.Client
}

// collection is what the index knows of its Chroma collection.
type collection struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	Metadata map[string]any `json:"metadata"`
}

// Index is a VectorIndex on one Chroma collection. It is safe for
// concurrent use.
type Index struct {
	opts Options
	base string // <URL>/api/v2
	dbp  string // <base>/tenants/<t>/databases/<db>
	hc   *http.Client

	mu     sync.Mutex
	coll   *collection          // nil until found or created
	meta   flavormonk.IndexMeta // recorded meta of coll
	closed bool
	batch  int
}

var _ flavormonk.VectorIndex = (*Index)(nil)

// Open connects to the server: it checks that it answers, ensures the
// tenant's database exists and looks up the collection (which is created on
// the first upsert). A server that does not answer is an EUNAVAILABLE error.
func Open(ctx context.Context, opts Options) (*Index, error) {
	if opts.URL == "" {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_CHROMA_URL", "must be set")
	}
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_CHROMA_URL", "%q is not an http(s) URL", opts.URL)
	}
	if opts.Tenant == "" {
		opts.Tenant = DefaultTenant
	}
	if opts.Database == "" {
		opts.Database = DefaultDatabase
	}
	if opts.Collection == "" {
		opts.Collection = DefaultCollection
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	hc := opts.HTTPClient
	if hc == nil {
		// No client-wide timeout: each operation's context has its own
		// deadline (reads Timeout, writes longer); dialing is always quick.
		hc = &http.Client{
			Transport: &http.Transport{
				Proxy:               http.ProxyFromEnvironment,
				DialContext:         (&net.Dialer{Timeout: min(opts.Timeout, time.Second), KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConns:        64,
				MaxIdleConnsPerHost: 64,
				IdleConnTimeout:     90 * time.Second,
			},
		}
	}
	base := strings.TrimRight(opts.URL, "/") + "/api/v2"
	ix := &Index{
		opts:  opts,
		base:  base,
		dbp:   base + "/tenants/" + url.PathEscape(opts.Tenant) + "/databases/" + url.PathEscape(opts.Database),
		hc:    hc,
		batch: BatchSize,
	}
	ctx, cancel := ix.deadline(ctx, 3)
	defer cancel()
	if err := ix.preflight(ctx); err != nil {
		ix.closeIdle()
		return nil, err
	}
	if err := ix.ensureDatabase(ctx); err != nil {
		ix.closeIdle()
		return nil, err
	}
	if _, err := ix.collection(ctx, false); err != nil {
		ix.closeIdle()
		return nil, err
	}
	return ix, nil
}

// preflight checks that the server answers and reads its batch size limit.
func (ix *Index) preflight(ctx context.Context) error {
	var pf struct {
		MaxBatchSize int `json:"max_batch_size"`
	}
	err := ix.do(ctx, http.MethodGet, ix.base+"/pre-flight-checks", nil, &pf)
	if statusOf(err) == http.StatusNotFound {
		// A server without pre-flight checks: its heartbeat will do.
		err = ix.do(ctx, http.MethodGet, ix.base+"/heartbeat", nil, nil)
	}
	if err != nil {
		return ix.wrap(ctx, "connect", err)
	}
	if pf.MaxBatchSize > 0 && pf.MaxBatchSize < ix.batch {
		ix.batch = pf.MaxBatchSize
	}
	return nil
}

// deadline bounds ctx by n request timeouts, unless it has an earlier one.
func (ix *Index) deadline(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	d := time.Duration(n) * ix.opts.Timeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// httpError is a reply with a status other than 2xx.
type httpError struct {
	Status  int
	Kind    string // Chroma's "error", e.g. "NotFoundError"
	Message string
}

func (e *httpError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Kind != "" {
		return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Kind, msg)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, msg)
}

// do sends a request with in as its JSON body (none when nil) and decodes
// a 2xx reply into out (discarded when nil). A non-2xx reply is an
// *httpError; anything else (transport, malformed reply) is returned as is.
func (ix *Index) do(ctx context.Context, method, u string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return flavormonk.Errorf(flavormonk.EINVALID, "chroma: encoding the request: %v", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ix.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+ix.opts.Token)
		req.Header.Set("X-Chroma-Token", ix.opts.Token)
	}
	resp, err := ix.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		he := &httpError{Status: resp.StatusCode}
		var er struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &er) == nil && (er.Error != "" || er.Message != "") {
			he.Kind, he.Message = er.Error, er.Message
		} else {
			he.Message = strings.TrimSpace(string(b))
		}
		return he
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber() // keeps metadata numbers (ints vs floats) as sent
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("malformed reply to %s %s: %w", method, u, err)
	}
	return nil
}

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

// Ping checks that the server answers its heartbeat.
func (ix *Index) Ping(ctx context.Context) error {
	if err := ix.check(); err != nil {
		return err
	}
	ctx, cancel := ix.deadline(ctx, 1)
	defer cancel()
	if err := ix.do(ctx, http.MethodGet, ix.base+"/heartbeat", nil, nil); err != nil {
		return ix.wrap(ctx, "heartbeat", err)
	}
	return nil
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

// Collection returns the collection's name.
func (ix *Index) Collection() string { return ix.opts.Collection }

// Close releases idle connections; later calls fail. It may be called more
// than once.
func (ix *Index) Close() error {
	ix.mu.Lock()
	if ix.closed {
		ix.mu.Unlock()
		return nil
	}
	ix.closed = true
	ix.coll = nil
	ix.mu.Unlock()
	ix.closeIdle()
	return nil
}

// closeIdle closes the idle connections of the client made by Open (never
// of a caller's client).
func (ix *Index) closeIdle() {
	if ix.opts.HTTPClient == nil {
		ix.hc.CloseIdleConnections()
	}
}

var errClosed = flavormonk.Errorf(flavormonk.EINVALID, "the chroma vector index is closed")

func (ix *Index) check() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return errClosed
	}
	return nil
}

// statusOf returns the HTTP status of an error from do, 0 for a transport
// error or none.
func statusOf(err error) int {
	var he *httpError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

// wrap turns an error from do into a flavormonk error: unreachable, timed
// out, malformed or 5xx → EUNAVAILABLE; 4xx → EINVALID/ENOTFOUND/ECONFLICT/
// ERATELIMIT (401/403 → EUNAVAILABLE: the server cannot be used).
func (ix *Index) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var fe *flavormonk.Error
	if errors.As(err, &fe) {
		return err
	}
	where := ix.opts.URL
	msg := err.Error()
	status := statusOf(err)
	var he *httpError
	if errors.As(err, &he) && he.Message != "" {
		msg = he.Message
	}
	switch {
	case status == 0 && errors.Is(ctx.Err(), context.Canceled):
		return &wrapped{flavormonk.Errorf(flavormonk.EUNAVAILABLE, "chroma %s: canceled", op), err}
	case status == 0:
		// Connection refused, DNS, timeouts, a malformed reply: all of them
		// mean the server cannot be used right now.
		return &wrapped{flavormonk.Errorf(flavormonk.EUNAVAILABLE, "chroma at %s is unavailable (%s): %s", where, op, msg), err}
	case status == http.StatusTooManyRequests:
		return &wrapped{flavormonk.Errorf(flavormonk.ERATELIMIT, "chroma %s: %s", op, msg), err}
	case status >= 500:
		return &wrapped{flavormonk.Errorf(flavormonk.EUNAVAILABLE, "chroma at %s failed (%s, HTTP %d): %s", where, op, status, msg), err}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return &wrapped{flavormonk.Errorf(flavormonk.EUNAVAILABLE, "chroma at %s refused the credentials (%s, HTTP %d); check FLAVORMONK_CHROMA_TOKEN", where, op, status), err}
	case status == http.StatusNotFound:
		return &wrapped{flavormonk.Errorf(flavormonk.ENOTFOUND, "chroma %s: %s", op, msg), err}
	case status == http.StatusConflict:
		return &wrapped{flavormonk.Errorf(flavormonk.ECONFLICT, "chroma %s: %s", op, msg), err}
	default:
		return &wrapped{flavormonk.Errorf(flavormonk.EINVALID, "chroma %s: %s", op, msg), err}
	}
}

// wrapped is a flavormonk error that keeps the underlying error as its cause.
type wrapped struct {
	fe    *flavormonk.Error
	cause error
}

func (w *wrapped) Error() string   { return w.fe.Error() }
func (w *wrapped) Unwrap() []error { return []error{w.fe, w.cause} }
