package entra

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	jwtBearerAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	maxFormBytes           = 1 << 20
	// Built-in role template ids, carried in the wids claim of user tokens.
	globalAdminTemplateID   = "62e90394-69f5-4237-9190-012177145e10"
	securityAdminTemplateID = "194ae4cb-b126-40b2-bd5b-6091b380977d"
)

// tokenResponse is the token endpoint's success body. expires_in is an
// integer: MSAL parses it with strconv.Atoi.
type tokenResponse struct {
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token,omitempty"`
}

// tokenResponseV1 is the v1 endpoint's body: times are quoted, and the
// resource is named.
type tokenResponseV1 struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    string `json:"expires_in"`
	ExtExpiresIn string `json:"ext_expires_in"`
	ExpiresOn    string `json:"expires_on"`
	NotBefore    string `json:"not_before"`
	Resource     string `json:"resource"`
	AccessToken  string `json:"access_token"`
}

// tokenRequest is one POST to the token endpoint once its form is parsed.
type tokenRequest struct {
	v1     bool // /oauth2/token: resource= instead of scope=
	r      *http.Request
	seg    string // {tenant} as sent
	tid    string
	app    App
	acr    string // appidacr: "1" secret, "2" certificate, "0" public client
	params func(string) string
}

// handleToken implements /{tenant}/oauth2/v2.0/token. The CAE "claims"
// parameter is accepted and ignored.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) { s.token(w, r, false) }

// handleTokenV1 implements the v1 /{tenant}/oauth2/token that older tools
// use: client credentials with resource= instead of scope=.
func (s *Server) handleTokenV1(w http.ResponseWriter, r *http.Request) { s.token(w, r, true) }

func (s *Server) token(w http.ResponseWriter, r *http.Request, v1 bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.writeOAuthError(w, r, errMissingParam("grant_type"))
		return
	}
	req := &tokenRequest{v1: v1, r: r, seg: r.PathValue("tenant"), params: r.PostForm.Get}
	tid, ok := s.resolveTenant(req.seg)
	if !ok {
		s.writeOAuthError(w, r, errTenantNotFound(req.seg))
		return
	}
	req.tid = tid
	grant := req.params("grant_type")
	if grant == "" {
		s.writeOAuthError(w, r, errMissingParam("grant_type"))
		return
	}
	if grant != "client_credentials" && (grant != "authorization_code" || v1) {
		s.writeOAuthError(w, r, errUnsupportedGrant(grant))
		return
	}
	clientID, basicSecret, hasBasic := r.BasicAuth()
	if id := req.params("client_id"); id != "" {
		clientID = id
	}
	if clientID == "" {
		s.writeOAuthError(w, r, errMissingParam("client_id"))
		return
	}
	app, ok := s.dir.App(clientID)
	if !ok {
		s.writeOAuthError(w, r, errUnknownClient(clientID, req.seg))
		return
	}
	req.app = app
	secret := req.params("client_secret")
	if secret == "" && hasBasic {
		secret = basicSecret
	}
	// A code flow with PKCE may come from a public client without any
	// credential; every other request must authenticate the client.
	publicOK := grant == "authorization_code" && req.params("code_verifier") != ""
	if aerr := s.authenticateClient(req, secret, publicOK); aerr != nil {
		s.writeOAuthError(w, r, aerr)
		return
	}
	var (
		resp *tokenResponse
		aerr *aadError
	)
	if grant == "client_credentials" {
		resp, aerr = s.clientCredentials(req)
	} else {
		resp, aerr = s.redeemCode(req)
	}
	if aerr != nil {
		s.writeOAuthError(w, r, aerr)
		return
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	if v1 {
		now := s.now()
		writeJSON(w, http.StatusOK, tokenResponseV1{
			TokenType:    resp.TokenType,
			ExpiresIn:    strconv.Itoa(resp.ExpiresIn),
			ExtExpiresIn: strconv.Itoa(resp.ExtExpiresIn),
			ExpiresOn:    strconv.FormatInt(now.Add(s.lifetime).Unix(), 10),
			NotBefore:    strconv.FormatInt(now.Unix(), 10),
			Resource:     req.params("resource"),
			AccessToken:  resp.AccessToken,
		})
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// authenticateClient checks the client secret or certificate assertion and
// sets req.acr.
func (s *Server) authenticateClient(req *tokenRequest, secret string, publicOK bool) *aadError {
	if assertion := req.params("client_assertion"); assertion != "" {
		if req.params("client_assertion_type") != jwtBearerAssertionType {
			return errBadAssertionType()
		}
		if aerr := s.verifyClientAssertion(req, assertion); aerr != nil {
			return aerr
		}
		req.acr = "2"
		return nil
	}
	if secret != "" {
		// Constant-time compare so response timing does not leak the secret.
		if req.app.Secret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(req.app.Secret)) != 1 {
			return errInvalidSecret(req.app.ClientID)
		}
		req.acr = "1"
		return nil
	}
	if publicOK {
		req.acr = "0"
		return nil
	}
	return errNoClientCredential()
}

// assertionClaims are the claims of a client assertion (RFC 7523).
type assertionClaims struct {
	jwt.RegisteredClaims
}

// verifyClientAssertion checks a certificate client assertion as Entra does:
// the x5t#S256 (or legacy x5t) header names the app's certificate, the
// signature (PS256 or RS256) verifies with it, iss = sub = client_id, aud is
// this token endpoint, and the time window holds.
func (s *Server) verifyClientAssertion(req *tokenRequest, assertion string) *aadError {
	if len(req.app.CertificateDER) == 0 {
		return errAssertion("The key was not found. No certificate credential is registered on the application.")
	}
	cert, err := x509.ParseCertificate(req.app.CertificateDER)
	if err != nil {
		return errAssertion("The registered certificate could not be parsed.")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return errAssertion("The registered certificate does not hold an RSA key.")
	}
	var claims assertionClaims
	_, err = jwt.ParseWithClaims(assertion, &claims, func(t *jwt.Token) (any, error) {
		s256, _ := t.Header["x5t#S256"].(string)
		sha1t, _ := t.Header["x5t"].(string)
		switch {
		case s256 != "" && thumbprintMatches(s256, x5tS256(cert.Raw)):
		case s256 == "" && sha1t != "" && thumbprintMatches(sha1t, x5t(cert.Raw)):
		default:
			return nil, errKeyNotFound
		}
		return pub, nil
	},
		jwt.WithValidMethods([]string{"PS256", "RS256"}),
		jwt.WithTimeFunc(s.now),
		jwt.WithLeeway(5*time.Minute), // Entra tolerates client clock skew
		jwt.WithExpirationRequired(),
	)
	switch {
	case err == nil:
	case errors.Is(err, errKeyNotFound):
		return errAssertion("The key was not found. The thumbprint in the assertion header does not match a certificate registered on the application.")
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet):
		return errAssertionTime()
	case errors.Is(err, jwt.ErrTokenMalformed):
		return &aadError{http.StatusBadRequest, "invalid_request", 50027, "JWT token is invalid or malformed."}
	default:
		return errAssertion("The signature of the client assertion is invalid.")
	}
	if claims.Issuer != req.app.ClientID || claims.Subject != req.app.ClientID {
		return errAssertionClientMismatch()
	}
	if !s.isOwnTokenEndpoint(req, claims.Audience) {
		return errAssertionAudience()
	}
	return nil
}

