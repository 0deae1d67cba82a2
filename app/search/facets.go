package search

import (
	flavormonk "github.com/flavormonk/flavormonk/app"
)

// facets counts tags, cuisines and diets over every candidate, into
// arrays indexed by dense ids.
func (s *snapshot) facets(sc *scratch, res *Result) {
	tagN := growZero(&sc.tagN, len(s.tagNames))
	cuisN := growZero(&sc.cuisN, len(s.cuisines))
	var masks [256]int32
	for _, c := range sc.cands {
		for _, id := range s.docTags[c.doc] {
			tagN[id]++
		}
		if id := s.docCuisine[c.doc]; id >= 0 {
			cuisN[id]++
		}
		masks[s.docDiet[c.doc]]++
	}
	res.Facets["tag"] = countsToFacets(tagN, s.tagNames)
	res.Facets["cuisine"] = countsToFacets(cuisN, s.cuisines)
	var diets [8]int32
	for m, n := range masks {
		if n == 0 {
			continue
		}
		for i := range flavormonk.Diets {
			if m&(1<<i) != 0 {
				diets[i] += n
			}
		}
	}
	names := make([]string, len(flavormonk.Diets))
	for i, d := range flavormonk.Diets {
		names[i] = string(d)
	}
	res.Facets["diet"] = countsToFacets(diets[:len(names)], names)
}

func growZero(p *[]int32, n int) []int32 {
	if cap(*p) < n {
		*p = make([]int32, n)
	}
	b := (*p)[:n]
	clear(b)
	return b
}

// countsToFacets keeps the most frequent values, most frequent first, ties
// by name, with a bounded selection rather than a full sort.
func countsToFacets(counts []int32, names []string) []Facet {
	out := make([]Facet, 0, maxFacetValues)
	worse := func(a, b Facet) bool { // a ranks below b
		if a.Count != b.Count {
			return a.Count < b.Count
		}
		return a.Value > b.Value
	}
	for id, n := range counts {
		if n == 0 {
			continue
		}
		f := Facet{names[id], int(n)}
		if len(out) == maxFacetValues && !worse(out[len(out)-1], f) {
			continue
		}
		i := len(out)
		if i < maxFacetValues {
			out = append(out, f)
		} else {
			i--
		}
		for ; i > 0 && worse(out[i-1], f); i-- {
			out[i] = out[i-1]
		}
		out[i] = f
	}
	return out
}
