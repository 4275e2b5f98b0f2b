package repository

import (
	"context"
	"errors"
	"fmt"

	"github.com/entravault/entravault/internal/repository/content"
	"github.com/entravault/entravault/internal/repository/pack"
	"github.com/entravault/entravault/internal/repository/retention"
)

// RetentionPolicy says which snapshots of a scope to keep; see package
// retention. The newest snapshot of every scope is always kept.
type RetentionPolicy = retention.Policy

// PruneOptions select the scopes a policy applies to (empty = all) and
// whether to only report.
type PruneOptions struct {
	Connector, Scope string
	Policy           RetentionPolicy
	DryRun           bool
	// All forgets every selected snapshot, the newest included: deleting a
	// connector's data. It requires Connector and ignores Policy. (Added for
	// activities/retention.go.)
	All bool
	// RepackUnused: packs whose dead share of bytes exceeds this fraction
	// have their live blobs copied to new packs so the old ones can go.
	// Zero means 0.3; 1 disables repacking.
	RepackUnused float64
}

// PruneReport says what prune removed (or, with DryRun, would remove).
type PruneReport struct {
	DryRun bool
	Forget []SnapshotInfo
	Kept   int
	// PacksDeleted counts packs holding nothing any kept snapshot uses,
	// including UnreferencedPacks left by interrupted backups.
	PacksDeleted      int
	UnreferencedPacks int
	BytesFreed        int64
	PacksKept         int
	PacksRepacked     int
	// UnusedBytesKept is the uncompressed size of dead blobs inside packs
	// that are kept because they also hold live blobs (no repacking yet).
	UnusedBytesKept int64
}

// Prune applies a retention policy, then removes forgotten manifests, and
// then packs and index entries nothing references any more. It takes the
// exclusive lock and fails with ErrLocked while a backup runs: a running
// backup may deduplicate against any stored blob, so none may vanish under
// it. Order of deletion keeps every intermediate state consistent: a
// manifest goes before the data it uses, a new index before the old, and
// index entries before their packs.
func (r *Repository) Prune(ctx context.Context, opts PruneOptions) (PruneReport, error) {
	rep := PruneReport{DryRun: opts.DryRun}
	if opts.All && opts.Connector == "" {
		return rep, errors.New("prune: All needs a connector")
	}
	l, err := r.lock(ctx, true)
	if err != nil {
		return rep, err
	}
	defer l.release(ctx)
	if err := r.refreshIndex(ctx); err != nil {
		return rep, err
	}
	// A pack only a bad index file lists would look unreferenced and be
	// deleted; a manifest that fails to open (listManifests) stops prune
	// too, since what it references is unknown.
	if err := r.idx.errBadIndex(); err != nil {
		return rep, fmt.Errorf("prune: %w: %v", ErrCorrupt, err)
	}
	ms, err := r.listManifests(ctx)
	if err != nil {
		return rep, err
	}

	// 1. Retention per connector/scope.
	forget := forgetByPolicy(ms, opts)
	for id := range forget {
		rep.Forget = append(rep.Forget, ms[id].info(id))
	}
	sortInfos(rep.Forget)
	rep.Kept = len(ms) - len(forget)

	// 2. Everything the kept snapshots reference.
	live, err := r.liveBlobs(ctx, ms, forget)
	if err != nil {
		return rep, err
	}

	// 3. Classify packs: all live (keep), none live (delete), mixed
	// (repack if mostly dead).
	keep, repack, dead, err := r.classifyPacks(ctx, live, opts.RepackUnused, &rep)
	if err != nil {
		return rep, err
	}
	if opts.DryRun || (len(forget) == 0 && len(dead) == 0) {
		return rep, nil
	}

	// 4. Copy live blobs out of mostly-dead packs. The new packs are only
	// referenced once the new index is written below.
	if len(repack) > 0 {
		fresh, freed, err := r.repack(ctx, repack, live)
		if err != nil {
			return rep, fmt.Errorf("prune: repack: %w", err)
		}
		keep = append(keep, fresh...)
		rep.BytesFreed = rep.BytesFreed - estimateRepack(repack, live) + freed
	}

	// 5. Delete, in an order that is safe to interrupt anywhere.
	if err := r.deletePruned(ctx, forget, keep, dead); err != nil {
		return rep, err
	}
	if err := l.valid(); err != nil {
		return rep, err
	}
	r.resetIndex()
	return rep, r.refreshIndex(ctx)
}

// forgetByPolicy is the snapshots the policy (or All) drops, per
// connector and scope.
func forgetByPolicy(ms map[SnapshotID]*manifest, opts PruneOptions) map[SnapshotID]bool {
	type scope struct{ c, s string }
	byScope := map[scope][]retention.Snapshot{}
	for id, m := range ms {
		k := scope{m.Connector, m.Scope}
		byScope[k] = append(byScope[k], retention.Snapshot{ID: string(id), Time: m.Time})
	}
	forget := map[SnapshotID]bool{}
	for k, snaps := range byScope {
		if (opts.Connector != "" && opts.Connector != k.c) || (opts.Scope != "" && opts.Scope != k.s) {
			continue
		}
		if opts.All {
			for _, sn := range snaps {
				forget[SnapshotID(sn.ID)] = true
			}
			continue
		}
		for _, d := range retention.Apply(snaps, opts.Policy) {
			if !d.Keep {
				forget[SnapshotID(d.ID)] = true
			}
		}
	}
	return forget
}

