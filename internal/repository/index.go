package repository

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/entravault/entravault/internal/repository/content"
	"github.com/entravault/entravault/internal/repository/pack"
)

// loc is where a content id lives.
type loc struct {
	pack   uint32 // into index.packs
	group  uint32
	kind   pack.Kind
	offset uint32
	length uint32
}

type packInfo struct {
	name   string
	size   int64
	header *pack.Header
}

// index maps content ids to packs. It is the union of the immutable index
// files in the bucket plus what this process wrote since.
type index struct {
	mu     sync.RWMutex
	byID   *idTable
	packs  []packInfo
	byName map[string]uint32
	files  map[string]bool
	// bad holds index files in the bucket that failed to open (damaged,
	// or another index file's bytes under this name), with the error.
	// Their packs are not indexed: reads of what only they list fail with
	// ErrCorrupt, prune refuses to run, verify reports them and
	// RebuildIndex replaces them.
	bad map[string]error
	// bases records, for objects stored as deltas, what they are a delta
	// against (kept apart: few entries need it).
	bases map[content.ID]deltaRef
}

type deltaRef struct {
	base  content.ID
	depth uint8
}

func newIndex() *index {
	return &index{byID: newIDTable(), byName: map[string]uint32{}, files: map[string]bool{},
		bad: map[string]error{}, bases: map[content.ID]deltaRef{}}
}

type badIndexFile struct {
	name string
	err  error
}

// badFiles returns the index files that failed to open, sorted by name.
func (x *index) badFiles() []badIndexFile {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]badIndexFile, 0, len(x.bad))
	for name, err := range x.bad {
		out = append(out, badIndexFile{name, err})
	}
	slices.SortFunc(out, func(a, b badIndexFile) int { return strings.Compare(a.name, b.name) })
	return out
}

// errBadIndex is the error prune and reads give while index files are bad.
func (x *index) errBadIndex() error {
	bad := x.badFiles()
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%d index files damaged or not bound to their names (first: index/%s); run repo verify, then repo rebuild-index", len(bad), bad[0].name)
}

// depth returns the delta chain length of id (0 for a full object) and
// whether id is indexed.
func (x *index) depth(id content.ID) (int, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if _, ok := x.byID.get(id); !ok {
		return 0, false
	}
	return int(x.bases[id].depth), true
}

func (x *index) kind(id content.ID) pack.Kind {
	x.mu.RLock()
	defer x.mu.RUnlock()
	l, _ := x.byID.get(id)
	return l.kind
}

func (x *index) base(id content.ID) (content.ID, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	d, ok := x.bases[id]
	return d.base, ok
}

func (x *index) lookup(id content.ID) (loc, packInfo, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	l, ok := x.byID.get(id)
	if !ok {
		return loc{}, packInfo{}, false
	}
	return l, x.packs[l.pack], true
}

func (x *index) has(id content.ID) bool {
	x.mu.RLock()
	_, ok := x.byID.get(id)
	x.mu.RUnlock()
	return ok
}

// addPack registers a pack; entries already indexed elsewhere keep their
// first location (duplicates from a crashed or concurrent writer are
// harmless: both copies hold the same bytes).
func (x *index) addPack(name string, size int64, h *pack.Header) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if _, ok := x.byName[name]; ok {
		return
	}
	p := uint32(len(x.packs))
	// Only the groups stay in memory (reads need them): the entries are in
	// byID, and prune and verify re-read them from the index files
	// (packsWithEntries). They cost 88 bytes per object for the
	// repository's lifetime.
	x.packs = append(x.packs, packInfo{name: name, size: size, header: &pack.Header{Groups: h.Groups}})
	x.byName[name] = p
	for _, e := range h.Entries {
		if _, ok := x.byID.get(e.ID); !ok {
			x.byID.add(e.ID, loc{pack: p, group: e.Group, kind: e.Kind, offset: e.Offset, length: e.Length})
			if e.Kind == pack.KindDelta {
				x.bases[e.ID] = deltaRef{base: e.Base, depth: e.Depth}
			}
		}
	}
}

func (x *index) packList() []packInfo {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return append([]packInfo(nil), x.packs...)
}

// encodeIndexFile lists packs with their headers.
func encodeIndexFile(packs []packInfo) []byte {
	var out []byte
	out = binary.AppendUvarint(out, uint64(len(packs)))
	for _, p := range packs {
		out = binary.AppendUvarint(out, uint64(len(p.name)))
		out = append(out, p.name...)
		out = binary.AppendUvarint(out, uint64(p.size))
		h := pack.EncodeHeader(p.header)
		out = binary.AppendUvarint(out, uint64(len(h)))
		out = append(out, h...)
	}
	return out
}