var errKeyNotFound = errors.New("assertion key not registered")

// thumbprintMatches compares a header thumbprint with want (base64url).
// RFC 7515 says base64url, but MSAL sends standard base64 with padding and
// Entra accepts both.
func thumbprintMatches(header, want string) bool {
	wantRaw, _ := base64.RawURLEncoding.DecodeString(want)
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if got, err := enc.DecodeString(header); err == nil {
			return subtle.ConstantTimeCompare(got, wantRaw) == 1
		}
	}
	return false
}

// isOwnTokenEndpoint accepts the v2 or v1 token endpoint of this tenant,
// addressed by the path segment used, the tenant id or a verified domain.
func (s *Server) isOwnTokenEndpoint(req *tokenRequest, aud jwt.ClaimStrings) bool {
	base := s.baseURL(req.r)
	var want []string
	for _, t := range append([]string{req.seg, req.tid}, s.dir.VerifiedDomains()...) {
		want = append(want, base+"/"+t+"/oauth2/v2.0/token", base+"/"+t+"/oauth2/token")
	}
	for _, a := range aud {
		for _, w := range want {
			if strings.EqualFold(strings.TrimSuffix(a, "/"), w) {
				return true
			}
		}
	}
	return false
}

// oidcScopes are requested alongside resource scopes and never name a
// resource (MSAL adds them to every request).
var oidcScopes = map[string]bool{"openid": true, "profile": true, "offline_access": true, "email": true}

// graphAudience maps a resource named in a scope to the token audience;
// ok is false when the resource is not Microsoft Graph.
func graphAudience(resource string) (aud string, ok bool) {
	switch strings.ToLower(strings.TrimSuffix(resource, "/")) {
	case GraphResource, "https://graph.microsoft.com/v1.0", "https://graph.microsoft.com/beta":
		return GraphResource, true
	case GraphAppID:
		return GraphAppID, true
	}
	return "", false
}

