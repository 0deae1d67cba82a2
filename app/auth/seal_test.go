package auth

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const testSecret = "0123456789abcdef0123456789abcdef-test"

func TestSealRoundTrip(t *testing.T) {
	s, err := NewSealer(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("ABCD1234-EF567890-12345678-9ABCDEF0")
	a := s.Seal(key, "ctx-1")
	b := s.Seal(key, "ctx-1")
	if bytes.Equal(a, b) {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	if bytes.Contains(a, key) {
		t.Fatal("the plaintext shows in the sealed value")
	}
	got, err := s.Open(a, "ctx-1")
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other, _ := NewSealer(strings.Repeat("z", MinSecretLen))
	tampered := append([]byte(nil), a...)
	tampered[len(tampered)-1] ^= 1
	for name, tc := range map[string]struct {
		s       *Sealer
		sealed  []byte
		context string
	}{
		"other context": {s, a, "ctx-2"},
		"other secret":  {other, a, "ctx-1"},
		"tampered":      {s, tampered, "ctx-1"},
		"truncated":     {s, a[:10], "ctx-1"},
		"empty":         {s, nil, "ctx-1"},
		"bad version":   {s, append([]byte{9}, a[1:]...), "ctx-1"},
	} {
		if _, err := tc.s.Open(tc.sealed, tc.context); !errors.Is(err, ErrUnseal) {
			t.Errorf("%s: err = %v, want ErrUnseal", name, err)
		}
	}
	if _, err := NewSealer("short"); err == nil {
		t.Fatal("a short secret was accepted")
	}
}

// FuzzOpen: Open never panics, and opens nothing but what Seal made.
func FuzzOpen(f *testing.F) {
	s, _ := NewSealer(testSecret)
	genuine := s.Seal([]byte("key"), "c")
	f.Add(genuine, "c")
	f.Add([]byte{1, 2, 3}, "")
	f.Add(append([]byte{1}, make([]byte, 40)...), "c")
	f.Fuzz(func(t *testing.T, sealed []byte, context string) {
		pt, err := s.Open(sealed, context)
		if err != nil {
			if !errors.Is(err, ErrUnseal) {
				t.Fatalf("error %v is not ErrUnseal", err)
			}
			return
		}
		if !bytes.Equal(sealed, genuine) || context != "c" || string(pt) != "key" {
			t.Fatalf("opened a forgery: %x (%q) -> %q", sealed, context, pt)
		}
	})
}
