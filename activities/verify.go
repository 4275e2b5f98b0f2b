package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/restore"
)

// Built-in Entra role template ids (roleDefinitionId).
const (
	RoleGlobalAdministrator   = "62e90394-69f5-4237-9190-012177145e10"
	RoleSecurityAdministrator = "194ae4cb-b126-40b2-bd5b-6091b380977d"
)

// Entra ID P1 and P2 service plans: the same ids inside every bundle.
var premiumServicePlans = map[string]string{
	"41781fb2-bc02-4b7c-bd55-b576c07bb09d": "AAD_PREMIUM",
	"eec0eb4f-6444-4f95-aba0-50c24d67f998": "AAD_PREMIUM_P2",
}

// permissionsFor lists the application permissions a connector needs:
// least privilege per scope, plus what verification itself reads.
func permissionsFor(kind connector.Kind, scopes connector.Scopes) []string {
	need := []string{"RoleManagement.Read.Directory", "Organization.Read.All"}
	for _, s := range scopes.Enabled() {
		switch s {
		case connector.ScopeUsers:
			need = append(need, "User.Read.All")
		case connector.ScopeGroups:
			need = append(need, "GroupMember.Read.All")
		case connector.ScopeAdministrativeUnits:
			need = append(need, "AdministrativeUnit.Read.All")
		case connector.ScopeApplications:
			need = append(need, "Application.Read.All")
		case connector.ScopePolicies:
			need = append(need, "Policy.Read.All")
		case connector.ScopeSignIns, connector.ScopeDirectoryAudits:
			// directoryAudits needs both; Directory.Read.All alone fails on logs.
			need = append(need, "AuditLog.Read.All", "Directory.Read.All")
		}
	}
	slices.Sort(need)
	return slices.Compact(need)
}

