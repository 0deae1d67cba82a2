// Package gumroad verifies licence keys with Gumroad's licence verification
// API (POST /v2/licenses/verify).
package gumroad

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// DefaultBaseURL is Gumroad's API.
const DefaultBaseURL = "https://api.gumroad.com"

// Limits.
const (
	MaxKeyLen   = 256              // bytes; longer keys are refused without a request
	Timeout     = 10 * time.Second // per verification, whatever the caller's context
	maxBodySize = 1 << 20
)

// Client verifies licences for one product. The zero values of BaseURL
// and HTTPClient mean DefaultBaseURL and a client with a Timeout.
type Client struct {
	BaseURL   string
	ProductID string
	// HTTPClient sends the requests; nil means one with a 10 s timeout.
	HTTPClient *http.Client
	// IncrementUses asks Gumroad to count this verification as a use of
	// the licence; off by default, so re-checks do not burn uses.
	IncrementUses bool
}

// License is what Gumroad says about a key.
type License struct {
	Valid        bool // the key exists for the product
	Email        string
	Refunded     bool
	Disputed     bool // disputed and the dispute not won
	Chargebacked bool
	Cancelled    bool // the subscription was cancelled, ended or failed to renew
	Variants     string
	Uses         int
	SaleID       string
}

// Active reports whether the licence grants access: valid, and not
// refunded, disputed, charged back or cancelled.
func (l *License) Active() bool {
	return l != nil && l.Valid && !l.Refunded && !l.Disputed && !l.Chargebacked && !l.Cancelled
}

var errNotValid = flavormonk.FieldErrorf(flavormonk.EINVALID, "license_key",
	"the licence key is not valid for this product")

func unavailable(format string, args ...any) error {
	return fmt.Errorf("gumroad: %s: %w", fmt.Sprintf(format, args...),
		flavormonk.Errorf(flavormonk.EUNAVAILABLE, "the licence server (Gumroad) cannot be reached; try again later"))
}

// CheckKey returns the key trimmed of surrounding white space, or EINVALID
// (field "license_key") when it is empty, longer than MaxKeyLen bytes, or
// not printable ASCII.
func CheckKey(key string) (string, error) {
	if len(key) > 4*MaxKeyLen {
		return "", flavormonk.FieldErrorf(flavormonk.EINVALID, "license_key", "is too long (at most %d characters)", MaxKeyLen)
	}
	key = strings.TrimSpace(key)
	if key == "" {
		return "", flavormonk.FieldErrorf(flavormonk.EINVALID, "license_key", "enter your licence key")
	}
	if len(key) > MaxKeyLen {
		return "", flavormonk.FieldErrorf(flavormonk.EINVALID, "license_key", "is too long (at most %d characters)", MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x21 || c > 0x7e {
			return "", flavormonk.FieldErrorf(flavormonk.EINVALID, "license_key",
				"may only contain letters, digits and punctuation, as in ABCD1234-EF567890-…")
		}
	}
	return key, nil
}

// flexString decodes a JSON string, number or null into a string.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*f = flexString(n.String())
	}
	return nil
}

type response struct {
	Success  *bool  `json:"success"`
	Message  string `json:"message"`
	Uses     int    `json:"uses"`
	Purchase *struct {
		Email                   string          `json:"email"`
		ProductID               flexString      `json:"product_id"`
		SaleID                  flexString      `json:"sale_id"`
		Variants                flexString      `json:"variants"`
		Refunded                bool            `json:"refunded"`
		Disputed                bool            `json:"disputed"`
		DisputeWon              bool            `json:"dispute_won"`
		Chargebacked            bool            `json:"chargebacked"`
		SubscriptionCancelledAt json.RawMessage `json:"subscription_cancelled_at"`
		SubscriptionEndedAt     json.RawMessage `json:"subscription_ended_at"`
		SubscriptionFailedAt    json.RawMessage `json:"subscription_failed_at"`
	} `json:"purchase"`
}

func set(raw json.RawMessage) bool {
	s := string(bytes.TrimSpace(raw))
	return s != "" && s != "null" && s != `""`
}

// Verify asks Gumroad about licenseKey. A key Gumroad does not know for
// the product is EINVALID ("the licence key is not valid for this
// product"), as is a malformed key, refused before any request. Gumroad
// being unreachable, slow (over 10 s or the context), failing (5xx) or
// answering nonsense is EUNAVAILABLE. A known key returns a License whose
// Active says whether it grants access (it is not an error for it to be
// refunded or disputed: the caller records that).
func (c *Client) Verify(ctx context.Context, licenseKey string) (*License, error) {
	key, err := CheckKey(licenseKey)
	if err != nil {
		return nil, err
	}
	if c.ProductID == "" {
		return nil, errors.New("gumroad: no product id configured")
	}
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: Timeout}
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()

	form := url.Values{
		"product_id":           {c.ProductID},
		"license_key":          {key},
		"increment_uses_count": {strconv.FormatBool(c.IncrementUses)},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		strings.TrimRight(base, "/")+"/v2/licenses/verify", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("gumroad: bad base URL %q: %w", base, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "flavormonk")
	resp, err := hc.Do(req)
	if err != nil {
		// The key is in the form body, not the URL, so err does not leak it.
		return nil, unavailable("%v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodySize+1))
	if err != nil {
		return nil, unavailable("reading the response: %v", err)
	}
	if len(body) > maxBodySize {
		return nil, unavailable("response over %d bytes", maxBodySize)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
		return nil, unavailable("HTTP %d", resp.StatusCode)
	}
	var r response
	if err := json.Unmarshal(body, &r); err != nil || r.Success == nil {
		return nil, unavailable("HTTP %d with a malformed body (%v)", resp.StatusCode, err)
	}
	if !*r.Success {
		return nil, errNotValid
	}
	if resp.StatusCode != http.StatusOK || r.Purchase == nil {
		return nil, unavailable("HTTP %d success without a purchase", resp.StatusCode)
	}
	p := r.Purchase
	if p.ProductID != "" && string(p.ProductID) != c.ProductID {
		// Gumroad answered about another product: not ours to unlock.
		return nil, errNotValid
	}
	return &License{
		Valid:        true,
		Email:        p.Email,
		Refunded:     p.Refunded,
		Disputed:     p.Disputed && !p.DisputeWon,
		Chargebacked: p.Chargebacked,
		Cancelled:    set(p.SubscriptionCancelledAt) || set(p.SubscriptionEndedAt) || set(p.SubscriptionFailedAt),
		Variants:     string(p.Variants),
		Uses:         r.Uses,
		SaleID:       string(p.SaleID),
	}, nil
}