// liveBlobs is every blob a kept snapshot references: its trees, their
// objects, and what those need (a delta's base chain, a list's parts).
func (r *Repository) liveBlobs(ctx context.Context, ms map[SnapshotID]*manifest, forget map[SnapshotID]bool) (map[content.ID]struct{}, error) {
	live := map[content.ID]struct{}{}
	seenTree := map[content.ID]bool{}
	markEntries := func(id content.ID) error {
		if seenTree[id] {
			return nil
		}
		seenTree[id] = true
		live[id] = struct{}{}
		es, err := r.loadEntries(ctx, id)
		if err != nil {
			return err
		}
		for _, e := range es {
			if !e.deleted {
				live[e.cid] = struct{}{}
			}
		}
		return nil
	}
	for id, m := range ms {
		if forget[id] {
			continue
		}
		if !m.Base.IsZero() && !seenTree[m.Base] {
			seenTree[m.Base] = true
			live[m.Base] = struct{}{}
			refs, err := r.loadRoot(ctx, m.Base)
			if err != nil {
				return nil, fmt.Errorf("prune: snapshot %s: %w", id.Short(), err)
			}
			for _, ref := range refs {
				if err := markEntries(ref.id); err != nil {
					return nil, fmt.Errorf("prune: snapshot %s: %w", id.Short(), err)
				}
			}
		}
		for _, d := range m.Deltas {
			if err := markEntries(d); err != nil {
				return nil, fmt.Errorf("prune: snapshot %s: %w", id.Short(), err)
			}
		}
	}
	return live, r.closeOverRefs(ctx, live)
}

// closeOverRefs adds to live what its blobs need: a live object stored as
// a delta keeps its whole base chain alive, and one stored in parts its
// parts.
func (r *Repository) closeOverRefs(ctx context.Context, live map[content.ID]struct{}) error {
	work := make([]content.ID, 0, len(live))
	for id := range live {
		work = append(work, id)
	}
	for len(work) > 0 {
		id := work[len(work)-1]
		work = work[:len(work)-1]
		refs, err := r.blobRefs(ctx, id)
		if err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		for _, b := range refs {
			if _, seen := live[b]; !seen {
				live[b] = struct{}{}
				work = append(work, b)
			}
		}
	}
	return nil
}

