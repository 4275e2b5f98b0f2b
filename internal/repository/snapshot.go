package repository

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/entravault/entravault/internal/repository/content"
)

// SnapshotID names a snapshot: the keyed hash of its manifest, in hex.
type SnapshotID string

// Short is the first 8 characters, for display.
func (id SnapshotID) Short() string {
	if len(id) > 8 {
		return string(id[:8])
	}
	return string(id)
}

// manifest is a snapshot's stored form (encrypted JSON).
type manifest struct {
	Version   int               `json:"v"`
	Connector string            `json:"connector"`
	Scope     string            `json:"scope"`
	Time      time.Time         `json:"time"`
	Parent    SnapshotID        `json:"parent,omitempty"`
	Counts    map[string]int    `json:"counts"`
	Bytes     int64             `json:"bytes"`
	State     map[string]string `json:"state,omitempty"`
	Base      content.ID        `json:"base"`
	Deltas    []content.ID      `json:"deltas,omitempty"`
	BaseCount int               `json:"base_count"`
	DeltaSize int               `json:"delta_size"` // entries across Deltas
}

// SnapshotInfo describes a committed snapshot.
type SnapshotInfo struct {
	ID        SnapshotID
	Connector string
	Scope     string
	Time      time.Time
	Parent    SnapshotID
	// Counts is the number of objects per type.
	Counts map[string]int
	// Bytes is the total raw JSON size of all objects in the snapshot.
	Bytes int64
	// State is the per-scope state saved with the run (delta links,
	// watermarks).
	State map[string]string
}

func (m *manifest) info(id SnapshotID) SnapshotInfo {
	return SnapshotInfo{ID: id, Connector: m.Connector, Scope: m.Scope, Time: m.Time, Parent: m.Parent,
		Counts: m.Counts, Bytes: m.Bytes, State: m.State}
}

// Filter selects snapshots; zero fields match everything. From is
// inclusive, To exclusive.
type Filter struct {
	Connector, Scope string
	From, To         time.Time
}

func (f Filter) match(m *manifest) bool {
	return (f.Connector == "" || f.Connector == m.Connector) &&
		(f.Scope == "" || f.Scope == m.Scope) &&
		(f.From.IsZero() || !m.Time.Before(f.From)) &&
		(f.To.IsZero() || m.Time.Before(f.To))
}

// snapshotCache holds decoded manifests; they are immutable, so a name once
// read is good until it disappears from the listing.
type snapshotCache struct {
	mu sync.Mutex
	m  map[SnapshotID]*manifest
}

func newSnapshotCache() *snapshotCache { return &snapshotCache{m: map[SnapshotID]*manifest{}} }

func (r *Repository) encodeManifest(m *manifest) (SnapshotID, []byte) {
	plain, _ := json.Marshal(m)
	return SnapshotID(r.metaName("snapshot", plain)), r.sealBlob("snapshot", plain)
}

func (r *Repository) loadManifest(ctx context.Context, id SnapshotID) (*manifest, error) {
	r.snaps.mu.Lock()
	m, ok := r.snaps.m[id]
	r.snaps.mu.Unlock()
	if ok {
		return m, nil
	}
	m, err := r.readManifest(ctx, id)
	if err != nil {
		return nil, err
	}
	r.snaps.mu.Lock()
	r.snaps.m[id] = m
	r.snaps.mu.Unlock()
	return m, nil
}

// readManifest reads a manifest from the bucket, bypassing the cache. A
// manifest that is not the one named id (another snapshot's copied over it)
// fails with ErrCorrupt.
func (r *Repository) readManifest(ctx context.Context, id SnapshotID) (*manifest, error) {
	if !isHexName(string(id)) {
		return nil, fmt.Errorf("snapshot %q: %w", id, ErrNotFound)
	}
	sealed, err := r.st.get(ctx, "snapshots/"+string(id))
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", id.Short(), err)
	}
	plain, err := r.openBlob("snapshot", string(id), sealed)
	if err != nil {
		return nil, err
	}
	m := new(manifest)
	if err := json.Unmarshal(plain, m); err != nil {
		return nil, fmt.Errorf("%w: snapshot %s: %v", ErrCorrupt, id.Short(), err)
	}
	return m, nil
}

// listManifests lists the bucket and loads every manifest, forgetting ones
// that were pruned.
func (r *Repository) listManifests(ctx context.Context) (map[SnapshotID]*manifest, error) {
	files, err := r.st.list(ctx, "snapshots")
	if err != nil {
		return nil, err
	}
	out := make(map[SnapshotID]*manifest, len(files))
	for _, f := range files {
		id := SnapshotID(f.name)
		m, err := r.loadManifest(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // pruned between list and read
		}
		if err != nil {
			return nil, err
		}
		out[id] = m
	}
	r.snaps.mu.Lock()
	for id := range r.snaps.m {
		if _, ok := out[id]; !ok {
			delete(r.snaps.m, id)
		}
	}
	r.snaps.mu.Unlock()
	return out, nil
}

// Snapshots lists committed snapshots matching f, oldest first.
func (r *Repository) Snapshots(ctx context.Context, f Filter) ([]SnapshotInfo, error) {
	ms, err := r.listManifests(ctx)
	if err != nil {
		return nil, err
	}
	var out []SnapshotInfo
	for id, m := range ms {
		if f.match(m) {
			out = append(out, m.info(id))
		}
	}
	sortInfos(out)
	return out, nil
}

func sortInfos(s []SnapshotInfo) {
	sort.Slice(s, func(i, j int) bool {
		if !s[i].Time.Equal(s[j].Time) {
			return s[i].Time.Before(s[j].Time)
		}
		return s[i].ID < s[j].ID
	})
}

// Snapshot returns one snapshot's info.
func (r *Repository) Snapshot(ctx context.Context, id SnapshotID) (SnapshotInfo, error) {
	m, err := r.loadManifest(ctx, id)
	if err != nil {
		return SnapshotInfo{}, err
	}
	return m.info(id), nil
}

// Latest returns the newest snapshot of a connector's scope, the usual
// Parent for the next run; ErrNotFound if there is none.
func (r *Repository) Latest(ctx context.Context, connector, scope string) (SnapshotInfo, error) {
	snaps, err := r.Snapshots(ctx, Filter{Connector: connector, Scope: scope})
	if err != nil {
		return SnapshotInfo{}, err
	}
	if len(snaps) == 0 {
		return SnapshotInfo{}, fmt.Errorf("snapshot of %s/%s: %w", connector, scope, ErrNotFound)
	}
	return snaps[len(snaps)-1], nil
}
