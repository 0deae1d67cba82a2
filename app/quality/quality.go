// Package quality measures search quality against a judged query set:
// queries written by reading the bundled recipes, each with the recipe ids
// that should rank and how well they answer it. It computes recall@k and
// nDCG@k per query and on average, so lexical and hybrid search can be
// compared and a regression in ranking shows up in a test.
package quality

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// Grades of relevance in a judged set.
const (
	Acceptable = 1 // answers the query, though not squarely
	Exact      = 2 // exactly what was asked
)

// Judged is one query with its relevant recipe ids and their grades (1 or
// 2). Ids not listed are judged not relevant.
type Judged struct {
	Query    string         `json:"query"`
	Relevant map[string]int `json:"relevant"`
	// Kind groups queries for reporting: dish, ingredient, cuisine, diet,
	// time, typo, semantic, phrase.
	Kind string `json:"kind,omitempty"`
}

type judgedFile struct {
	About   string   `json:"about,omitempty"`
	Queries []Judged `json:"queries"`
}

// BundledJudged is the judged query set over the bundled recipes
// (testdata/judged.json), built in so cmd/fmeval runs from any directory.
//
//go:embed testdata/judged.json
var BundledJudged []byte

// BundledJudgedPath is where BundledJudged lives, relative to the app module.
const BundledJudgedPath = "quality/testdata/judged.json"

// Load reads a judged query set and validates it: every query non-empty and
// distinct, every grade 1 or 2, and, when ids is not nil, every recipe id
// one of ids. All problems are reported at once.
func Load(path string, ids map[string]bool) ([]Judged, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	j, err := Parse(b, ids)
	if err != nil {
		return nil, fmt.Errorf("quality: %s: %w", path, err)
	}
	return j, nil
}

