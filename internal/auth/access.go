package auth

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// CanSee reports whether p may see a connector whose access list is access:
// admins see every connector; anyone else only connectors whose list names
// one of p.IDs, compared case-insensitively and ignoring surrounding spaces.
func CanSee(p Principal, access []string) bool {
	if p.IsAdmin() {
		return true
	}
	for _, a := range access {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		for _, id := range p.IDs {
			if strings.EqualFold(a, id) {
				return true
			}
		}
	}
	return false
}

// Authorize applies the connector rule for one request. It returns nil when
// p may see the connector (and, if write, change it); otherwise an
// *echo.HTTPError for the API's central error handler: 404 "connector not
// found" wrapping ErrNotVisible when p may not see it (so its existence is
// not revealed), 403 wrapping ErrReadOnly when p sees it but may not change
// anything. Both match their sentinel with errors.Is.
func Authorize(p Principal, access []string, write bool) error {
	if !CanSee(p, access) {
		return echo.NewHTTPError(http.StatusNotFound, "connector not found").SetInternal(ErrNotVisible)
	}
	if write && !p.CanWrite() {
		return echo.NewHTTPError(http.StatusForbidden, "role "+string(p.Role)+" may not change connectors").SetInternal(ErrReadOnly)
	}
	return nil
}
