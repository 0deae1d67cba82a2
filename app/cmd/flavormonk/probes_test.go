package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// clientFrom is an HTTP client whose connections leave from the local
// address ip, as a load balancer's checks come from its own address.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func probe(t *testing.T, c *http.Client, base string) int {
	t.Helper()
	res, err := c.Get(base + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// probeSeries returns the lines of flavormonk_lb_probe_consecutive_ok from
// the real metrics listener.
func probeSeries(t *testing.T, m *Main) []string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(string(get(t, "http://"+m.MetricsAddr()+"/metrics").body), "\n") {
		if strings.HasPrefix(l, "flavormonk_lb_probe_consecutive_ok{") {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestLoadBalancerProbesCounted: /readyz checks from another address (a
// load balancer) are counted per source on /metrics; the host checking
// itself over loopback, and the forwarded-for header, are not.
func TestLoadBalancerProbesCounted(t *testing.T) {
	m := startMain(t, testConfig(t, nil))
	base := m.URL() // 127.0.0.1
	lb, self := clientFrom(t, "127.0.0.2"), clientFrom(t, "127.0.0.1")
	for i := range 3 {
		if code := probe(t, lb, base); code != http.StatusOK {
			t.Fatalf("probe %d: %d", i, code)
		}
		if code := probe(t, self, base); code != http.StatusOK {
			t.Fatalf("self check %d: %d", i, code)
		}
	}
	// A header naming another client changes nothing: the source is the peer.
	req, _ := http.NewRequest(http.MethodGet, base+"/readyz", nil)
	req.Header.Set("X-Forwarded-For", "127.0.0.3")
	res, err := self.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	got := probeSeries(t, m)
	want := []string{`flavormonk_lb_probe_consecutive_ok{source="127.0.0.2"} 3`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("series:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLoadBalancerProbesResetWhileDraining: once the app drains, its 503s
// reset the count, so a deploy never reads an old run of passes as the new
// process being admitted.
func TestLoadBalancerProbesResetWhileDraining(t *testing.T) {
	m, cancel, ran, asked, release, _ := startDraining(t, "30s")
	lb := clientFrom(t, "127.0.0.2")
	for range 2 {
		probe(t, lb, m.URL())
	}
	if got := probeSeries(t, m); len(got) != 1 || !strings.HasSuffix(got[0], " 2") {
		t.Fatalf("before the drain: %v, want 127.0.0.2 at 2", got)
	}
	cancel()
	select {
	case <-asked:
	case <-time.After(10 * time.Second):
		t.Fatal("Run never started draining")
	}
	if code := probe(t, lb, m.URL()); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while draining: %d, want 503", code)
	}
	if got := probeSeries(t, m); len(got) != 1 || !strings.HasSuffix(got[0], `{source="127.0.0.2"} 0`) {
		t.Fatalf("while draining: %v, want 127.0.0.2 at 0", got)
	}
	close(release)
	waitRun(t, ran, 10*time.Second)
}
