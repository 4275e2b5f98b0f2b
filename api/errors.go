package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/entravault/entravault/internal/connector"
)

// Error is the body of every failed request:
// {"error":{"code","message","details"}}.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

func (e *Error) Error() string { return e.Message }

func apiError(status int, code, message string, details any) *Error {
	return &Error{Status: status, Code: code, Message: message, Details: details}
}

// codes by status, for errors that carry none.
var statusCodes = map[int]string{
	http.StatusBadRequest:            "bad_request",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not_found",
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusConflict:              "conflict",
	http.StatusRequestEntityTooLarge: "body_too_large",
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusServiceUnavailable:    "unavailable",
}

// errorHandler turns every error into one JSON shape and status, in one
// place. Internal errors are logged and answered without their details.
func errorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		var (
			ae *Error
			he *echo.HTTPError
			ve *connector.ValidationError
		)
		switch {
		case errors.As(err, &ae):
		case errors.As(err, &ve):
			ae = apiError(http.StatusBadRequest, "invalid_connector", "the connector configuration is invalid", ve.Fields)
		case errors.As(err, &he):
			msg, _ := he.Message.(string)
			if msg == "" {
				msg = http.StatusText(he.Code)
			}
			code := statusCodes[he.Code]
			if code == "" {
				code = "error"
			}
			ae = apiError(he.Code, code, msg, nil)
		default:
			if logger != nil {
				logger.Error("request failed", "method", c.Request().Method, "path", c.Path(), "error", err)
			}
			ae = apiError(http.StatusInternalServerError, "internal", "internal error; see the server log", nil)
		}
		if ae.Status >= 500 && logger != nil && !errors.As(err, &he) {
			logger.Error("request failed", "method", c.Request().Method, "path", c.Path(), "error", err)
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(ae.Status)
			return
		}
		_ = c.JSON(ae.Status, map[string]*Error{"error": ae})
	}
}
