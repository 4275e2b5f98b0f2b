package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/restore"
)

// CrossTenant is a restore into another tenant than the snapshot's.
type CrossTenant struct {
	SourceTenantID string
	// Domains maps the source's domains to the target's (lower case);
	// empty: the source's default domain to the target's, read at plan.
	Domains restore.DomainMap `json:",omitempty"`
}

// options are what a restore into another tenant may do: it adds and
// reverts, and never removes anything of the target's own.
func (c *CrossTenant) options(o restore.Options) restore.Options {
	o.RemoveAdded, o.RemoveExtraLinks = false, false
	return o
}

// rewrite moves a snapshot object's addresses to the target's domains.
func (c *CrossTenant) rewrite(raw []byte) []byte {
	if c == nil {
		return raw
	}
	return c.Domains.Rewrite(raw)
}

// matchTwins finds each snapshot object's twin in the target tenant (the
// live read) and records it in the pair's id map; ambiguous objects are
// planned as skips. Types go in phase order, so a service principal is
// matched by the appId its application's match mapped.
func (a *Restore) matchTwins(ctx context.Context, in RestorePlanInput, idKey string, idmap *restore.IDMap, p *restore.Planner) error {
	if len(in.Cross.Domains) == 0 {
		domains, err := a.defaultDomains(ctx, in.Cross.SourceTenantID, in.TenantID)
		if err != nil {
			return err
		}
		in.Cross.Domains = domains
	}
	m := restore.NewMatcher()
	added := map[string]string{}
	for _, scope := range restore.Scopes {
		snap, live := repository.SnapshotID(in.Snapshots[scope]), repository.SnapshotID(in.Live[scope])
		if snap == "" || live == "" {
			continue
		}
		for _, typ := range matchedTypes() {
			if err := a.matchType(ctx, in.Cross, typ, snap, live, m, idmap, p, added); err != nil {
				return fmt.Errorf("%s: %w", typ, err)
			}
		}
	}
	return saveIDMap(ctx, a.Repo, idKey, added)
}

// matchType matches the objects of one type.
func (a *Restore) matchType(ctx context.Context, cross *CrossTenant, typ string, snap, live repository.SnapshotID,
	m *restore.Matcher, idmap *restore.IDMap, p *restore.Planner, added map[string]string) error {
	kind := restore.Kinds[typ]
	altOf := map[string]string{} // target id → its alternate id (appId)
	err := a.Repo.ScanStored(ctx, live, typ, func(_, id string, raw []byte) error {
		obj := decodeObject(raw)
		m.AddTarget(typ, id, obj)
		if alt, _ := obj[kind.AltID].(string); kind.AltID != "" {
			altOf[id] = alt
		}
		return nil
	})
	if err != nil {
		return err
	}
	return a.Repo.ScanStored(ctx, snap, typ, func(_, id string, raw []byte) error {
		if twin := idmap.Resolve(id); twin != id {
			m.Taken(twin) // matched or re-created by an earlier restore
			return nil
		}
		raw = cross.rewrite(raw)
		obj, _ := restore.RemapIDs(decodeObject(raw), idmap).(map[string]any) // an appId its application's match mapped
		twin, candidates, key := m.Match(typ, obj)
		switch {
		case len(candidates) > 0:
			return p.Ambiguous(typ, id, raw, key, candidates)
		case twin == "":
			return nil // not in the target: re-created
		}
		idmap.Set(id, twin)
		added[id] = twin
		if alt, _ := obj[kind.AltID].(string); alt != "" && altOf[twin] != "" {
			idmap.Set(alt, altOf[twin])
			added[alt] = altOf[twin]
		}
		return nil
	})
}

// matchedTypes are the object types matched across tenants, in the
// order restore creates them.
func matchedTypes() []string {
	var types []string
	for typ := range restore.Kinds {
		if restore.MatchKeys(typ) != nil {
			types = append(types, typ)
		}
	}
	sort.Slice(types, func(i, j int) bool {
		a, b := restore.Kinds[types[i]], restore.Kinds[types[j]]
		return a.Phase < b.Phase || a.Phase == b.Phase && a.Type < b.Type
	})
	return types
}

// defaultDomains maps the source tenant's default domain to the target's.
func (a *Restore) defaultDomains(ctx context.Context, source, target string) (restore.DomainMap, error) {
	from, err := a.defaultDomain(ctx, source)
	if err != nil {
		return nil, fmt.Errorf("the source tenant's default domain (give domain_map if the tenant is gone): %w", err)
	}
	to, err := a.defaultDomain(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("the target tenant's default domain: %w", err)
	}
	return restore.DomainMap{strings.ToLower(from): strings.ToLower(to)}, nil
}

func (a *Restore) defaultDomain(ctx context.Context, tenantID string) (string, error) {
	g, err := a.Graph.ForTenant(ctx, tenantID)
	if err != nil {
		return "", err
	}
	body, err := g.GetRaw(ctx, "/organization?$select=verifiedDomains")
	if err != nil {
		return "", classifyGraphError("read the organization", err)
	}
	var orgs struct {
		Value []struct {
			VerifiedDomains []struct {
				Name      string `json:"name"`
				IsDefault bool   `json:"isDefault"`
			} `json:"verifiedDomains"`
		} `json:"value"`
	}
	if err := json.Unmarshal(body, &orgs); err != nil {
		return "", fmt.Errorf("organization: %w", err)
	}
	for _, o := range orgs.Value {
		for _, d := range o.VerifiedDomains {
			if d.IsDefault {
				return d.Name, nil
			}
		}
	}
	return "", fmt.Errorf("tenant %s has no default domain", tenantID)
}

func decodeObject(raw []byte) map[string]any {
	var o map[string]any
	_ = json.Unmarshal(raw, &o)
	if o == nil {
		o = map[string]any{}
	}
	return o
}
