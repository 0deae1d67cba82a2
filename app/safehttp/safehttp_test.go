package safehttp

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

func TestBlocked(t *testing.T) {
	tests := []struct {
		addr  string
		class string
	}{
		{"127.0.0.1", ClassLoopback},
		{"127.1.2.3", ClassLoopback},
		{"::1", ClassLoopback},
		{"0.0.0.0", ClassUnspecified},
		{"::", ClassUnspecified},
		{"10.1.2.3", ClassPrivate},
		{"172.16.0.1", ClassPrivate},
		{"172.31.255.255", ClassPrivate},
		{"192.168.1.1", ClassPrivate},
		{"169.254.169.254", ClassMetadata},
		{"169.254.1.1", ClassLinkLocal},
		{"100.64.0.1", ClassCGNAT},
		{"100.127.255.255", ClassCGNAT},
		{"198.18.0.1", ClassBenchmarking},
		{"198.19.255.255", ClassBenchmarking},
		{"192.0.2.1", ClassDocumentation},
		{"198.51.100.7", ClassDocumentation},
		{"203.0.113.9", ClassDocumentation},
		{"224.0.0.1", ClassMulticast},
		{"255.255.255.255", ClassReserved},
		{"fc00::1", ClassUniqueLocal},
		{"fd12:3456::1", ClassUniqueLocal},
		{"fe80::1", ClassLinkLocal},
		{"fe80::1%eth0", ClassLinkLocal},
		{"ff02::1", ClassMulticast},
		{"2001:db8::1", ClassDocumentation},
		{"::ffff:127.0.0.1", ClassLoopback},
		{"::ffff:169.254.169.254", ClassMetadata},
		{"::ffff:10.0.0.1", ClassPrivate},
		{"::127.0.0.1", ClassLoopback}, // IPv4-compatible
		{"::a9fe:a9fe", ClassMetadata},
		{"64:ff9b::7f00:1", ClassLoopback}, // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", ClassMetadata},
		{"64:ff9b:1::1", ClassSpecial},
		{"2002:7f00:1::1", ClassLoopback}, // 6to4 of 127.0.0.1
		{"2001::1", ClassSpecial},         // Teredo
		// public
		{"93.184.215.14", ""},
		{"1.1.1.1", ""},
		{"100.128.0.1", ""},
		{"172.32.0.1", ""},
		{"2606:4700:4700::1111", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""},
	}
	for _, tt := range tests {
		if got := Blocked(netip.MustParseAddr(tt.addr)); got != tt.class {
			t.Errorf("Blocked(%s) = %q, want %q", tt.addr, got, tt.class)
		}
	}
	if Blocked(netip.Addr{}) == "" {
		t.Error("the zero address is not blocked")
	}
}

// counter is a test server that counts the requests it receives.
type counter struct {
	*httptest.Server
	hits atomic.Int32
}

func newServer(t *testing.T, h http.HandlerFunc) *counter {
	t.Helper()
	c := &counter{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(c.Close)
	return c
}

func port(t *testing.T, s *httptest.Server) int {
	u, _ := url.Parse(s.URL)
	p, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ok(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "<html>hello</html>") }

func wantCode(t *testing.T, err error, code, contains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if _, isOurs := err.(*flavormonk.Error); !isOurs {
		t.Fatalf("error %v is a %T, not a *flavormonk.Error", err, err)
	}
	if got := flavormonk.ErrorCode(err); got != code {
		t.Fatalf("error %q has code %s, want %s", err, got, code)
	}
	if !strings.Contains(err.Error(), contains) {
		t.Fatalf("error %q does not mention %q", err, contains)
	}
}

func TestRefusesForbiddenAddresses(t *testing.T) {
	srv := newServer(t, ok)
	p := port(t, srv.Server)
	srv6 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { srv.hits.Add(1) }))
	if l, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		srv6.Listener = l
		srv6.Start()
		defer srv6.Close()
	} else {
		srv6 = nil
	}

	// The test servers' ports are allowed, so that the address is what is refused.
	ports := []int{80, 443, p}
	if srv6 != nil {
		ports = append(ports, port(t, srv6))
	}
	c := New(Options{Ports: ports, Resolver: fakeResolver(t, "169.254.169.254"), Timeout: 5 * time.Second})
	sys := New(Options{Ports: ports, Timeout: 5 * time.Second}) // the system resolver, for localhost

	tests := []struct {
		name, url, class string
		client           *Client
	}{
		{"loopback", srv.URL, ClassLoopback, c},
		{"mapped loopback", fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", p), ClassLoopback, c},
		{"localhost", fmt.Sprintf("http://localhost:%d/", p), ClassLoopback, sys},
		{"metadata literal", "http://169.254.169.254/latest/meta-data/", ClassMetadata, c},
		{"metadata by name", "http://metadata.flavormonk.test/latest/meta-data/", ClassMetadata, c},
		{"private", "http://10.0.0.1/", ClassPrivate, c},
		{"cgnat", "http://100.64.1.1/", ClassCGNAT, c},
		{"unique local", "http://[fd00::1]/", ClassUniqueLocal, c},
		{"unspecified", "http://0.0.0.0/", ClassUnspecified, c},
		{"decimal loopback", fmt.Sprintf("http://2130706433:%d/", p), "", c}, // not a valid host for Go; refused either way
	}
	if srv6 != nil {
		tests = append(tests, struct {
			name, url, class string
			client           *Client
		}{"ipv6 loopback", srv6.URL, ClassLoopback, c})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.Get(context.Background(), tt.url)
			if err == nil {
				t.Fatal("fetched a forbidden address")
			}
			if tt.class != "" {
				wantCode(t, err, flavormonk.EFORBIDDEN, tt.class)
				// Read as a sentence: "an address in the unspecified range",
				// not "a unspecified address".
				if want := "an address in the " + tt.class + " range"; !strings.Contains(err.Error(), want) {
					t.Errorf("message %q, want %q", err, want)
				}
			}
		})
	}
	if n := srv.hits.Load(); n != 0 {
		t.Fatalf("the loopback servers received %d requests", n)
	}
}

