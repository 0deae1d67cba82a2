package importer_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/importer"
	"github.com/flavormonk/flavormonk/app/safehttp"
	"github.com/flavormonk/flavormonk/app/sqlite"
)

// fakeStore keeps recipes in a map and answers UpsertRecipes like the real
// stores: all or nothing, created/updated/unchanged by content hash.
type fakeStore struct {
	flavormonk.Store // the methods the importer does not call panic
	mu               sync.Mutex
	recipes          map[string]*flavormonk.Recipe
	calls            int
	refuse           string // an id the store refuses as invalid
	down             bool
}

func newFakeStore() *fakeStore { return &fakeStore{recipes: map[string]*flavormonk.Recipe{}} }

func (s *fakeStore) UpsertRecipes(ctx context.Context, rs []*flavormonk.Recipe) ([]flavormonk.UpsertResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.down {
		return nil, flavormonk.Errorf(flavormonk.EUNAVAILABLE, "store is down")
	}
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			return nil, err
		}
		if r.ID == s.refuse {
			return nil, flavormonk.Errorf(flavormonk.EINVALID, "recipe %q refused", r.ID)
		}
	}
	out := make([]flavormonk.UpsertResult, len(rs))
	for i, r := range rs {
		old, ok := s.recipes[r.ID]
		switch {
		case !ok:
			out[i] = flavormonk.UpsertResult{ID: r.ID, Action: flavormonk.ActionCreated}
		case old.ContentHash() == r.ContentHash():
			out[i] = flavormonk.UpsertResult{ID: r.ID, Action: flavormonk.ActionUnchanged}
			continue
		default:
			out[i] = flavormonk.UpsertResult{ID: r.ID, Action: flavormonk.ActionUpdated}
		}
		c := *r
		s.recipes[r.ID] = &c
	}
	return out, nil
}

func (s *fakeStore) snapshot() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]string{}
	for id, r := range s.recipes {
		m[id] = r.ContentHash()
	}
	return m
}

