package search

import (
	"net/url"
	"strings"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

func TestParseQuery(t *testing.T) {
	v, _ := url.ParseQuery("q=chicken+curry&include=onion,garlic&include=rice&exclude=peanut&tag=quick&diet=VeganDiet&diet=gluten-free&max_minutes=30&limit=5&prefix=true")
	q, err := ParseQuery(v, 100)
	if err != nil {
		t.Fatal(err)
	}
	if q.Text != "chicken curry" || len(q.Include) != 3 || q.Exclude[0] != "peanut" || q.Tags[0] != "quick" ||
		len(q.Diets) != 2 || q.Diets[0] != flavormonk.DietVegan || q.MaxMinutes != 30 || q.Limit != 5 || !q.Prefix {
		t.Fatalf("%+v", q)
	}
	for _, bad := range []string{"limit=0", "limit=101", "limit=x", "max_minutes=abc", "max_minutes=0", "diet=carnivore", "prefix=maybe", "q=%ff"} {
		v, _ := url.ParseQuery(bad)
		if _, err := ParseQuery(v, 100); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// FuzzParseQuery feeds arbitrary query strings through the API's query
// parser and the index: either a clear invalid error or a result.
func FuzzParseQuery(f *testing.F) {
	ix := New()
	for _, s := range []string{"q=chicken&limit=5", "include=a,b&diet=vegan", "max_minutes=-1", "cursor=AAAA", `q="x"+NEAR+y*`, "q=%ff%fe", "limit=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseQuery(v, 100)
		if err != nil {
			if flavormonk.ErrorCode(err) != flavormonk.EINVALID {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		if _, err := ix.Search(q); err != nil && flavormonk.ErrorCode(err) != flavormonk.EINVALID {
			t.Fatalf("%q: search: %v", raw, err)
		}
	})
}

func TestParsePantry(t *testing.T) {
	v, _ := url.ParseQuery("have=egg,rice&have=onion&exclude=peanut&tag=quick&diet=vegan&max_minutes=30&max_missing=2&limit=5&staples=false&cursor=abc")
	q, err := ParsePantry(v, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Have) != 3 || q.Exclude[0] != "peanut" || q.Tags[0] != "quick" || len(q.Diets) != 1 || q.Diets[0] != flavormonk.DietVegan ||
		q.MaxMinutes != 30 || q.MaxMissing != 2 || q.Limit != 5 || !q.NoStaples || q.Cursor != "abc" {
		t.Fatalf("%+v", q)
	}
	for bad, field := range map[string]string{"have=egg&max_missing=201": "max_missing", "have=egg&max_missing=-1": "max_missing",
		"have=egg&staples=maybe": "staples", "have=egg&diet=carnivore": "diet", "have=egg&limit=101": "limit", "have=egg&max_minutes=0": "max_minutes"} {
		v, _ := url.ParseQuery(bad)
		_, err := ParsePantry(v, 100)
		fe, ok := err.(*flavormonk.Error)
		if !ok || fe.Code != flavormonk.EINVALID || fe.Field != field {
			t.Errorf("%s: %v; want EINVALID on %s", bad, err, field)
		}
	}
}

// The error messages are the API's: clients and the web tests read them.
func TestParseMessages(t *testing.T) {
	v, _ := url.ParseQuery("diet=" + strings.Repeat("x", 50))
	_, err := ParseQuery(v, 100)
	want := `diet: unknown diet "` + strings.Repeat("x", 40) + `…"; allowed: `
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("unknown diet: %v; want it to start %q", err, want)
	}
	v, _ = url.ParseQuery("limit=500")
	if _, err := ParseQuery(v, 100); err == nil || err.Error() != "limit: must be a whole number of results between 1 and 100" {
		t.Errorf("limit: %v", err)
	}
}

func TestPantryJSONQuery(t *testing.T) {
	no := false
	q, err := PantryJSON{Have: []string{"egg"}, Diets: []string{"vegetarian"}, Staples: &no, MaxMissing: 3, Limit: 7, Cursor: "c"}.Query(100)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Have) != 1 || len(q.Diets) != 1 || !q.NoStaples || q.MaxMissing != 3 || q.Limit != 7 || q.Cursor != "c" {
		t.Fatalf("%+v", q)
	}
	if q, _ := (PantryJSON{Have: []string{"egg"}}).Query(100); q.NoStaples {
		t.Error("staples left out turned staples off")
	}
	_, err = PantryJSON{Have: []string{"egg"}, Diets: []string{"carnivore"}}.Query(100)
	if err == nil || err.Error() != `diets: unknown diet "carnivore"` {
		t.Errorf("unknown diet: %v", err)
	}
	if _, err := (PantryJSON{Have: []string{"egg"}, Limit: 101}).Query(100); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Errorf("limit 101: %v", err)
	}
}
