package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// flavormonk index embeds only what changed; export and import move the
// embeddings to another index; a file from another model is refused.
func TestIndexCommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("FLAVORMONK_SQLITE_PATH", filepath.Join(dir, "fm.db"))
	t.Setenv("FLAVORMONK_VECTOR", "embedded")
	t.Setenv("FLAVORMONK_VECTOR_PATH", filepath.Join(dir, "a.vectors"))
	ctx := context.Background()
	var out, errb bytes.Buffer
	if err := run(ctx, []string{"import", filepath.Join("..", "..", "recipes", "data")}, &out, &errb); err != nil {
		t.Fatalf("import: %v", err)
	}
	out.Reset()
	if err := run(ctx, []string{"index"}, &out, &errb); err != nil {
		t.Fatalf("index: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "unchanged 0") || strings.Contains(out.String(), "embedded 0,") {
		t.Fatalf("first index run: %s", out.String())
	}
	if !strings.Contains(errb.String(), "indexed ") {
		t.Fatalf("no progress lines on a non-terminal: %q", errb.String())
	}
	out.Reset()
	if err := run(ctx, []string{"index"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "embedded 0,") {
		t.Fatalf("second run re-embedded unchanged recipes: %s", out.String())
	}
	file := filepath.Join(dir, "emb.jsonl")
	out.Reset()
	if err := run(ctx, []string{"index", "export", file}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FLAVORMONK_VECTOR_PATH", filepath.Join(dir, "b.vectors"))
	out.Reset()
	if err := run(ctx, []string{"index", "import", file}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "imported 8") {
		t.Fatalf("import: %s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"index"}, &out, &errb); err != nil || !strings.Contains(out.String(), "embedded 0,") {
		t.Fatalf("after import nothing should need embedding: %v %s", err, out.String())
	}
	// A file made with another model is refused, naming both.
	b, _ := os.ReadFile(file)
	bad := strings.Replace(string(b), "local-hash-v2", "openai/text-embedding-3-small", 1)
	if err := os.WriteFile(file, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(ctx, []string{"index", "import", file}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "text-embedding-3-small") || !strings.Contains(err.Error(), "local-hash-v2") {
		t.Fatalf("foreign model: %v", err)
	}
	t.Setenv("FLAVORMONK_VECTOR", "none")
	if err := run(ctx, []string{"index"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "FLAVORMONK_VECTOR") {
		t.Fatalf("index without a vector index: %v", err)
	}
}
