package search

import (
	"encoding/json"
	"testing"
)

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	ix := fixture()
	for _, q := range []Query{{Text: "chicken"}, {Text: "chiken curry"}, {Limit: 2}, {Text: "nothing-here"}, {Text: "egg noodle", Limit: 1}} {
		res, err := ix.Search(q)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(res)
		got := res.AppendJSON(nil)
		if string(got) != string(want) {
			t.Fatalf("%+v:\n got %s\nwant %s", q, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "<a href=\"x\">&amp;</a>", "tab\there\n", "\xff\xfe", "line\u2028sep", "ünïcødé", "\x00\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s want %s", s, got, want)
		}
		var back string
		if err := json.Unmarshal(appendString(nil, s), &back); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFloatFormat(t *testing.T) {
	for _, f := range []float64{0, 1, 1.5, 12.3456, 1e-7, 1e21, 3.0001} {
		want, _ := json.Marshal(f)
		if got := appendFloat(nil, f); string(got) != string(want) {
			t.Errorf("%v: %s vs %s", f, got, want)
		}
	}
}
