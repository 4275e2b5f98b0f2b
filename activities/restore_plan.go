package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/restore"
)

// Restore plans and applies restores of directory objects. Graph writes go
// through the deployment's application, paced inside Graph's write budget.
type Restore struct {
	// Graph reads (the backup application); Writer writes (the restore
	// application; nil: Graph).
	Graph  GraphFactory
	Writer GraphFactory
	Repo   *repository.Repository
	// WritesPerSecond paces writes per tenant; default 19.5, just under
	// Graph's 3,000 writes per 2 min 30 s per app and tenant.
	WritesPerSecond float64
	// CheckpointEvery bounds the report a crash can lose; default 10 s.
	CheckpointEvery time.Duration
	// ConsistencyWait bounds the retries of a link to a just-created object
	// that Entra does not see yet; default 60 s.
	ConsistencyWait time.Duration

	pacers pacers
}

// RestorePlanInput asks for a plan: the backed-up and the live snapshot of
// each scope to compare.
type RestorePlanInput struct {
	ConnectorID string
	TenantID    string
	RestoreID   string
	Snapshots   map[connector.Scope]string
	Live        map[connector.Scope]string
	Select      restore.Selection
	Options     restore.Options
}

// RestorePlanResult is the stored plan and its counts.
type RestorePlanResult struct {
	Plan   string         `json:"plan"`
	Counts restore.Counts `json:"counts"`
}

// PlanRestore compares each scope's snapshot with the live tenant and the
// recycle bin and stores the plan. A retry starts over: planning writes
// nothing to the tenant.
func (a *Restore) PlanRestore(ctx context.Context, in RestorePlanInput) (RestorePlanResult, error) {
	g, err := a.Graph.ForTenant(ctx, in.TenantID)
	if err != nil {
		return RestorePlanResult{}, err
	}
	idmap, _, err := loadIDMap(ctx, a.Repo, in.TenantID)
	if err != nil {
		return RestorePlanResult{}, err
	}
	deleted, err := recycleBin(ctx, g, idmap)
	if err != nil {
		return RestorePlanResult{}, classifyGraphError("read the recycle bin", err)
	}
	w, err := a.Repo.NewWriter(ctx, repository.WriterOptions{Connector: restore.Namespace(in.ConnectorID), Scope: restore.PlanScope(in.RestoreID), Full: true})
	if err != nil {
		return RestorePlanResult{}, err
	}
	defer w.Abort()
	planner := restore.NewPlanner(in.Options, in.Select, deleted, idmap, func(act restore.Action) error {
		return w.Put(ctx, restore.ActionType, act.Key, mustMarshal(act))
	})
	for _, scope := range restore.Scopes {
		snap, live := in.Snapshots[scope], in.Live[scope]
		if snap == "" || live == "" {
			continue
		}
		activity.RecordHeartbeat(ctx, string(scope))
		if err := planScope(ctx, a.Repo, planner, idmap, repository.SnapshotID(snap), repository.SnapshotID(live)); err != nil {
			return RestorePlanResult{}, fmt.Errorf("plan %s: %w", scope, err)
		}
	}
	counts, err := planner.Finish()
	if err != nil {
		return RestorePlanResult{}, err
	}
	info, err := w.Commit(ctx)
	if err != nil {
		return RestorePlanResult{}, err
	}
	return RestorePlanResult{Plan: string(info.ID), Counts: counts}, nil
}