// classifyPacks sorts the packs by how much of them is live: kept whole,
// repacked when more than threshold (default 0.3) is dead, deleted when
// nothing is, like packs no index lists (left by an interrupted backup).
// It fills rep's pack figures.
func (r *Repository) classifyPacks(ctx context.Context, live map[content.ID]struct{}, threshold float64, rep *PruneReport) (keep, repack []packInfo, dead []string, err error) {
	if threshold == 0 {
		threshold = 0.3
	}
	packs, err := r.packsWithEntries(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := r.idx.errBadIndex(); err != nil { // one went bad since
		return nil, nil, nil, fmt.Errorf("prune: %w: %v", ErrCorrupt, err)
	}
	indexed := map[string]bool{}
	for _, p := range packs {
		indexed[p.name] = true
		var usedBytes, unused int64
		for _, e := range p.header.Entries {
			if _, ok := live[e.ID]; ok {
				usedBytes += int64(e.Length)
			} else {
				unused += int64(e.Length)
			}
		}
		switch {
		case usedBytes == 0:
			dead = append(dead, p.name)
			rep.BytesFreed += p.size
		case float64(unused) > threshold*float64(usedBytes+unused):
			repack = append(repack, p)
			dead = append(dead, p.name)
			// estimate; the real figure replaces it after repacking
			rep.BytesFreed += p.size * unused / (usedBytes + unused)
		default:
			keep = append(keep, p)
			rep.UnusedBytesKept += unused
		}
	}
	rep.PacksRepacked = len(repack)
	listed, err := r.st.list(ctx, "packs")
	if err != nil {
		return nil, nil, nil, err
	}
	for _, l := range listed {
		if !indexed[l.name] {
			// No index lists it: left by an interrupted backup (we hold
			// the exclusive lock, so no backup is running).
			dead = append(dead, l.name)
			rep.UnreferencedPacks++
			rep.BytesFreed += l.size
		}
	}
	rep.PacksDeleted = len(dead)
	rep.PacksKept = len(keep)
	return keep, repack, dead, nil
}

// deletePruned removes forgotten manifests, then writes the index of the
// kept packs and removes the old index files, then the dead packs: each
// step leaves a consistent repository if the next never comes.
func (r *Repository) deletePruned(ctx context.Context, forget map[SnapshotID]bool, keep []packInfo, dead []string) error {
	for id := range forget {
		if err := r.st.del(ctx, "snapshots/"+string(id)); err != nil {
			return err
		}
		r.snaps.mu.Lock()
		delete(r.snaps.m, id)
		r.snaps.mu.Unlock()
	}
	oldFiles, err := r.st.list(ctx, "index")
	if err != nil {
		return err
	}
	newName := ""
	if len(keep) > 0 {
		plain := encodeIndexFile(keep)
		newName = r.metaName("index", plain)
		if err := r.st.put(ctx, "index/"+newName, r.sealBlob("index", plain)); err != nil && !isExists(err) {
			return err
		}
	}
	for _, f := range oldFiles {
		if f.name == newName {
			continue
		}
		if err := r.st.del(ctx, "index/"+f.name); err != nil {
			return err
		}
	}
	for _, name := range dead {
		if err := r.st.del(ctx, "packs/"+name); err != nil {
			return err
		}
	}
	return nil
}

func isExists(err error) bool { return err != nil && errors.Is(err, errBlobExists) }

func (r *Repository) resetIndex() {
	r.idx.mu.Lock()
	r.idx.reset()
	r.idx.mu.Unlock()
	r.groups.clear()
}

// repack copies the live blobs of packs into new packs and returns them,
// with the bytes saved. Any integrity failure aborts: prune must never drop
// the only copy of a blob because it could not read it.
func (r *Repository) repack(ctx context.Context, packs []packInfo, live map[content.ID]struct{}) ([]packInfo, int64, error) {
	var out []packInfo
	var oldBytes, newBytes int64
	b := pack.NewBuilder(r.keys, r.packBuffer())
	var group []byte
	var items []pack.Item
	copied := map[content.ID]bool{}
	sealPack := func() error {
		if len(items) > 0 {
			b.AddGroup(group, items)
			group, items = nil, nil
		}
		if b.Empty() {
			return nil
		}
		name, data, hdr := b.Seal()
		if err := r.st.put(ctx, "packs/"+name, data); err != nil && !isExists(err) {
			return err
		}
		out = append(out, packInfo{name: name, size: int64(len(data)), header: hdr})
		newBytes += int64(len(data))
		b.Reset()
		return nil
	}
	for _, p := range packs {
		oldBytes += p.size
		data, err := r.st.get(ctx, "packs/"+p.name)
		if err != nil {
			return nil, 0, err
		}
		hdr, err := pack.ReadHeader(r.keys, p.name, data)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: pack %s: %w", ErrCorrupt, p.name, err)
		}
		for gi, g := range hdr.Groups {
			var plain []byte
			for _, e := range hdr.Entries {
				if e.Group != uint32(gi) || copied[e.ID] {
					continue
				}
				if _, ok := live[e.ID]; !ok {
					continue
				}
				if plain == nil {
					if uint64(g.Off)+uint64(g.Len) > uint64(len(data)) {
						return nil, 0, fmt.Errorf("%w: pack %s: group %d out of range", ErrCorrupt, p.name, gi)
					}
					if plain, err = pack.OpenGroup(r.keys, p.name, uint32(gi), g, data[g.Off:g.Off+g.Len]); err != nil {
						return nil, 0, fmt.Errorf("%w: pack %s: %w", ErrCorrupt, p.name, err)
					}
				}
				copied[e.ID] = true
				items = append(items, pack.Item{ID: e.ID, Kind: e.Kind, Offset: uint32(len(group)), Length: e.Length, Base: e.Base, Depth: e.Depth})
				group = append(group, plain[e.Offset:e.Offset+e.Length]...)
				if len(group) >= r.groupSize {
					b.AddGroup(group, items)
					group, items = nil, nil
					if b.Size() >= r.packSize {
						if err := sealPack(); err != nil {
							return nil, 0, err
						}
					}
				}
			}
		}
	}
	if err := sealPack(); err != nil {
		return nil, 0, err
	}
	return out, oldBytes - newBytes, nil
}

func estimateRepack(packs []packInfo, live map[content.ID]struct{}) int64 {
	var n int64
	for _, p := range packs {
		var used, unused int64
		for _, e := range p.header.Entries {
			if _, ok := live[e.ID]; ok {
				used += int64(e.Length)
			} else {
				unused += int64(e.Length)
			}
		}
		n += p.size * unused / (used + unused)
	}
	return n
}

// blobRefs lists the blobs a stored blob needs to be read: a delta's base,
// a parts object's parts.
func (r *Repository) blobRefs(ctx context.Context, id content.ID) ([]content.ID, error) {
	if b, ok := r.idx.base(id); ok {
		return []content.ID{b}, nil
	}
	if r.idx.kind(id) != pack.KindParts {
		return nil, nil
	}
	list, _, err := r.readStored(ctx, id)
	if err != nil {
		return nil, err
	}
	return partIDs(id, list)
}
