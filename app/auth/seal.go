package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MinSecretLen is the shortest secret NewSealer accepts (e.g. the output
// of `openssl rand -hex 32`).
const MinSecretLen = 32

const sealVersion = 1

// ErrUnseal is returned for a sealed value that cannot be opened: another
// secret, another context, or tampered with.
var ErrUnseal = errors.New("auth: the sealed value cannot be opened (wrong secret or tampered)")

// Sealer encrypts small secrets that must be recovered later (licence keys,
// which Gumroad re-verifies) with AES-256-GCM. The key is derived from the
// configured secret with HKDF-SHA256, so any long random string will do.
// Each value is bound to a context (additional data, e.g. the key's hash),
// so a sealed value copied onto another row does not open there.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the key from secret (at least MinSecretLen bytes).
func NewSealer(secret string) (*Sealer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("auth: the sealing secret must be at least %d characters", MinSecretLen)
	}
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "flavormonk sealed values v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to context: version byte, random nonce,
// ciphertext and tag.
func (s *Sealer) Seal(plaintext []byte, context string) []byte {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	_, _ = rand.Read(out[1:])
	return s.aead.Seal(out, out[1:], plaintext, []byte(context))
}

// Open decrypts what Seal returned for the same context; ErrUnseal
// otherwise.
func (s *Sealer) Open(sealed []byte, context string) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, ErrUnseal
	}
	pt, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(context))
	if err != nil {
		return nil, ErrUnseal
	}
	return pt, nil
}
