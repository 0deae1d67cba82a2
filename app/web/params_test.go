package web

import (
	"net/url"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/search"
)

func TestParseSearch(t *testing.T) {
	v, _ := url.ParseQuery("q=chicken+curry&include=onion,garlic&include=rice&exclude=peanut&tag=quick&diet=VeganDiet&diet=gluten-free&max_minutes=30&limit=5&prefix=true")
	q, err := parseSearch(v, 100)
	if err != nil {
		t.Fatal(err)
	}
	if q.Text != "chicken curry" || len(q.Include) != 3 || q.Exclude[0] != "peanut" || q.Tags[0] != "quick" ||
		len(q.Diets) != 2 || q.Diets[0] != flavormonk.DietVegan || q.MaxMinutes != 30 || q.Limit != 5 || !q.Prefix {
		t.Fatalf("%+v", q)
	}
	for _, bad := range []string{"limit=0", "limit=101", "limit=x", "max_minutes=abc", "max_minutes=0", "diet=carnivore", "prefix=maybe", "q=%ff"} {
		v, _ := url.ParseQuery(bad)
		if _, err := parseSearch(v, 100); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// FuzzParseSearch feeds arbitrary query strings through the API's query
// parser and the index: either a clear invalid error or a result.
func FuzzParseSearch(f *testing.F) {
	ix := search.New()
	for _, s := range []string{"q=chicken&limit=5", "include=a,b&diet=vegan", "max_minutes=-1", "cursor=AAAA", `q="x"+NEAR+y*`, "q=%ff%fe", "limit=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseSearch(v, 100)
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
