package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// CanSee reports whether p may see a connector whose access list is access:
// admins see every connector; anyone else only connectors whose list names
// one of p.IDs, compared case-insensitively and ignoring surrounding spaces.
// IDs are immutable ("apikey:<id>", "oid:<tenant>/<object>"), so an entry
// that is a name (a key name, UPN or mail, as lists held before IDs were
// immutable) admits nobody.
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
// the user's "oid:<tenant>/<object>" or the key's "apikey:<id>".
func EnsureListed(p Principal, access []string) []string {
	if CanSee(p, access) || len(p.IDs) == 0 {
		return access
	}
	return append(access[:len(access):len(access)], p.IDs[0])
}

// ResolveAccess returns an access list given to the API with every entry an
// immutable principal ID, to be stored: "apikey:<id>" and
// "oid:<tenant id>/<object id>" entries are kept, and any other entry must
// be the name of a live API key in keys (nil: none), which becomes that
// key's "apikey:<id>" now, so a later key given the name once this one is
// revoked is not admitted. Users are not resolved by UPN or mail: those
// change hands. Entries that resolve to nothing are an error matching
// ErrUnresolved and naming them; a key store that cannot be read,
// ErrUnavailable. Duplicates are dropped.
func ResolveAccess(ctx context.Context, keys *KeyStore, access []string) ([]string, error) {
	var out, bad []string
	for _, a := range access {
		a = strings.TrimSpace(a)
		switch {
		case a == "":
			// Validation reports empty entries; keep them for it.
			out = append(out, a)
		case isPrincipalID(a):
			out = addID(out, strings.ToLower(a))
		default:
			if keys == nil {
				bad = append(bad, a)
				continue
			}
			k, err := keys.LiveByName(ctx, a)
			if errors.Is(err, ErrKeyNotFound) {
				bad = append(bad, a)
				continue
			}
			if err != nil {
				return nil, err
			}
			out = addID(out, KeyPrincipalID(k.ID))
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: %q: give apikey:<id>, oid:<tenant id>/<object id>, or the name of a live API key", ErrUnresolved, bad)
	}
	return out, nil
}

// isPrincipalID reports whether a has the form of an ID in Principal.IDs.
func isPrincipalID(a string) bool {
	if id, ok := strings.CutPrefix(strings.ToLower(a), "apikey:"); ok {
		return validID(id)
	}
	if rest, ok := strings.CutPrefix(strings.ToLower(a), "oid:"); ok {
		tid, oid, ok := strings.Cut(rest, "/")
		return ok && tid != "" && oid != "" && !strings.ContainsAny(rest, " \t") && !strings.Contains(oid, "/")
	}
	return false
}
