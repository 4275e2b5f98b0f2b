package auth

import (
	"fmt"
	"strings"
)

// Role is what a principal may do across Entravault.
type Role string

const (
	// RoleAdmin sees and changes every connector and manages access.
	RoleAdmin Role = "admin"
	// RoleOperator changes the connectors whose access list names it.
	RoleOperator Role = "operator"
	// RoleViewer reads the connectors whose access list names it.
	RoleViewer Role = "viewer"
)

// ParseRole accepts "admin", "operator" or "viewer" in any case.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case RoleAdmin, RoleOperator, RoleViewer:
		return r, nil
	}
	return "", fmt.Errorf("%w %q: want admin, operator or viewer", ErrInvalidRole, s)
}

// rank orders roles so the strongest of several can be kept.
func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleOperator:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// Method values of Principal.Method.
const (
	MethodAPIKey = "apikey"
	MethodOIDC   = "oidc"
)

// Principal is an authenticated caller.
type Principal struct {
	// Name is for display and logs only, never for access decisions: the
	// API key name, or the token's upn / preferred_username (falling back
	// to email, oid). Names change hands (a revoked key's name is reused, a
	// UPN is recycled, a user edits their mail), so nothing matches on them.
	Name string
	// IDs are the immutable identifiers a connector access list may name:
	// for an API key "apikey:<id>" (KeyPrincipalID), for a token
	// "oid:<tenant id>/<object id>" (UserPrincipalID). Compared
	// case-insensitively.
	IDs []string
	// Role is the principal's role.
	Role Role
	// Method is MethodAPIKey or MethodOIDC.
	Method string
}

// UserPrincipalID is the principal ID of the user with object id oid in
// tenant tid, "oid:<tid>/<oid>": what an access list holds to admit that
// user, whatever their UPN or mail.
func UserPrincipalID(tid, oid string) string { return "oid:" + tid + "/" + oid }

// IsAdmin reports whether p sees and changes every connector.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin }

// CanWrite reports whether p may change anything: admins and operators.
// Viewers cannot.
func (p Principal) CanWrite() bool { return p.Role == RoleAdmin || p.Role == RoleOperator }

// addID appends id to ids unless empty or already present (ignoring case).
func addID(ids []string, id string) []string {
	id = strings.TrimSpace(id)
	if id == "" {
		return ids
	}
	for _, have := range ids {
		if strings.EqualFold(have, id) {
			return ids
		}
	}
	return append(ids, id)
}
