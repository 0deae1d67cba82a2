// Package safehttp fetches user-supplied URLs without letting them reach
// anything but the public internet: no loopback, private, link-local or
// cloud-metadata addresses, however the URL is spelled, whatever its name
// resolves to, and wherever it redirects.
//
// The address check runs in the dialer's Control hook, on the address being
// connected to after DNS resolution, so a name that resolves to a public
// address when checked and a private one when used (DNS rebinding), or a
// redirect to such an address, is refused as well.
package safehttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Defaults for the zero Options.
const (
	DefaultTimeout      = 20 * time.Second
	DefaultMaxBytes     = 5 << 20
	DefaultMaxRedirects = 5
	DefaultUserAgent    = "FlavorMonk/1.0 (+recipe import)"
)

// Options configure a Client. The zero value is the production setting.
type Options struct {
	// Timeout caps a whole fetch: connecting, redirects and reading the body.
	Timeout time.Duration
	// MaxBytes caps a response body; a larger one is an ETOOLARGE error.
	MaxBytes int64
	// MaxRedirects is how many redirects a fetch follows (0: the default, 5;
	// negative: none).
	MaxRedirects int
	// Ports the client connects to; empty means 80 and 443.
	Ports []int
	// UserAgent is sent with every request.
	UserAgent string
	// Resolver resolves host names; nil is the system resolver. Tests use it
	// to make a name resolve to a forbidden address.
	Resolver *net.Resolver
	// AllowLoopback lets tests fetch from httptest servers on 127.0.0.1 and
	// [::1]. Production never sets it; every other blocked range stays
	// blocked.
	AllowLoopback bool

	// allow lets in-package tests admit exactly these addresses, so that a
	// test server can redirect to a loopback address that stays refused.
	allow []netip.AddrPort
}

// Client fetches URLs safely. It is safe for concurrent use.
type Client struct {
	opts  Options
	ports map[int]bool
	hc    *http.Client
}

// Response is a fetched document.
type Response struct {
	URL         string // the final URL, after redirects
	StatusCode  int
	ContentType string
	Body        []byte
}

// New returns a Client with opts.
func New(opts Options) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	switch {
	case opts.MaxRedirects == 0:
		opts.MaxRedirects = DefaultMaxRedirects
	case opts.MaxRedirects < 0:
		opts.MaxRedirects = 0
	}
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	if len(opts.Ports) == 0 {
		opts.Ports = []int{80, 443}
	}
	c := &Client{opts: opts, ports: map[int]bool{}}
	for _, p := range opts.Ports {
		c.ports[p] = true
	}
	dialer := &net.Dialer{
		Timeout:  10 * time.Second,
		Resolver: opts.Resolver,
		Control:  c.control,
	}
	tr := &http.Transport{
		Proxy:                  nil, // never HTTP_PROXY from the environment: the proxy would connect for us, unchecked
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           10,
		IdleConnTimeout:        30 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  opts.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	c.hc = &http.Client{
		Transport:     tr,
		Timeout:       opts.Timeout,
		CheckRedirect: c.checkRedirect,
	}
	return c
}

// control runs on every connection attempt with the resolved address.
func (c *Client) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return flavormonk.Errorf(flavormonk.EFORBIDDEN, "refusing to connect to %q", address)
	}
	for _, a := range c.opts.allow {
		if a == ap {
			return nil
		}
	}
	class := Blocked(ap.Addr())
	if c.opts.AllowLoopback && class == ClassLoopback {
		return nil // test servers listen on any port
	}
	if class != "" {
		return flavormonk.Errorf(flavormonk.EFORBIDDEN, "refusing to connect to %s, an address in the %s range", ap.Addr(), class)
	}
	if !c.ports[int(ap.Port())] {
		return flavormonk.Errorf(flavormonk.EFORBIDDEN, "refusing to connect to port %d", ap.Port())
	}
	return nil
}

func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > c.opts.MaxRedirects {
		return flavormonk.Errorf(flavormonk.EINVALID, "stopped after %d redirects", c.opts.MaxRedirects)
	}
	return c.checkURL(req.URL)
}

