package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
)

// APITokenPrefix starts every API token, so leaked tokens are easy to spot
// (and to scan for).
const APITokenPrefix = "fm_"

// NewToken returns a new random token, prefix followed by 32 random bytes
// in unpadded base64url, and its HashToken, which is what gets stored.
func NewToken(prefix string) (token, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("auth: crypto/rand: " + err.Error()) // never happens since Go 1.24
	}
	token = prefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken returns the hex SHA-256 of token. Tokens are long and random,
// so a fast hash is enough.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Equal compares a and b in constant time (for equal lengths).
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

const csrfNonceLen = 16

// CSRFToken returns a token for a form of the session whose CSRF secret is
// sessionCSRF: a fresh random nonce and the HMAC-SHA256 of it keyed by the
// secret, in base64url. Tokens differ on every call (so compression-based
// attacks on pages learn nothing reusable) and do not reveal the secret.
func CSRFToken(sessionCSRF string) string {
	nonce := make([]byte, csrfNonceLen, csrfNonceLen+sha256.Size)
	if _, err := rand.Read(nonce); err != nil {
		panic("auth: crypto/rand: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(append(nonce, csrfMAC(sessionCSRF, nonce)...))
}

func csrfMAC(secret string, nonce []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("flavormonk csrf\x00"))
	m.Write(nonce)
	return m.Sum(nil)
}

// CheckCSRF reports whether presented is a CSRFToken of sessionCSRF. An
// empty secret matches nothing.
func CheckCSRF(sessionCSRF, presented string) bool {
	if sessionCSRF == "" || len(presented) > 128 {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(presented)
	if err != nil || len(b) != csrfNonceLen+sha256.Size {
		return false
	}
	return hmac.Equal(b[csrfNonceLen:], csrfMAC(sessionCSRF, b[:csrfNonceLen]))
}
