package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
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
	// IDMap names the id map to use: restore.PairIDMap for a restore into
	// another tenant than the snapshot's; "" is TenantID's own.
	IDMap string `json:",omitempty"`
	// Cross is set when TenantID (read and written) is not the tenant
	// the snapshots are of.
	Cross *CrossTenant `json:",omitempty"`
	// Scopes are the scope settings of the live read.
	Scopes connector.Scopes `json:",omitempty"`
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
	idKey := cmp.Or(in.IDMap, in.TenantID)
	idmap, _, err := loadIDMap(ctx, a.Repo, idKey)
	if err != nil {
		return RestorePlanResult{}, err
	}
	if in.Cross != nil {
		in.Options = in.Cross.options(in.Options)
	}
	deleted, err := recycleBin(ctx, g, idmap, binnedTypes(in.Snapshots))
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
	if in.Cross != nil {
		if err := a.matchTwins(ctx, in, idKey, idmap, planner); err != nil {
			return RestorePlanResult{}, fmt.Errorf("match objects in the target tenant: %w", err)
		}
	}
	for _, scope := range restore.Scopes {
		snap, live := in.Snapshots[scope], in.Live[scope]
		if snap == "" || live == "" {
			continue
		}
		activity.RecordHeartbeat(ctx, string(scope))
		s := scopePlan{repo: a.Repo, p: planner, idmap: idmap, snap: repository.SnapshotID(snap), live: repository.SnapshotID(live), cross: in.Cross,
			cover: coverageOf(in.Scopes)}
		if err := s.plan(ctx); err != nil {
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

// scopePlan plans one scope: its snapshot against its live read.
type scopePlan struct {
	repo       *repository.Repository
	p          *restore.Planner
	idmap      *restore.IDMap
	snap, live repository.SnapshotID
	cross      *CrossTenant // nil in place
	cover      coverage
}

// get reads one stored object; nil if absent.
func (s scopePlan) get(ctx context.Context, in repository.SnapshotID, typ, id string) ([]byte, error) {
	raw, err := s.repo.Get(ctx, in, typ, id)
	if errors.Is(err, repository.ErrNotFound) {
		return nil, nil
	}
	return raw, err
}

// whole reads an object with its parts merged in (nil if absent).
func (s scopePlan) whole(ctx context.Context, in repository.SnapshotID, typ, id string) ([]byte, error) {
	raw, err := s.get(ctx, in, typ, id)
	if raw == nil || err != nil || restore.Kinds[typ] == nil {
		return raw, err
	}
	var parts [][]byte
	for part := range restore.Kinds[typ].Parts {
		b, err := s.get(ctx, in, part, id)
		if err != nil {
			return nil, err
		}
		parts = append(parts, b)
	}
	return restore.MergeParts(raw, parts...), nil
}

// both reads an object from the snapshot and, by its id in the tenant,
// from the live read.
func (s scopePlan) both(ctx context.Context, typ, id string, read func(context.Context, repository.SnapshotID, string, string) ([]byte, error)) (snap, live []byte, err error) {
	if snap, err = read(ctx, s.snap, typ, id); err != nil {
		return nil, nil, err
	}
	snap = s.cross.rewrite(snap)
	live, err = read(ctx, s.live, typ, s.idmap.Resolve(id))
	return snap, live, err
}

// leaveOut plans a snapshot object the live read does not cover as a
// skip (its relations are left out with it).
func (s scopePlan) leaveOut(ctx context.Context, c repository.Change, why string) error {
	if restore.Kinds[c.Type] == nil {
		return nil
	}
	snap, err := s.get(ctx, s.snap, c.Type, c.ID)
	if err != nil || snap == nil {
		return err
	}
	return s.p.Outside(c.Type, c.ID, snap, why)
}

// plan feeds the planner the scope's differences: objects first, so links
// know what an undelete brings back, the objects that name others (which
// sort before what they name) after them, then links, children and
// assignments, then the unchanged objects that name something re-created.
func (s scopePlan) plan(ctx context.Context) error {
	type later struct{ typ, id string }
	var referrers, rest []later
	object := func(typ, id string) error {
		a, b, err := s.both(ctx, typ, id, s.whole)
		if err != nil {
			return err
		}
		return s.p.Object(typ, id, a, b)
	}
	err := s.repo.Diff(ctx, s.snap, s.live, func(c repository.Change) error {
		if s.cross != nil && c.Kind == repository.Added && c.Type != restore.RoleAssignmentType {
			return nil // the target's own objects; twins are planned by their snapshot id
		}
		if why := s.cover.outside(c.Type, c.ID); why != "" {
			return s.leaveOut(ctx, c, why)
		}
		if restore.Relations[c.Type] != nil || restore.Children[c.Type] != nil || c.Type == restore.RoleAssignmentType {
			rest = append(rest, later{c.Type, c.ID})
			return nil
		}
		if c.Kind == repository.Added && s.idmap.IsTarget(c.ID) {
			return nil // the re-created twin of a snapshot object, planned with it
		}
		typ := c.Type
		if k := restore.PartOf(typ); k != nil {
			typ = k.Type // a part changed: plan its object
		}
		if slices.Contains(restore.Referrers, typ) {
			referrers = append(referrers, later{typ, c.ID})
			return nil
		}
		return object(typ, c.ID)
	})
	if err != nil {
		return err
	}
	for _, l := range referrers {
		if err := object(l.typ, l.id); err != nil {
			return err
		}
	}
	for _, l := range rest {
		if s.idmap.IsTarget(l.id) {
			continue
		}
		a, b, err := s.both(ctx, l.typ, l.id, s.get)
		if err != nil {
			return err
		}
		switch {
		case l.typ == restore.RoleAssignmentType:
			s.p.RoleAssignment(l.id, a, b)
		case restore.Children[l.typ] != nil:
			s.p.Child(l.typ, l.id, a, b)
		default:
			owner, err := s.get(ctx, s.snap, restore.Relations[l.typ].Owner, l.id)
			if err != nil {
				return err
			}
			if err := s.p.Relation(l.typ, l.id, a, b, owner); err != nil {
				return err
			}
		}
	}
	return s.planReferrers(ctx)
}

// planReferrers plans the unchanged objects that name an object this
// plan re-creates (a policy naming a re-created application's appId):
// apply rewrites the name to the new id.
func (s scopePlan) planReferrers(ctx context.Context) error {
	for _, typ := range restore.Referrers {
		err := s.repo.ScanStored(ctx, s.snap, typ, func(_, id string, raw []byte) error {
			if s.p.Planned(id) || !s.p.NamesRecreated(raw) {
				return nil
			}
			live, err := s.get(ctx, s.live, typ, s.idmap.Resolve(id))
			if err != nil {
				return err
			}
			return s.p.Object(typ, id, raw, live)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// recycleBin lists the deleted users, groups, administrative units,
// applications and service principals, by the id their snapshot knows
// them under.
func recycleBin(ctx context.Context, g Graph, idmap *restore.IDMap, casts []string) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for _, cast := range casts {
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

// binnedTypes are the recycle bin's types a restore of these snapshots
// reads: applications only when they were backed up, since reading them
// takes a permission a directory connector need not hold.
func binnedTypes(snapshots map[connector.Scope]string) []string {
	casts := []string{"microsoft.graph.user", "microsoft.graph.group", "microsoft.graph.administrativeUnit"}
	if snapshots[connector.ScopeApplications] != "" {
		casts = append(casts, "microsoft.graph.application", "microsoft.graph.servicePrincipal")
	}
	return casts
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
