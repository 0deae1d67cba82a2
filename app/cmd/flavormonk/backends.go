package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/assistant"
	"github.com/flavormonk/flavormonk/app/backendmetrics"
	"github.com/flavormonk/flavormonk/app/cache"
	"github.com/flavormonk/flavormonk/app/chroma"
	"github.com/flavormonk/flavormonk/app/chromem"
	"github.com/flavormonk/flavormonk/app/config"
	"github.com/flavormonk/flavormonk/app/embed"
	"github.com/flavormonk/flavormonk/app/indexer"
	"github.com/flavormonk/flavormonk/app/redis"
	"github.com/flavormonk/flavormonk/app/search"
)

// vectorTimeout is the vector side's share of a search's time: past it,
// the search answers lexically.
const vectorTimeout = 250 * time.Millisecond

// openCache is the cache factory.
func openCache(ctx context.Context, cfg *config.Config) (flavormonk.Cache, error) {
	switch cfg.CacheBackend {
	case config.CacheNone:
		return nil, nil
	case config.CacheMemory:
		return cache.NewMemory(cfg.CacheMaxEntries), nil
	case config.CacheRedis:
		// Redis is a cache: an outage at start-up must not stop the app,
		// so the client is created without waiting for the server. Where
		// the client's own messages go is set once per process, in
		// runServe.
		return redis.New(redisOptions(cfg))
	}
	return nil, config.NotImplemented("FLAVORMONK_CACHE", cfg.CacheBackend)
}

// redisOptions are the Redis client's Options the configuration asks for.
// The key prefix is "fm:".
func redisOptions(c *config.Config) redis.Options {
	return redis.Options{
		Mode:           c.RedisMode,
		Addrs:          append([]string(nil), c.RedisAddrs...),
		Username:       c.RedisUsername,
		Password:       c.RedisPassword,
		DB:             c.RedisDB,
		TLS:            c.RedisTLS,
		SentinelMaster: c.RedisSentinelMaster,
		KeyPrefix:      "fm:",
	}
}

// openVectorIndex is the vector index factory; nil for none.
func openVectorIndex(ctx context.Context, cfg *config.Config) (flavormonk.VectorIndex, error) {
	switch cfg.VectorBackend {
	case config.VectorNone:
		return nil, nil
	case config.VectorEmbedded:
		return chromem.Open(cfg.VectorPath)
	case config.VectorChroma:
		opts := chroma.Options{URL: cfg.ChromaURL, Tenant: cfg.ChromaTenant, Database: cfg.ChromaDatabase,
			Collection: cfg.ChromaCollection, Token: cfg.ChromaToken}
		// The server may be down when the app starts: open it lazily.
		return &lazyIndex{open: func(ctx context.Context) (flavormonk.VectorIndex, error) { return chroma.Open(ctx, opts) }}, nil
	}
	return nil, config.NotImplemented("FLAVORMONK_VECTOR", cfg.VectorBackend)
}

// openSearch loads the lexical index from the store and composes the
// searcher over it: hybrid with the vector index when the tier asks for
// it, then cache-aside in the tier's cache. The assistant retrieves with
// the lexical index and the hybrid ranking, uncached.
func (m *Main) openSearch(ctx context.Context, reg prometheus.Registerer, bm *backendmetrics.Metrics) error {
	m.Index = search.New()
	if err := m.Index.Load(ctx, m.Store); err != nil {
		return fmt.Errorf("loading the search index: %w", err)
	}
	if err := search.RegisterMetrics(reg, m.Index); err != nil {
		return err
	}
	if err := m.openVectors(ctx); err != nil {
		return err
	}
	m.searcher = search.Lexical(m.Index)
	r := &assistant.SearchRetriever{Index: m.Index, Load: m.Store.Recipe}
	if m.hybrid() {
		m.searcher = search.Hybrid(m.Index, m.Vectors, search.HybridOptions{Timeout: vectorTimeout, Log: m.Log, Metrics: bm})
		r.Hybrid = m.searcher
	}
	m.retriever = r
	if m.Cache != nil {
		c, err := search.NewCached(m.searcher, m.Index, m.Cache, search.CacheOptions{TTL: m.Config.CacheTTL, Log: m.Log, Registerer: reg, Metrics: bm})
		if err != nil {
			return err
		}
		m.searcher = c
	}
	return nil
}

// hybrid reports whether search fuses vectors: a vector index is kept
// current whenever one is configured, but ranks only in hybrid mode.
func (m *Main) hybrid() bool {
	return m.Vectors != nil && m.Config.SearchMode == config.SearchHybrid
}

// openVectors opens the vector index and its embedder; none when the
// configuration has no vector index.
func (m *Main) openVectors(ctx context.Context) error {
	vi, err := openVectorIndex(ctx, m.Config)
	if err != nil || vi == nil {
		return err
	}
	emb, err := newEmbedder(m.Config)
	if err != nil {
		vi.Close()
		return err
	}
	m.Vectors = &indexer.Indexer{Store: m.Store, Embedder: emb, Index: vi, Text: embed.RecipeText, Log: m.Log}
	return nil
}

// lazyIndex opens a vector index on first use and again after a failure,
// at most every few seconds, so a server that is down at start-up or goes
// away later only degrades search.
type lazyIndex struct {
	open func(context.Context) (flavormonk.VectorIndex, error)

	mu      sync.Mutex
	idx     flavormonk.VectorIndex
	lastTry time.Time
	lastErr error
}

func (l *lazyIndex) get(ctx context.Context) (flavormonk.VectorIndex, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.idx != nil {
		return l.idx, nil
	}
	if time.Since(l.lastTry) < 2*time.Second && l.lastErr != nil {
		return nil, l.lastErr
	}
	l.lastTry = time.Now()
	octx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	idx, err := l.open(octx)
	if err != nil {
		l.lastErr = flavormonk.Errorf(flavormonk.EUNAVAILABLE, "vector index unavailable: %v", err)
		return nil, l.lastErr
	}
	l.idx, l.lastErr = idx, nil
	return idx, nil
}

func (l *lazyIndex) Meta(ctx context.Context) (flavormonk.IndexMeta, error) {
	i, err := l.get(ctx)
	if err != nil {
		return flavormonk.IndexMeta{}, err
	}
	return i.Meta(ctx)
}

func (l *lazyIndex) Upsert(ctx context.Context, meta flavormonk.IndexMeta, items []flavormonk.VectorItem) error {
	i, err := l.get(ctx)
	if err != nil {
		return err
	}
	return i.Upsert(ctx, meta, items)
}

func (l *lazyIndex) Delete(ctx context.Context, ids []string) error {
	i, err := l.get(ctx)
	if err != nil {
		return err
	}
	return i.Delete(ctx, ids)
}

func (l *lazyIndex) Query(ctx context.Context, meta flavormonk.IndexMeta, v []float32, k int) ([]flavormonk.VectorHit, error) {
	i, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return i.Query(ctx, meta, v, k)
}

func (l *lazyIndex) Hashes(ctx context.Context) (map[string]string, error) {
	i, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return i.Hashes(ctx)
}

func (l *lazyIndex) Count(ctx context.Context) (int, error) {
	i, err := l.get(ctx)
	if err != nil {
		return 0, err
	}
	return i.Count(ctx)
}

func (l *lazyIndex) Ping(ctx context.Context) error {
	i, err := l.get(ctx)
	if err != nil {
		return err
	}
	return i.Ping(ctx)
}

func (l *lazyIndex) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.idx != nil {
		return l.idx.Close()
	}
	return nil
}
