package main

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/single"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// bleveDoc is a recipe as bleve indexes it: the fields our index searches,
// nothing stored (results are ids, as ours are positions in its own docs).
type bleveDoc struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
	Cuisine     string   `json:"cuisine"`
	Category    string   `json:"category"`
	Ingredients []string `json:"ingredients"`
	Minutes     float64  `json:"minutes"`
	Diets       []string `json:"diets"`
}

func toBleveDoc(r *flavormonk.Recipe) bleveDoc {
	d := bleveDoc{Name: r.Name, Description: r.Description, Tags: r.Tags, Cuisine: r.Cuisine,
		Category: r.Category, Minutes: float64(r.Minutes())}
	for _, in := range r.Ingredients {
		item := in.Item
		if item == "" {
			item = in.Text
		}
		d.Ingredients = append(d.Ingredients, item)
	}
	for _, diet := range r.Diets {
		d.Diets = append(d.Diets, string(diet))
	}
	return d
}

// Query-time field boosts, as our index weights the fields.
var textFields = []struct {
	field string
	boost float64
}{
	{"name", 3}, {"description", 1}, {"tags", 2}, {"cuisine", 2}, {"category", 2}, {"ingredients", 2},
}

const kwLower = "keyword_lower"

// fuzzy is the -fuzzy flag: typo tolerance in bleve's text queries.
var fuzzy = true

// newMapping is the bleve equivalent of our index: English text (lowercase,
// stop words, stemming) for the searched fields; a lowercased keyword copy
// of tags, cuisine and category for filters and facets; a numeric total
// time; diets as keywords. Nothing is stored and nothing goes into _all.
func newMapping() (*mapping.IndexMappingImpl, error) {
	im := bleve.NewIndexMapping()
	im.ScoringModel = "bm25" // scorch only; the upside_down index falls back to tf-idf
	im.DefaultAnalyzer = en.AnalyzerName
	im.StoreDynamic, im.IndexDynamic, im.DocValuesDynamic = false, false, false
	if err := im.AddCustomAnalyzer(kwLower, map[string]any{
		"type":          custom.Name,
		"tokenizer":     single.Name,
		"token_filters": []string{lowercase.Name},
	}); err != nil {
		return nil, err
	}
	text := func(name string, vectors bool) *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Name, f.Analyzer = name, en.AnalyzerName
		f.Store, f.IncludeInAll, f.DocValues, f.IncludeTermVectors = false, false, false, vectors
		return f
	}
	kw := func(name, analyzer string) *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Name, f.Analyzer = name, analyzer
		f.Store, f.IncludeInAll, f.IncludeTermVectors, f.DocValues = false, false, false, true
		return f
	}
	dm := bleve.NewDocumentStaticMapping()
	dm.AddFieldMappingsAt("name", text("name", false))
	dm.AddFieldMappingsAt("description", text("description", false))
	for _, f := range []string{"tags", "cuisine", "category"} {
		dm.AddFieldMappingsAt(f, text(f, false), kw(f+"_kw", kwLower))
	}
	// Term vectors (positions) for the phrase queries of include/exclude.
	dm.AddFieldMappingsAt("ingredients", text("ingredients", true))
	num := bleve.NewNumericFieldMapping()
	num.Name, num.Store, num.IncludeInAll, num.DocValues = "minutes", false, false, false
	dm.AddFieldMappingsAt("minutes", num)
	dm.AddFieldMappingsAt("diets", kw("diets", keyword.Name))
	im.DefaultMapping = dm
	return im, nil
}

// buildBleve indexes the recipes in id order (so that score ties come out
// by id, as ours do) in batches of 1,000.
func buildBleve(ix bleve.Index, recipes []*flavormonk.Recipe) error {
	sorted := append([]*flavormonk.Recipe(nil), recipes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	b := ix.NewBatch()
	for i, r := range sorted {
		if err := b.Index(r.ID, toBleveDoc(r)); err != nil {
			return err
		}
		if b.Size() == 1000 || i == len(sorted)-1 {
			if err := ix.Batch(b); err != nil {
				return err
			}
			b = ix.NewBatch()
		}
	}
	return nil
}

// bleveQuery translates a synth query string into the bleve query that
// asks the same as our search.Query:
//   - each text word must match (a conjunction), in any searched field with
//     that field's boost (a disjunction), with one typo allowed in words of
//     four letters or more;
//   - filters do not score (BooleanQuery.Filter): total minutes at most
//     max_minutes, a diets term per diet, a tag that may be a tag, cuisine
//     or category (as our tag filter), a phrase on the ingredient items per
//     include ("soy sauce" matches "low-sodium soy sauce", not "soy ... fish
//     sauce", as ours);
//   - excludes as must-not phrases.
func bleveQuery(im mapping.IndexMapping, raw string) (query.Query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, err
	}
	bq := query.NewBooleanQuery(nil, nil, nil)
	var words []query.Query
	for _, w := range strings.Fields(strings.ToLower(v.Get("q"))) {
		// Words the analyzer drops (stop words) are dropped, as ours does;
		// a match query for them would match nothing.
		if len(im.AnalyzerNamed(en.AnalyzerName).Analyze([]byte(w))) == 0 {
			continue
		}
		var fields []query.Query
		for _, f := range textFields {
			m := query.NewMatchQuery(w)
			m.SetField(f.field)
			m.SetBoost(f.boost)
			if fuzzy && len(w) >= 4 {
				m.SetFuzziness(1)
			}
			fields = append(fields, m)
		}
		words = append(words, query.NewDisjunctionQuery(fields))
	}
	if len(words) > 0 {
		bq.AddMust(query.NewConjunctionQuery(words))
	}
	var filters []query.Query
	if s := v.Get("max_minutes"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("max_minutes %q: %w", s, err)
		}
		hi, yes := float64(n), true
		r := query.NewNumericRangeInclusiveQuery(nil, &hi, nil, &yes)
		r.SetField("minutes")
		filters = append(filters, r)
	}
	for _, d := range v["diet"] {
		t := query.NewTermQuery(d)
		t.SetField("diets")
		filters = append(filters, t)
	}
	for _, tag := range v["tag"] {
		tag = strings.ToLower(strings.TrimSpace(tag))
		var any []query.Query
		for _, f := range []string{"tags_kw", "cuisine_kw", "category_kw"} {
			t := query.NewTermQuery(tag)
			t.SetField(f)
			any = append(any, t)
		}
		filters = append(filters, query.NewDisjunctionQuery(any))
	}
	for _, in := range v["include"] {
		p := query.NewMatchPhraseQuery(in)
		p.SetField("ingredients")
		filters = append(filters, p)
	}
	if len(filters) > 0 {
		bq.AddFilter(query.NewConjunctionQuery(filters))
	}
	for _, ex := range v["exclude"] {
		p := query.NewMatchPhraseQuery(ex)
		p.SetField("ingredients")
		bq.AddMustNot(p)
	}
	if bq.Must == nil && bq.Filter == nil && bq.MustNot == nil {
		return query.NewMatchAllQuery(), nil
	}
	return bq, nil
}

// bleveRequest is one search: 20 hits by score, with facets on tags,
// cuisine and diets (as many values as ours returns, at most 30).
func bleveRequest(q query.Query) *bleve.SearchRequest {
	req := bleve.NewSearchRequestOptions(q, 20, 0, false)
	req.AddFacet("tag", bleve.NewFacetRequest("tags_kw", 30))
	req.AddFacet("cuisine", bleve.NewFacetRequest("cuisine_kw", 30))
	req.AddFacet("diet", bleve.NewFacetRequest("diets", 30))
	return req
}