// clientCredentials issues an app-only Graph token whose roles are exactly
// the roles granted tenant-wide to the app.
func (s *Server) clientCredentials(req *tokenRequest) (*tokenResponse, *aadError) {
	resource, aerr := requestedResource(req)
	if aerr != nil {
		return nil, aerr
	}
	if aud, ok := graphAudience(resource); ok {
		return s.appToken(req, aud)
	}
	// The v1 endpoint only knows Graph; exposed APIs get v2 tokens.
	if api, ok := s.apiResource(resource); ok && !req.v1 {
		return s.apiAppToken(req, api)
	}
	return nil, errUnknownResource(resource, req.tid)
}

// requestedResource reads the one resource of a client credentials request:
// scope=<resource>/.default (v2) or resource=<resource> (v1).
func requestedResource(req *tokenRequest) (string, *aadError) {
	if req.v1 {
		if r := req.params("resource"); r != "" {
			return r, nil
		}
		return "", errMissingParam("resource")
	}
	scope := req.params("scope")
	if strings.TrimSpace(scope) == "" {
		return "", errMissingParam("scope")
	}
	var resource string
	for _, sc := range strings.Fields(scope) {
		if oidcScopes[strings.ToLower(sc)] {
			continue
		}
		r, ok := strings.CutSuffix(sc, "/.default")
		if !ok || resource != "" {
			return "", errScopeNotDefault(scope)
		}
		resource = r
	}
	if resource == "" {
		return "", errScopeNotDefault(scope)
	}
	return resource, nil
}

// appToken signs an app-only token for aud whose roles are exactly the
// roles granted to the app.
func (s *Server) appToken(req *tokenRequest, aud string) (*tokenResponse, *aadError) {
	roles := slices.Clone(s.dir.GrantedRoles(req.app.ClientID))
	slices.Sort(roles)
	roles = slices.Compact(roles)
	spID := servicePrincipalID(req)
	now := s.now()
	c := &accessTokenClaims{
		Aud:        aud,
		Iss:        stsIssuer(req.tid),
		Iat:        jwt.NewNumericDate(now),
		Nbf:        jwt.NewNumericDate(now),
		Exp:        jwt.NewNumericDate(now.Add(s.lifetime)),
		AppDisplay: req.app.DisplayName,
		AppID:      req.app.ClientID,
		AppIDACR:   req.acr,
		Azp:        req.app.ClientID,
		AzpACR:     req.acr,
		IDP:        stsIssuer(req.tid),
		IDTyp:      "app",
		OID:        spID,
		Roles:      roles,
		Sub:        spID,
		TID:        req.tid,
		UTI:        randomID(16),
		Ver:        "1.0",
	}
	tok, err := s.key.sign(c)
	if err != nil {
		return nil, errTransient()
	}
	secs := int(s.lifetime / time.Second)
	return &tokenResponse{TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: tok}, nil
}

// redeemCode exchanges an authorization code for an id_token of the
// signed-in account plus a delegated Graph access token. Codes are
// single-use.
func (s *Server) redeemCode(req *tokenRequest) (*tokenResponse, *aadError) {
	code := req.params("code")
	if code == "" {
		return nil, errMissingParam("code")
	}
	now := s.now()
	s.mu.Lock()
	ac, ok := s.codes[code]
	var aerr *aadError
	switch {
	case !ok || ac.clientID != req.app.ClientID:
		aerr = errCodeInvalid()
	case ac.redeemed:
		aerr = errCodeRedeemed()
	case !now.Before(ac.expires):
		aerr = errCodeExpired()
	case req.params("redirect_uri") != ac.redirectURI:
		aerr = errCodeRedirectMismatch()
	case !ac.verifierMatches(req.params("code_verifier")):
		aerr = errCodeVerifier()
	default:
		ac.redeemed = true // kept until expiry so a replay gets AADSTS54005
	}
	s.mu.Unlock()
	if aerr != nil {
		return nil, aerr
	}

	scopes := strings.Fields(ac.scope)
	api, apiName, aerr := s.codeResource(scopes, req.tid)
	if aerr != nil {
		return nil, aerr
	}
	var resp *tokenResponse
	if api != nil {
		resp, aerr = s.apiUserToken(req, ac, scopes, *api, apiName)
	} else {
		resp, aerr = s.graphUserToken(req, ac, scopes)
	}
	if aerr != nil {
		return nil, aerr
	}
	if slices.ContainsFunc(scopes, func(sc string) bool { return strings.EqualFold(sc, "openid") }) {
		if resp.IDToken, aerr = s.idToken(req, ac); aerr != nil {
			return nil, aerr
		}
	}
	return resp, nil
}

