package web

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// statusOf is the one mapping from error codes to HTTP statuses.
var statusOf = map[string]int{
	flavormonk.EINVALID:        http.StatusBadRequest,
	flavormonk.EUNAUTHORIZED:   http.StatusUnauthorized,
	flavormonk.EUNSUPPORTED:    http.StatusUnsupportedMediaType,
	flavormonk.ENOTFOUND:       http.StatusNotFound,
	flavormonk.ECONFLICT:       http.StatusConflict,
	flavormonk.ETOOLARGE:       http.StatusRequestEntityTooLarge,
	flavormonk.EFORBIDDEN:      http.StatusForbidden,
	flavormonk.EUNAVAILABLE:    http.StatusServiceUnavailable,
	flavormonk.ENOTIMPLEMENTED: http.StatusNotImplemented,
	flavormonk.ERATELIMIT:      http.StatusTooManyRequests,
	flavormonk.EQUOTA:          http.StatusTooManyRequests,
	flavormonk.EBUDGET:         http.StatusTooManyRequests,
	flavormonk.ETIMEOUT:        http.StatusGatewayTimeout,
	flavormonk.EINTERNAL:       http.StatusInternalServerError,
}

// codeOfStatus maps Echo's own HTTP errors (router, body limit, rate
// limiter) back to our codes.
func codeOfStatus(status int) string {
	switch status {
	case http.StatusNotFound:
		return flavormonk.ENOTFOUND
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge, http.StatusRequestURITooLong:
		return flavormonk.ETOOLARGE
	case http.StatusTooManyRequests:
		return flavormonk.ERATELIMIT
	case http.StatusUnsupportedMediaType:
		return flavormonk.EUNSUPPORTED
	case http.StatusServiceUnavailable:
		return flavormonk.EUNAVAILABLE
	case http.StatusGatewayTimeout:
		return flavormonk.ETIMEOUT
	}
	if status >= 400 && status < 500 {
		return flavormonk.EINVALID
	}
	return flavormonk.EINTERNAL
}

// ErrorBody is the JSON shape of every API error.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is an error's stable code and message.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"request_id,omitempty"`
}

// resolve turns any error into a status and the detail users may see.
func resolve(err error) (int, ErrorDetail) {
	var fe *flavormonk.Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &fe):
		st, ok := statusOf[fe.Code]
		if !ok {
			st = http.StatusInternalServerError
		}
		return st, ErrorDetail{Code: fe.Code, Message: fe.Error(), Field: fe.Field}
	case errors.As(err, &he):
		msg := http.StatusText(he.Code)
		switch he.Code {
		case http.StatusNotFound:
			msg = "no such page or endpoint"
		case http.StatusRequestEntityTooLarge:
			msg = "the request body is larger than this server accepts"
		case http.StatusTooManyRequests:
			msg = "too many requests; slow down and retry in a minute"
		}
		return he.Code, ErrorDetail{Code: codeOfStatus(he.Code), Message: msg}
	case errors.Is(err, errBodyTimeout):
		return http.StatusRequestTimeout, ErrorDetail{Code: flavormonk.ETIMEOUT, Message: "the request body did not arrive in time"}
	case errors.Is(err, errDeadline):
		return http.StatusGatewayTimeout, ErrorDetail{Code: flavormonk.ETIMEOUT, Message: "the request took too long"}
	}
	return http.StatusInternalServerError, ErrorDetail{Code: flavormonk.EINTERNAL, Message: "internal error; it has been logged"}
}

var errDeadline = errors.New("request deadline exceeded")
