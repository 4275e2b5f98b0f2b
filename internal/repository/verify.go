package repository

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/entravault/entravault/internal/repository/content"
	"github.com/entravault/entravault/internal/repository/pack"
)

// VerifyOptions control Verify.
type VerifyOptions struct {
	// ReadDataPercent is the share of packs (0–100) downloaded, decrypted,
	// decompressed and re-hashed; 0 checks structure only.
	ReadDataPercent float64
}

// ProblemKind classifies a verify finding.
type ProblemKind string

const (
	MissingPack     ProblemKind = "missing-pack"     // indexed pack not in the bucket
	PackSize        ProblemKind = "pack-size"        // pack size differs from the index
	CorruptPack     ProblemKind = "corrupt-pack"     // authentication, hash or format failure
	CorruptManifest ProblemKind = "corrupt-manifest" // snapshot unreadable, or another snapshot's manifest under its name
	CorruptIndex    ProblemKind = "corrupt-index"    // index file unreadable, or another index file under its name
	CorruptTree     ProblemKind = "corrupt-tree"     // a snapshot's object map unreadable
	MissingContent  ProblemKind = "missing-content"  // object referenced but not stored
	CorruptContent  ProblemKind = "corrupt-content"  // object stored but damaged
)

// Problem is one finding. Fields that do not apply are empty.
type Problem struct {
	Kind     ProblemKind
	Pack     string
	Index    string // index file name (CorruptIndex)
	Snapshot SnapshotID
	// Object is "type/id" of an affected object (the first snapshot that
	// references the content is named in Snapshot).
	Object  string
	Content string
	Detail  string
}

func (p Problem) String() string {
	s := string(p.Kind)
	for _, f := range []struct{ k, v string }{{"pack", p.Pack}, {"index", p.Index}, {"snapshot", string(p.Snapshot)}, {"object", p.Object}, {"content", p.Content}, {"detail", p.Detail}} {
		if f.v != "" {
			s += fmt.Sprintf(" %s=%s", f.k, f.v)
		}
	}
	return s
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Snapshots      int
	IndexFiles     int // index files in the bucket, bad ones included
	Packs          int
	PacksRead      int
	BytesRead      int64
	ObjectsChecked int // objects referenced by snapshots and present in the index
	BlobsRehashed  int // stored blobs decrypted, decompressed and re-hashed
	// UnreferencedPacks are packs in the bucket that no index lists: left by
	// an interrupted backup; prune removes them. Not an error.
	UnreferencedPacks []string
	Problems          []Problem
}

// OK reports whether no problem was found.
func (v VerifyReport) OK() bool { return len(v.Problems) == 0 }

type ref struct {
	snap SnapshotID
	key  string
}

// Verify checks the repository: every index file and manifest opens under
// its own name (read from the bucket, not from cache), every indexed pack
// exists with the right size, every snapshot and its object map decode,
// every referenced object is indexed; then reads a share of packs in full.
// Damage is reported in the report, not as an error; an error means verify
// itself could not run.
func (r *Repository) Verify(ctx context.Context, opts VerifyOptions) (VerifyReport, error) {
	var rep VerifyReport
	if err := r.refreshIndex(ctx); err != nil {
		return rep, err
	}
	listed, err := r.st.list(ctx, "packs")
	if err != nil {
		return rep, err
	}
	inBucket := make(map[string]int64, len(listed))
	for _, l := range listed {
		inBucket[l.name] = l.size
	}
	// Re-reads every index file loaded so far; refreshIndex recorded those
	// that fail to open (corrupt, or copied over another's name).
	packs, err := r.packsWithEntries(ctx)
	if err != nil {
		return rep, err
	}
	bad := r.idx.badFiles()
	for _, b := range bad {
		rep.Problems = append(rep.Problems, Problem{Kind: CorruptIndex, Index: b.name, Detail: b.err.Error()})
	}
	r.idx.mu.RLock()
	rep.IndexFiles = len(r.idx.files) + len(bad)
	r.idx.mu.RUnlock()
	rep.Packs = len(packs)
	missingPack := map[string]bool{}
	indexed := map[string]bool{}
	for _, p := range packs {
		indexed[p.name] = true
		size, ok := inBucket[p.name]
		switch {
		case !ok:
			missingPack[p.name] = true
			rep.Problems = append(rep.Problems, Problem{Kind: MissingPack, Pack: p.name})
		case size != p.size:
			rep.Problems = append(rep.Problems, Problem{Kind: PackSize, Pack: p.name,
				Detail: fmt.Sprintf("size %d, index says %d", size, p.size)})
		}
	}
	for _, l := range listed {
		if !indexed[l.name] {
			rep.UnreferencedPacks = append(rep.UnreferencedPacks, l.name)
		}
	}

	// Structure: snapshots → trees → objects.
	files, err := r.st.list(ctx, "snapshots")
	if err != nil {
		return rep, err
	}
	refs := map[content.ID]ref{}
	for _, f := range files {
		id := SnapshotID(f.name)
		rep.Snapshots++
		m, err := r.readManifest(ctx, id)
		if errors.Is(err, ErrNotFound) {
			rep.Snapshots-- // pruned since the listing
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			rep.Problems = append(rep.Problems, Problem{Kind: CorruptManifest, Snapshot: id, Detail: err.Error()})
			continue
		}
		trees, err := r.treeIDs(ctx, m)
		if err == nil {
			for _, t := range trees {
				if _, p, ok := r.idx.lookup(t); !ok || missingPack[p.name] {
					err = fmt.Errorf("tree %s missing", t.Short())
					break
				}
				if _, ok := refs[t]; !ok {
					refs[t] = ref{snap: id}
				}
			}
		}
		var es []entry
		if err == nil {
			es, err = r.view(ctx, m)
		}
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			rep.Problems = append(rep.Problems, Problem{Kind: CorruptTree, Snapshot: id, Detail: err.Error()})
			continue
		}
		for _, e := range es {
			if _, seen := refs[e.cid]; seen {
				continue
			}
			refs[e.cid] = ref{snap: id, key: e.key}
			if !r.chainPresent(ctx, e.cid, missingPack) {
				rep.Problems = append(rep.Problems, Problem{Kind: MissingContent, Snapshot: id,
					Object: displayKey(e.key), Content: e.cid.String()})
				continue
			}
			rep.ObjectsChecked++
		}
	}

	// Read data: a random sample of packs, or all.
	var todo []packInfo
	for _, p := range packs {
		if !missingPack[p.name] {
			todo = append(todo, p)
		}
	}
	n := int(math.Ceil(float64(len(todo)) * min(max(opts.ReadDataPercent, 0), 100) / 100))
	rand.Shuffle(len(todo), func(i, j int) { todo[i], todo[j] = todo[j], todo[i] })
	todo = todo[:n]
	sort.Slice(todo, func(i, j int) bool { return todo[i].name < todo[j].name })
	for _, p := range todo {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		problems, rehashed, read, err := r.readPack(ctx, p, refs)
		if err != nil {
			return rep, err
		}
		rep.PacksRead++
		rep.BytesRead += read
		rep.BlobsRehashed += rehashed
		rep.Problems = append(rep.Problems, problems...)
	}
	return rep, nil
}

