package probes_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/flavormonk/flavormonk/app/probes"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time          { return f.t }
func (f *fakeClock) advance(d time.Duration) { f.t = f.t.Add(d) }

func newCounter() (*probes.Counter, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	return probes.New(clk.now), clk
}

var (
	lb    = netip.MustParseAddr("10.0.0.5")
	lb2   = netip.MustParseAddr("10.0.0.6")
	local = netip.MustParseAddr("10.0.0.2")
)

func TestCountsConsecutiveOKAndResetsOnFailure(t *testing.T) {
	c, clk := newCounter()
	for range 3 {
		c.Count(lb, local, http.StatusOK)
		clk.advance(10 * time.Second)
	}
	if got := c.Sources(); got["10.0.0.5"] != 3 || len(got) != 1 {
		t.Fatalf("after 3 OKs: %v, want 10.0.0.5=3", got)
	}
	c.Count(lb, local, http.StatusServiceUnavailable)
	if got := c.Sources()["10.0.0.5"]; got != 0 {
		t.Fatalf("after a 503: %d, want 0", got)
	}
	c.Count(lb, local, http.StatusOK)
	if got := c.Sources()["10.0.0.5"]; got != 1 {
		t.Fatalf("after a 503 and an OK: %d, want 1", got)
	}
	// Only a 200 passes and only a 5xx fails: what else /readyz may
	// answer (a bad query, another method, a conditional GET) was not a
	// health check and leaves the count alone, so nobody can hold a
	// deploy back by sending such requests.
	for _, st := range []int{http.StatusNoContent, http.StatusNotModified, http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge} {
		c.Count(lb, local, st)
	}
	if got, ok := c.Sources()["10.0.0.5"]; !ok || got != 1 {
		t.Fatalf("after 204/304/400/405/413: %d (present %v), want 1, present", got, ok)
	}
	c.Count(lb, local, http.StatusInternalServerError)
	if got := c.Sources()["10.0.0.5"]; got != 0 {
		t.Fatalf("after a 500: %d, want 0", got)
	}
}

// A request a proxy forwarded is a customer's (through the load balancer,
// from its address): it is not a probe, whatever it is answered.
func TestForwardedRequestsAreNotProbes(t *testing.T) {
	c, _ := newCounter()
	req := func(h, v string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/readyz", nil)
		r.RemoteAddr = "10.0.0.5:40000"
		if h != "" {
			r.Header.Set(h, v)
		}
		return r
	}
	c.Observe(req("", ""), http.StatusOK)
	c.Observe(req("", ""), http.StatusOK)
	c.Observe(req("X-Forwarded-For", "203.0.113.9"), http.StatusServiceUnavailable)
	c.Observe(req("Forwarded", "for=203.0.113.9"), http.StatusServiceUnavailable)
	c.Observe(req("X-Forwarded-For", "203.0.113.9"), http.StatusOK)
	if got := c.Sources(); len(got) != 1 || got["10.0.0.5"] != 2 {
		t.Fatalf("got %v, want 10.0.0.5=2 (forwarded requests ignored)", got)
	}
}

func TestSourcesAreCountedApart(t *testing.T) {
	c, _ := newCounter()
	c.Count(lb, local, http.StatusOK)
	c.Count(lb, local, http.StatusOK)
	c.Count(lb2, local, http.StatusOK)
	c.Count(lb2, local, http.StatusInternalServerError)
	got := c.Sources()
	if got["10.0.0.5"] != 2 || got["10.0.0.6"] != 0 || len(got) != 2 {
		t.Fatalf("got %v, want 10.0.0.5=2 10.0.0.6=0", got)
	}
}

func TestForgetsSourceUnseenFor60s(t *testing.T) {
	c, clk := newCounter()
	c.Count(lb, local, http.StatusOK)
	clk.advance(probes.Forget - time.Millisecond)
	c.Count(lb2, local, http.StatusOK)
	if got := c.Sources(); len(got) != 2 {
		t.Fatalf("just under 60 s: %v, want both sources", got)
	}
	clk.advance(time.Millisecond)
	// No probe arrives: the scrape alone forgets it.
	if got := c.Sources(); len(got) != 1 || got["10.0.0.6"] != 1 {
		t.Fatalf("at 60 s: %v, want only 10.0.0.6", got)
	}
	// A forgotten source that comes back starts from 0.
	c.Count(lb, local, http.StatusOK)
	if got := c.Sources()["10.0.0.5"]; got != 1 {
		t.Fatalf("returning source: %d, want 1", got)
	}
}

