package repository

import (
	"context"
	"fmt"
	"time"

	"github.com/entravault/entravault/internal/repository/content"
	"github.com/entravault/entravault/internal/repository/jsondiff"
)

// Get returns an object's stored bytes as of a snapshot. An object absent
// from the snapshot gives ErrNotFound; damaged data ErrCorrupt.
func (r *Repository) Get(ctx context.Context, snap SnapshotID, objType, id string) ([]byte, error) {
	m, err := r.loadManifest(ctx, snap)
	if err != nil {
		return nil, err
	}
	e, ok, err := r.lookup(ctx, m, objKey(objType, id))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%s %s in snapshot %s: %w", objType, id, snap.Short(), ErrNotFound)
	}
	raw, _, err := r.readContent(ctx, e.cid)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", objType, id, err)
	}
	return append([]byte(nil), raw...), nil
}

// Version is one state of an object in its history.
type Version struct {
	Snapshot SnapshotID
	Time     time.Time
	// ContentID is empty when the object was deleted in this snapshot.
	ContentID string
	Size      int
	Deleted   bool
}

// History lists the snapshots of a scope in which an object appeared,
// changed or disappeared, oldest first.
func (r *Repository) History(ctx context.Context, connector, scope, objType, id string) ([]Version, error) {
	infos, err := r.Snapshots(ctx, Filter{Connector: connector, Scope: scope})
	if err != nil {
		return nil, err
	}
	key := objKey(objType, id)
	var out []Version
	var last content.ID
	present := false
	for _, s := range infos {
		m, err := r.loadManifest(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		e, ok, err := r.lookup(ctx, m, key)
		if err != nil {
			return nil, err
		}
		switch {
		case ok && (!present || e.cid != last):
			out = append(out, Version{Snapshot: s.ID, Time: s.Time, ContentID: e.cid.String(), Size: int(e.size)})
			last, present = e.cid, true
		case !ok && present:
			out = append(out, Version{Snapshot: s.ID, Time: s.Time, Deleted: true})
			present = false
		}
	}
	return out, nil
}

// ChangeKind classifies a Change.
type ChangeKind string

const (
	Added   ChangeKind = "added"
	Removed ChangeKind = "removed"
	Changed ChangeKind = "changed"
)

// Change is one object that differs between two snapshots. Properties is
// set for Changed objects.
type Change struct {
	Type, ID   string
	Kind       ChangeKind
	Properties []jsondiff.Change
}

// Diff calls fn for every object that differs between two snapshots, in
// type/id order. Objects whose canonical JSON is equal are not reported.
func (r *Repository) Diff(ctx context.Context, from, to SnapshotID, fn func(Change) error) error {
	return r.DiffAfter(ctx, from, to, "", "", "", fn)
}

// diffEntries merges two object maps read in key order (next gives an
// entry, or false at the end) and reports each difference in key order,
// with property-level changes for changed objects.
func (r *Repository) diffEntries(ctx context.Context, nextA, nextB func() (entry, bool, error), fn func(Change) error) error {
	a, okA, err := nextA()
	if err != nil {
		return err
	}
	b, okB, err := nextB()
	if err != nil {
		return err
	}
	for okA || okB {
		if err := ctx.Err(); err != nil {
			return err
		}
		var c Change
		advanceA, advanceB := false, false
		switch {
		case !okB || (okA && a.key < b.key):
			c.Type, c.ID = splitKey(a.key)
			c.Kind = Removed
			advanceA = true
		case !okA || b.key < a.key:
			c.Type, c.ID = splitKey(b.key)
			c.Kind = Added
			advanceB = true
		default:
			advanceA, advanceB = true, true
			if a.cid == b.cid {
				break
			}
			c.Type, c.ID = splitKey(a.key)
			c.Kind = Changed
			ra, _, err := r.readContent(ctx, a.cid)
			if err != nil {
				return err
			}
			rb, _, err := r.readContent(ctx, b.cid)
			if err != nil {
				return err
			}
			if c.Properties, err = jsondiff.Diff(ra, rb); err != nil {
				return fmt.Errorf("%w: %s %s: %v", ErrCorrupt, c.Type, c.ID, err)
			}
		}
		if c.Kind != "" {
			if err := fn(c); err != nil {
				return err
			}
		}
		if advanceA {
			if a, okA, err = nextA(); err != nil {
				return err
			}
		}
		if advanceB {
			if b, okB, err = nextB(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Walk streams every object of a snapshot to fn in type/id order. raw is
// only valid during the call.
func (r *Repository) Walk(ctx context.Context, snap SnapshotID, fn func(objType, id string, raw []byte) error) error {
	m, err := r.loadManifest(ctx, snap)
	if err != nil {
		return err
	}
	for e, err := range r.entries(ctx, m) {
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return err
		}
		raw, _, err := r.readContent(ctx, e.cid)
		if err != nil {
			t, id := splitKey(e.key)
			return fmt.Errorf("%s %s: %w", t, id, err)
		}
		t, id := splitKey(e.key)
		if err := fn(t, id, raw); err != nil {
			return err
		}
	}
	return nil
}
