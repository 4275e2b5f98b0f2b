package tenantsim

import (
	"strings"
	"time"

	"github.com/entravault/entravault/internal/tenantsim/entra"
	"github.com/entravault/entravault/internal/tenantsim/model"
)

// directory adapts the model tenant, plus Entravault's own app
// registrations, to what the sign-in service needs.
type directory struct {
	t   *model.Tenant
	own *ownApps
}

var _ entra.Directory = directory{}

func (d directory) TenantID() string          { return d.t.ID.String() }
func (d directory) VerifiedDomains() []string { return d.t.VerifiedDomains() }

func (d directory) Account(upn string) (entra.Account, bool) {
	d.t.RLock()
	defer d.t.RUnlock()
	a, ok := d.t.Accounts[strings.ToLower(upn)]
	if !ok || !d.t.IsLive(model.MakeRef(model.KindUser, a.User)) {
		return entra.Account{}, false
	}
	name, _ := d.t.Render(model.MakeRef(model.KindUser, a.User))["displayName"].(string)
	acc := entra.Account{ObjectID: d.t.Users[a.User].ID.String(), UserPrincipalName: d.t.UPN(a.User),
		DisplayName: name, Password: a.Password}
	for _, ra := range d.t.RoleAssignments {
		if ra.Principal == model.MakeRef(model.KindUser, a.User) {
			switch model.RoleDefinitions[ra.Role].TemplateID {
			case model.GlobalAdministratorRole:
				acc.GlobalAdmin = true
			case model.SecurityAdministratorRole:
				acc.SecurityAdmin = true
			}
		}
	}
	return acc, true
}

func (d directory) App(clientID string) (entra.App, bool) {
	if a, ok := d.own.app(clientID); ok {
		return a, true
	}
	d.t.RLock()
	defer d.t.RUnlock()
	c, ok := d.t.AppCreds[strings.ToLower(clientID)]
	if !ok || !d.t.IsLive(model.MakeRef(model.KindApp, c.App)) {
		return entra.App{}, false
	}
	name, _ := d.t.Render(model.MakeRef(model.KindApp, c.App))["displayName"].(string)
	app := entra.App{ClientID: clientID, DisplayName: name,
		Secret: c.Secret, CertificateDER: c.CertificateDER, ConfiguredRoles: append([]string(nil), c.ConfiguredRoles...)}
	if sp, ok := d.t.SPByAppID(strings.ToLower(clientID)); ok {
		app.ServicePrincipalID = d.t.SPs[sp].ID.String()
	}
	return app, true
}

func (d directory) GrantedRoles(clientID string) []string {
	return d.t.GrantedRoles(strings.ToLower(clientID))
}

func (d directory) RecordConsent(clientID string, roles []string, by string, at time.Time) {
	d.t.RecordConsent(strings.ToLower(clientID), roles, by, at)
}
