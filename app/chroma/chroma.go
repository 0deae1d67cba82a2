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
	"context"
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