// planScope feeds the planner one scope's differences: objects first, so
// links know what an undelete brings back, then links and assignments.
func planScope(ctx context.Context, repo *repository.Repository, p *restore.Planner, idmap *restore.IDMap, snap, live repository.SnapshotID) error {
	type later struct{ typ, id string }
	var rest []later
	get := func(s repository.SnapshotID, typ, id string) ([]byte, error) {
		raw, err := repo.Get(ctx, s, typ, id)
		if errors.Is(err, repository.ErrNotFound) {
			return nil, nil
		}
		return raw, err
	}
	err := repo.Diff(ctx, snap, live, func(c repository.Change) error {
		if restore.Relations[c.Type] != nil || c.Type == restore.RoleAssignmentType {
			rest = append(rest, later{c.Type, c.ID})
			return nil
		}
		if c.Kind == repository.Added && idmap.IsTarget(c.ID) {
			return nil // the re-created twin of a snapshot object, planned with it
		}
		a, err := get(snap, c.Type, c.ID)
		if err != nil {
			return err
		}
		b, err := get(live, c.Type, idmap.Resolve(c.ID))
		if err != nil {
			return err
		}
		return p.Object(c.Type, c.ID, a, b)
	})
	if err != nil {
		return err
	}
	for _, l := range rest {
		if idmap.IsTarget(l.id) {
			continue
		}
		a, err := get(snap, l.typ, l.id)
		if err != nil {
			return err
		}
		b, err := get(live, l.typ, idmap.Resolve(l.id))
		if err != nil {
			return err
		}
		if l.typ == restore.RoleAssignmentType {
			p.RoleAssignment(l.id, a, b)
			continue
		}
		owner, err := get(snap, restore.Relations[l.typ].Owner, l.id)
		if err != nil {
			return err
		}
		if err := p.Relation(l.typ, l.id, a, b, owner); err != nil {
			return err
		}
	}
	return nil
}

// recycleBin lists the deleted users, groups and administrative units, by
// the id their snapshot knows them under.
func recycleBin(ctx context.Context, g Graph, idmap *restore.IDMap) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for _, cast := range []string{"microsoft.graph.user", "microsoft.graph.group", "microsoft.graph.administrativeUnit"} {
		next := "/directory/deletedItems/" + cast + "?$top=999"
		for next != "" {
			body, err := g.GetRaw(ctx, next)
			if err != nil {
				return nil, err
			}
			var page struct {
				Value    []json.RawMessage `json:"value"`
				NextLink string            `json:"@odata.nextLink"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				return nil, fmt.Errorf("recycle bin page: %w", err)
			}
			for _, o := range page.Value {
				var id struct {
					ID string `json:"id"`
				}
				if json.Unmarshal(o, &id) == nil && id.ID != "" {
					out[idmap.Original(id.ID)] = o
				}
			}
			next = page.NextLink
		}
	}
	return out, nil
}

// loadIDMap reads a tenant's id map and the snapshot it came from ("" if
// none yet).
func loadIDMap(ctx context.Context, repo *repository.Repository, tenantID string) (*restore.IDMap, repository.SnapshotID, error) {
	m := restore.NewIDMap()
	latest, err := repo.Latest(ctx, restore.IDMapNamespace(tenantID), restore.IDMapScope)
	if errors.Is(err, repository.ErrNotFound) {
		return m, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	err = repo.ScanStored(ctx, latest.ID, restore.IDType, func(_, id string, raw []byte) error {
		var e restore.IDEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("id map entry %s: %w", id, err)
		}
		m.Set(id, e.New)
		return nil
	})
	return m, latest.ID, err
}

// saveIDMap stores the entries added since the map was loaded as a new
// snapshot of the tenant's id map.
func saveIDMap(ctx context.Context, repo *repository.Repository, tenantID string, added map[string]string) error {
	if len(added) == 0 {
		return nil
	}
	ns := restore.IDMapNamespace(tenantID)
	var parent repository.SnapshotID
	if latest, err := repo.Latest(ctx, ns, restore.IDMapScope); err == nil {
		parent = latest.ID
	} else if !errors.Is(err, repository.ErrNotFound) {
		return err
	}
	w, err := repo.NewWriter(ctx, repository.WriterOptions{Connector: ns, Scope: restore.IDMapScope, Parent: parent})
	if err != nil {
		return err
	}
	defer w.Abort()
	for old, n := range added {
		if err := w.Put(ctx, restore.IDType, old, mustMarshal(restore.IDEntry{New: n})); err != nil {
			return err
		}
	}
	_, err = w.Commit(ctx)
	return err
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// graphPath escapes an id for a Graph URL path.
func graphPath(format string, ids ...string) string {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = url.PathEscape(id)
	}
	return fmt.Sprintf(format, args...)
}
