package entra

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// aadError is an OAuth error as Entra's token endpoint returns it: an OAuth
// error code, an AADSTS number and a description. Descriptions may name
// client ids and tenants but never secrets, codes or tokens.
type aadError struct {
	status int
	code   string // OAuth "error", e.g. invalid_client
	aadsts int    // e.g. 7000215
	desc   string // without the "AADSTSnnn: " prefix
}

func (e *aadError) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.aadsts, e.desc) }

// Error constructors for the conditions the simulator reproduces. Status and
// codes follow entra-docs (reference-error-codes, v2-oauth2-client-creds-grant-flow).
func errMissingParam(name string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_request", 900144,
		fmt.Sprintf("The request body must contain the following parameter: '%s'.", name)}
}

func errTenantNotFound(tenant string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_request", 90002,
		fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)}
}

func errUnknownClient(clientID, tenant string) *aadError {
	return &aadError{http.StatusBadRequest, "unauthorized_client", 700016,
		fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant)}
}

func errInvalidSecret(clientID string) *aadError {
	return &aadError{http.StatusUnauthorized, "invalid_client", 7000215,
		fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID)}
}

func errNoClientCredential() *aadError {
	return &aadError{http.StatusUnauthorized, "invalid_client", 7000218,
		"The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
}

func errAssertion(reason string) *aadError {
	return &aadError{http.StatusUnauthorized, "invalid_client", 700027,
		"Client assertion failed signature validation. [Reason - " + reason + "]"}
}

func errAssertionTime() *aadError {
	return &aadError{http.StatusUnauthorized, "invalid_client", 700024,
		"Client assertion is not within its valid time range."}
}

func errAssertionClientMismatch() *aadError {
	return &aadError{http.StatusUnauthorized, "invalid_client", 700021,
		"Client assertion application identifier doesn't match 'client_id' parameter."}
}

func errAssertionAudience() *aadError {
	return &aadError{http.StatusUnauthorized, "invalid_client", 70021,
		"No matching federated identity record found for presented assertion audience. The client assertion audience must be the token endpoint."}
}

func errBadAssertionType() *aadError {
	return &aadError{http.StatusBadRequest, "invalid_request", 50027,
		"JWT token is invalid or malformed: client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer."}
}

func errUnsupportedGrant(grant string) *aadError {
	return &aadError{http.StatusBadRequest, "unsupported_grant_type", 70003,
		fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant)}
}

func errScopeNotDefault(scope string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_scope", 1002012,
		fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)}
}

// errTransient is Entra's answer when signing fails (it cannot in practice).
func errTransient() *aadError {
	return &aadError{http.StatusInternalServerError, "server_error", 90033, "A transient error has occurred. Please try again."}
}

func errInvalidScope(scope string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_scope", 70011,
		fmt.Sprintf("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope %s is not valid.", scope)}
}

func errUnknownResource(resource, tenant string) *aadError {
	return &aadError{http.StatusBadRequest, "invalid_resource", 500011,
		fmt.Sprintf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", resource, tenant)}
}

func errCodeInvalid() *aadError {
	return &aadError{http.StatusBadRequest, "invalid_grant", 70000,
		"The provided value for the 'code' parameter is not valid."}
}

func errCodeRedeemed() *aadError {
	return &aadError{http.StatusBadRequest, "invalid_grant", 54005,
		"OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."}
}

func errCodeExpired() *aadError {
	return &aadError{http.StatusBadRequest, "invalid_grant", 70008,
		"The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource."}
}

func errCodeRedirectMismatch() *aadError {
	return &aadError{http.StatusBadRequest, "invalid_grant", 500112,
		"The reply address does not match the reply address provided when requesting the authorization code."}
}

func errCodeVerifier() *aadError {
	return &aadError{http.StatusBadRequest, "invalid_grant", 501481,
		"The Code_Verifier does not match the code_challenge supplied in the authorization request."}
}

// oauthErrorBody is the JSON body of a token endpoint error.
type oauthErrorBody struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	ErrorCodes    []int  `json:"error_codes"`
	Timestamp     string `json:"timestamp"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
	ErrorURI      string `json:"error_uri"`
}

// writeOAuthError writes e as Entra does: the description carries trace id,
// correlation id (the client's client-request-id when sent) and timestamp.
func (s *Server) writeOAuthError(w http.ResponseWriter, r *http.Request, e *aadError) {
	now := s.now().UTC()
	ts := now.Format("2006-01-02 15:04:05Z")
	traceID := newUUID()
	corr := r.Header.Get("client-request-id")
	if corr == "" {
		corr = newUUID()
	}
	body := oauthErrorBody{
		Error: e.code,
		Description: fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s",
			e.aadsts, e.desc, traceID, corr, ts),
		ErrorCodes:    []int{e.aadsts},
		Timestamp:     ts,
		TraceID:       traceID,
		CorrelationID: corr,
		ErrorURI:      "https://login.microsoftonline.com/error?code=" + strconv.Itoa(e.aadsts),
	}
	s.log.Info("entra: request rejected", "path", r.URL.Path, "error", e.code, "aadsts", e.aadsts)
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	if e.code == "invalid_client" && e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="entravault-sim"`)
	}
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
