package flavormonk_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's architecture map names every folder of the app (and those
// under cmd/, inference/ and internal/) and of the infra program (and
// those under its cmd/), so a new package cannot go unexplained.
func TestREADMEMapsEveryFolder(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	start := strings.Index(readme, "## Architecture\n\n```\n")
	if start < 0 {
		t.Fatal("the README has no architecture map")
	}
	block := readme[start+len("## Architecture\n\n```\n"):]
	block = block[:strings.Index(block, "```")]
	var missing []string
	for _, parent := range []string{".", "cmd", "inference", "internal", "../infra", "../infra/cmd"} {
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.IsDir() || e.Name() == "testdata" || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			name := e.Name() + "/"
			if parent == "cmd" || parent == "../infra/cmd" {
				name = "cmd/" + name
			}
			if !strings.Contains(block, name) {
				missing = append(missing, filepath.Join(parent, e.Name()))
			}
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the README's architecture map does not name: %s", strings.Join(missing, ", "))
	}
}
