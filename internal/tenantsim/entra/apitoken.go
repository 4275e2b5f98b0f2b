package entra

import (
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Tokens for an app registration's own API (App.API), such as Entravault's
// REST API. Entra issues them in the v2 shape when the registration sets
// accessTokenAcceptedVersion 2: iss is the discovery document's issuer,
// aud the API's app id, roles the app roles assigned to the caller.

// apiTokenClaims is the JSON body of a v2 access token for an exposed API.
type apiTokenClaims struct {
	Aud               string           `json:"aud"`
	Iss               string           `json:"iss"`
	Iat               *jwt.NumericDate `json:"iat"`
	Nbf               *jwt.NumericDate `json:"nbf"`
	Exp               *jwt.NumericDate `json:"exp"`
	Azp               string           `json:"azp"`
	AzpACR            string           `json:"azpacr"`
	IDTyp             string           `json:"idtyp"`
	Name              string           `json:"name,omitempty"`
	OID               string           `json:"oid"`
	PreferredUsername string           `json:"preferred_username,omitempty"`
	Roles             []string         `json:"roles,omitempty"`
	Scp               string           `json:"scp,omitempty"`
	Sub               string           `json:"sub"`
	TID               string           `json:"tid"`
	UTI               string           `json:"uti"`
	Ver               string           `json:"ver"`
}

func (c *apiTokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Exp, nil }
func (c *apiTokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.Iat, nil }
func (c *apiTokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.Nbf, nil }
func (c *apiTokenClaims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c *apiTokenClaims) GetSubject() (string, error)                  { return c.Sub, nil }
func (c *apiTokenClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Aud}, nil
}

// splitScope splits "api://<id>/access_as_user" into the resource and the
// permission; a bare permission ("User.Read") has no resource.
func splitScope(sc string) (resource, perm string) {
	i := strings.LastIndex(sc, "/")
	if i < 0 {
		return "", sc
	}
	return sc[:i], sc[i+1:]
}

const apiURIPrefix = "api://"

// apiResource finds the app whose exposed API resource names: its app id,
// or api://<appId> when the registration lists that identifier URI.
func (s *Server) apiResource(resource string) (App, bool) {
	resource = strings.TrimSuffix(resource, "/")
	id, isURI := resource, false
	if len(resource) > len(apiURIPrefix) && strings.EqualFold(resource[:len(apiURIPrefix)], apiURIPrefix) {
		id, isURI = resource[len(apiURIPrefix):], true
	}
	app, ok := s.dir.App(id)
	if !ok || app.API == nil {
		return App{}, false
	}
	if isURI && !slices.ContainsFunc(app.API.IdentifierURIs, func(u string) bool {
		return strings.EqualFold(strings.TrimSuffix(u, "/"), resource)
	}) {
		return App{}, false
	}
	return app, true
}

// namesAPI reports whether a resource that is not Graph must be an exposed
// API (api://… or a bare app id): one that is not found is then an unknown
// resource rather than a Graph permission.
func namesAPI(resource string) bool {
	if len(resource) >= len(apiURIPrefix) && strings.EqualFold(resource[:len(apiURIPrefix)], apiURIPrefix) {
		return true
	}
	return len(resource) == 36 && strings.Count(resource, "-") == 4
}

// servicePrincipalID is the oid of the requesting app's service principal.
func servicePrincipalID(req *tokenRequest) string {
	if req.app.ServicePrincipalID != "" {
		return req.app.ServicePrincipalID
	}
	return stableUUID("sp:" + req.tid + ":" + req.app.ClientID)
}

// assignedRoles are the app roles of api assigned to the principal, sorted;
// roles no longer defined on the API are left out, as Entra does.
func assignedRoles(api *ExposedAPI, principalID string) []string {
	var roles []string
	for id, assigned := range api.Assignments {
		if !strings.EqualFold(id, principalID) {
			continue
		}
		for _, r := range assigned {
			if slices.ContainsFunc(api.AppRoles, func(d string) bool { return strings.EqualFold(d, r) }) {
				roles = append(roles, r)
			}
		}
	}
	slices.Sort(roles)
	return slices.Compact(roles)
}

