// Package probes counts the health checks a load balancer sends to
// /readyz, per source address, so that a deploy on the host can tell when
// the load balancer has admitted the restarted server again. DigitalOcean's
// API reports no per-droplet health; the load balancer's own probes, as
// the app sees them, are the only witness. The deploy script reads the
// counts from the private /metrics listener
// (flavormonk_lb_probe_consecutive_ok{source="<ip>"}) and moves on once
// every live source has passed the load balancer's healthy threshold.
package probes

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

const (
	// Forget is how long a source stays without a probe before it is
	// dropped: several intervals of any load balancer's check (10 s on
	// DigitalOcean and Hetzner), so a live prober never drops out, while a
	// load balancer node that went away stops holding a deploy back.
	Forget = 60 * time.Second
	// MaxSources bounds the sources kept. /readyz is reachable by whoever
	// reaches the listener, and a flood of addresses must not grow memory;
	// a load balancer probes from a handful.
	MaxSources = 64
)

// Counter keeps, per probe source, the consecutive 200 answers since the
// process started. It is a prometheus.Collector: forgotten sources leave
// at scrape time as well as on the next probe.
type Counter struct {
	clock flavormonk.Clock
	desc  *prometheus.Desc

	mu      sync.Mutex
	sources map[netip.Addr]*source
}

type source struct {
	ok   int
	seen time.Time
}

var _ prometheus.Collector = (*Counter)(nil)

// New returns an empty Counter reading the time from clock.
func New(clock flavormonk.Clock) *Counter {
	return &Counter{
		clock: clock,
		desc: prometheus.NewDesc("flavormonk_lb_probe_consecutive_ok",
			"Consecutive 200 answers of /readyz per probe source (the direct peer address) since the process started; 0 after a 5xx, gone after 60 s unseen. Requests from the host's own address and forwarded requests are not counted.",
			[]string{"source"}, nil),
		sources: map[netip.Addr]*source{},
	}
}

// Observe counts one /readyz answer with the given status. The source is
// the direct peer (RemoteAddr): a forwarded-for header names whoever the
// proxy says, and a load balancer's checks come to the server directly.
// A request from the connection's own local address is the host checking
// itself (the deploy script's local wait) and is not counted; nor is a
// request whose peer cannot be parsed, nor one a proxy forwarded (it
// carries X-Forwarded-For or Forwarded: a customer's request through the
// load balancer comes from the balancer's address too, and must not be
// able to reset its checks' count — a load balancer's own checks carry
// neither header).
func (c *Counter) Observe(r *http.Request, status int) {
	if r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("Forwarded") != "" {
		return
	}
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return
	}
	var local netip.Addr
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			local = ap.Addr()
		}
	}
	c.Count(peer.Addr(), local, status)
}

// Count counts one answer from peer on a connection accepted at local
// (the zero Addr when unknown).
func (c *Counter) Count(peer, local netip.Addr, status int) {
	peer, local = peer.Unmap().WithZone(""), local.Unmap().WithZone("")
	if !peer.IsValid() || peer == local {
		return
	}
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(now)
	s := c.sources[peer]
	if s == nil {
		// Full: the sources already known keep their counts. Evicting one
		// for a newcomer would let a flood of addresses reset the load
		// balancer's progress.
		if len(c.sources) >= MaxSources {
			return
		}
		s = &source{}
		c.sources[peer] = s
	}
	s.seen = now
	// Only a 200 is a pass and only a 5xx a failure (503: draining or the
	// store unreachable). A 4xx, 3xx or 204 answers a request that was not
	// a health check (a bad query, another method, a conditional GET), and
	// must not reset the count a deploy waits on.
	switch {
	case status == http.StatusOK:
		s.ok++
	case status >= 500:
		s.ok = 0
	}
}

// expire drops the sources unseen for Forget; c.mu is held.
func (c *Counter) expire(now time.Time) {
	for a, s := range c.sources {
		if now.Sub(s.seen) >= Forget {
			delete(c.sources, a)
		}
	}
}

// Sources returns each live source's count, keyed by its address.
func (c *Counter) Sources() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire(c.clock.Now())
	m := make(map[string]int, len(c.sources))
	for a, s := range c.sources {
		m[a.String()] = s.ok
	}
	return m
}

// Describe implements prometheus.Collector.
func (c *Counter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector: one gauge per live source.
func (c *Counter) Collect(ch chan<- prometheus.Metric) {
	for src, n := range c.Sources() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), src)
	}
}
