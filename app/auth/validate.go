package auth

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Limits on account input.
const (
	MaxEmailLen       = 254 // bytes, RFC 5321 path limit
	MinPasswordLen    = 10  // characters
	MaxPasswordLen    = 128 // characters
	maxEmailLocalPart = 64
)

func emailErr(format string, args ...any) error {
	return flavormonk.FieldErrorf(flavormonk.EINVALID, "email", format, args...)
}

// NormalizeEmail returns s trimmed and lower-cased if it is one plain email
// address (no display name, no angle brackets, no comments, a dot in the
// domain), at most MaxEmailLen bytes of valid UTF-8. Otherwise it returns
// EINVALID with field "email".
func NormalizeEmail(s string) (string, error) {
	if len(s) > 4*MaxEmailLen { // do no work on huge input
		return "", emailErr("is too long (at most %d characters)", MaxEmailLen)
	}
	if !utf8.ValidString(s) {
		return "", emailErr("is not valid UTF-8 text")
	}
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", emailErr("enter your email address")
	}
	if len(s) > MaxEmailLen {
		return "", emailErr("is too long (at most %d characters)", MaxEmailLen)
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "", emailErr("is not a valid email address; enter it as name@example.com")
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 {
		return "", emailErr("is not a valid email address; enter it as name@example.com")
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > maxEmailLocalPart {
		return "", emailErr("has a part before the @ that is too long (at most %d characters)", maxEmailLocalPart)
	}
	if strings.ContainsAny(local, "\"\\ ") {
		return "", emailErr("is not a valid email address; enter it as name@example.com")
	}
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") ||
		strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") ||
		strings.HasPrefix(domain, "[") {
		return "", emailErr("needs a domain with a dot, as in name@example.com")
	}
	return s, nil
}

// CheckPassword returns EINVALID (field "password") unless pw is valid
// UTF-8 of MinPasswordLen to MaxPasswordLen characters.
func CheckPassword(pw string) error {
	if len(pw) > 4*MaxPasswordLen {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "password", "is too long (at most %d characters)", MaxPasswordLen)
	}
	if !utf8.ValidString(pw) {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "password", "is not valid UTF-8 text")
	}
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "password", "is too short (at least %d characters)", MinPasswordLen)
	}
	if n > MaxPasswordLen {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "password", "is too long (at most %d characters)", MaxPasswordLen)
	}
	return nil
}