// graphUserToken is the delegated Graph token of the signed-in account.
func (s *Server) graphUserToken(req *tokenRequest, ac *authCode, scopes []string) (*tokenResponse, *aadError) {
	now := s.now()
	var scp []string
	for _, sc := range scopes {
		if oidcScopes[strings.ToLower(sc)] {
			continue
		}
		// Delegated permissions are not modelled: /.default yields the
		// permission every new registration has, User.Read.
		if strings.HasSuffix(sc, "/.default") {
			scp = append(scp, "User.Read")
			continue
		}
		if i := strings.LastIndex(sc, "/"); i >= 0 {
			sc = sc[i+1:]
		}
		scp = append(scp, sc)
	}
	if len(scp) == 0 {
		scp = []string{"User.Read"}
	}
	slices.Sort(scp)
	scp = slices.Compact(scp)
	var wids []string
	if ac.account.GlobalAdmin {
		wids = append(wids, globalAdminTemplateID)
	}
	if ac.account.SecurityAdmin {
		wids = append(wids, securityAdminTemplateID)
	}
	at := &accessTokenClaims{
		Aud:        GraphResource,
		Iss:        stsIssuer(req.tid),
		Iat:        jwt.NewNumericDate(now),
		Nbf:        jwt.NewNumericDate(now),
		Exp:        jwt.NewNumericDate(now.Add(s.lifetime)),
		AppDisplay: req.app.DisplayName,
		AppID:      req.app.ClientID,
		AppIDACR:   req.acr,
		Azp:        req.app.ClientID,
		AzpACR:     req.acr,
		IDTyp:      "user",
		Name:       ac.account.DisplayName,
		OID:        ac.account.ObjectID,
		Scp:        strings.Join(scp, " "),
		Sub:        stableUUID("sub:" + ac.account.ObjectID + ":" + GraphAppID),
		TID:        req.tid,
		UPN:        ac.account.UserPrincipalName,
		UniqueName: ac.account.UserPrincipalName,
		UTI:        randomID(16),
		Ver:        "1.0",
		WIDs:       wids,
	}
	access, err := s.key.sign(at)
	if err != nil {
		return nil, errTransient()
	}
	resp := &tokenResponse{
		TokenType:    "Bearer",
		Scope:        strings.Join(append(prefixGraph(scp), oidcOnly(scopes)...), " "),
		ExpiresIn:    int(s.lifetime / time.Second),
		ExtExpiresIn: int(s.lifetime / time.Second),
		AccessToken:  access,
	}
	return resp, nil
}

// idToken is the v2 id_token of the signed-in account for the client.
func (s *Server) idToken(req *tokenRequest, ac *authCode) (string, *aadError) {
	now := s.now()
	id := &idTokenClaims{
		Aud:               req.app.ClientID,
		Iss:               s.idTokenIssuer(req.r),
		Iat:               jwt.NewNumericDate(now),
		Nbf:               jwt.NewNumericDate(now),
		Exp:               jwt.NewNumericDate(now.Add(time.Hour)),
		Name:              ac.account.DisplayName,
		Nonce:             ac.nonce,
		OID:               ac.account.ObjectID,
		PreferredUsername: ac.account.UserPrincipalName,
		Sub:               stableUUID("sub:" + ac.account.ObjectID + ":" + req.app.ClientID),
		TID:               req.tid,
		UPN:               ac.account.UserPrincipalName,
		UTI:               randomID(16),
		Ver:               "2.0",
	}
	tok, err := s.key.sign(id)
	if err != nil {
		return "", errTransient()
	}
	return tok, nil
}

func prefixGraph(scp []string) []string {
	out := make([]string, len(scp))
	for i, s := range scp {
		out[i] = GraphResource + "/" + s
	}
	return out
}

func oidcOnly(scopes []string) []string {
	var out []string
	for _, sc := range scopes {
		if oidcScopes[strings.ToLower(sc)] && !strings.EqualFold(sc, "offline_access") {
			out = append(out, strings.ToLower(sc))
		}
	}
	return out
}

// verifierMatches checks a PKCE code_verifier (RFC 7636) when the
// authorization request carried a code_challenge.
func (c *authCode) verifierMatches(verifier string) bool {
	if c.codeChallenge == "" {
		return true
	}
	if verifier == "" {
		return false
	}
	got := verifier
	if !strings.EqualFold(c.challengeMethod, "plain") {
		sum := sha256.Sum256([]byte(verifier))
		got = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(c.codeChallenge)) == 1
}