// apiAppToken is the client credentials token of the requesting app for
// resource: roles are the app roles assigned to its service principal.
func (s *Server) apiAppToken(req *tokenRequest, resource App) (*tokenResponse, *aadError) {
	now := s.now()
	spID := servicePrincipalID(req)
	c := &apiTokenClaims{
		Aud:    resource.ClientID,
		Iss:    s.idTokenIssuer(req.r),
		Iat:    jwt.NewNumericDate(now),
		Nbf:    jwt.NewNumericDate(now),
		Exp:    jwt.NewNumericDate(now.Add(s.lifetime)),
		Azp:    req.app.ClientID,
		AzpACR: req.acr,
		IDTyp:  "app",
		OID:    spID,
		Roles:  assignedRoles(resource.API, spID),
		Sub:    spID,
		TID:    req.tid,
		UTI:    randomID(16),
		Ver:    "2.0",
	}
	tok, err := s.key.sign(c)
	if err != nil {
		return nil, errTransient()
	}
	secs := int(s.lifetime / time.Second)
	return &tokenResponse{TokenType: "Bearer", ExpiresIn: secs, ExtExpiresIn: secs, AccessToken: tok}, nil
}

// codeResource picks the resource of an authorization code's token: the
// first scope naming one, as Entra issues one access token per resource.
// api is nil when that resource is Graph (or the scope names none).
func (s *Server) codeResource(scopes []string, tid string) (api *App, name string, aerr *aadError) {
	for _, sc := range scopes {
		if oidcScopes[strings.ToLower(sc)] {
			continue
		}
		resource, _ := splitScope(sc)
		if resource == "" {
			return nil, "", nil
		}
		if _, ok := graphAudience(resource); ok {
			return nil, "", nil
		}
		if app, ok := s.apiResource(resource); ok {
			return &app, resource, nil
		}
		if namesAPI(resource) {
			return nil, "", errUnknownResource(resource, tid)
		}
		return nil, "", nil // any other resource: shaped as Graph, as before
	}
	return nil, "", nil
}

// apiUserToken is the delegated token of the signed-in account for
// resource: scp holds the requested scopes the API exposes (/.default: all
// of them), roles the app roles assigned to the account.
func (s *Server) apiUserToken(req *tokenRequest, ac *authCode, scopes []string, resource App, name string) (*tokenResponse, *aadError) {
	var scp, granted []string
	for _, sc := range scopes {
		res, perm := splitScope(sc)
		if res == "" || !strings.EqualFold(strings.TrimSuffix(res, "/"), name) {
			continue // OIDC scopes, or another resource: needs its own token
		}
		if perm == ".default" {
			scp = append(scp, resource.API.Scopes...)
			continue
		}
		i := slices.IndexFunc(resource.API.Scopes, func(e string) bool { return strings.EqualFold(e, perm) })
		if i < 0 {
			return nil, errInvalidScope(sc)
		}
		scp = append(scp, resource.API.Scopes[i])
	}
	slices.Sort(scp)
	scp = slices.Compact(scp)
	for _, p := range scp {
		granted = append(granted, name+"/"+p)
	}
	now := s.now()
	c := &apiTokenClaims{
		Aud:               resource.ClientID,
		Iss:               s.idTokenIssuer(req.r),
		Iat:               jwt.NewNumericDate(now),
		Nbf:               jwt.NewNumericDate(now),
		Exp:               jwt.NewNumericDate(now.Add(s.lifetime)),
		Azp:               req.app.ClientID,
		AzpACR:            req.acr,
		IDTyp:             "user",
		Name:              ac.account.DisplayName,
		OID:               ac.account.ObjectID,
		PreferredUsername: ac.account.UserPrincipalName,
		Roles:             assignedRoles(resource.API, ac.account.ObjectID),
		Scp:               strings.Join(scp, " "),
		Sub:               stableUUID("sub:" + ac.account.ObjectID + ":" + resource.ClientID),
		TID:               req.tid,
		UTI:               randomID(16),
		Ver:               "2.0",
	}
	tok, err := s.key.sign(c)
	if err != nil {
		return nil, errTransient()
	}
	secs := int(s.lifetime / time.Second)
	return &tokenResponse{
		TokenType:    "Bearer",
		Scope:        strings.Join(append(granted, oidcOnly(scopes)...), " "),
		ExpiresIn:    secs,
		ExtExpiresIn: secs,
		AccessToken:  tok,
	}, nil
}
