package gumroad

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

const (
	productID = "prod_flavormonk_chef"
	goodKey   = "ABCD1234-EF567890-12345678-9ABCDEF0"
)

// fakeGumroad speaks the licence verification protocol. licences maps a
// key to the purchase JSON returned for it.
type fakeGumroad struct {
	mu       sync.Mutex
	requests int
	lastForm map[string][]string
	licences map[string]string
	uses     int
}

func (f *fakeGumroad) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	if r.Method != http.MethodPost || r.URL.Path != "/v2/licenses/verify" {
		http.Error(w, "no such route", http.StatusMethodNotAllowed)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		http.Error(w, "content type "+ct, http.StatusBadRequest)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.lastForm = r.PostForm
	w.Header().Set("Content-Type", "application/json")
	purchase, ok := f.licences[r.PostForm.Get("license_key")]
	if !ok || r.PostForm.Get("product_id") != productID {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"success":false,"message":"That license does not exist for the provided product."}`)
		return
	}
	if r.PostForm.Get("increment_uses_count") == "true" {
		f.uses++
	}
	fmt.Fprintf(w, `{"success":true,"uses":%d,"purchase":%s}`, f.uses, purchase)
}

func purchase(extra string) string {
	s := `{"seller_id":"s1","product_id":"` + productID + `","product_name":"Flavor Monk Chef",
		"permalink":"flavormonk","email":"buyer@example.com","price":900,"currency":"usd",
		"quantity":1,"sale_id":"sale_123","sale_timestamp":"2026-01-01T00:00:00Z",
		"variants":"(Monthly)","refunded":false,"disputed":false,"dispute_won":false,
		"chargebacked":false,"subscription_id":"sub_1","subscription_cancelled_at":null,
		"subscription_ended_at":null,"subscription_failed_at":null,"test":false}`
	for _, kv := range strings.Split(extra, ";") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		s = replaceField(s, k, v)
	}
	return s
}

func replaceField(s, k, v string) string {
	i := strings.Index(s, `"`+k+`":`)
	if i < 0 {
		panic(k)
	}
	j := i + len(k) + 3
	end := strings.IndexAny(s[j:], ",}")
	return s[:j] + v + s[j+end:]
}

func newServer(t *testing.T) (*fakeGumroad, *Client) {
	f := &fakeGumroad{licences: map[string]string{
		goodKey:       purchase(""),
		"REFUNDED-1":  purchase("refunded=true"),
		"DISPUTED-1":  purchase("disputed=true"),
		"DISPUTEWON":  purchase("disputed=true;dispute_won=true"),
		"CHARGEBACK":  purchase("chargebacked=true"),
		"CANCELLED-1": purchase(`subscription_cancelled_at="2026-02-01T00:00:00Z"`),
		"FAILED-1":    purchase(`subscription_failed_at="2026-02-01T00:00:00Z"`),
		"NUMERIC-IDS": strings.Replace(purchase(""), `"sale_id":"sale_123"`, `"sale_id":123`, 1),
		"OTHER-PROD":  strings.Replace(purchase(""), `"product_id":"`+productID+`"`, `"product_id":"someone_else"`, 1),
	}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, &Client{BaseURL: srv.URL, ProductID: productID, HTTPClient: srv.Client()}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := flavormonk.ErrorCode(err); got != code {
		t.Fatalf("error = %v (code %s), want code %s", err, got, code)
	}
}

func TestVerifyValid(t *testing.T) {
	f, c := newServer(t)
	lic, err := c.Verify(context.Background(), "  "+goodKey+"\n")
	if err != nil {
		t.Fatal(err)
	}
	want := License{Valid: true, Email: "buyer@example.com", Variants: "(Monthly)", SaleID: "sale_123"}
	if *lic != want || !lic.Active() {
		t.Fatalf("License = %+v (active %v), want %+v", *lic, lic.Active(), want)
	}
	// The form fields sent.
	for k, v := range map[string]string{
		"product_id": productID, "license_key": goodKey, "increment_uses_count": "false",
	} {
		if got := f.lastForm[k]; len(got) != 1 || got[0] != v {
			t.Errorf("form %s = %q, want %q", k, got, v)
		}
	}
	if len(f.lastForm) != 3 {
		t.Errorf("form has %d fields: %v", len(f.lastForm), f.lastForm)
	}
	// IncrementUses sends true and Gumroad counts.
	c.IncrementUses = true
	lic, err = c.Verify(context.Background(), goodKey)
	if err != nil || lic.Uses != 1 || f.lastForm["increment_uses_count"][0] != "true" {
		t.Fatalf("IncrementUses: %+v, %v, form %v", lic, err, f.lastForm)
	}
}

func TestVerifyInvalid(t *testing.T) {
	f, c := newServer(t)
	lic, err := c.Verify(context.Background(), "NOPE-NOPE-NOPE")
	wantCode(t, err, flavormonk.EINVALID)
	if lic != nil || !strings.Contains(flavormonk.ErrorMessage(err), "not valid for this product") {
		t.Fatalf("lic %v, message %q", lic, flavormonk.ErrorMessage(err))
	}
	if f.requests != 1 {
		t.Fatalf("%d requests", f.requests)
	}
	// A key for another product (as Gumroad reports it) is not ours.
	_, err = c.Verify(context.Background(), "OTHER-PROD")
	wantCode(t, err, flavormonk.EINVALID)
	// The wrong product id configured: Gumroad says 404.
	c.ProductID = "wrong"
	_, err = c.Verify(context.Background(), goodKey)
	wantCode(t, err, flavormonk.EINVALID)
}

func TestVerifyInactive(t *testing.T) {
	_, c := newServer(t)
	for key, check := range map[string]func(*License) bool{
		"REFUNDED-1":  func(l *License) bool { return l.Refunded },
		"DISPUTED-1":  func(l *License) bool { return l.Disputed },
		"CHARGEBACK":  func(l *License) bool { return l.Chargebacked },
		"CANCELLED-1": func(l *License) bool { return l.Cancelled },
		"FAILED-1":    func(l *License) bool { return l.Cancelled },
	} {
		lic, err := c.Verify(context.Background(), key)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if !lic.Valid || !check(lic) || lic.Active() {
			t.Errorf("%s: License = %+v, Active = %v; want valid, flagged, inactive", key, *lic, lic.Active())
		}
	}
	lic, err := c.Verify(context.Background(), "DISPUTEWON")
	if err != nil || !lic.Active() {
		t.Errorf("won dispute: %+v, %v; want active", lic, err)
	}
	lic, err = c.Verify(context.Background(), "NUMERIC-IDS")
	if err != nil || lic.SaleID != "123" || !lic.Active() {
		t.Errorf("numeric sale id: %+v, %v", lic, err)
	}
	var nilLic *License
	if nilLic.Active() {
		t.Error("nil licence active")
	}
}

func TestVerifyRefusesBadKeysWithoutRequest(t *testing.T) {
	f, c := newServer(t)
	for name, key := range map[string]string{
		"10 KB":        strings.Repeat("A", 10*1024),
		"257 bytes":    strings.Repeat("A", 257),
		"empty":        "",
		"blank":        "   ",
		"inner space":  "ABCD 1234",
		"newline":      "ABCD\n1234",
		"control":      "ABCD\x001234",
		"non-ASCII":    "ABCDé1234",
		"invalid UTF8": "ABCD\xff1234",
	} {
		lic, err := c.Verify(context.Background(), key)
		if lic != nil || flavormonk.ErrorCode(err) != flavormonk.EINVALID {
			t.Errorf("%s: %v, %v; want EINVALID", name, lic, err)
		}
		var fe *flavormonk.Error
		if errors.As(err, &fe) && fe.Field != "license_key" {
			t.Errorf("%s: field %q", name, fe.Field)
		}
	}
	if f.requests != 0 {
		t.Fatalf("%d requests made for refused keys", f.requests)
	}
	if _, err := c.Verify(context.Background(), strings.Repeat("A", 256)); flavormonk.ErrorCode(err) != flavormonk.EINVALID || f.requests != 1 {
		t.Fatalf("256-byte key should be sent (and be unknown): %v, %d requests", err, f.requests)
	}
}

func TestVerifyUnavailable(t *testing.T) {
	// A closed port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := &Client{BaseURL: "http://" + addr, ProductID: productID}
	_, err = c.Verify(context.Background(), goodKey)
	wantCode(t, err, flavormonk.EUNAVAILABLE)
	if strings.Contains(flavormonk.ErrorMessage(err), addr) || strings.Contains(err.Error(), goodKey) {
		t.Errorf("error leaks details: user %q, log %q", flavormonk.ErrorMessage(err), err.Error())
	}

	for name, h := range map[string]http.HandlerFunc{
		"500": func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "oops", http.StatusInternalServerError)
		},
		"503 with JSON": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"success":false,"message":"down"}`)
		},
		"429": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTooManyRequests)
		},
		"malformed JSON": func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"success":true,"purchase":`)
		},
		"HTML 200": func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `<html>maintenance</html>`)
		},
		"no success member": func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"uses":1}`)
		},
		"success without purchase": func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"success":true,"uses":1}`)
		},
		"404 not JSON": func(w http.ResponseWriter, r *http.Request) {
			http.NotFound(w, r)
		},
		"huge body": func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"success":true,"message":"`+strings.Repeat("x", 2<<20)+`"}`)
		},
	} {
		srv := httptest.NewServer(h)
		c := &Client{BaseURL: srv.URL, ProductID: productID}
		lic, err := c.Verify(context.Background(), goodKey)
		srv.Close()
		if lic != nil || flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
			t.Errorf("%s: %v, %v; want EUNAVAILABLE", name, lic, err)
		}
	}
}

func TestVerifySlow(t *testing.T) {
	var served atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c := &Client{BaseURL: srv.URL, ProductID: productID}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	lic, err := c.Verify(ctx, goodKey)
	if lic != nil || flavormonk.ErrorCode(err) != flavormonk.EUNAVAILABLE {
		t.Fatalf("%v, %v; want EUNAVAILABLE", lic, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v despite a 100ms context", d)
	}
	if served.Load() != 1 {
		t.Fatalf("served %d", served.Load())
	}
}

func TestVerifyNoProduct(t *testing.T) {
	c := &Client{BaseURL: "http://127.0.0.1:1"}
	_, err := c.Verify(context.Background(), goodKey)
	if err == nil || flavormonk.ErrorCode(err) != flavormonk.EINTERNAL {
		t.Fatalf("no product id: %v", err)
	}
}
