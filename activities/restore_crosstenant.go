package activities

import (
	"context"
	"encoding/json"
	"fmt"
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
	m := restore.NewMatcher(idmap)
	for _, scope := range restore.Scopes {
		snap, live := repository.SnapshotID(in.Snapshots[scope]), repository.SnapshotID(in.Live[scope])
		if snap == "" || live == "" {
			continue
		}
		for _, typ := range restore.MatchedTypes() {
			if err := a.matchType(ctx, in.Cross, typ, snap, live, m, p); err != nil {
				return fmt.Errorf("%s: %w", typ, err)
			}
		}
	}
	return saveIDMap(ctx, a.Repo, idKey, m.Added())
}

// matchType matches the snapshot's objects of one type with the live
// read's; an ambiguous one is planned as a skip.
func (a *Restore) matchType(ctx context.Context, cross *CrossTenant, typ string, snap, live repository.SnapshotID,
	m *restore.Matcher, p *restore.Planner) error {
	err := a.Repo.ScanStored(ctx, live, typ, func(_, id string, raw []byte) error {
		m.AddTarget(typ, id, raw)
		return nil
	})
	if err != nil {
		return err
	}
	return a.Repo.ScanStored(ctx, snap, typ, func(_, id string, raw []byte) error {
		raw = cross.rewrite(raw)
		if candidates, key := m.Match(typ, id, raw); len(candidates) > 0 {
			return p.Ambiguous(typ, id, raw, key, candidates)
		}
		return nil
	})
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
