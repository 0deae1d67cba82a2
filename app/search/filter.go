package search

import (
	"slices"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// bitset is a set of doc numbers.
type bitset []uint64

func newBitset(n int) bitset       { return make(bitset, (n+63)/64) }
func (b bitset) set(i uint32)      { b[i>>6] |= 1 << (i & 63) }
func (b bitset) has(i uint32) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func bitsetOf(n int, l []uint32) bitset {
	b := newBitset(n)
	for _, d := range l {
		b.set(d)
	}
	return b
}
func (b bitset) and(o bitset) {
	for i := range b {
		b[i] &= o[i]
	}
}
func (b bitset) or(o bitset) {
	for i := range b {
		b[i] |= o[i]
	}
}

// filter is a query's filters compiled against a snapshot: the set-valued
// ones (tags, ingredients) into bitsets over docs, so checking a doc costs
// a few bit tests whatever the query.
type filter struct {
	allow    bitset // nil: no set-valued requirement
	deny     bitset // nil: nothing excluded
	dietMask uint8
	maxMin   int32
	empty    bool // no doc can pass (an unknown tag, an ingredient nothing has)
	any      bool // any filter at all
}

// ingredientSet returns the docs having an ingredient that contains every
// word of want, or nil when a word is not indexed at all. Each doc's
// ingredient lines per word are kept as a bit mask, so a phrase ("olive
// oil") is an intersection of posting lists and masks, with no string work.
func (s *snapshot) ingredientSet(want []string) bitset {
	ids := make([]uint32, len(want))
	short := -1
	for i, w := range want {
		id, ok := s.term(w)
		if !ok || len(s.ingDocs[id]) == 0 {
			return nil
		}
		ids[i] = id
		if short < 0 || len(s.ingDocs[id]) < len(s.ingDocs[ids[short]]) {
			short = i
		}
	}
	docs := s.ingDocs[ids[short]]
	b := newBitset(len(s.docs))
	if len(ids) == 1 {
		for _, d := range docs {
			b.set(d)
		}
		return b
	}
	lines := s.ingLines[ids[short]]
	for k, d := range docs {
		m := lines[k]
		for i, id := range ids {
			if i == short || m == 0 {
				continue
			}
			j, found := slices.BinarySearch(s.ingDocs[id], d)
			if !found {
				m = 0
				break
			}
			m &= s.ingLines[id][j]
		}
		switch {
		case m == 0:
		case m == 1<<63: // only lines past the 63rd can match: check them
			if s.docs[d].hasIngredient(ids) {
				b.set(d)
			}
		default:
			b.set(d)
		}
	}
	return b
}

func compileFilter(s *snapshot, include, exclude, tags []string, diets []flavormonk.Diet, maxMin int) *filter {
	f := &filter{maxMin: int32(maxMin)}
	restrict := func(b bitset) {
		if f.allow == nil {
			f.allow = b
		} else {
			f.allow.and(b)
		}
	}
	for _, it := range include {
		t := tokens(it)
		if len(t) == 0 {
			continue
		}
		f.any = true
		b := s.ingredientSet(t)
		if b == nil {
			f.empty = true
			return f
		}
		restrict(b)
	}
	for _, it := range exclude {
		t := tokens(it)
		if len(t) == 0 {
			continue
		}
		f.any = true
		if b := s.ingredientSet(t); b != nil {
			if f.deny == nil {
				f.deny = b
			} else {
				f.deny.or(b)
			}
		}
	}
	for _, tag := range tags {
		k := normTag(tag)
		if k == "" {
			continue
		}
		f.any = true
		l := s.tagDocs[k]
		if len(l) == 0 {
			f.empty = true
			return f
		}
		restrict(bitsetOf(len(s.docs), l))
	}
	for _, d := range diets {
		f.dietMask |= dietBit(d)
	}
	f.any = f.any || f.dietMask != 0 || f.maxMin > 0
	return f
}

func (f *filter) pass(s *snapshot, n uint32) bool {
	if f.maxMin > 0 {
		if m := s.docMinutes[n]; m == 0 || m > f.maxMin {
			return false
		}
	}
	return s.docDiet[n]&f.dietMask == f.dietMask &&
		(f.allow == nil || f.allow.has(n)) &&
		(f.deny == nil || !f.deny.has(n))
}

// hasIngredient reports whether one of the doc's ingredients contains all
// the words of want ("soy sauce" matches "low-sodium soy sauce").
func (d *doc) hasIngredient(want []uint32) bool {
	for _, ing := range d.ingredients {
		if containsAllIDs(ing, want) {
			return true
		}
	}
	return false
}

func containsAllIDs(have, want []uint32) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
