package quality

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/search"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// rel is the judged example worked by hand below.
var rel = map[string]int{"a": 2, "b": 1, "c": 2}

func TestMetricsByHand(t *testing.T) {
	// Ranking x a b y c; gains (2^rel − 1): 0 3 1 0 3.
	ranked := []string{"x", "a", "b", "y", "c"}
	// DCG@5 = 3/log2(3) + 1/log2(4) + 3/log2(6)
	//       = 1.8927892607 + 0.5 + 1.1605584217 = 3.5533476824
	// Ideal order a c b: 3/1 + 3/log2(3) + 1/log2(4) = 5.3927892607
	// nDCG@5 = 3.5533476824 / 5.3927892607 = 0.6589072019
	cases := []struct {
		k            int
		dcg, idcg    float64
		ndcg, recall float64
	}{
		{5, 3.5533476824179973, 5.392789260714372, 0.6589072019378878, 1},
		// At k = 3 c falls off: DCG 2.3927892607, ideal unchanged (three
		// relevant ids fit), nDCG 0.4437016069, recall 2/3.
		{3, 2.3927892607143724, 5.392789260714372, 0.4437016069115603, 2.0 / 3},
		// At k = 1 only x counts: nothing found, ideal 3/log2(2) = 3.
		{1, 0, 3, 0, 0},
		// k beyond the ranking changes nothing.
		{10, 3.5533476824179973, 5.392789260714372, 0.6589072019378878, 1},
	}
	for _, c := range cases {
		if got := DCG(ranked, rel, c.k); !near(got, c.dcg) {
			t.Errorf("DCG@%d = %.10f, want %.10f", c.k, got, c.dcg)
		}
		if got := IdealDCG(rel, c.k); !near(got, c.idcg) {
			t.Errorf("IDCG@%d = %.10f, want %.10f", c.k, got, c.idcg)
		}
		if got := NDCG(ranked, rel, c.k); !near(got, c.ndcg) {
			t.Errorf("nDCG@%d = %.10f, want %.10f", c.k, got, c.ndcg)
		}
		if got := Recall(ranked, rel, c.k); !near(got, c.recall) {
			t.Errorf("recall@%d = %.10f, want %.10f", c.k, got, c.recall)
		}
	}

	// The ideal ranking scores 1; equal grades may come in any order.
	for _, r := range [][]string{{"a", "c", "b"}, {"c", "a", "b", "x"}} {
		if got := NDCG(r, rel, 10); !near(got, 1) {
			t.Errorf("nDCG(%v) = %v, want 1", r, got)
		}
	}
	// Putting the grade-1 id first costs: DCG = 1 + 3/log2(3) + 3/2 =
	// 4.3927892607, nDCG = 0.8145672 (to 7 places).
	if got := NDCG([]string{"b", "a", "c"}, rel, 10); math.Abs(got-4.3927892607143724/5.392789260714372) > 1e-12 || math.Abs(got-0.8145672) > 1e-7 {
		t.Errorf("nDCG(b a c) = %.10f", got)
	}
	// A repeated id counts once, at its first position: "a a c" is "a c".
	if got := NDCG([]string{"a", "a", "c"}, map[string]int{"a": 2, "c": 2}, 2); !near(got, 1) {
		t.Errorf("nDCG with a repeat = %v, want 1", got)
	}
	if got := Recall([]string{"a", "a"}, rel, 10); !near(got, 1.0/3) {
		t.Errorf("recall with a repeat = %v, want 1/3", got)
	}
	// Nothing relevant, nothing returned.
	if NDCG([]string{"a"}, nil, 10) != 0 || Recall([]string{"a"}, nil, 10) != 0 {
		t.Error("empty judgments should score 0")
	}
	if NDCG(nil, rel, 10) != 0 || Recall(nil, rel, 10) != 0 {
		t.Error("an empty ranking should score 0")
	}
}

