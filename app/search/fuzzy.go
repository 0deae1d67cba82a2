package search

import "sort"

// expansion is a vocabulary term standing in for a query term, with a
// weight below 1 when it was reached by a typo correction or a prefix.
type expansion struct {
	id     uint32
	weight float64
}

const (
	fuzzyWeight  = 0.7
	prefixWeight = 0.85
	maxExpansion = 8
	maxFuzzyMemo = 20000
)

func trigrams(t string) []string {
	p := "^" + t + "$"
	if len(p) < 3 {
		return []string{p}
	}
	out := make([]string, 0, len(p)-2)
	for i := 0; i+3 <= len(p); i++ {
		out = append(out, p[i:i+3])
	}
	return out
}

// maxEdits is the typo budget for a term of that length: none for short
// words, where a single edit makes another word.
func maxEdits(n int) int {
	switch {
	case n < 4:
		return 0
	case n < 8:
		return 1
	default:
		return 2
	}
}

// expand returns the indexed terms a query term stands for: itself when
// indexed; otherwise close spellings ("chiken" → "chicken"); and when
// prefix is set (the last word of a query typed so far) also completions.
func (s *snapshot) expand(t string, prefix bool) []expansion {
	id, exact := s.term(t)
	if exact && !prefix {
		return []expansion{{id, 1}}
	}
	key := t
	if prefix {
		key = "\x00" + t
	}
	if v, ok := s.fuzzyMemo.Load(key); ok {
		return v.([]expansion)
	}
	var out []expansion
	if exact {
		out = append(out, expansion{id, 1})
	}
	if prefix && len(t) >= 3 {
		i := sort.Search(len(s.sorted), func(i int) bool { return s.vocab[s.sorted[i]] >= t })
		for ; i < len(s.sorted) && len(out) < maxExpansion && hasPrefix(s.vocab[s.sorted[i]], t); i++ {
			if s.vocab[s.sorted[i]] != t {
				out = append(out, expansion{s.sorted[i], prefixWeight})
			}
		}
	}
	if !exact {
		out = append(out, s.typos(t)...)
	}
	if len(out) > maxExpansion {
		out = out[:maxExpansion]
	}
	if s.fuzzyN.Load() < maxFuzzyMemo {
		s.fuzzyN.Add(1)
		s.fuzzyMemo.Store(key, out)
	}
	return out
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// typos finds indexed terms within the edit budget, via shared trigrams,
// the most frequent first.
func (s *snapshot) typos(t string) []expansion {
	k := maxEdits(len(t))
	if k == 0 {
		return nil
	}
	counts := map[uint32]int{}
	gs := trigrams(t)
	for _, g := range gs {
		for _, id := range s.grams[g] {
			counts[id]++
		}
	}
	// A term within k edits shares at least len(grams) - 3k trigrams.
	need := len(gs) - 3*k
	if need < 1 {
		need = 1
	}
	type cand struct {
		id   uint32
		dist int
		df   int
	}
	var cands []cand
	for id, c := range counts {
		if c < need {
			continue
		}
		v := s.vocab[id]
		if d := len(v) - len(t); d > k || -d > k {
			continue
		}
		if d := editDistance(t, v, k); d <= k {
			cands = append(cands, cand{id, d, len(s.postings[id])})
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].dist != cands[j].dist {
			return cands[i].dist < cands[j].dist
		}
		if cands[i].df != cands[j].df {
			return cands[i].df > cands[j].df
		}
		return s.vocab[cands[i].id] < s.vocab[cands[j].id]
	})
	out := make([]expansion, 0, len(cands))
	for _, c := range cands {
		w := fuzzyWeight
		if c.dist > 1 {
			w = fuzzyWeight * fuzzyWeight
		}
		out = append(out, expansion{c.id, w})
	}
	return out
}

// editDistance is the optimal-string-alignment distance between a and b
// (insertions, deletions, substitutions, adjacent transpositions), or
// max+1 as soon as it must exceed max.
func editDistance(a, b string, max int) int {
	la, lb := len(a), len(b)
	if la > 64 || lb > 64 {
		return max + 1
	}
	var rows [3][65]int
	prev2, prev, cur := &rows[0], &rows[1], &rows[2]
	for j := 0; j <= lb; j++ {
		prev[j] = j
	}
	for i := 1; i <= la; i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= lb; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			best = min(best, v)
		}
		if best > max {
			return max + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[lb]
}
