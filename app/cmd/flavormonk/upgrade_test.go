package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// service starts a disposable instance of a scripts/NAME.sh service on a
// free port and returns its URL and a stop function.
func service(t *testing.T, name string) (string, func()) {
	t.Helper()
	script := filepath.Join("..", "..", "..", "scripts", name+".sh")
	if _, err := os.Stat(script); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	dir := t.TempDir()
	out, err := exec.Command("bash", script, "start", "--port", port, "--dir", dir).Output()
	if err != nil {
		if os.Getenv("FLAVORMONK_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s: %v", name, err)
		}
		t.Skipf("%s cannot start here: %v", name, err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = exec.Command("bash", script, "stop", "--port", port, "--dir", dir).Run()
		}
	}
	t.Cleanup(stop)
	return strings.TrimSpace(string(out)), stop
}

// The upgrade tier on real services: hybrid search over ChromaDB, results
// cached in Redis; then Redis and ChromaDB stop and the app keeps serving
// from the store and the in-process index, reporting "degraded".
func TestUpgradeTierSurvivesOutages(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Redis and ChromaDB")
	}
	redisURL, stopRedis := service(t, "redis")
	chromaURL, stopChroma := service(t, "chroma")
	ru, err := url.Parse(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := ru.User.Password()
	cfg := testConfig(t, map[string]string{
		"FLAVORMONK_SEARCH":         "hybrid",
		"FLAVORMONK_VECTOR":         "chroma",
		"FLAVORMONK_CHROMA_URL":     chromaURL,
		"FLAVORMONK_CACHE":          "redis",
		"FLAVORMONK_REDIS_ADDRS":    ru.Host,
		"FLAVORMONK_REDIS_PASSWORD": pw,
		"FLAVORMONK_RATE_LIMIT":     "100000",
	})
	m := startMain(t, cfg)
	base := m.URL()

	// The vector index fills from the store in the background.
	deadline := time.Now().Add(60 * time.Second)
	for {
		n, err := m.Vectors.Index.Count(context.Background())
		if err == nil && n >= 60 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("vector index holds %d recipes (%v)", n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var res struct {
		Mode     string
		Degraded bool
		Total    int
	}
	r := get(t, base+"/api/v1/recipes?q=creamy+curry")
	res = decode[struct {
		Mode     string
		Degraded bool
		Total    int
	}](t, r)
	if r.status != 200 || res.Mode != "hybrid" || res.Degraded || res.Total == 0 {
		t.Fatalf("hybrid search: %d %s", r.status, r.body)
	}
	// Second time from the cache: same bytes, and the metric says hit.
	r2 := get(t, base+"/api/v1/recipes?q=creamy+curry")
	if !bytes.Equal(r.body, r2.body) {
		t.Fatal("cached answer differs")
	}
	metrics := string(get(t, "http://"+m.MetricsAddr()+"/metrics").body)
	if !strings.Contains(metrics, `flavormonk_cache_requests_total{result="hit"}`) {
		t.Fatalf("no cache hit counted:\n%s", grepLines(metrics, "flavormonk_cache"))
	}
	ready := get(t, base+"/readyz")
	if ready.status != 200 || !bytes.Contains(ready.body, []byte(`"cache":"ok"`)) || !bytes.Contains(ready.body, []byte(`"vector_index":"ok"`)) {
		t.Fatalf("readyz: %s", ready.body)
	}

	stopRedis()
	for i, q := range []string{"tofu", "lentil soup", "creamy curry"} {
		r := get(t, base+"/api/v1/recipes?q="+url.QueryEscape(q))
		if r.status != 200 {
			t.Fatalf("with Redis down, query %d: %d %s", i, r.status, r.body)
		}
	}
	stopChroma()
	start := time.Now()
	r = get(t, base+"/api/v1/recipes?q=spicy+noodles")
	took := time.Since(start)
	res = decode[struct {
		Mode     string
		Degraded bool
		Total    int
	}](t, r)
	if r.status != 200 || !res.Degraded || res.Total == 0 || took > 2*time.Second {
		t.Fatalf("with ChromaDB down: %d in %s: %s", r.status, took, r.body)
	}
	if page := do(t, "GET", base+"/?q=spicy+noodles", nil, map[string]string{"Accept": "text/html"}); page.status != 200 {
		t.Fatalf("search page with everything down: %d", page.status)
	}
	ready = get(t, base+"/readyz")
	if ready.status != 200 || !bytes.Contains(ready.body, []byte(`"vector_index":"degraded"`)) || !bytes.Contains(ready.body, []byte(`"cache":"degraded"`)) {
		t.Fatalf("readyz during the outage: %d %s", ready.status, ready.body)
	}
	metrics = string(get(t, "http://"+m.MetricsAddr()+"/metrics").body)
	if !strings.Contains(metrics, `flavormonk_fallbacks_total{backend="vector"}`) {
		t.Fatalf("no vector fallback counted:\n%s", grepLines(metrics, "fallback"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
