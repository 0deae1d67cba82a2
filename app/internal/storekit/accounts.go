package storekit

import (
	"strings"
	"unicode/utf8"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// Limits and rules both stores apply to account data, so they accept and
// refuse exactly the same input.
const (
	MaxEmailBytes = 254
	MaxNoteBytes  = 2000
)

// NormEmail is how emails are stored and looked up.
func NormEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

func CheckText(field, v string, max int, required bool) error {
	switch {
	case required && v == "":
		return flavormonk.FieldErrorf(flavormonk.EINVALID, field, "%s is required", field)
	case len(v) > max:
		return flavormonk.FieldErrorf(flavormonk.EINVALID, field, "%s is longer than %d bytes", field, max)
	case !utf8.ValidString(v):
		return flavormonk.FieldErrorf(flavormonk.EINVALID, field, "%s is not valid UTF-8", field)
	case strings.ContainsRune(v, 0):
		return flavormonk.FieldErrorf(flavormonk.EINVALID, field, "%s contains a NUL character", field)
	}
	return nil
}

func CheckEmail(email string) error {
	if err := CheckText("email", email, MaxEmailBytes, true); err != nil {
		return err
	}
	if at := strings.IndexByte(email, '@'); at <= 0 || at == len(email)-1 || strings.ContainsAny(email, " \t\r\n") {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "email", "%q is not an email address", email)
	}
	return nil
}

func CheckRole(role string) error {
	if role != flavormonk.RoleAdmin && role != flavormonk.RoleCustomer {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "role", "unknown role %q", role)
	}
	return nil
}

func CheckPlan(plan string) error {
	if plan != flavormonk.PlanFree && plan != flavormonk.PlanChef {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "plan", "unknown plan %q", plan)
	}
	return nil
}

func CheckScopes(scopes []string) error {
	for _, sc := range scopes {
		if sc != flavormonk.ScopeRead && sc != flavormonk.ScopeAsk {
			return flavormonk.FieldErrorf(flavormonk.EINVALID, "scopes", "unknown scope %q", sc)
		}
	}
	return nil
}

func SplitScopes(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// UserNotFound is the error for an unknown user id.
func UserNotFound(id int64) error {
	return flavormonk.Errorf(flavormonk.ENOTFOUND, "user %d not found", id)
}

// ErrEmailTaken is the error for a sign-up with an email in use.
func ErrEmailTaken() error {
	return flavormonk.FieldErrorf(flavormonk.ECONFLICT, "email", "an account with this email exists")
}

// SessionNotFound is the error for an unknown or deleted session.
func SessionNotFound() error { return flavormonk.Errorf(flavormonk.ENOTFOUND, "session not found") }

// TokenNotFound is the error for an unknown (or another user's) API token.
func TokenNotFound(id int64) error {
	return flavormonk.Errorf(flavormonk.ENOTFOUND, "API token %d not found", id)
}

// MaxSealedBytes bounds a sealed licence key (a key of at most 256 bytes
// plus nonce, tag and version).
const MaxSealedBytes = 512

// ErrLicenseTaken is the error for a licence key granted to another user.
func ErrLicenseTaken() error {
	return flavormonk.FieldErrorf(flavormonk.ECONFLICT, "license_key",
		"this licence key already unlocks another account; one licence unlocks one account (write to support if it is yours)")
}

// CheckSealed refuses an oversized sealed key.
func CheckSealed(b []byte) error {
	if len(b) > MaxSealedBytes {
		return flavormonk.FieldErrorf(flavormonk.EINVALID, "license_sealed", "the sealed licence key is longer than %d bytes", MaxSealedBytes)
	}
	return nil
}

// VisitorNotFound is the error for an unknown visitor session.
func VisitorNotFound() error {
	return flavormonk.Errorf(flavormonk.ENOTFOUND, "visitor session not found")
}

// ErrVisitorTaken is the error for a visitor session linked to another user.
func ErrVisitorTaken() error {
	return flavormonk.Errorf(flavormonk.ECONFLICT, "the visitor session belongs to another user")
}
