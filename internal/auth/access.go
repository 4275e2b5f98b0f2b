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

// RequireWrite is the rule for changes not tied to an existing connector
// (creating one): nil for admins and operators, else a 403 *echo.HTTPError
// wrapping ErrReadOnly.
func RequireWrite(p Principal) error {
	if !p.CanWrite() {
		return echo.NewHTTPError(http.StatusForbidden, "role "+string(p.Role)+" may not change anything").SetInternal(ErrReadOnly)
	}
	return nil
}

// EnsureListed returns access with p's first ID appended when p is neither
// an admin nor already listed: a non-admin who creates a connector (or edits
// its access list) would otherwise lose sight of it at once. The first ID is
// the token's oid, which survives renames, or the API key's name.
func EnsureListed(p Principal, access []string) []string {
	if CanSee(p, access) || len(p.IDs) == 0 {
		return access
	}
	return append(access[:len(access):len(access)], p.IDs[0])
}
