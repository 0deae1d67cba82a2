package search

import "sort"

func sortFacets(fs []Facet) {
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].Count != fs[j].Count {
			return fs[i].Count > fs[j].Count
		}
		return fs[i].Value < fs[j].Value
	})
}
