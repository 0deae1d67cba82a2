package providerhttp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                               0,
		"7":                              7 * time.Second,
		"1.5":                            1500 * time.Millisecond,
		"0":                              0,
		"-3":                             0,
		"NaN":                            0,
		"soon":                           0,
		"99999":                          time.Hour,
		"Fri, 27 Nov 2026 10:00:30 GMT":  30 * time.Second,
		"Fri, 27 Nov 2026 09:59:00 GMT":  0,
		"Friday, 27-Nov-26 10:01:00 GMT": time.Minute,
	} {
		if got := ParseRetryAfter(v, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	f.Add("120")
	f.Add("Wed, 21 Oct 2015 07:28:00 GMT")
	f.Add("1e400")
	f.Fuzz(func(t *testing.T, v string) {
		if d := ParseRetryAfter(v, time.Now()); d < 0 || d > time.Hour {
			t.Fatalf("ParseRetryAfter(%q) = %v", v, d)
		}
	})
}

func TestRetryable(t *testing.T) {
	for status, want := range map[int]bool{0: true, 400: false, 401: false, 403: false, 404: false, 408: true,
		409: true, 413: false, 422: false, 429: true, 500: true, 502: true, 503: true} {
		if Retryable(status) != want {
			t.Errorf("Retryable(%d) = %v", status, !want)
		}
	}
}

func TestTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, strings.Repeat("x", MaxResponseBytes+10))
	}))
	defer srv.Close()
	for _, strip := range []bool{false, true} {
		hc := Client(srv.Client(), strip)
		var c Capture
		req, _ := http.NewRequestWithContext(WithCapture(context.Background(), &c), http.MethodGet, srv.URL, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != ErrTooLarge || n != MaxResponseBytes {
			t.Errorf("read %d bytes, err %v: want the cap", n, err)
		}
		if c.Status != 429 || c.RetryAfter != "3" {
			t.Errorf("captured %+v", c)
		}
		if got := resp.Header.Get("Retry-After"); (got == "") != strip {
			t.Errorf("strip %v: header %q", strip, got)
		}
	}
}

func TestRedact(t *testing.T) {
	if got := Redact("bad key sk-abc123 given", "sk-abc123"); strings.Contains(got, "sk-abc123") {
		t.Fatal(got)
	}
	if Redact("x", "") != "x" || Truncate("crème", 3) != "cr…" {
		t.Fatal("Redact/Truncate")
	}
}
