package vectortest

import (
	"context"
	"errors"
	"math"
	"sort"
	"sync"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// memIndex is a brute-force reference implementation: it checks that the
// suite itself is satisfiable and asks nothing beyond the interface.
type memIndex struct {
	mu     sync.RWMutex
	meta   flavormonk.IndexMeta
	items  map[string]flavormonk.VectorItem
	closed bool
}

func (m *memIndex) check(meta flavormonk.IndexMeta) error {
	if m.closed {
		return errors.New("closed")
	}
	if meta.Model == "" || meta.Dimensions <= 0 {
		return flavormonk.Errorf(flavormonk.EINVALID, "bad meta")
	}
	if m.meta != (flavormonk.IndexMeta{}) && m.meta != meta {
		return flavormonk.Errorf(flavormonk.EINVALID, "index built with %s, dimension %d; asked for %s, dimension %d", m.meta.Model, m.meta.Dimensions, meta.Model, meta.Dimensions)
	}
	return nil
}

func (m *memIndex) Meta(context.Context) (flavormonk.IndexMeta, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.meta, nil
}

func (m *memIndex) Upsert(_ context.Context, meta flavormonk.IndexMeta, items []flavormonk.VectorItem) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(meta); err != nil {
		return err
	}
	for _, it := range items {
		if it.ID == "" || len(it.Vector) != meta.Dimensions {
			return flavormonk.Errorf(flavormonk.EINVALID, "bad item")
		}
	}
	if len(items) > 0 {
		m.meta = meta
	}
	for _, it := range items {
		m.items[it.ID] = it
	}
	return nil
}

func (m *memIndex) Delete(_ context.Context, ids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("closed")
	}
	for _, id := range ids {
		delete(m.items, id)
	}
	return nil
}

func (m *memIndex) Query(_ context.Context, meta flavormonk.IndexMeta, v []float32, k int) ([]flavormonk.VectorHit, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.check(meta); err != nil {
		return nil, err
	}
	if k <= 0 || len(v) != meta.Dimensions {
		return nil, flavormonk.Errorf(flavormonk.EINVALID, "bad query")
	}
	var hits []flavormonk.VectorHit
	for _, it := range m.items {
		hits = append(hits, flavormonk.VectorHit{ID: it.ID, Score: cosine(v, it.Vector)})
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].Score > hits[j].Score })
	return hits[:min(k, len(hits))], nil
}

func (m *memIndex) Hashes(context.Context) (map[string]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := map[string]string{}
	for id, it := range m.items {
		out[id] = it.Hash
	}
	return out, nil
}

func (m *memIndex) Count(context.Context) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return 0, errors.New("closed")
	}
	return len(m.items), nil
}

func (m *memIndex) Ping(context.Context) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return errors.New("closed")
	}
	return nil
}

func (m *memIndex) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

func TestReference(t *testing.T) {
	Run(t, func(t *testing.T) flavormonk.VectorIndex {
		return &memIndex{items: map[string]flavormonk.VectorItem{}}
	})
}

func TestFixtureCosines(t *testing.T) {
	for _, f := range fixture {
		if got := cosine(Unit(0), f.v); math.Abs(got-f.cosine) > 1e-9 {
			t.Errorf("%s: cosine %v, fixture says %v", f.id, got, f.cosine)
		}
	}
}