// Parse is Load for a judged set already read.
func Parse(b []byte, ids map[string]bool) ([]Judged, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f judgedFile
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if len(f.Queries) == 0 {
		return nil, errors.New("no queries")
	}
	var errs []error
	seen := map[string]bool{}
	for i, j := range f.Queries {
		q := strings.TrimSpace(j.Query)
		switch {
		case q == "":
			errs = append(errs, fmt.Errorf("query %d: empty", i+1))
			continue
		case seen[strings.ToLower(q)]:
			errs = append(errs, fmt.Errorf("query %q: listed twice", q))
		case len(j.Relevant) == 0:
			errs = append(errs, fmt.Errorf("query %q: no relevant ids", q))
		}
		seen[strings.ToLower(q)] = true
		for _, id := range sortedKeys(j.Relevant) {
			if g := j.Relevant[id]; g != Acceptable && g != Exact {
				errs = append(errs, fmt.Errorf("query %q: %s: grade %d, want 1 or 2", q, id, g))
			}
			if ids != nil && !ids[id] {
				errs = append(errs, fmt.Errorf("query %q: unknown recipe id %q", q, id))
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f.Queries, nil
}

// Recall is the share of the relevant ids (any grade) found in the first k
// of ranked. Repeated ids count once. It is 0 when nothing is relevant.
func Recall(ranked []string, relevant map[string]int, k int) float64 {
	n := 0
	for _, g := range relevant {
		if g > 0 {
			n++
		}
	}
	if n == 0 {
		return 0
	}
	found := 0
	for _, id := range topK(ranked, k) {
		if relevant[id] > 0 {
			found++
		}
	}
	return float64(found) / float64(n)
}

// DCG is the discounted cumulative gain of the first k of ranked:
// Σ (2^rel_i − 1) / log2(i + 1) over positions i = 1..k. Repeated ids
// count at their first position only.
func DCG(ranked []string, relevant map[string]int, k int) float64 {
	var dcg float64
	for i, id := range topK(ranked, k) {
		dcg += gain(relevant[id]) / math.Log2(float64(i+2))
	}
	return dcg
}

// IdealDCG is the DCG@k of the best possible ranking: the relevant ids by
// grade, highest first.
func IdealDCG(relevant map[string]int, k int) float64 {
	var grades []int
	for _, g := range relevant {
		if g > 0 {
			grades = append(grades, g)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(grades)))
	var dcg float64
	for i, g := range grades {
		if i >= k {
			break
		}
		dcg += gain(g) / math.Log2(float64(i+2))
	}
	return dcg
}

// NDCG is DCG@k divided by the ideal DCG@k, in [0, 1]; 0 when nothing is
// relevant.
func NDCG(ranked []string, relevant map[string]int, k int) float64 {
	ideal := IdealDCG(relevant, k)
	if ideal == 0 {
		return 0
	}
	return DCG(ranked, relevant, k) / ideal
}

func gain(grade int) float64 {
	if grade <= 0 {
		return 0
	}
	return math.Exp2(float64(grade)) - 1
}

// topK returns the first k distinct ids of ranked.
func topK(ranked []string, k int) []string {
	out := make([]string, 0, min(k, len(ranked)))
	seen := make(map[string]bool, k)
	for _, id := range ranked {
		if len(out) == k {
			break
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	return out
}

// QueryResult is one query's figures.
type QueryResult struct {
	Query  string
	Kind   string
	Recall float64
	NDCG   float64
	// Ranked is what the search returned, at most k ids.
	Ranked []string
	// Missed lists the relevant ids not in Ranked, best grade first.
	Missed []string
}

// Report is an evaluation of one search over a judged set.
type Report struct {
	Name       string // e.g. "lexical"; set by the caller, used by Write
	K          int
	Queries    []QueryResult
	MeanRecall float64
	MeanNDCG   float64
}

// Evaluate runs search for every judged query and scores its first k ids.
// A search error stops the evaluation.
func Evaluate(j []Judged, search func(q string) ([]string, error), k int) (Report, error) {
	if k <= 0 {
		return Report{}, fmt.Errorf("quality: k must be positive, got %d", k)
	}
	if len(j) == 0 {
		return Report{}, errors.New("quality: no judged queries")
	}
	rep := Report{K: k, Queries: make([]QueryResult, 0, len(j))}
	for _, q := range j {
		ranked, err := search(q.Query)
		if err != nil {
			return Report{}, fmt.Errorf("quality: searching %q: %w", q.Query, err)
		}
		ranked = topK(ranked, k)
		qr := QueryResult{
			Query:  q.Query,
			Kind:   q.Kind,
			Recall: Recall(ranked, q.Relevant, k),
			NDCG:   NDCG(ranked, q.Relevant, k),
			Ranked: ranked,
		}
		in := map[string]bool{}
		for _, id := range ranked {
			in[id] = true
		}
		for _, id := range sortedKeys(q.Relevant) {
			if !in[id] {
				qr.Missed = append(qr.Missed, id)
			}
		}
		sort.SliceStable(qr.Missed, func(a, b int) bool { return q.Relevant[qr.Missed[a]] > q.Relevant[qr.Missed[b]] })
		rep.MeanRecall += qr.Recall
		rep.MeanNDCG += qr.NDCG
		rep.Queries = append(rep.Queries, qr)
	}
	rep.MeanRecall /= float64(len(rep.Queries))
	rep.MeanNDCG /= float64(len(rep.Queries))
	return rep, nil
}

// KindMeans returns the mean recall and nDCG per query kind, kinds sorted.
func (r Report) KindMeans() []KindMean {
	acc := map[string]*KindMean{}
	for _, q := range r.Queries {
		m := acc[q.Kind]
		if m == nil {
			m = &KindMean{Kind: q.Kind}
			acc[q.Kind] = m
		}
		m.Queries++
		m.Recall += q.Recall
		m.NDCG += q.NDCG
	}
	out := make([]KindMean, 0, len(acc))
	for _, m := range acc {
		m.Recall /= float64(m.Queries)
		m.NDCG /= float64(m.Queries)
		out = append(out, *m)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Kind < out[b].Kind })
	return out
}

// KindMean is the mean figures over the queries of one kind.
type KindMean struct {
	Kind    string
	Queries int
	Recall  float64
	NDCG    float64
}

// Write prints the report as a table: one row per query, then the means.
func (r Report) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	name := r.Name
	if name == "" {
		name = "search"
	}
	fmt.Fprintf(tw, "%s\tkind\trecall@%d\tnDCG@%d\tmissed\n", name, r.K, r.K)
	for _, q := range r.Queries {
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%.3f\t%s\n", q.Query, q.Kind, q.Recall, q.NDCG, strings.Join(q.Missed, " "))
	}
	fmt.Fprintf(tw, "MEAN (%d queries)\t\t%.3f\t%.3f\t\n", len(r.Queries), r.MeanRecall, r.MeanNDCG)
	return tw.Flush()
}

// Delta is one query's figures under two searches.
type Delta struct {
	Query        string
	Kind         string
	RecallA      float64
	RecallB      float64
	NDCGA, NDCGB float64
}

// Compare pairs the queries of two reports over the same judged set and
// returns the n where nDCG differs most (then recall), largest first;
// queries scoring the same under both are left out.
func Compare(a, b Report, n int) ([]Delta, error) {
	if len(a.Queries) != len(b.Queries) {
		return nil, fmt.Errorf("quality: reports cover %d and %d queries", len(a.Queries), len(b.Queries))
	}
	var out []Delta
	for i, qa := range a.Queries {
		qb := b.Queries[i]
		if qa.Query != qb.Query {
			return nil, fmt.Errorf("quality: query %d is %q in one report and %q in the other", i+1, qa.Query, qb.Query)
		}
		d := Delta{Query: qa.Query, Kind: qa.Kind, RecallA: qa.Recall, RecallB: qb.Recall, NDCGA: qa.NDCG, NDCGB: qb.NDCG}
		if d.NDCGA == d.NDCGB && d.RecallA == d.RecallB {
			continue
		}
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool {
		di, dj := math.Abs(out[i].NDCGB-out[i].NDCGA), math.Abs(out[j].NDCGB-out[j].NDCGA)
		if di != dj {
			return di > dj
		}
		return math.Abs(out[i].RecallB-out[i].RecallA) > math.Abs(out[j].RecallB-out[j].RecallA)
	})
	if n >= 0 && len(out) > n {
		out = out[:n]
	}
	return out, nil
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