func (c *Client) checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return flavormonk.Errorf(flavormonk.EFORBIDDEN, "only http and https URLs can be fetched, not %q", u.Scheme)
	}
	if u.Hostname() == "" {
		return flavormonk.Errorf(flavormonk.EINVALID, "URL %q has no host", u.Redacted())
	}
	if u.User != nil {
		return flavormonk.Errorf(flavormonk.EFORBIDDEN, "URLs with credentials are not fetched")
	}
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return flavormonk.Errorf(flavormonk.EINVALID, "URL %q has a bad port", u.Redacted())
		}
		port = n
	}
	if !c.ports[port] && !c.opts.AllowLoopback && len(c.opts.allow) == 0 {
		// Checked again at connect time, where test servers are let in.
		return flavormonk.Errorf(flavormonk.EFORBIDDEN, "refusing to connect to port %d", port)
	}
	return nil
}

// Get fetches rawURL and reads its body. Errors are *flavormonk.Error:
// EINVALID for a malformed URL, EFORBIDDEN for a refused scheme, port or
// address, ETIMEOUT, ETOOLARGE, ENOTFOUND for 404/410, and EUNAVAILABLE
// when the site cannot be reached or answers with another error status.
func (c *Client) Get(ctx context.Context, rawURL string) (*Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil || len(rawURL) > 4096 {
		return nil, flavormonk.Errorf(flavormonk.EINVALID, "%q is not a valid URL", truncate(rawURL))
	}
	if err := c.checkURL(u); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, flavormonk.Errorf(flavormonk.EINVALID, "%q is not a valid URL", truncate(rawURL))
	}
	req.Header.Set("User-Agent", c.opts.UserAgent)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/ld+json,application/json;q=0.9,*/*;q=0.5")

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.wrap(ctx, u, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, flavormonk.Errorf(flavormonk.ENOTFOUND, "%s answered %s", u.Host, resp.Status)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, flavormonk.Errorf(flavormonk.EUNAVAILABLE, "%s answered %s", u.Host, resp.Status)
	case resp.ContentLength > c.opts.MaxBytes:
		return nil, c.tooLarge(u)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBytes+1))
	if err != nil {
		return nil, c.wrap(ctx, u, err)
	}
	if int64(len(body)) > c.opts.MaxBytes {
		return nil, c.tooLarge(u)
	}
	return &Response{
		URL:         resp.Request.URL.String(),
		StatusCode:  resp.StatusCode,
		ContentType: resp.Header.Get("Content-Type"),
		Body:        body,
	}, nil
}

func (c *Client) tooLarge(u *url.URL) error {
	return flavormonk.Errorf(flavormonk.ETOOLARGE, "%s sent more than %d KB", u.Host, c.opts.MaxBytes>>10)
}

// wrap turns a transport error into a *flavormonk.Error, keeping ours
// (refused addresses, redirects) as they are.
func (c *Client) wrap(ctx context.Context, u *url.URL, err error) error {
	var fe *flavormonk.Error
	if errors.As(err, &fe) {
		return fe
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded || errors.As(err, &ne) && ne.Timeout() {
		return flavormonk.Errorf(flavormonk.ETIMEOUT, "%s did not answer within %s", u.Host, c.opts.Timeout)
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return flavormonk.Errorf(flavormonk.EUNAVAILABLE, "no such host %q", u.Hostname())
	}
	return flavormonk.Errorf(flavormonk.EUNAVAILABLE, "cannot fetch from %s: %s", u.Host, rootCause(err))
}

func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

func truncate(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}

// Address classes named in refusals.
const (
	ClassUnspecified   = "unspecified"
	ClassLoopback      = "loopback"
	ClassPrivate       = "private"
	ClassLinkLocal     = "link-local"
	ClassMetadata      = "cloud metadata"
	ClassCGNAT         = "carrier-grade NAT"
	ClassBenchmarking  = "benchmarking"
	ClassDocumentation = "documentation"
	ClassMulticast     = "multicast"
	ClassReserved      = "reserved"
	ClassUniqueLocal   = "unique-local"
	ClassSpecial       = "special-purpose"
)

type blockedPrefix struct {
	p     netip.Prefix
	class string
}

var blocked4 = []blockedPrefix{
	{netip.MustParsePrefix("169.254.169.254/32"), ClassMetadata},
	{netip.MustParsePrefix("0.0.0.0/8"), ClassUnspecified},
	{netip.MustParsePrefix("10.0.0.0/8"), ClassPrivate},
	{netip.MustParsePrefix("100.64.0.0/10"), ClassCGNAT},
	{netip.MustParsePrefix("127.0.0.0/8"), ClassLoopback},
	{netip.MustParsePrefix("169.254.0.0/16"), ClassLinkLocal},
	{netip.MustParsePrefix("172.16.0.0/12"), ClassPrivate},
	{netip.MustParsePrefix("192.0.0.0/24"), ClassSpecial},
	{netip.MustParsePrefix("192.0.2.0/24"), ClassDocumentation},
	{netip.MustParsePrefix("192.88.99.0/24"), ClassReserved},
	{netip.MustParsePrefix("192.168.0.0/16"), ClassPrivate},
	{netip.MustParsePrefix("198.18.0.0/15"), ClassBenchmarking},
	{netip.MustParsePrefix("198.51.100.0/24"), ClassDocumentation},
	{netip.MustParsePrefix("203.0.113.0/24"), ClassDocumentation},
	{netip.MustParsePrefix("224.0.0.0/4"), ClassMulticast},
	{netip.MustParsePrefix("240.0.0.0/4"), ClassReserved}, // includes 255.255.255.255
}

var blocked6 = []blockedPrefix{
	{netip.MustParsePrefix("::/128"), ClassUnspecified},
	{netip.MustParsePrefix("::1/128"), ClassLoopback},
	{netip.MustParsePrefix("64:ff9b:1::/48"), ClassSpecial}, // local-use NAT64
	{netip.MustParsePrefix("100::/64"), ClassSpecial},       // discard-only
	{netip.MustParsePrefix("2001::/23"), ClassSpecial},      // IETF protocol assignments, Teredo
	{netip.MustParsePrefix("2001:db8::/32"), ClassDocumentation},
	{netip.MustParsePrefix("3fff::/20"), ClassDocumentation},
	{netip.MustParsePrefix("fc00::/7"), ClassUniqueLocal},
	{netip.MustParsePrefix("fe80::/10"), ClassLinkLocal},
	{netip.MustParsePrefix("fec0::/10"), ClassPrivate}, // deprecated site-local
	{netip.MustParsePrefix("ff00::/8"), ClassMulticast},
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	compat    = netip.MustParsePrefix("::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Blocked returns the class of a that makes it unfit to fetch from ("" for
// a public address). IPv6 addresses that embed an IPv4 address (mapped,
// compatible, NAT64, 6to4) are judged by that address.
func Blocked(a netip.Addr) string {
	if !a.IsValid() {
		return ClassUnspecified
	}
	a = a.WithZone("")
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is4() {
		for _, b := range blocked4 {
			if b.p.Contains(a) {
				return b.class
			}
		}
		return ""
	}
	for _, b := range blocked6 {
		if b.p.Contains(a) {
			return b.class
		}
	}
	s := a.As16()
	switch {
	case nat64.Contains(a), compat.Contains(a):
		return Blocked(netip.AddrFrom4([4]byte(s[12:16])))
	case sixToFour.Contains(a):
		return Blocked(netip.AddrFrom4([4]byte(s[2:6])))
	}
	return ""
}

// String describes the client's limits, for logs.
func (c *Client) String() string {
	return fmt.Sprintf("safehttp(timeout=%s max=%dB redirects=%d)", c.opts.Timeout, c.opts.MaxBytes, c.opts.MaxRedirects)
}
