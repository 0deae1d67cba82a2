package auth

import (
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

func TestNewToken(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, hash := NewToken(APITokenPrefix)
		if !strings.HasPrefix(tok, "fm_") {
			t.Fatalf("token %q lacks prefix", tok)
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "fm_"))
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %q: %d bytes, %v", tok, len(raw), err)
		}
		if hash != HashToken(tok) || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(hash) {
			t.Fatalf("hash %q", hash)
		}
		if seen[tok] {
			t.Fatal("duplicate token")
		}
		seen[tok] = true
	}
	// Known SHA-256.
	if got := HashToken("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashToken(abc) = %s", got)
	}
	if tok, _ := NewToken(""); len(tok) != 43 {
		t.Fatalf("unprefixed token length %d", len(tok))
	}
}

func TestEqual(t *testing.T) {
	if !Equal("abc", "abc") || Equal("abc", "abd") || Equal("abc", "ab") || Equal("", "a") || !Equal("", "") {
		t.Fatal("Equal is wrong")
	}
}

func TestCSRF(t *testing.T) {
	_, secret := NewToken("")
	a, b := CSRFToken(secret), CSRFToken(secret)
	if a == b {
		t.Fatal("CSRF tokens do not vary")
	}
	if strings.Contains(a, secret) {
		t.Fatal("CSRF token reveals the secret")
	}
	if !CheckCSRF(secret, a) || !CheckCSRF(secret, b) {
		t.Fatal("valid CSRF token refused")
	}
	_, other := NewToken("")
	for name, presented := range map[string]string{
		"empty":          "",
		"other session":  CSRFToken(other),
		"the secret":     secret,
		"truncated":      a[:len(a)-1],
		"flipped":        flip(a),
		"not base64":     "!!!!",
		"long":           strings.Repeat("A", 10000),
		"padded base64":  a + "=",
		"trailing space": a + " ",
	} {
		if CheckCSRF(secret, presented) {
			t.Errorf("%s: CSRF token accepted", name)
		}
	}
	if CheckCSRF("", CSRFToken("")) {
		t.Error("empty secret accepted a token")
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[5] == 'A' {
		b[5] = 'B'
	} else {
		b[5] = 'A'
	}
	return string(b)
}