func displayKey(k string) string {
	t, id := splitKey(k)
	return t + "/" + id
}

// readPack checks one pack end to end against its index record.
func (r *Repository) readPack(ctx context.Context, p packInfo, refs map[content.ID]ref) ([]Problem, int, int64, error) {
	var out []Problem
	affected := func(kind ProblemKind, detail string, es []pack.Entry) {
		if len(es) == 0 {
			out = append(out, Problem{Kind: kind, Pack: p.name, Detail: detail})
		}
		for _, e := range es {
			rf := refs[e.ID]
			out = append(out, Problem{Kind: kind, Pack: p.name, Snapshot: rf.snap, Object: objectName(rf.key),
				Content: e.ID.String(), Detail: detail})
		}
	}
	data, err := r.st.get(ctx, "packs/"+p.name)
	if errors.Is(err, ErrNotFound) {
		affected(MissingPack, "vanished during verify", nil)
		return out, 0, 0, nil
	}
	if err != nil {
		return nil, 0, 0, err
	}
	hdr, err := pack.ReadHeader(r.keys, p.name, data)
	if err != nil {
		affected(CorruptPack, "header: "+err.Error(), p.header.Entries)
		return out, 0, int64(len(data)), nil
	}
	if len(hdr.Entries) != len(p.header.Entries) || len(hdr.Groups) != len(p.header.Groups) {
		affected(CorruptPack, "header differs from index", nil)
	}
	byGroup := make([][]pack.Entry, len(hdr.Groups))
	for _, e := range hdr.Entries {
		byGroup[e.Group] = append(byGroup[e.Group], e)
	}
	rehashed := 0
	for gi, g := range hdr.Groups {
		if uint64(g.Off)+uint64(g.Len) > uint64(len(data)) {
			affected(CorruptPack, fmt.Sprintf("group %d out of range", gi), byGroup[gi])
			continue
		}
		plain, err := pack.OpenGroup(r.keys, p.name, uint32(gi), g, data[g.Off:g.Off+g.Len])
		if err != nil {
			affected(CorruptPack, err.Error(), byGroup[gi])
			continue
		}
		for _, e := range byGroup[gi] {
			b := plain[e.Offset : e.Offset+e.Length]
			var got content.ID
			switch e.Kind {
			case pack.KindObject:
				got, err = content.Sum(b)
			case pack.KindParts:
				if b, _, err = r.readContent(ctx, e.ID); err == nil {
					got, err = content.Sum(b)
				}
			case pack.KindDelta:
				var base []byte
				if base, _, err = r.readContent(ctx, e.Base); err == nil {
					if b, err = pack.ApplyDelta(base, b); err == nil {
						got, err = content.Sum(b)
					}
				}
			default:
				got = content.SumBytes(b)
			}
			rehashed++
			if err != nil || got != e.ID {
				affected(CorruptContent, "re-hash mismatch", []pack.Entry{e})
			}
		}
	}
	return out, rehashed, int64(len(data)), nil
}

func objectName(key string) string {
	if key == "" {
		return ""
	}
	return displayKey(key)
}

// chainPresent reports whether id and every blob it needs (a delta's base
// chain, a parts object's parts) are indexed in packs that exist.
func (r *Repository) chainPresent(ctx context.Context, id content.ID, missingPack map[string]bool) bool {
	for range 64 {
		_, p, ok := r.idx.lookup(id)
		if !ok || missingPack[p.name] {
			return false
		}
		b, isDelta := r.idx.base(id)
		if isDelta {
			id = b
			continue
		}
		if r.idx.kind(id) != pack.KindParts {
			return true
		}
		parts, err := r.blobRefs(ctx, id)
		if err != nil {
			return false
		}
		for _, part := range parts {
			if _, p, ok := r.idx.lookup(part); !ok || missingPack[p.name] {
				return false
			}
		}
		return true
	}
	return false
}
