package synth

import (
	"net/url"
	"reflect"
	"testing"
)

func TestGenerateDeterministicAndValid(t *testing.T) {
	a := Generate(2000, 7)
	b := Generate(2000, 7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("Generate is not deterministic for one seed")
	}
	if c := Generate(50, 8); reflect.DeepEqual(a[:50], c) {
		t.Fatal("different seeds gave the same recipes")
	}
	ids := map[string]bool{}
	for _, r := range a {
		if err := r.Validate(); err != nil {
			t.Fatalf("invalid recipe: %v", err)
		}
		if ids[r.ID] {
			t.Fatalf("duplicate id %s", r.ID)
		}
		ids[r.ID] = true
		if n := len(r.Ingredients); n < 5 || n > 12 {
			t.Fatalf("%s has %d ingredients", r.ID, n)
		}
		if n := len(r.Steps); n < 3 || n > 8 {
			t.Fatalf("%s has %d steps", r.ID, n)
		}
		if m := r.Minutes(); m < 5 || m > 240 {
			t.Fatalf("%s takes %d minutes", r.ID, m)
		}
	}
}

func TestVocabularyIsSkewed(t *testing.T) {
	v := Vocabulary(Generate(3000, 1))
	if len(v) < 200 {
		t.Fatalf("vocabulary of %d words", len(v))
	}
	if v[0].Count < 10*v[len(v)/2].Count {
		t.Fatalf("not Zipf-like: top %v, median %v", v[0], v[len(v)/2])
	}
}

func TestQueries(t *testing.T) {
	rs := Generate(10000, 1)
	qs := Queries(rs, 4000, 1)
	if !reflect.DeepEqual(qs, Queries(rs, 4000, 1)) {
		t.Fatal("Queries is not deterministic")
	}
	distinct, filtered := map[string]bool{}, 0
	for _, q := range qs {
		distinct[q] = true
		v, err := url.ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		if v.Has("include") || v.Has("exclude") || v.Has("tag") || v.Has("diet") || v.Has("max_minutes") {
			filtered++
		}
	}
	if len(distinct) < 1000 {
		t.Fatalf("%d distinct queries in 4000", len(distinct))
	}
	if filtered != len(qs)/3+1 && filtered != len(qs)/3 {
		t.Fatalf("%d of %d queries have filters", filtered, len(qs))
	}
}
