package tenantsim

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/entravault/entravault/internal/tenantsim/entra"
	"github.com/entravault/entravault/internal/tenantsim/model"
)

// Entravault's own app registrations in the simulated tenant, as an
// operator would create them to sign in to the REST API with Entra ID:
//
//   - "Entravault API" exposes api://<appId> with the delegated scope
//     access_as_user and the app roles the API maps to its roles
//     (auth.AppRoleAdmin, AppRoleOperator, AppRoleViewer; the values are
//     repeated here so the simulator does not import the API's packages).
//     The Global Administrator account holds Entravault.Admin, the
//     Security Administrator Entravault.Operator, the regular user
//     Entravault.Viewer.
//   - "Entravault CLI" is a client that signs users in to it: public
//     (authorization code with PKCE) or confidential with its secret.
//
// They live beside the model, not in it: the Graph side does not list them,
// and their ids derive from the tenant id, so they are the same on every
// start of the same tenant.
const (
	APIScope = "access_as_user"

	appRoleAdmin    = "Entravault.Admin"
	appRoleOperator = "Entravault.Operator"
	appRoleViewer   = "Entravault.Viewer"
)

// ownApps are the Entravault registrations served next to the model's apps.
// Immutable once built.
type ownApps struct {
	api, cli entra.App
}

// app finds one of them by client id.
func (o *ownApps) app(clientID string) (entra.App, bool) {
	if o == nil {
		return entra.App{}, false
	}
	for _, a := range []entra.App{o.api, o.cli} {
		if strings.EqualFold(a.ClientID, clientID) {
			return a, true
		}
	}
	return entra.App{}, false
}

// newOwnApps registers the API and CLI apps of tenant t and assigns the
// accounts their app roles; roleOf is the app role per lower-case UPN, for
// the credentials file.
func newOwnApps(t *model.Tenant, cliSecret string) (o *ownApps, roleOf map[string]string) {
	tid := t.ID.String()
	apiID, cliID := stableUUID("app:"+tid+":entravault-api"), stableUUID("app:"+tid+":entravault-cli")
	assignments := map[string][]string{}
	roleOf = map[string]string{}
	for u, role := range map[int32]string{model.AdminUser: appRoleAdmin, model.SecAdminUser: appRoleOperator, model.RegularUser: appRoleViewer} {
		assignments[t.Users[u].ID.String()] = []string{role}
		roleOf[strings.ToLower(t.UPN(u))] = role
	}
	o = &ownApps{
		api: entra.App{ClientID: apiID, DisplayName: "Entravault API", ServicePrincipalID: stableUUID("sp:" + apiID),
			API: &entra.ExposedAPI{
				IdentifierURIs: []string{"api://" + apiID},
				Scopes:         []string{APIScope},
				AppRoles:       []string{appRoleAdmin, appRoleOperator, appRoleViewer},
				Assignments:    assignments,
			}},
		cli: entra.App{ClientID: cliID, DisplayName: "Entravault CLI", Secret: cliSecret, ServicePrincipalID: stableUUID("sp:" + cliID)},
	}
	return o, roleOf
}

// stableUUID derives a version-5-shaped UUID from name.
func stableUUID(name string) string {
	b := sha256.Sum256([]byte("entravault-sim:" + name))
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
