package chroma

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// deadline bounds ctx by n request timeouts, unless it has an earlier one.
func (ix *Index) deadline(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	d := time.Duration(n) * ix.opts.Timeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// httpError is a reply with a status other than 2xx.
type httpError struct {
	Status  int
	Kind    string // Chroma's "error", e.g. "NotFoundError"
	Message string
}

func (e *httpError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Kind != "" {
		return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Kind, msg)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, msg)
}

// do sends a request with in as its JSON body (none when nil) and decodes
// a 2xx reply into out (discarded when nil). A non-2xx reply is an
// *httpError; anything else (transport, malformed reply) is returned as is.
func (ix *Index) do(ctx context.Context, method, u string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return flavormonk.Errorf(flavormonk.EINVALID, "chroma: encoding the request: %v", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ix.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+ix.opts.Token)
		req.Header.Set("X-Chroma-Token", ix.opts.Token)
	}
	resp, err := ix.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		he := &httpError{Status: resp.StatusCode}
		var er struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &er) == nil && (er.Error != "" || er.Message != "") {
			he.Kind, he.Message = er.Error, er.Message
		} else {
			he.Message = strings.TrimSpace(string(b))
		}
		return he
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber() // keeps metadata numbers (ints vs floats) as sent
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("malformed reply to %s %s: %w", method, u, err)
	}
	return nil
}

// statusOf returns the HTTP status of an error from do, 0 for a transport
// error or none.
func statusOf(err error) int {
	var he *httpError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

// wrap turns an error from do into a flavormonk error: unreachable, timed
// out, malformed or 5xx → EUNAVAILABLE; 4xx → EINVALID/ENOTFOUND/ECONFLICT/
// ERATELIMIT (401/403 → EUNAVAILABLE: the server cannot be used).
func (ix *Index) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	var fe *flavormonk.Error
	if errors.As(err, &fe) {
		return err
	}
	where := ix.opts.URL
	msg := err.Error()
	status := statusOf(err)
	var he *httpError
	if errors.As(err, &he) && he.Message != "" {
		msg = he.Message
	}
	switch {
	case status == 0 && errors.Is(ctx.Err(), context.Canceled):
		return &wrapped{flavormonk.Errorf(flavormonk.EUNAVAILABLE, "chroma %s: canceled", op), err}
	case status == 0:
		// Connection refused, DNS, timeouts, a malformed reply: all of them
		// mean the server cannot be used right now.
		return &wrapped{flavormonk.Errorf(flavormonk.EUNAVAILABLE, "chroma at %s is unavailable (%s): %s", where, op, msg), err}
	case status == http.StatusTooManyRequests:
		return &wrapped{flavormonk.Errorf(flavormonk.ERATELIMIT, "chroma %s: %s", op, msg), err}
	case status >= 500:
		return &wrapped{flavormonk.Errorf(flavormonk.EUNAVAILABLE, "chroma at %s failed (%s, HTTP %d): %s", where, op, status, msg), err}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return &wrapped{flavormonk.Errorf(flavormonk.EUNAVAILABLE, "chroma at %s refused the credentials (%s, HTTP %d); check FLAVORMONK_CHROMA_TOKEN", where, op, status), err}
	case status == http.StatusNotFound:
		return &wrapped{flavormonk.Errorf(flavormonk.ENOTFOUND, "chroma %s: %s", op, msg), err}
	case status == http.StatusConflict:
		return &wrapped{flavormonk.Errorf(flavormonk.ECONFLICT, "chroma %s: %s", op, msg), err}
	default:
		return &wrapped{flavormonk.Errorf(flavormonk.EINVALID, "chroma %s: %s", op, msg), err}
	}
}

// wrapped is a flavormonk error that keeps the underlying error as its cause.
type wrapped struct {
	fe    *flavormonk.Error
	cause error
}

func (w *wrapped) Error() string   { return w.fe.Error() }
func (w *wrapped) Unwrap() []error { return []error{w.fe, w.cause} }