func TestSkipsTheHostCheckingItself(t *testing.T) {
	c, _ := newCounter()
	c.Count(local, local, http.StatusOK)
	lo := netip.MustParseAddr("127.0.0.1")
	c.Count(lo, lo, http.StatusOK)
	// An IPv4 peer on a dual-stack listener may arrive mapped.
	c.Count(netip.MustParseAddr("::ffff:10.0.0.2"), local, http.StatusOK)
	c.Count(netip.Addr{}, local, http.StatusOK)
	if got := c.Sources(); len(got) != 0 {
		t.Fatalf("got %v, want no sources", got)
	}
	// Another loopback address is another source (a local load balancer
	// given its own source address).
	c.Count(netip.MustParseAddr("127.0.0.2"), lo, http.StatusOK)
	if got := c.Sources(); got["127.0.0.2"] != 1 || len(got) != 1 {
		t.Fatalf("got %v, want 127.0.0.2=1", got)
	}
}

func TestObserveUsesPeerAndLocalAddressNotHeaders(t *testing.T) {
	c, _ := newCounter()
	req := func(remote, localAddr string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/readyz", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Real-Ip", "203.0.113.9")
		if localAddr != "" {
			a := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(localAddr))
			r = r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, a))
		}
		return r
	}
	c.Observe(req("10.0.0.5:40000", "10.0.0.2:8080"), http.StatusOK)
	c.Observe(req("10.0.0.5:40001", "10.0.0.2:8080"), http.StatusOK)
	c.Observe(req("10.0.0.2:50000", "10.0.0.2:8080"), http.StatusOK)
	c.Observe(req("[2001:db8::1]:50000", "[2001:db8::2]:8080"), http.StatusOK)
	c.Observe(req("not an address", "10.0.0.2:8080"), http.StatusOK)
	got := c.Sources()
	if len(got) != 2 || got["10.0.0.5"] != 2 || got["2001:db8::1"] != 1 {
		t.Fatalf("got %v, want 10.0.0.5=2 2001:db8::1=1", got)
	}
}

func TestKeepsAtMostMaxSources(t *testing.T) {
	c, clk := newCounter()
	c.Count(lb, local, http.StatusOK)
	for i := range probes.MaxSources + 100 {
		c.Count(netip.AddrFrom4([4]byte{192, 0, 2 + byte(i/256), byte(i)}), local, http.StatusOK)
	}
	got := c.Sources()
	if len(got) != probes.MaxSources {
		t.Fatalf("%d sources kept, want %d", len(got), probes.MaxSources)
	}
	// The flood does not push out a source already known.
	c.Count(lb, local, http.StatusOK)
	if got := c.Sources()["10.0.0.5"]; got != 2 {
		t.Fatalf("known source after the flood: %d, want 2", got)
	}
	// Once the flood is forgotten, new sources are admitted again.
	clk.advance(probes.Forget)
	c.Count(lb2, local, http.StatusOK)
	if got := c.Sources(); len(got) != 1 || got["10.0.0.6"] != 1 {
		t.Fatalf("after the flood expired: %v, want only 10.0.0.6", got)
	}
}

func TestCollectorExposesGaugePerLiveSource(t *testing.T) {
	c, clk := newCounter()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	c.Count(lb, local, http.StatusOK)
	c.Count(lb, local, http.StatusOK)
	clk.advance(30 * time.Second)
	c.Count(lb2, local, http.StatusOK)
	want := `# HELP flavormonk_lb_probe_consecutive_ok %s
# TYPE flavormonk_lb_probe_consecutive_ok gauge
flavormonk_lb_probe_consecutive_ok{source="10.0.0.5"} 2
flavormonk_lb_probe_consecutive_ok{source="10.0.0.6"} 1
`
	help := helpText(t, reg)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(fmt.Sprintf(want, help))); err != nil {
		t.Fatal(err)
	}
	clk.advance(30 * time.Second)
	want = `# HELP flavormonk_lb_probe_consecutive_ok %s
# TYPE flavormonk_lb_probe_consecutive_ok gauge
flavormonk_lb_probe_consecutive_ok{source="10.0.0.6"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(fmt.Sprintf(want, help))); err != nil {
		t.Fatalf("after 10.0.0.5 went quiet for 60 s: %v", err)
	}
}

func helpText(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 {
		t.Fatalf("gather: %v, %d families", err, len(mfs))
	}
	return mfs[0].GetHelp()
}
