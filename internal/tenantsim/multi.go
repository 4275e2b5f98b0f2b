package tenantsim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/entravault/entravault/internal/tenantsim/entra"
	"github.com/entravault/entravault/internal/tenantsim/model"
)

// Several tenants in one process (Options.Tenants), as Entra serves every
// tenant at one Graph URL and one authority host: a Graph request goes to
// the tenant its token was issued by (the tid claim), a sign-in request to
// the tenant its path names (/{tenant id or domain}/…). The first tenant is
// the one Options describe; the others are small, and share its
// applications' client ids and secrets, as a multi-tenant application
// registered once and consented in each tenant does.

// otherTenantSeedStep spaces the other tenants' seeds, so their ids,
// domains and names differ from the first tenant's.
const otherTenantSeedStep = 7919

// addOtherTenants creates tenants 2…opts.Tenants beside s.
func (s *Simulator) addOtherTenants(opts Options) error {
	for i := 1; i < opts.Tenants; i++ {
		o := opts
		o.Tenants = 1
		o.Seed = opts.Seed + int64(i)*otherTenantSeedStep
		o.Users, o.Groups, o.AdministrativeUnits, o.Applications = max(opts.OtherTenantUsers, 3), 0, 0, 0
		o.DataDir = filepath.Join(s.dir, fmt.Sprintf("tenant-%d", i+1))
		if opts.StateFile != "" {
			o.StateFile = filepath.Join(o.DataDir, "state.json")
		}
		other, err := newTenant(o, s)
		if err != nil {
			return fmt.Errorf("tenant %d: %w", i+1, err)
		}
		s.others = append(s.others, other)
	}
	return nil
}

// shareApps gives tenant t the first tenant's application ids (backup,
// restore, no-roles), before their credentials are set.
func (s *Simulator) shareApps(t *model.Tenant) {
	home := s.home.tenant
	for _, a := range []int32{model.BackupApp, model.NoRolesApp, model.RestoreApp} {
		if int(a) < len(t.Apps) && int(a) < len(home.Apps) {
			t.Apps[a].AppID = home.Apps[a].AppID
		}
	}
}

// Tenants are every tenant the process serves, the first one first.
func (s *Simulator) Tenants() []*Simulator { return append([]*Simulator{s}, s.others...) }

// tenantRoutes are each tenant's handler by its id and its verified
// domains (lower case), built once: they do not change.
type tenantRoutes struct {
	byName map[string]http.Handler
	home   http.Handler
}

func (s *Simulator) routes(handlerOf func(*Simulator) http.Handler) tenantRoutes {
	rt := tenantRoutes{byName: map[string]http.Handler{}}
	for _, t := range s.Tenants() {
		h := handlerOf(t)
		if t == s {
			rt.home = h
		}
		rt.byName[strings.ToLower(t.creds.TenantID)] = h
		for _, d := range t.tenant.VerifiedDomains() {
			rt.byName[strings.ToLower(d)] = h
		}
	}
	return rt
}

// pick is the handler of the tenant name names, else the first tenant's.
func (rt tenantRoutes) pick(name string) http.Handler {
	if h := rt.byName[strings.ToLower(name)]; h != nil {
		return h
	}
	return rt.home
}

// graphFront routes Graph by the token's tenant and the control API by
// /_sim/tenants/{id}/…; everything else is the first tenant's.
func (s *Simulator) graphFront() http.Handler {
	if len(s.others) == 0 {
		return s.Handler()
	}
	rt := s.routes((*Simulator).Handler)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_sim/tenants" {
			writeJSON(w, http.StatusOK, s.creds.Tenants)
			return
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, "/_sim/tenants/"); ok {
			name, tail, _ := strings.Cut(rest, "/")
			h := rt.byName[strings.ToLower(name)]
			if h == nil {
				writeJSON(w, http.StatusNotFound, map[string]string{"error": "no tenant " + name})
				return
			}
			r = r.Clone(r.Context())
			r.URL.Path = "/_sim/" + tail
			h.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/v1.0/") {
			rt.pick(tokenTenant(r)).ServeHTTP(w, r)
			return
		}
		rt.home.ServeHTTP(w, r)
	})
}

// loginFront routes sign-in by the tenant its path names; "common",
// "organizations" and unknown names go to the first tenant.
func (s *Simulator) loginFront() http.Handler {
	if len(s.others) == 0 {
		return s.login.Handler()
	}
	rt := s.routes(func(t *Simulator) http.Handler { return t.login.Handler() })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		rt.pick(name).ServeHTTP(w, r)
	})
}

// tokenTenant is the tid claim of the request's bearer token, unverified:
// it only picks the tenant, whose Graph then verifies the token.
func tokenTenant(r *http.Request) string {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	parts := strings.Split(strings.TrimSpace(raw), ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		TID string `json:"tid"`
	}
	_ = json.Unmarshal(payload, &claims)
	return claims.TID
}

func (s *Simulator) tlsFiles() *entra.TLS {
	if s == nil {
		return nil
	}
	return s.tls
}
