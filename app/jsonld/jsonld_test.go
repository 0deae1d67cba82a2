package jsonld_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/jsonld"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// sourceURLs gives some fixtures the URL they were "fetched" from.
var sourceURLs = map[string]string{
	"wordpress-graph.html": "https://spiceandrice.example/chicken-tikka-masala/",
	"entities.html":        "https://nana.example/pie/apple",
}

type result struct {
	Error   string               `json:"error,omitempty"`
	Recipes []*flavormonk.Recipe `json:"recipes,omitempty"`
	Rejects []jsonld.Reject      `json:"rejects,omitempty"`
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			recipes, rejects, err := jsonld.Parse(data, sourceURLs[name])
			var res result
			if err != nil {
				res.Error = flavormonk.ErrorCode(err) + ": " + err.Error()
			}
			res.Recipes, res.Rejects = recipes, rejects
			for _, r := range recipes {
				if err := r.Validate(); err != nil {
					t.Errorf("recipe %q does not validate: %v", r.Name, err)
				}
			}
			got, _ := json.MarshalIndent(res, "", "  ")
			got = append(got, '\n')
			golden := filepath.Join("testdata", "golden", strings.TrimSuffix(name, filepath.Ext(name))+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Parse(%s) differs from %s:\n%s", name, golden, got)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		code string
	}{
		{"malformed", `{"@type":"Recipe",`, flavormonk.EINVALID},
		{"trailing data", `{"@type":"Recipe"} {"x":1}`, flavormonk.EINVALID},
		{"too deep", strings.Repeat("[", 100) + strings.Repeat("]", 100), flavormonk.EINVALID},
		{"too large", `{"x":"` + strings.Repeat("a", jsonld.MaxDocumentBytes) + `"}`, flavormonk.ETOOLARGE},
		{"too many recipes", "[" + strings.TrimSuffix(strings.Repeat(`{"@type":"Recipe"},`, jsonld.MaxRecipes+1), ",") + "]", flavormonk.ETOOLARGE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := jsonld.Parse([]byte(tt.data), "")
			if got := flavormonk.ErrorCode(err); got != tt.code {
				t.Fatalf("error %v (code %s), want code %s", err, got, tt.code)
			}
		})
	}
	// Deep nesting inside strings is not nesting.
	deep := `{"@type":"Recipe","name":"` + strings.Repeat("[", 100) + `","recipeIngredient":["1 egg"],"recipeInstructions":"Boil."}`
	if recipes, _, err := jsonld.Parse([]byte(deep), ""); err != nil || len(recipes) != 1 {
		t.Fatalf("brackets in a string: %v, %d recipes", err, len(recipes))
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"PT1H30M", 90}, {"P0DT0H45M", 45}, {"PT90M", 90}, {"P1DT2H", 1560}, {"PT0.5H", 30},
		{"pt20m", 20}, {"PT45S", 1}, {"PT20S", 0}, {"PT0M", 0}, {"P0Y0M0DT0H30M0.000S", 30},
		{"P1W", 10080}, {"P14D", 20160}, {"PT1H0M", 60}, {"PT1,5H", 90},
		{"45 minutes", 45}, {"1 hour 20 min", 80}, {"1 hr 20 mins", 80}, {"1h30m", 90},
		{"1h 30m", 90}, {"2 hours", 120}, {"1 1/2 hours", 90}, {"1.5 hours", 90},
		{"45", 45}, {"about 30 minutes", 30}, {"20-25 minutes", 25}, {"1 day", 1440},
		{"2 Hours and 15 Minutes", 135}, {" 10 min. ", 10}, {"90 Min", 90},
	}
	for _, tt := range tests {
		got, err := jsonld.ParseDuration(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{
		"", "P", "PT", "garbage", "PT1X", "P1H", "PTM", "PT-5M", "-PT5M", "P15D", "P1Y", "P1M",
		"PT400H", "PT30M1H", "PT1H1H", "15 days", "1 hour 20", "minutes", "45 parsecs",
		"1e9 minutes", "99999999999999", "P" + strings.Repeat("1", 100) + "D", "0/0 h", "1 / 0 hours",
	} {
		if got, err := jsonld.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %d, want an error", bad, got)
		} else if flavormonk.ErrorCode(err) != flavormonk.EINVALID {
			t.Errorf("ParseDuration(%q): code %s", bad, flavormonk.ErrorCode(err))
		}
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"PT1H30M", "P0DT0H45M", "PT0.5H", "45 minutes", "1 hour 20 min", "1h30m", "20-25 min", "P1Y", "1 1/2 hours"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := jsonld.ParseDuration(s)
		if err != nil {
			if m != 0 || flavormonk.ErrorCode(err) != flavormonk.EINVALID {
				t.Fatalf("ParseDuration(%q) = %d, %v", s, m, err)
			}
			return
		}
		if m < 0 || m > jsonld.MaxDurationMinutes {
			t.Fatalf("ParseDuration(%q) = %d", s, m)
		}
	})
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.*")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recipes, rejects, err := jsonld.Parse(data, "https://example.com/r")
		if err != nil {
			var e *flavormonk.Error
			if flavormonk.ErrorCode(err) == flavormonk.EINTERNAL {
				t.Fatalf("untyped error %v (%T)", err, e)
			}
			return
		}
		ids := map[string]bool{}
		for _, r := range recipes {
			if err := r.Validate(); err != nil {
				t.Fatalf("recipe does not validate: %v", err)
			}
			if ids[r.ID] {
				t.Fatalf("duplicate id %s", r.ID)
			}
			ids[r.ID] = true
		}
		for _, r := range rejects {
			if r.Reason == "" {
				t.Fatalf("reject without a reason: %+v", r)
			}
		}
	})
}
