package flavormonk

import (
	"errors"
	"fmt"
)

// Error codes are stable: API clients match on them. The web package maps
// each to one HTTP status.
const (
	EINVALID        = "invalid"                // the input is malformed; the message says what to fix
	EUNAUTHORIZED   = "unauthorized"           // a missing, invalid or revoked credential
	EUNSUPPORTED    = "unsupported_media_type" // the body is in a format the endpoint does not take
	ENOTFOUND       = "not_found"              // no such thing
	ECONFLICT       = "conflict"               // it exists already, or changed under you
	ETOOLARGE       = "too_large"              // a body, file or field is over its limit
	EFORBIDDEN      = "forbidden"              // the target is not allowed (e.g. a private address)
	EUNAVAILABLE    = "unavailable"            // a dependency is down; try again
	ENOTIMPLEMENTED = "not_implemented"        // a configured backend is not built yet
	ERATELIMIT      = "rate_limited"
	EQUOTA          = "quota_exceeded"   // the caller's plan allowance for this period is used up
	EBUDGET         = "budget_exhausted" // the service's spending budget for this period is used up
	ETIMEOUT        = "timeout"
	EINTERNAL       = "internal"
)

// Error is an error meant for users: a stable code and a message that says
// what to fix. Anything else that reaches a user is reported as internal.
type Error struct {
	Code    string
	Message string
	// Field names the input at fault, when there is one (a query parameter,
	// an environment variable, a JSON member).
	Field string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Errorf returns an *Error with the given code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an *Error about one named input.
func FieldErrorf(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// EINTERNAL when there is none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the *Error's message,
// or a generic one for internal errors, whose details stay in the logs.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	return "internal error"
}
