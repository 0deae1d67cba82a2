// Package cache holds the in-process flavormonk.Cache (an LRU with per-entry
// TTLs) and request coalescing against cache stampedes (Coalescer). Callers
// invalidate by putting a version in their keys (the web layer uses the
// search index's revision).
package cache

import (
	"container/list"
	"context"
	"strconv"
	"sync"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Limits of the in-memory cache.
const (
	// MaxValueBytes is the largest value Memory stores: a larger Set is an
	// ETOOLARGE error (and a miss for the caller).
	MaxValueBytes = 1 << 20
	// DefaultMaxBytes bounds the bytes of keys and values Memory keeps in
	// all; least recently used entries go first when it is exceeded.
	DefaultMaxBytes = 16 << 20
	// entryOverhead approximates the bookkeeping bytes of one entry (map
	// slot, list element, struct) so many tiny entries count too.
	entryOverhead = 96
)

// Memory is an in-process LRU cache with a TTL per entry. It implements
// flavormonk.Cache, is safe for concurrent use, and is bounded: at most
// maxEntries entries and DefaultMaxBytes bytes, values up to MaxValueBytes.
// Expired entries are dropped when they are read and, like any other, when
// they reach the cold end of the LRU list.
//
// A ttl <= 0 means the entry does not expire (it still leaves by LRU).
// Counters (Incr) are stored as decimal text, as in Redis, so Get reads them.
type Memory struct {
	maxEntries int
	maxBytes   int64
	// now is for TTLs, durations the Redis cache measures on its server's
	// clock: it stays the monotonic time.Now, never a faked Clock, so both
	// caches expire entries alike.
	now flavormonk.Clock

	mu     sync.Mutex
	items  map[string]*list.Element
	lru    *list.List // front = most recently used
	bytes  int64
	closed bool
}

type entry struct {
	key     string
	value   []byte
	expires time.Time // zero: never
}

func (e *entry) size() int64 { return int64(len(e.key) + len(e.value) + entryOverhead) }

var _ flavormonk.Cache = (*Memory)(nil)

// NewMemory returns an empty cache holding at most maxEntries entries. A
// maxEntries <= 0 (FLAVORMONK_CACHE_MAX_ENTRIES=0) turns caching off: Set
// keeps nothing, Get always misses, and Incr is an EUNAVAILABLE error.
func NewMemory(maxEntries int) *Memory {
	return &Memory{
		maxEntries: maxEntries,
		maxBytes:   DefaultMaxBytes,
		now:        time.Now,
		items:      make(map[string]*list.Element),
		lru:        list.New(),
	}
}

// Len returns the number of entries held, expired ones not yet dropped
// included.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}

func errClosed() error {
	return flavormonk.Errorf(flavormonk.EUNAVAILABLE, "cache: the in-memory cache is closed")
}

func (m *Memory) expired(e *entry, now time.Time) bool {
	return !e.expires.IsZero() && !now.Before(e.expires)
}

func (m *Memory) removeElement(el *list.Element) {
	e := el.Value.(*entry)
	m.lru.Remove(el)
	delete(m.items, e.key)
	m.bytes -= e.size()
}

// evict drops entries from the cold end until the limits hold.
func (m *Memory) evict() {
	for len(m.items) > m.maxEntries || m.bytes > m.maxBytes {
		back := m.lru.Back()
		if back == nil {
			return
		}
		m.removeElement(back)
	}
}

// Get returns a copy of the value stored under key.
func (m *Memory) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, false, errClosed()
	}
	el, ok := m.items[key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*entry)
	if m.expired(e, m.now()) {
		m.removeElement(el)
		return nil, false, nil
	}
	m.lru.MoveToFront(el)
	return append([]byte{}, e.value...), true, nil
}

// Set stores a copy of value under key for ttl (<= 0: no expiry).
func (m *Memory) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(value) > MaxValueBytes {
		return flavormonk.Errorf(flavormonk.ETOOLARGE, "cache: a value of %d bytes is over the limit of %d", len(value), MaxValueBytes)
	}
	v := append(make([]byte, 0, len(value)), value...)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed()
	}
	if m.maxEntries <= 0 {
		return nil
	}
	m.put(key, v, m.deadline(ttl))
	return nil
}

func (m *Memory) deadline(ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return m.now().Add(ttl)
}

// put stores an entry; m.mu is held.
func (m *Memory) put(key string, value []byte, expires time.Time) {
	if el, ok := m.items[key]; ok {
		e := el.Value.(*entry)
		m.bytes -= e.size()
		e.value, e.expires = value, expires
		m.bytes += e.size()
		m.lru.MoveToFront(el)
	} else {
		e := &entry{key: key, value: value, expires: expires}
		m.items[key] = m.lru.PushFront(e)
		m.bytes += e.size()
	}
	m.evict()
}

// Add stores a copy of value under key for ttl (<= 0: no expiry) only when
// the key is absent or expired, and says whether it did.
func (m *Memory) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if len(value) > MaxValueBytes {
		return false, flavormonk.Errorf(flavormonk.ETOOLARGE, "cache: a value of %d bytes is over the limit of %d", len(value), MaxValueBytes)
	}
	v := append(make([]byte, 0, len(value)), value...)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, errClosed()
	}
	if m.maxEntries <= 0 {
		return false, nil
	}
	if el, ok := m.items[key]; ok && !m.expired(el.Value.(*entry), m.now()) {
		return false, nil
	}
	m.put(key, v, m.deadline(ttl))
	return true, nil
}

// Delete removes the keys; absent keys are not an error.
func (m *Memory) Delete(ctx context.Context, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed()
	}
	for _, k := range keys {
		if el, ok := m.items[k]; ok {
			m.removeElement(el)
		}
	}
	return nil
}

// Incr adds one to the counter under key and returns the new value. An
// absent (or expired) counter starts at zero and gets the ttl; an existing
// one keeps its expiry. A value that is not a decimal integer is EINVALID.
func (m *Memory) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, errClosed()
	}
	if m.maxEntries <= 0 {
		return 0, flavormonk.Errorf(flavormonk.EUNAVAILABLE, "cache: the in-memory cache is off (FLAVORMONK_CACHE_MAX_ENTRIES=0)")
	}
	var n int64
	expires := m.deadline(ttl)
	if el, ok := m.items[key]; ok {
		e := el.Value.(*entry)
		if !m.expired(e, m.now()) {
			cur, err := strconv.ParseInt(string(e.value), 10, 64)
			if err != nil {
				return 0, flavormonk.Errorf(flavormonk.EINVALID, "cache: the value under %q is not an integer counter", key)
			}
			if cur == 1<<63-1 {
				return 0, flavormonk.Errorf(flavormonk.EINVALID, "cache: the counter under %q would overflow", key)
			}
			n, expires = cur, e.expires
		}
	}
	n++
	m.put(key, strconv.AppendInt(nil, n, 10), expires)
	return n, nil
}

// Ping reports whether the cache is open.
func (m *Memory) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errClosed()
	}
	return nil
}

// Close drops every entry; later calls fail with EUNAVAILABLE. Closing
// twice is not an error.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.items = make(map[string]*list.Element)
	m.lru.Init()
	m.bytes = 0
	return nil
}
