package plan

import (
	"errors"
	"strings"
	"testing"
)

// TestServerImagePostgresMajor: the image decides the db server's
// PostgreSQL major, from the one table.
func TestServerImagePostgresMajor(t *testing.T) {
	for _, tc := range []struct {
		cloud, image, major string
	}{
		{"hetzner", "", "15"}, // the default image, debian-12
		{"hetzner", "debian-12", "15"},
		{"hetzner", "debian-13", "17"},
		{"hetzner", "ubuntu-24.04", "16"},
		{"digitalocean", "debian-13-x64", "17"},
		{"digitalocean", "ubuntu-24-04-x64", "16"},
	} {
		m := base(tc.cloud)
		if tc.image != "" {
			m["serverImage"] = tc.image
		}
		p, err := compile(m)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.cloud, tc.image, err)
		}
		if got := p.PostgresMajor(); got != tc.major {
			t.Errorf("%s %q: PostgresMajor %q, want %q", tc.cloud, tc.image, got, tc.major)
		}
	}
}

// TestUntestedImageRefused: an image outside the table fails by name and
// lists the tested ones with their majors.
func TestUntestedImageRefused(t *testing.T) {
	for cloud, image := range map[string]string{"hetzner": "debian-11", "digitalocean": "debian-13"} {
		m := base(cloud)
		m["serverImage"] = image
		_, err := compile(m)
		var pe *Error
		if !errors.As(err, &pe) || pe.Key != "serverImage" {
			t.Fatalf("%s %s: err %v, want a serverImage plan.Error", cloud, image, err)
		}
		for _, want := range append(imageNames(Cloud(cloud)), `"`+image+`"`, "tested", "17") {
			if !strings.Contains(pe.Message, want) {
				t.Errorf("%s: message %q lacks %q", cloud, pe.Message, want)
			}
		}
	}
}

// TestTestedImagesTable: every cloud has images, each once, with a major.
func TestTestedImagesTable(t *testing.T) {
	seen := map[string]bool{}
	for _, im := range TestedImages {
		k := string(im.Cloud) + "/" + im.Name
		if seen[k] || len(im.PostgresMajor) != 2 || im.Distribution == "" {
			t.Errorf("bad or repeated entry %+v", im)
		}
		seen[k] = true
	}
	for c := range catalogs {
		if len(imageNames(c)) == 0 {
			t.Errorf("%s has no tested image", c)
		}
	}
}