func decodeIndexFile(b []byte) ([]packInfo, error) {
	bad := errors.New("malformed index file")
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, bad
	}
	b = b[k:]
	var out []packInfo
	for range n {
		var p packInfo
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return nil, bad
		}
		p.name = string(b[k : k+int(l)])
		b = b[k+int(l):]
		sz, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, bad
		}
		p.size = int64(sz)
		b = b[k:]
		l, k = binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l {
			return nil, bad
		}
		h, err := pack.DecodeHeader(b[k : k+int(l)])
		if err != nil {
			return nil, err
		}
		p.header = h
		b = b[k+int(l):]
		out = append(out, p)
	}
	return out, nil
}

// writeIndex stores an index file for packs and registers them.
func (r *Repository) writeIndex(ctx context.Context, packs []packInfo) error {
	if len(packs) == 0 {
		return nil
	}
	plain := encodeIndexFile(packs)
	name := r.metaName("index", plain)
	if err := r.st.put(ctx, "index/"+name, r.sealBlob("index", plain)); err != nil && !errors.Is(err, errBlobExists) {
		return err
	}
	r.idx.mu.Lock()
	r.idx.files[name] = true
	r.idx.mu.Unlock()
	for _, p := range packs {
		r.idx.addPack(p.name, p.size, p.header)
	}
	return nil
}

// refreshIndex loads index files written by others. If one we knew is gone
// (prune replaced it), the index is rebuilt from scratch.
func (r *Repository) refreshIndex(ctx context.Context) error {
	files, err := r.st.list(ctx, "index")
	if err != nil {
		return err
	}
	present := make(map[string]bool, len(files))
	for _, f := range files {
		present[f.name] = true
	}
	r.idx.mu.Lock()
	for name := range r.idx.files {
		if !present[name] {
			r.idx.reset()
			r.groups.clear()
			break
		}
	}
	for name := range r.idx.bad {
		if !present[name] {
			delete(r.idx.bad, name)
		}
	}
	var todo []string
	for _, f := range files {
		if !r.idx.files[f.name] && r.idx.bad[f.name] == nil {
			todo = append(todo, f.name)
		}
	}
	r.idx.mu.Unlock()
	for _, name := range todo {
		packs, err := r.readIndexFile(ctx, name)
		if errors.Is(err, ErrNotFound) {
			continue // removed by a concurrent prune; its packs are in its successor
		}
		if errors.Is(err, ErrCorrupt) {
			// Damaged or not bound to its name: never trusted, but the
			// repository stays open so verify can name it and
			// rebuild-index can replace it (see index.bad).
			r.idx.mu.Lock()
			r.idx.bad[name] = err
			r.idx.mu.Unlock()
			continue
		}
		if err != nil {
			return err
		}
		for _, p := range packs {
			r.idx.addPack(p.name, p.size, p.header)
		}
		r.idx.mu.Lock()
		r.idx.files[name] = true
		r.idx.mu.Unlock()
	}
	return nil
}

func (r *Repository) readIndexFile(ctx context.Context, name string) ([]packInfo, error) {
	sealed, err := r.st.get(ctx, "index/"+name)
	if err != nil {
		return nil, err
	}
	plain, err := r.openBlob("index", name, sealed)
	if err != nil {
		return nil, err
	}
	packs, err := decodeIndexFile(plain)
	if err != nil {
		return nil, fmt.Errorf("%w: index/%s: %v", ErrCorrupt, name, err)
	}
	return packs, nil
}

// packsWithEntries returns the indexed packs with their whole headers,
// read again from the index files, for prune and verify.
func (r *Repository) packsWithEntries(ctx context.Context) ([]packInfo, error) {
	for attempt := 0; ; attempt++ {
		packs := r.idx.packList()
		r.idx.mu.RLock()
		files := slices.Collect(maps.Keys(r.idx.files))
		r.idx.mu.RUnlock()
		full := make(map[string]*pack.Header, len(packs))
		var err error
		for _, name := range files {
			var ps []packInfo
			if ps, err = r.readIndexFile(ctx, name); err != nil {
				break
			}
			for _, p := range ps {
				full[p.name] = p.header
			}
		}
		for i := range packs {
			if err != nil {
				break
			}
			if h, ok := full[packs[i].name]; ok {
				packs[i].header = h
			} else {
				err = fmt.Errorf("%w: pack %s in no index file", ErrNotFound, packs[i].name)
			}
		}
		if err == nil || attempt > 0 || !(errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt)) {
			return packs, err
		}
		if errors.Is(err, ErrCorrupt) {
			// A file loaded earlier no longer opens (damaged or replaced
			// in the bucket since): drop what it contributed; refreshIndex
			// reloads the rest and records it in index.bad.
			r.resetIndex()
		}
		// An index file was replaced (a prune elsewhere): reload and retry.
		if err := r.refreshIndex(ctx); err != nil {
			return nil, err
		}
	}
}