// satisfiedBy: a broader permission grants a narrower one.
var satisfiedBy = map[string][]string{
	"User.Read.All":                 {"User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
	"GroupMember.Read.All":          {"Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
	"AdministrativeUnit.Read.All":   {"AdministrativeUnit.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
	"Application.Read.All":          {"Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
	"Organization.Read.All":         {"Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
	"RoleManagement.Read.Directory": {"RoleManagement.ReadWrite.Directory", "Directory.Read.All", "Directory.ReadWrite.All"},
	"Directory.Read.All":            {"Directory.ReadWrite.All"},
	// Restore's write permissions.
	"User.ReadWrite.All":               {"Directory.ReadWrite.All"},
	"Group.ReadWrite.All":              {"Directory.ReadWrite.All"},
	"GroupMember.ReadWrite.All":        {"Group.ReadWrite.All", "Directory.ReadWrite.All"},
	"AdministrativeUnit.ReadWrite.All": {"Directory.ReadWrite.All"},
}

func missingPermissions(need, granted []string) []string {
	have := map[string]bool{}
	for _, g := range granted {
		have[strings.ToLower(g)] = true
	}
	var missing []string
	for _, n := range need {
		ok := have[strings.ToLower(n)]
		for _, alt := range satisfiedBy[n] {
			ok = ok || have[strings.ToLower(alt)]
		}
		if !ok {
			missing = append(missing, n)
		}
	}
	return missing
}

// Verifier checks a tenant's consent before any backup runs.
type Verifier struct {
	Graph GraphFactory
	// Restore is the restore application; nil: restores write with Graph.
	Restore GraphFactory
	Now     func() time.Time
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// VerifyConnector records every check in a report; a failed check is a
// result, not an error. Only an unreachable Graph is an error (retried).
func (v *Verifier) VerifyConnector(ctx context.Context, in VerifyInput) (VerifyReport, error) {
	rep := VerifyReport{CheckedAt: v.now()}
	add := func(name string, ok bool, detail string) {
		rep.Checks = append(rep.Checks, Check{Name: name, OK: ok, Detail: detail})
	}
	if in.TenantID == "" {
		return rep, nonRetryable(ErrTypeBadInput, "verify: no tenant id from consent", nil)
	}
	// A new token: a consent granted minutes ago must show in its roles.
	g, err := v.Graph.Renew(ctx, in.TenantID)
	if err != nil {
		return rep, err
	}

	// 1. The application's token carries every permission the scopes need.
	roles, err := g.AppRoles(ctx)
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) {
			add("application permissions", false, err.Error())
			return v.finish(rep), nil
		}
		return rep, err
	}
	need := permissionsFor(in.Kind, in.Scopes)
	rep.MissingPermissions = missingPermissions(need, roles)
	if in.Kind == connector.KindDirectory {
		rep.Restore = v.restoreReadiness(ctx, in.TenantID, roles)
	}
	if len(rep.MissingPermissions) == 0 {
		add("application permissions", true, "granted: "+strings.Join(need, ", "))
	} else {
		add("application permissions", false, "missing: "+strings.Join(rep.MissingPermissions, ", "))
	}

	// 2. The tenant is the one the operator named.
	if ok, detail, err := v.tenantMatches(ctx, g, in); err != nil {
		return rep, err
	} else {
		add("tenant", ok, detail)
	}

	// 3. The signed-in account is a Global Administrator.
	admins, err := v.roleHolders(ctx, g, RoleGlobalAdministrator)
	if err != nil {
		add("global administrator", false, "cannot read role assignments: "+err.Error())
	} else if admins[in.AdminObjectID] {
		add("global administrator", true, in.AdminUPN+" holds Global Administrator")
	} else {
		add("global administrator", false, in.AdminUPN+" does not hold Global Administrator")
	}

	// 4. Activity logs need a P1/P2 licence and a Global or Security Administrator.
	if hasLogScope(in.Scopes) {
		ok, detail, err := v.premium(ctx, g)
		if err != nil {
			add("entra id p1/p2 licence", false, "cannot read subscribed SKUs: "+err.Error())
		} else {
			add("entra id p1/p2 licence", ok, detail)
		}
		sec, err := v.roleHolders(ctx, g, RoleSecurityAdministrator)
		if err != nil {
			add("log reader administrator", false, "cannot read role assignments: "+err.Error())
		} else {
			n := len(admins) + len(sec)
			add("log reader administrator", n > 0, fmt.Sprintf("%d Global and %d Security Administrator assignments", len(admins), len(sec)))
		}
	}

	// 5. One probe request per enabled scope.
	for _, s := range in.Scopes.Enabled() {
		for _, probe := range probesFor(s, in.Scopes) {
			if _, err := inTurn(ctx, in.TenantID, probe, func() ([]byte, error) { return g.GetRaw(ctx, probe) }); err != nil {
				if GraphStatus(err) == 0 {
					return rep, err // transport trouble: retry the activity
				}
				add("probe "+string(s), false, probeMessage(err))
			} else {
				add("probe "+string(s), true, probe)
			}
		}
	}
	return v.finish(rep), nil
}

// restoreReadiness lists, per object type restore writes, the write
// permissions the tenant has not granted to the application restores
// write with. A restore application the tenant never consented to gets no
// token: nothing is ready until an admin consents.
func (v *Verifier) restoreReadiness(ctx context.Context, tenantID string, backupRoles []string) []RestoreReadiness {
	granted := backupRoles
	if v.Restore != nil {
		granted = nil
		if g, err := v.Restore.Renew(ctx, tenantID); err == nil {
			granted, _ = g.AppRoles(ctx)
		}
	}
	var out []RestoreReadiness
	for _, typ := range restore.SelectableTypes {
		missing := missingPermissions(restore.WritePermissions[typ], granted)
		out = append(out, RestoreReadiness{Type: typ, Ready: len(missing) == 0, Missing: missing})
	}
	return out
}

func probeMessage(err error) string {
	ge, _ := err.(*GraphError)
	if ge != nil && ge.Code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant" {
		return "sign-in logs need an Entra ID P1 or P2 licence"
	}
	return err.Error()
}

func (v *Verifier) finish(rep VerifyReport) VerifyReport {
	rep.OK = true
	for _, c := range rep.Checks {
		rep.OK = rep.OK && c.OK
	}
	return rep
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func hasLogScope(s connector.Scopes) bool { return s.SignIns || s.DirectoryAudits }

func probesFor(s connector.Scope, scopes connector.Scopes) []string {
	switch s {
	case connector.ScopeUsers:
		return []string{"/users?$top=1&$select=id"}
	case connector.ScopeGroups:
		return []string{"/groups?$top=1&$select=id"}
	case connector.ScopeAdministrativeUnits:
		return []string{"/directory/administrativeUnits?$top=1"}
	case connector.ScopeRoles:
		return []string{"/roleManagement/directory/roleDefinitions?$top=1"}
	case connector.ScopeApplications:
		return []string{"/applications?$top=1&$select=id", "/servicePrincipals?$top=1&$select=id"}
	case connector.ScopePolicies:
		var out []string
		if p := scopes.Policies; p != nil {
			if p.ConditionalAccess {
				out = append(out, "/identity/conditionalAccess/policies?$top=1")
			}
			if p.NamedLocations {
				out = append(out, "/identity/conditionalAccess/namedLocations?$top=1")
			}
			if p.AuthenticationMethods {
				out = append(out, "/policies/authenticationMethodsPolicy")
			}
			if p.Authorization {
				out = append(out, "/policies/authorizationPolicy")
			}
		}
		return out
	case connector.ScopeSignIns:
		return []string{"/auditLogs/signIns?$top=1"}
	case connector.ScopeDirectoryAudits:
		return []string{"/auditLogs/directoryAudits?$top=1"}
	}
	return nil
}

func (v *Verifier) tenantMatches(ctx context.Context, g Graph, in VerifyInput) (bool, string, error) {
	want := strings.ToLower(in.ConfigTenant)
	if guidRE.MatchString(want) {
		return strings.EqualFold(want, in.TenantID), fmt.Sprintf("consent came from tenant %s, connector names %s", in.TenantID, in.ConfigTenant), nil
	}
	body, err := g.GetRaw(ctx, "/organization?$select=id,verifiedDomains")
	if err != nil {
		if GraphStatus(err) == 0 {
			return false, "", err
		}
		return false, "cannot read the organization: " + err.Error(), nil
	}
	var page struct {
		Value []struct {
			ID              string `json:"id"`
			VerifiedDomains []struct {
				Name string `json:"name"`
			} `json:"verifiedDomains"`
		} `json:"value"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return false, "", fmt.Errorf("organization: %w", err)
	}
	for _, org := range page.Value {
		for _, d := range org.VerifiedDomains {
			if strings.EqualFold(d.Name, want) {
				return true, fmt.Sprintf("%s is a verified domain of tenant %s", in.ConfigTenant, in.TenantID), nil
			}
		}
	}
	return false, fmt.Sprintf("%s is not a verified domain of the tenant that consented (%s)", in.ConfigTenant, in.TenantID), nil
}

// roleHolders returns the principals assigned a directory role template.
func (v *Verifier) roleHolders(ctx context.Context, g Graph, roleDefinitionID string) (map[string]bool, error) {
	holders := map[string]bool{}
	next := "/roleManagement/directory/roleAssignments?$filter=" + url.QueryEscape("roleDefinitionId eq '"+roleDefinitionID+"'")
	for next != "" {
		body, err := g.GetRaw(ctx, next)
		if err != nil {
			return nil, err
		}
		var page struct {
			Value []struct {
				PrincipalID      string `json:"principalId"`
				RoleDefinitionID string `json:"roleDefinitionId"`
			} `json:"value"`
			NextLink string `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("role assignments: %w", err)
		}
		for _, a := range page.Value {
			if strings.EqualFold(a.RoleDefinitionID, roleDefinitionID) {
				holders[a.PrincipalID] = true
			}
		}
		next = page.NextLink
	}
	return holders, nil
}

// premium looks for an enabled Entra ID P1 or P2 service plan.
func (v *Verifier) premium(ctx context.Context, g Graph) (bool, string, error) {
	body, err := g.GetRaw(ctx, "/subscribedSkus")
	if err != nil {
		return false, "", err
	}
	var page struct {
		Value []struct {
			SkuPartNumber    string `json:"skuPartNumber"`
			CapabilityStatus string `json:"capabilityStatus"`
			PrepaidUnits     struct {
				Enabled int `json:"enabled"`
			} `json:"prepaidUnits"`
			ServicePlans []struct {
				ServicePlanID      string `json:"servicePlanId"`
				ProvisioningStatus string `json:"provisioningStatus"`
			} `json:"servicePlans"`
		} `json:"value"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return false, "", fmt.Errorf("subscribed SKUs: %w", err)
	}
	for _, sku := range page.Value {
		if sku.CapabilityStatus != "Enabled" || sku.PrepaidUnits.Enabled <= 0 {
			continue
		}
		for _, p := range sku.ServicePlans {
			if name, ok := premiumServicePlans[strings.ToLower(p.ServicePlanID)]; ok && p.ProvisioningStatus == "Success" {
				return true, fmt.Sprintf("%s in %s", name, sku.SkuPartNumber), nil
			}
		}
	}
	return false, "no enabled Entra ID P1 or P2 service plan: activity logs cannot be read", nil
}