func copyFixture(t *testing.T, name, dst string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "jsonld", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	write(t, dst, b)
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// recipeDir builds a directory like one a user would import.
func recipeDir(t *testing.T) string {
	dir := t.TempDir()
	copyFixture(t, "array.json", filepath.Join(dir, "array.json"))
	copyFixture(t, "wordpress-graph.html", filepath.Join(dir, "tikka.HTML"))
	copyFixture(t, "rejects.json", filepath.Join(dir, "rejects.json"))
	copyFixture(t, "malformed.json", filepath.Join(dir, "malformed.json"))
	copyFixture(t, "two-scripts.html", filepath.Join(dir, "soups", "two-scripts.htm"))
	copyFixture(t, "no-recipes.html", filepath.Join(dir, "soups", "about.html"))
	write(t, filepath.Join(dir, "notes.txt"), []byte("remember to buy saffron"))
	write(t, filepath.Join(dir, ".git", "config.json"), []byte("{}"))
	write(t, filepath.Join(dir, "huge.json"), bytes.Repeat([]byte(" "), importer.MaxFileBytes+1))
	return dir
}

func actions(rep *importer.Report) map[string]int {
	m := map[string]int{}
	for _, it := range rep.Items {
		m[it.Action]++
	}
	return m
}

func TestImportDir(t *testing.T) {
	ctx := context.Background()
	dir := recipeDir(t)
	st := newFakeStore()
	var notified [][]string
	im := &importer.Importer{Store: st, OnImported: func(ids []string) { notified = append(notified, ids) }}

	rep, err := im.Import(ctx, dir)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	t.Logf("first import:\n%s", out.String())
	if rep.Created != 7 || rep.Updated != 0 || rep.Unchanged != 0 || rep.Rejected != 4 || rep.Skipped != 1 || rep.Failed != 3 {
		t.Fatalf("totals %+v, items %v", *rep, actions(rep))
	}
	if len(rep.Items) != 15 {
		t.Fatalf("%d items", len(rep.Items))
	}
	text := strings.Join(strings.Fields(out.String()), " ") // independent of column widths
	for _, want := range []string{
		"created " + filepath.Join(dir, "array.json") + "#0 fluffy-buttermilk-pancakes-527e5b \"Fluffy Buttermilk Pancakes\"",
		"rejected " + filepath.Join(dir, "rejects.json") + "#1 — recipe has no name",
		"rejected " + filepath.Join(dir, "rejects.json") + "#4 \"Sourdough Starter\" — duplicate of recipe 3",
		"failed " + filepath.Join(dir, "malformed.json") + " — malformed JSON-LD",
		"failed " + filepath.Join(dir, "huge.json") + " — the file is larger than 5 MB",
		"failed " + filepath.Join(dir, "soups", "about.html") + " — no schema.org Recipe found",
		"skipped " + filepath.Join(dir, "notes.txt") + " — not a .json, .html or .htm file",
		"7 created, 0 updated, 0 unchanged, 4 rejected, 1 skipped, 3 failed",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(out.String(), ".git") {
		t.Error("report mentions .git")
	}
	if len(notified) != 1 || len(notified[0]) != 7 || len(st.recipes) != 7 {
		t.Fatalf("notified %v, %d stored", notified, len(st.recipes))
	}
	for _, it := range rep.Items {
		if it.Action == flavormonk.ActionCreated && st.recipes[it.ID] == nil {
			t.Errorf("reported %s created but it is not stored", it.ID)
		}
	}

	// Importing again changes nothing.
	before := st.snapshot()
	rep, err = im.Import(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 0 || rep.Updated != 0 || rep.Unchanged != 7 || rep.Rejected != 4 || len(notified) != 1 {
		t.Fatalf("second import: %+v, notified %d times", actions(rep), len(notified))
	}
	if !mapsEqual(before, st.snapshot()) {
		t.Fatal("a second import changed the store")
	}

	// An edited recipe is updated, the others stay unchanged.
	path := filepath.Join(dir, "array.json")
	b, _ := os.ReadFile(path)
	write(t, path, bytes.Replace(b, []byte("Whisk the flour"), []byte("Sift the flour"), 1))
	rep, err = im.Import(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Updated != 1 || rep.Unchanged != 6 || len(notified) != 2 || !slices.Equal(notified[1], []string{"fluffy-buttermilk-pancakes-527e5b"}) {
		t.Fatalf("after an edit: %+v, notified %v", actions(rep), notified)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestImportSingleSource(t *testing.T) {
	ctx := context.Background()
	dir := recipeDir(t)
	im := &importer.Importer{Store: newFakeStore()}

	rep, err := im.Import(ctx, filepath.Join(dir, "rejects.json"))
	if err != nil || rep.Created != 2 || rep.Rejected != 4 {
		t.Fatalf("rejects.json: %+v, %v", actions(rep), err)
	}
	var idx []int
	for _, it := range rep.Items {
		idx = append(idx, it.Index)
	}
	if !slices.Equal(idx, []int{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("items out of document order: %v", idx)
	}

	for _, tt := range []struct{ path, code string }{
		{filepath.Join(dir, "malformed.json"), flavormonk.EINVALID},
		{filepath.Join(dir, "huge.json"), flavormonk.ETOOLARGE},
		{filepath.Join(dir, "notes.txt"), flavormonk.EINVALID},
		{filepath.Join(dir, "soups", "about.html"), flavormonk.EINVALID},
		{filepath.Join(dir, "nope.json"), flavormonk.ENOTFOUND},
	} {
		_, err := im.Import(ctx, tt.path)
		if flavormonk.ErrorCode(err) != tt.code {
			t.Errorf("Import(%s): %v, want code %s", tt.path, err, tt.code)
		}
	}
}

func TestImportStoreRefusesOne(t *testing.T) {
	st := newFakeStore()
	st.refuse = "vegan-banana-pancakes-8cebdc"
	dir := recipeDir(t)
	rep, err := (&importer.Importer{Store: st}).Import(context.Background(), filepath.Join(dir, "array.json"))
	if err != nil || rep.Created != 1 || rep.Rejected != 1 {
		t.Fatalf("%+v, %v", actions(rep), err)
	}
	if st.recipes[st.refuse] != nil || rep.Items[1].Reason == "" {
		t.Fatalf("refused recipe: %+v", rep.Items[1])
	}
}

func TestImportStoreDown(t *testing.T) {
	st := newFakeStore()
	st.down = true
	rep, err := (&importer.Importer{Store: st}).Import(context.Background(), recipeDir(t))
	if flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
		t.Fatalf("err %v", err)
	}
	if st.calls != 1 {
		t.Fatalf("the importer went on after the store failed: %d calls", st.calls)
	}
	if rep == nil || rep.Failed == 0 {
		t.Fatalf("report %+v", rep)
	}
}

func TestImportCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := (&importer.Importer{Store: newFakeStore()}).Import(ctx, recipeDir(t))
	if err != context.Canceled {
		t.Fatalf("err %v", err)
	}
}

func TestImportURL(t *testing.T) {
	page, err := os.ReadFile("../jsonld/testdata/wordpress-graph.html")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/old":
			http.Redirect(w, r, "/chicken-tikka-masala/", http.StatusMovedPermanently)
		case "/chicken-tikka-masala/":
			w.Header().Set("Content-Type", "text/html")
			w.Write(page)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	st := newFakeStore()
	im := &importer.Importer{Store: st, Client: safehttp.New(safehttp.Options{AllowLoopback: true, Timeout: 5 * time.Second})}
	rep, err := im.Import(context.Background(), srv.URL+"/old")
	if err != nil || rep.Created != 1 {
		t.Fatalf("%+v, %v", rep, err)
	}
	r := st.recipes[rep.Items[0].ID]
	if r == nil || r.SourceURL != srv.URL+"/chicken-tikka-masala/" || r.ID != flavormonk.RecipeID(r.Name, r.SourceURL) {
		t.Fatalf("stored %+v", r)
	}
	if rep.Items[0].Source != srv.URL+"/old" {
		t.Fatalf("source %q", rep.Items[0].Source)
	}

	_, err = im.Import(context.Background(), srv.URL+"/missing")
	if flavormonk.ErrorCode(err) != flavormonk.ENOTFOUND {
		t.Fatalf("missing page: %v", err)
	}

	// Without the test-only loopback permission the same URL is refused.
	im.Client = safehttp.New(safehttp.Options{})
	rep, err = im.Import(context.Background(), srv.URL+"/old")
	if flavormonk.ErrorCode(err) != flavormonk.EFORBIDDEN || rep.Failed != 1 {
		t.Fatalf("loopback URL: %+v, %v", rep, err)
	}
	im.Client = nil // the default client refuses it too
	if _, err = im.Import(context.Background(), "http://127.0.0.1/"); flavormonk.ErrorCode(err) != flavormonk.EFORBIDDEN {
		t.Fatalf("default client: %v", err)
	}
}

// TestImportSQLite runs the idempotency check against the real embedded store.
func TestImportSQLite(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "flavormonk.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	im := &importer.Importer{Store: st}
	dir := recipeDir(t)
	first, err := im.Import(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := st.Revision(ctx)
	second, err := im.Import(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	rev2, _ := st.Revision(ctx)
	n, _ := st.CountRecipes(ctx)
	if first.Created != 7 || second.Unchanged != 7 || second.Created+second.Updated != 0 || rev != rev2 || n != 7 {
		t.Fatalf("first %v, second %v, revisions %d→%d, %d stored", actions(first), actions(second), rev, rev2, n)
	}
	// The page's mainEntityOfPage stands in for the URL a file does not have.
	id := flavormonk.RecipeID("Easy Chicken Tikka Masala", "https://spiceandrice.example/chicken-tikka-masala/")
	if r, err := st.Recipe(ctx, id); err != nil || len(r.Steps) != 5 || r.Steps[0].Section != "Marinate the chicken" {
		t.Fatalf("Recipe(%s) = %+v, %v", id, r, err)
	}
}