func TestEvaluate(t *testing.T) {
	judged := []Judged{
		{Query: "one", Kind: "dish", Relevant: rel},
		{Query: "two", Kind: "typo", Relevant: map[string]int{"z": 1}},
	}
	runs := map[string][]string{
		"one": {"x", "a", "b", "y", "c", "q"},
		"two": {"z"},
	}
	search := func(q string) ([]string, error) { return runs[q], nil }
	rep, err := Evaluate(judged, search, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Queries) != 2 || rep.K != 5 {
		t.Fatalf("report %+v", rep)
	}
	if !near(rep.Queries[0].NDCG, 0.6589072019378878) || !near(rep.Queries[1].NDCG, 1) {
		t.Fatalf("per query nDCG %v %v", rep.Queries[0].NDCG, rep.Queries[1].NDCG)
	}
	if !near(rep.MeanNDCG, (0.6589072019378878+1)/2) || !near(rep.MeanRecall, 1) {
		t.Fatalf("means %v %v", rep.MeanRecall, rep.MeanNDCG)
	}
	if len(rep.Queries[0].Ranked) != 5 {
		t.Fatalf("ranked kept %v, want the first 5", rep.Queries[0].Ranked)
	}

	// At k = 3, c is missed.
	rep3, _ := Evaluate(judged, search, 3)
	if got := rep3.Queries[0].Missed; len(got) != 1 || got[0] != "c" {
		t.Fatalf("missed %v", got)
	}
	if !near(rep3.MeanRecall, (2.0/3+1)/2) {
		t.Fatalf("mean recall@3 %v", rep3.MeanRecall)
	}

	var buf bytes.Buffer
	rep3.Name = "fake"
	if err := rep3.Write(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"fake", "recall@3", "nDCG@3", "one", "0.444", "MEAN (2 queries)", "0.833", "0.722"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	km := rep3.KindMeans()
	if len(km) != 2 || km[0].Kind != "dish" || !near(km[0].Recall, 2.0/3) || km[1].Queries != 1 {
		t.Errorf("kind means %+v", km)
	}

	boom := errors.New("boom")
	if _, err := Evaluate(judged, func(string) ([]string, error) { return nil, boom }, 5); !errors.Is(err, boom) {
		t.Errorf("search error: %v", err)
	}
	if _, err := Evaluate(judged, search, 0); err == nil {
		t.Error("k = 0 accepted")
	}
}

func TestCompare(t *testing.T) {
	a := Report{Queries: []QueryResult{{Query: "p", NDCG: 1, Recall: 1}, {Query: "q", NDCG: 0.5, Recall: 1}, {Query: "r", NDCG: 0.2, Recall: 0.5}}}
	b := Report{Queries: []QueryResult{{Query: "p", NDCG: 1, Recall: 1}, {Query: "q", NDCG: 0.4, Recall: 1}, {Query: "r", NDCG: 0.9, Recall: 1}}}
	d, err := Compare(a, b, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != 2 || d[0].Query != "r" || d[1].Query != "q" {
		t.Fatalf("deltas %+v", d)
	}
	if d, _ := Compare(a, b, 1); len(d) != 1 {
		t.Fatalf("limit: %+v", d)
	}
	b.Queries[0].Query = "other"
	if _, err := Compare(a, b, 5); err == nil {
		t.Error("mismatched reports compared")
	}
}

func TestLoadValidates(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "j.json")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ids := map[string]bool{"a": true, "b": true}
	j, err := Load(write(`{"queries":[{"query":"x","kind":"dish","relevant":{"a":2,"b":1}}]}`), ids)
	if err != nil || len(j) != 1 || j[0].Relevant["b"] != 1 || j[0].Kind != "dish" {
		t.Fatalf("valid file: %v %+v", err, j)
	}
	for _, bad := range []struct{ body, want string }{
		{`{"queries":[{"query":"x","relevant":{"nope":2}}]}`, `unknown recipe id "nope"`},
		{`{"queries":[{"query":"x","relevant":{"a":3}}]}`, "grade 3"},
		{`{"queries":[{"query":"x","relevant":{"a":0}}]}`, "grade 0"},
		{`{"queries":[{"query":"x","relevant":{}}]}`, "no relevant ids"},
		{`{"queries":[{"query":" ","relevant":{"a":1}}]}`, "empty"},
		{`{"queries":[{"query":"x","relevant":{"a":1}},{"query":"X","relevant":{"b":1}}]}`, "listed twice"},
		{`{"queries":[{"query":"x","relevant":{"a":1},"grades":1}]}`, "unknown field"},
		{`{"queries":[]}`, "no queries"},
	} {
		if _, err := Load(write(bad.body), ids); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: error %v, want %q", bad.body, err, bad.want)
		}
	}
	// Without an id set, ids are not checked.
	if _, err := Load(write(`{"queries":[{"query":"x","relevant":{"nope":2}}]}`), nil); err != nil {
		t.Errorf("nil ids: %v", err)
	}
}

// letters embeds a text as its letter counts: crude, but deterministic and
// enough to check the vector plumbing.
type letters struct{}

func (letters) Model() string   { return "test-letters" }
func (letters) Dimensions() int { return 26 }
func (letters) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, s := range texts {
		v := make([]float32, 26)
		for _, c := range strings.ToLower(s) {
			if c >= 'a' && c <= 'z' {
				v[c-'a']++
			}
		}
		out[i] = v
	}
	return out, nil
}

func TestHybridPlumbing(t *testing.T) {
	rs := []*flavormonk.Recipe{
		{ID: "zzz", Name: "Zzz", Steps: []flavormonk.Step{{Text: "Sleep."}}},
		{ID: "abc", Name: "Abc Soup", Steps: []flavormonk.Step{{Text: "Stir."}}},
		{ID: "soup", Name: "Tomato Soup", Steps: []flavormonk.Step{{Text: "Stir."}}},
	}
	ix := search.New()
	ix.Apply(rs, nil, 1)
	vs, err := EmbedRecipes(context.Background(), letters{}, rs, func(r *flavormonk.Recipe) string { return r.Name }, 2)
	if err != nil {
		t.Fatal(err)
	}
	if vs.Len() != 3 {
		t.Fatalf("embedded %d", vs.Len())
	}
	hits, err := vs.Nearest(context.Background(), "zz", 2)
	if err != nil || len(hits) != 2 || hits[0].ID != "zzz" || !near(hits[0].Score, 1) {
		t.Fatalf("nearest: %v %+v", err, hits)
	}
	// "zz" matches no word lexically; hybrid still finds zzz by its vector.
	lex, _ := Lexical(ix, 10)("zz")
	hyb, err := Hybrid(context.Background(), ix, vs, 10, 2)("zz")
	if err != nil {
		t.Fatal(err)
	}
	if len(hyb) == 0 || hyb[0] != "zzz" {
		t.Fatalf("lexical %v hybrid %v", lex, hyb)
	}
	got, _ := Lexical(ix, 10)("soup")
	if len(got) != 2 {
		t.Fatalf("lexical soup %v", got)
	}
}
