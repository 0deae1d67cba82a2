// Package jsonbody describes what is wrong with a JSON request body in
// words a client can act on, without echoing the input back, and spots
// data after the decoded value.
package jsonbody

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Describe describes an error from json.Decoder.Decode without echoing the
// input back: "malformed JSON", a member holding the wrong type (named by
// what belongs there), a body cut short, or an unknown field.
func Describe(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "malformed JSON"
	case errors.As(err, &te):
		if te.Field == "" {
			return "the body must be a JSON object, not a JSON " + te.Value
		}
		// te.Type is the list's element type when the value is in a list.
		return fmt.Sprintf("member %q holds a JSON %s where %s belongs", te.Field, te.Value, kind(te.Type))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is empty or cut short"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "malformed JSON"
}

// kind names what a Go type takes in JSON, as a client would say it.
func kind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(kind(t.Elem()), "a "), "an ") + "s"
	}
	return "an object"
}

// Brief is the decoder's own message, without its "json: " prefix and cut
// to 120 bytes.
func Brief(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}

// Trailing reports whether anything but white space follows the value
// dec decoded: Decoder.More misses a stray closing bracket or brace.
func Trailing(dec *json.Decoder) bool {
	_, err := dec.Token()
	return err != io.EOF
}
