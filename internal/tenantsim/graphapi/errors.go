package graphapi

import (
	"encoding/json"
	"net/http"
	"time"
)

// graphError is a Graph error response (graph.md §5).
type graphError struct {
	status  int
	code    string
	msg     string
	header  map[string]string
	details []any // error.details, e.g. the code of a synced-object refusal
}

func (e *graphError) Error() string { return e.code + ": " + e.msg }

func errf(status int, code, msg string) *graphError {
	return &graphError{status: status, code: code, msg: msg}
}

var (
	errNoToken    = errf(401, "InvalidAuthenticationToken", "Access token is empty.")
	errExpired    = errf(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
	errBadToken   = errf(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")
	errDenied     = errf(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
	errNonPremium = errf(403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant", "Neither tenant is B2C or tenant doesn't have premium license")
	errBadFilter  = errf(400, "BadRequest", "Invalid filter clause")
	errSkipToken  = errf(400, "Directory_InvalidSkipToken", "The specified page token value has expired or is invalid. Please re-run the query.")
	errSyncState  = errf(400, "syncStateNotFound", "The sync state generation is not found. The delta token is expired and data must be synchronized again.")
	errNoRoute    = errf(400, "BadRequest", "Resource not found for the segment.")
	errMethod     = errf(405, "Request_BadRequest", "The HTTP method is not allowed on this resource.")
	errNoTopParam = errf(400, "Request_UnsupportedQuery", "This resource does not support custom page sizes.")
)

func errNotFound(id string) *graphError {
	return errf(404, "Request_ResourceNotFound", "Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.")
}

// errRefMissing: a link names an object that does not exist, or that
// Entra has not replicated yet (Options.ConsistencyDelay).
func errRefMissing(id string) *graphError {
	return errf(400, "Request_BadRequest", "One or more of the objects being referenced do not exist: '"+id+"'.")
}

func errMissingPermission(perm string) *graphError {
	return errf(403, "Authentication_MSGraphPermissionMissing", "Calling principal does not have required MSGraph permissions "+perm)
}

// writeError writes the error body every SDK parses: error.code,
// error.message and innerError with a 19-character UTC date (graph.md §1
// rows 6-8).
func writeError(w http.ResponseWriter, r *http.Request, e *graphError, now time.Time) {
	inner := map[string]any{
		"date":              now.UTC().Format("2006-01-02T15:04:05"),
		"request-id":        w.Header().Get("request-id"),
		"client-request-id": w.Header().Get("client-request-id"),
	}
	if e.status == http.StatusTooManyRequests {
		inner["code"], inner["status"], inner["message"] = "429", "429", "Please retry after"
	}
	for k, v := range e.header {
		w.Header().Set(k, v)
	}
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
	}
	main := map[string]any{"code": e.code, "message": e.msg, "innerError": inner}
	if e.details != nil {
		main["details"] = e.details
	}
	body, _ := json.Marshal(map[string]any{"error": main})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}