// readContent returns the stored bytes of id. Readers take no lock: if a
// pack vanished (prune repacked it), the index is reloaded, since prune
// writes the new index before it deletes anything, and the read retried.
func (r *Repository) readContent(ctx context.Context, id content.ID) ([]byte, pack.Kind, error) {
	b, kind, err := r.readStored(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	return r.resolve(ctx, id, b, kind)
}

// resolve turns a stored blob into content: a delta applied, parts joined.
func (r *Repository) resolve(ctx context.Context, id content.ID, b []byte, kind pack.Kind) ([]byte, pack.Kind, error) {
	switch kind {
	case pack.KindDelta:
		return r.applyDelta(ctx, id, b)
	case pack.KindParts:
		return r.joinParts(ctx, id, b)
	}
	return b, kind, nil
}

// readStored returns a blob as stored: a delta or a part list unresolved.
func (r *Repository) readStored(ctx context.Context, id content.ID) ([]byte, pack.Kind, error) {
	var lastErr error
	for attempt := range 3 {
		l, p, ok := r.idx.lookup(id)
		if !ok || attempt > 0 {
			// Written by another process since we loaded the index, or moved.
			if err := r.refreshIndex(ctx); err != nil {
				return nil, 0, err
			}
			l, p, ok = r.idx.lookup(id)
		}
		if !ok {
			if bad := r.idx.errBadIndex(); bad != nil {
				return nil, 0, fmt.Errorf("content %s: %w: missing from index (%v)", id.Short(), ErrCorrupt, bad)
			}
			return nil, 0, fmt.Errorf("content %s: %w: missing from index", id.Short(), ErrCorrupt)
		}
		g, err := r.readGroup(ctx, p, l.group)
		if err == nil {
			return g[l.offset : l.offset+l.length : l.offset+l.length], l.kind, nil
		}
		if !errors.Is(err, errPackGone) {
			return nil, 0, err
		}
		lastErr = err
	}
	return nil, 0, fmt.Errorf("%w: %w", ErrCorrupt, lastErr)
}

var errPackGone = errors.New("pack missing")

func (r *Repository) readGroup(ctx context.Context, p packInfo, gi uint32) ([]byte, error) {
	key := fmt.Sprintf("%s/%d", p.name, gi)
	if v, ok := r.groups.get(key); ok {
		return v.([]byte), nil
	}
	g := p.header.Groups[gi]
	sealed, err := r.st.getRange(ctx, "packs/"+p.name, int64(g.Off), int64(g.Len))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: pack %s: %w", errPackGone, p.name, err)
		}
		return nil, err
	}
	plain, err := pack.OpenGroup(r.keys, p.name, gi, g, sealed)
	if err != nil {
		return nil, fmt.Errorf("%w: pack %s: %w", ErrCorrupt, p.name, err)
	}
	r.groups.add(key, plain, len(plain))
	return plain, nil
}

// reset empties the index; the caller holds x.mu.
func (x *index) reset() {
	fresh := newIndex()
	x.byID.free()
	x.byID, x.packs, x.byName, x.files, x.bad, x.bases = fresh.byID, fresh.packs, fresh.byName, fresh.files, fresh.bad, fresh.bases
}

// applyDelta rebuilds a delta-stored object from its base (recursively; the
// chain is bounded by maxDeltaDepth).
func (r *Repository) applyDelta(ctx context.Context, id content.ID, delta []byte) ([]byte, pack.Kind, error) {
	base, ok := r.idx.base(id)
	if !ok {
		return nil, 0, fmt.Errorf("%w: content %s: delta without base", ErrCorrupt, id.Short())
	}
	braw, _, err := r.readContent(ctx, base)
	if err != nil {
		return nil, 0, fmt.Errorf("base of %s: %w", id.Short(), err)
	}
	out, err := pack.ApplyDelta(braw, delta)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: content %s: %w", ErrCorrupt, id.Short(), err)
	}
	return out, pack.KindObject, nil
}

// joinParts reads a parts object whole (PutParts); readers that must not
// hold it whole use partsReader.
func (r *Repository) joinParts(ctx context.Context, id content.ID, list []byte) ([]byte, pack.Kind, error) {
	ids, err := partIDs(id, list)
	if err != nil {
		return nil, 0, err
	}
	size := 0
	for _, p := range ids {
		l, _, _ := r.idx.lookup(p)
		size += int(l.length)
	}
	out := make([]byte, 0, size)
	for _, p := range ids {
		b, _, err := r.readContent(ctx, p)
		if err != nil {
			return nil, 0, fmt.Errorf("part of %s: %w", id.Short(), err)
		}
		out = append(out, b...)
	}
	return out, pack.KindObject, nil
}

// partIDs decodes a KindParts blob.
func partIDs(id content.ID, list []byte) ([]content.ID, error) {
	if len(list) == 0 || len(list)%len(content.ID{}) != 0 {
		return nil, fmt.Errorf("%w: content %s: malformed part list", ErrCorrupt, id.Short())
	}
	ids := make([]content.ID, len(list)/len(content.ID{}))
	for i := range ids {
		copy(ids[i][:], list[i*len(content.ID{}):])
	}
	return ids, nil
}