func TestRefusesSchemesAndPorts(t *testing.T) {
	c := New(Options{})
	for _, u := range []string{
		"file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/", "javascript:alert(1)",
		"http://example.com:8080/", "https://example.com:22/", "http://user:pw@example.com/",
	} {
		_, err := c.Get(context.Background(), u)
		wantCode(t, err, flavormonk.EFORBIDDEN, "")
	}
	for _, u := range []string{"http://", "://nope", "http://[::1/"} {
		_, err := c.Get(context.Background(), u)
		wantCode(t, err, flavormonk.EINVALID, "")
	}
}

func TestRefusesRedirectToLoopback(t *testing.T) {
	target := newServer(t, ok)
	for _, to := range []string{
		target.URL,
		strings.Replace(target.URL, "127.0.0.1", "localhost", 1),
		"http://169.254.169.254/latest/meta-data/",
		"file:///etc/passwd",
	} {
		t.Run(to, func(t *testing.T) {
			redirector := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, to, http.StatusFound)
			})
			// Only the redirector itself is let in, as if it were a public site.
			c := New(Options{allow: []netip.AddrPort{netip.MustParseAddrPort(redirector.Listener.Addr().String())}})
			_, err := c.Get(context.Background(), redirector.URL)
			wantCode(t, err, flavormonk.EFORBIDDEN, "")
			if redirector.hits.Load() != 1 {
				t.Fatalf("redirector hit %d times", redirector.hits.Load())
			}
		})
	}
	if n := target.hits.Load(); n != 0 {
		t.Fatalf("the redirect target received %d requests", n)
	}
}

func TestFetch(t *testing.T) {
	big := strings.Repeat("x", 2048)
	var mux http.ServeMux
	srv := httptest.NewServer(&mux)
	defer srv.Close()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != DefaultUserAgent {
			t.Errorf("User-Agent %q", r.Header.Get("User-Agent"))
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<html>hello</html>")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, big) })
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 4; i++ {
			fmt.Fprint(w, big[:600])
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "start")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", 500) })
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			fmt.Fprint(w, "landed")
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusMovedPermanently)
	})

	c := New(Options{AllowLoopback: true, MaxBytes: 1024, Timeout: 300 * time.Millisecond})
	ctx := context.Background()

	resp, err := c.Get(ctx, srv.URL+"/ok")
	if err != nil || string(resp.Body) != "<html>hello</html>" || resp.ContentType != "text/html; charset=utf-8" || resp.StatusCode != 200 {
		t.Fatalf("Get /ok = %+v, %v", resp, err)
	}
	resp, err = c.Get(ctx, srv.URL+"/hop/5")
	if err != nil || string(resp.Body) != "landed" || resp.URL != srv.URL+"/hop/0" {
		t.Fatalf("5 redirects: %+v, %v", resp, err)
	}
	_, err = c.Get(ctx, srv.URL+"/hop/6")
	wantCode(t, err, flavormonk.EINVALID, "redirects")
	_, err = c.Get(ctx, srv.URL+"/big")
	wantCode(t, err, flavormonk.ETOOLARGE, "KB")
	_, err = c.Get(ctx, srv.URL+"/big-chunked")
	wantCode(t, err, flavormonk.ETOOLARGE, "KB")
	_, err = c.Get(ctx, srv.URL+"/slow")
	wantCode(t, err, flavormonk.ETIMEOUT, "within")
	_, err = c.Get(ctx, srv.URL+"/slow-body")
	wantCode(t, err, flavormonk.ETIMEOUT, "within")
	_, err = c.Get(ctx, srv.URL+"/missing")
	wantCode(t, err, flavormonk.ENOTFOUND, "404")
	_, err = c.Get(ctx, srv.URL+"/broken")
	wantCode(t, err, flavormonk.EUNAVAILABLE, "500")

	// A closed port is unavailable, not forbidden.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	_, err = c.Get(ctx, "http://"+addr+"/")
	wantCode(t, err, flavormonk.EUNAVAILABLE, "")

	// AllowLoopback lets in loopback only.
	_, err = c.Get(ctx, "http://169.254.169.254/")
	wantCode(t, err, flavormonk.EFORBIDDEN, ClassMetadata)
}

// fakeResolver answers every A query with ip, as a rebinding or malicious
// DNS server would.
func fakeResolver(t *testing.T, ip string) *net.Resolver {
	a := netip.MustParseAddr(ip).As4()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			client, server := net.Pipe()
			go serveDNS(server, a)
			return client, nil
		},
	}
}

// serveDNS answers queries on a stream connection (2-byte length framing,
// which the Go resolver uses over a non-packet conn).
func serveDNS(conn net.Conn, a [4]byte) {
	defer conn.Close()
	for {
		var n uint16
		if err := binary.Read(conn, binary.BigEndian, &n); err != nil {
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(conn, buf); err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf)
		if err != nil {
			return
		}
		q, err := p.Question()
		if err != nil {
			return
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
		b.EnableCompression()
		_ = b.StartQuestions()
		_ = b.Question(q)
		_ = b.StartAnswers()
		if q.Type == dnsmessage.TypeA {
			_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: a})
		}
		msg, err := b.Finish()
		if err != nil {
			return
		}
		out := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
		if _, err := conn.Write(append(out, msg...)); err != nil {
			return
		}
	}
}
