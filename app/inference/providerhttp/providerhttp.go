// Package providerhttp holds the HTTP plumbing the model providers share:
// a transport that records each call's response status and Retry-After
// (their client libraries' errors drop the headers) and caps response
// sizes, Retry-After parsing, the retryable statuses of the Provider
// contract, and secret scrubbing for error text.
package providerhttp

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxResponseBytes caps what one response may carry (a long streamed
// answer is well under 1 MiB).
const MaxResponseBytes = 16 << 20

// Capture is what the transport recorded of the last response of a call.
type Capture struct {
	Status     int
	RetryAfter string
}

type captureKey struct{}

// WithCapture returns a context whose requests, sent through a Transport,
// record their response in c. A call is one goroutine: c needs no lock.
func WithCapture(ctx context.Context, c *Capture) context.Context {
	return context.WithValue(ctx, captureKey{}, c)
}

// Transport records responses into the request context's Capture, and caps
// response bodies at MaxResponseBytes.
type Transport struct {
	Base http.RoundTripper
	// StripRetryAfter removes Retry-After after recording it, for client
	// libraries that would sleep through it ignoring the context.
	StripRetryAfter bool
}

// Client returns a copy of hc (nil: a plain client) whose transport is
// wrapped in a Transport.
func Client(hc *http.Client, stripRetryAfter bool) *http.Client {
	if hc == nil {
		hc = &http.Client{}
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c := *hc
	c.Transport = &Transport{Base: base, StripRetryAfter: stripRetryAfter}
	return &c
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.Base.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	if c, ok := r.Context().Value(captureKey{}).(*Capture); ok {
		c.Status = resp.StatusCode
		c.RetryAfter = resp.Header.Get("Retry-After")
	}
	if t.StripRetryAfter {
		resp.Header.Del("Retry-After")
	}
	resp.Body = &limitedBody{rc: resp.Body, left: MaxResponseBytes}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

// ErrTooLarge ends a response body past MaxResponseBytes.
var ErrTooLarge = fmt.Errorf("response larger than %d bytes", MaxResponseBytes)

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// Retryable reports whether a failure with HTTP status (0: transport error,
// timeout, broken stream) may succeed if tried again: 408, 409, 429 and
// 5xx. Other 4xx answers are about the request itself.
func Retryable(status int) bool {
	return status == 0 || status == http.StatusRequestTimeout || status == http.StatusConflict ||
		status == http.StatusTooManyRequests || status >= 500
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date
// (relative to now). Absent, malformed or past: 0. Capped at one hour.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if !(n > 0) {
			return 0
		}
		d = time.Duration(math.Min(n, 3600) * float64(time.Second))
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d <= 0 {
		return 0
	}
	return min(d, time.Hour)
}

// Redact replaces every occurrence of secret in s.
func Redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "[redacted]")
}

// Truncate shortens s to about n bytes, on a character boundary.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
