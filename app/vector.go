package flavormonk

import (
	"context"
	"time"
)

// Embedder turns texts into vectors. Implementations: the built-in local
// embedder (offline, deterministic) and OpenAI-compatible embedding APIs.
type Embedder interface {
	// Embed returns one vector per text, each of Dimensions() floats.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	// Model names the model, e.g. "local-hash-v2" or "openai/text-embedding-3-small";
	// vector indexes record it and refuse queries from another model.
	Model() string
	Dimensions() int
}

// VectorItem is one recipe's vector in a vector index.
type VectorItem struct {
	ID     string
	Vector []float32
	// Hash is the content hash of the text that was embedded, so indexing
	// can skip recipes that did not change.
	Hash string
}

// VectorHit is one nearest neighbour: Score is the cosine similarity.
type VectorHit struct {
	ID    string
	Score float64
}

// IndexMeta is what a vector index was built with.
type IndexMeta struct {
	Model      string
	Dimensions int
}

// VectorIndex stores recipe vectors and finds the nearest ones (cosine).
// Implementations: chromem (embedded, a file) and chroma (ChromaDB server);
// both pass vectortest.Run.
type VectorIndex interface {
	// Meta returns what the index was built with; a zero IndexMeta for an
	// index that holds nothing yet.
	Meta(ctx context.Context) (IndexMeta, error)
	// Upsert adds or replaces items. The first upsert records meta; an
	// upsert or query with another model or dimension is an EINVALID error
	// ("index built with X, dimension N; re-index to switch").
	Upsert(ctx context.Context, meta IndexMeta, items []VectorItem) error
	Delete(ctx context.Context, ids []string) error
	// Query returns up to k hits, best first.
	Query(ctx context.Context, meta IndexMeta, vector []float32, k int) ([]VectorHit, error)
	// Hashes returns every stored id with its content hash.
	Hashes(ctx context.Context) (map[string]string, error)
	Count(ctx context.Context) (int, error)
	Ping(ctx context.Context) error
	Close() error
}

// Cache is a shared cache: results, pages, answers, counters. It is never
// the only copy of anything: callers treat every error as a miss.
// Implementations: in-memory and Redis; both pass cachetest.Run.
type Cache interface {
	// Get returns the value and whether it was there.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Delete(ctx context.Context, keys ...string) error
	// Incr adds one to a counter, creating it with the ttl when absent, and
	// returns the new value (rate limits shared across replicas).
	Incr(ctx context.Context, key string, ttl time.Duration) (int64, error)
	Ping(ctx context.Context) error
	Close() error
}

// CacheAdder is a Cache that can store a value only where its key is
// absent, atomically (Redis SET NX): a fill that must not overwrite a
// newer value, such as a session's logged-out marker. Both
// implementations have it.
type CacheAdder interface {
	// Add stores value under key for ttl unless the key holds a value, and
	// says whether it stored it.
	Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
}
