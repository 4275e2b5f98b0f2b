package repository

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/entravault/entravault/internal/repository/content"
	"github.com/entravault/entravault/internal/repository/pack"
)

// WriterOptions describe one snapshot: one run of a connector over a scope.
type WriterOptions struct {
	Connector, Scope string
	// Parent is the previous snapshot of the same scope. Its objects are
	// carried over unless Put (changed) or Deleted; unchanged Puts cost a
	// hash and a lookup (a binary search of the parent).
	Parent SnapshotID
	// Time is the snapshot time; zero means now.
	Time time.Time
	// Full means the run Puts every object that exists, so objects of
	// Parent that were not Put are removed at Commit (no delta query).
	Full bool
}

// maxDeltas and maxDeltaShare bound the delta chain; past either the next
// commit writes a new base tree, whose unchanged chunks dedup. Writers and
// lookups hold a parent's deltas merged in memory (parent.go), so they
// stay a small share of the map.
const (
	maxDeltas     = 64
	maxDeltaShare = 8 // deltas hold at most 1/maxDeltaShare of the base's entries
)

// Writer writes one snapshot. It is not safe for concurrent use. Put,
// Delete and SetState record changes; Checkpoint makes them durable and
// resumable; Commit makes the snapshot visible. An error from the storage
// side is sticky: every later call returns it and the writer must be
// aborted (ResumeWriter from the last checkpoint continues the run).
type Writer struct {
	r    *Repository
	opts WriterOptions
	lock *repoLock

	parentID SnapshotID
	parent   *manifest
	// parentSums tells a full run's unchanged objects (parent.go).
	parentSums parentSums
	// changes since the last spill; older ones are in runs (spill.go),
	// their keys in spilledKeys.
	changes     map[string]entry
	runs        []*spillRun
	spilledKeys spilled
	// Keys changed (possibly repeated) since the last checkpoint, and that
	// checkpoint's blob: checkpoints form a chain, so each stores only
	// what is new.
	cpKeys []string
	cpHead content.ID
	state  map[string]string

	pending    map[content.ID]struct{} // stored since the last index write
	deltaLoads int
	// recent keeps raw copies of objects stored since the last flush (up to
	// maxRecent bytes) so Current can answer without flushing a pack.
	recent      map[content.ID][]byte
	recentBytes int
	group       []byte
	items       []pack.Item
	pk          *packer

	ctx    context.Context // lives until Commit/Abort; cancels uploads
	cancel context.CancelFunc
	err    error
	done   bool
}

// NewWriter starts a snapshot. It takes a shared lock (waiting for a
// running prune) held until Commit or Abort.
func (r *Repository) NewWriter(ctx context.Context, opts WriterOptions) (*Writer, error) {
	if opts.Connector == "" || opts.Scope == "" {
		return nil, errors.New("writer: connector and scope are required")
	}
	if opts.Time.IsZero() {
		opts.Time = time.Now()
	}
	opts.Time = opts.Time.UTC()
	l, err := r.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	w := &Writer{r: r, opts: opts, lock: l, changes: map[string]entry{}, state: map[string]string{},
		pending: map[content.ID]struct{}{}, recent: map[content.ID][]byte{}}
	if err := w.init(ctx); err != nil {
		l.release(ctx)
		return nil, err
	}
	return w, nil
}

func (w *Writer) init(ctx context.Context) error {
	// Under the lock, pick up index changes (prune may have run since Open):
	// dedup must only trust content that still exists.
	if err := w.r.refreshIndex(ctx); err != nil {
		return err
	}
	if w.opts.Parent != "" {
		m, err := w.r.loadManifest(ctx, w.opts.Parent)
		if err != nil {
			return fmt.Errorf("writer: parent: %w", err)
		}
		if m.Connector != w.opts.Connector || m.Scope != w.opts.Scope {
			return fmt.Errorf("writer: parent %s belongs to %s/%s", w.opts.Parent.Short(), m.Connector, m.Scope)
		}
		if w.opts.Full {
			if w.parentSums, err = w.r.parentSums(ctx, m); err != nil {
				return fmt.Errorf("writer: parent: %w", err)
			}
		}
		w.parentID, w.parent = w.opts.Parent, m
		maps.Copy(w.state, m.State)
	}
	w.ctx, w.cancel = context.WithCancel(context.WithoutCancel(ctx))
	w.pk = newPacker(w.ctx, w.r)
	w.group = w.pk.buffer()
	return nil
}

func (w *Writer) usable() error {
	if w.done {
		return ErrClosed
	}
	if w.err == nil {
		w.err = w.pk.failed()
	}
	return w.err
}

// changed returns key's entry if this run changed it (Put or Delete).
func (w *Writer) changed(key string) (entry, bool, error) {
	if e, ok := w.changes[key]; ok {
		return e, true, nil
	}
	if len(w.runs) > 0 && w.spilledKeys.has(key) {
		for i := len(w.runs) - 1; i >= 0; i-- {
			e, ok, err := w.runs[i].lookup(key)
			if err != nil {
				w.err = err
				return entry{}, false, err
			}
			if ok {
				return e, true, nil
			}
		}
	}
	return entry{}, false, nil
}

func checkName(objType, id string) error {
	if objType == "" || id == "" || strings.ContainsRune(objType, 0) || strings.ContainsRune(id, 0) {
		return fmt.Errorf("%w: type and id must be non-empty and free of NUL", ErrInvalidObject)
	}
	return nil
}

// Put records an object as Graph returned it. raw is kept byte for byte;
// its canonical form decides whether it changed. raw may be reused by the
// caller after Put returns.
func (w *Writer) Put(ctx context.Context, objType, id string, raw []byte) error {
	return w.put(ctx, objType, id, raw, false)
}

// PutCanonical is Put for an object the caller wrote in RFC 8785 canonical
// form itself (a relationship list of millions of references): it is not
// canonicalised again to find its content id. Verify still checks it.
func (w *Writer) PutCanonical(ctx context.Context, objType, id string, raw []byte) error {
	return w.put(ctx, objType, id, raw, true)
}

// PutParts is PutCanonical for an object too large to hold whole (an "all
// employees" group's member list): parts yields its canonical form piece
// by piece, and no step here holds more than one piece. Each piece is
// stored, and deduplicated, as a blob of its own and the object as the
// list of them, so readers see one object. Pieces should end at places the
// content decides (not at fixed sizes): then a change rewrites one piece
// and the rest dedup. An object given as a single piece is stored as
// PutCanonical stores it.
func (w *Writer) PutParts(ctx context.Context, objType, id string, parts func(yield func(part []byte) error) error) error {
	if err := w.usable(); err != nil {
		return err
	}
	if err := checkName(objType, id); err != nil {
		return err
	}
	whole := sha256.New()
	var first []byte // kept until a second piece makes this a parts object
	var list []byte  // part ids, 32 bytes each
	size := 0
	err := parts(func(part []byte) error {
		if err := w.usable(); err != nil {
			return err
		}
		whole.Write(part)
		size += len(part)
		switch {
		case len(list) == 0 && first == nil:
			first = append([]byte{}, part...)
			return nil
		case first != nil:
			if err := w.storePart(&list, first); err != nil {
				return err
			}
			first = nil
		}
		return w.storePart(&list, part)
	})
	if err != nil {
		return err
	}
	switch {
	case first != nil:
		return w.put(ctx, objType, id, first, true)
	case len(list) == 0:
		return fmt.Errorf("%w: %s %s: no content", ErrInvalidObject, objType, id)
	case uint64(size) > math.MaxUint32:
		return fmt.Errorf("%w: %s %s: larger than 4 GiB", ErrInvalidObject, objType, id)
	}
	key := objKey(objType, id)
	cid := content.ID(whole.Sum(nil))
	var sum [16]byte
	copy(sum[:], cid[:16])
	if _, _, same, err := w.since(key, sum, size); err != nil || same {
		return err
	}
	w.changes[key] = entry{key: key, cid: cid, sum: sum, size: uint32(size)}
	w.cpKeys = append(w.cpKeys, key)
	return w.storeItem(pack.Item{ID: cid, Kind: pack.KindParts}, list)
}

func (w *Writer) storePart(list *[]byte, part []byte) error {
	id := content.SumBytes(part)
	*list = append(*list, id[:]...)
	return w.store(id, pack.KindPart, part)
}

func (w *Writer) put(ctx context.Context, objType, id string, raw []byte, canonical bool) error {
	if err := w.usable(); err != nil {
		return err
	}
	if err := checkName(objType, id); err != nil {
		return err
	}
	key := objKey(objType, id)
	full := sha256.Sum256(raw)
	var sum [16]byte
	copy(sum[:], full[:16])
	prev, had, same, err := w.since(key, sum, len(raw))
	if err != nil || same {
		return err // byte-identical: no canonicalisation needed
	}
	cid := content.ID(full)
	if !canonical {
		if cid, err = content.Sum(raw); err != nil {
			return fmt.Errorf("%w: %s %s: %v", ErrInvalidObject, objType, id, err)
		}
	}
	// Same canonical content in new formatting is still recorded, so the
	// next run takes the fast path; Diff and History see no change.
	w.changes[key] = entry{key: key, cid: cid, sum: sum, size: uint32(len(raw))}
	w.cpKeys = append(w.cpKeys, key)
	if _, ok := w.pending[cid]; !ok && !w.r.idx.has(cid) && w.recentBytes+len(raw) <= maxRecent {
		w.recent[cid] = append([]byte(nil), raw...)
		w.recentBytes += len(raw)
	}
	if had && prev.cid != cid {
		if it, d, ok := w.delta(ctx, prev.cid, cid, raw); ok {
			return w.storeItem(it, d)
		}
	}
	return w.store(cid, pack.KindObject, raw)
}

// maxRecent bounds the memory Current's cache of this run's objects uses
// (64 MiB cost a quarter of ingest throughput in GC; 8 MiB is free).
const maxRecent = 4 << 20

const (
	// maxDeltaDepth bounds how many deltas a read may have to apply.
	maxDeltaDepth = 8
	// maxDeltaLoads bounds base reads per run: past it (a mass change),
	// objects are stored whole rather than paying a group read each.
	maxDeltaLoads = 20000
)

// delta tries to store a changed object as a delta against its previous
// version, which is usually a few dozen bytes instead of kilobytes.
func (w *Writer) delta(ctx context.Context, base, cid content.ID, raw []byte) (pack.Item, []byte, bool) {
	if _, ok := w.pending[cid]; ok || w.r.idx.has(cid) || w.deltaLoads >= maxDeltaLoads {
		return pack.Item{}, nil, false
	}
	depth, ok := w.r.idx.depth(base)
	if !ok || depth >= maxDeltaDepth || w.r.idx.kind(base) == pack.KindParts {
		return pack.Item{}, nil, false // a parts object is too large to read back whole
	}
	w.deltaLoads++
	braw, _, err := w.r.readContent(ctx, base)
	if err != nil {
		return pack.Item{}, nil, false // store whole; verify reports the damage
	}
	d := pack.EncodeDelta(braw, raw)
	if len(d) > len(raw)/2 {
		return pack.Item{}, nil, false
	}
	return pack.Item{ID: cid, Kind: pack.KindDelta, Base: base, Depth: uint8(depth + 1)}, d, true
}

// store queues content for a pack unless the repository already has it.
func (w *Writer) store(id content.ID, kind pack.Kind, data []byte) error {
	return w.storeItem(pack.Item{ID: id, Kind: kind}, data)
}

func (w *Writer) storeItem(it pack.Item, data []byte) error {
	if _, ok := w.pending[it.ID]; ok || w.r.idx.has(it.ID) {
		return nil
	}
	w.pending[it.ID] = struct{}{}
	it.Offset, it.Length = uint32(len(w.group)), uint32(len(data))
	w.items = append(w.items, it)
	w.group = append(w.group, data...)
	if len(w.group) >= w.r.groupSize {
		w.pk.add(w.group, w.items)
		w.group = w.pk.buffer()
		w.items = nil
	}
	return nil
}

// Delete removes an object from this snapshot (incremental runs).
func (w *Writer) Delete(ctx context.Context, objType, id string) error {
	if err := w.usable(); err != nil {
		return err
	}
	if err := checkName(objType, id); err != nil {
		return err
	}
	key := objKey(objType, id)
	w.changes[key] = entry{key: key, deleted: true}
	w.cpKeys = append(w.cpKeys, key)
	return nil
}

// SetState sets per-scope state (delta link, watermark) saved with the
// snapshot; state is inherited from Parent. An empty value removes key.
func (w *Writer) SetState(key, value string) {
	if value == "" {
		delete(w.state, key)
		return
	}
	w.state[key] = value
}

// flush hands the open group to the packer and waits for every pack to be
// uploaded; then writes one index file for them.
func (w *Writer) flush() error {
	if len(w.items) > 0 {
		w.pk.add(w.group, w.items)
		w.group = w.pk.buffer()
		w.items = nil
	}
	packs, err := w.pk.flush()
	if err != nil {
		w.err = err
		return err
	}
	if err := w.r.writeIndex(w.ctx, packs); err != nil {
		w.err = err
		return err
	}
	clear(w.pending)
	clear(w.recent)
	w.recentBytes = 0
	return nil
}

// Checkpoint is a small, serialisable resume point (fits a Temporal
// heartbeat): the changes so far live in the repository as a chain of
// checkpoint blobs, each holding what changed since the previous one.
type Checkpoint struct {
	Connector string            `json:"connector"`
	Scope     string            `json:"scope"`
	Parent    SnapshotID        `json:"parent,omitempty"`
	Time      time.Time         `json:"time"`
	Full      bool              `json:"full,omitempty"`
	Head      string            `json:"head"`
	State     map[string]string `json:"state,omitempty"`
}

const treeCheckpoint = 'K'

// checkpoint blob: 'K' ‖ previous head (32 bytes, zero for none) ‖ uvarint
// length ‖ changes (entries) ‖ keys seen (entries).
func encodeCheckpoint(prev content.ID, changes, seen []entry) []byte {
	a := encodeEntries(treeDelta, changes)
	out := append([]byte{treeCheckpoint}, prev[:]...)
	out = binary.AppendUvarint(out, uint64(len(a)))
	out = append(out, a...)
	return append(out, encodeEntries(treeSeen, seen)...)
}

func decodeCheckpoint(b []byte) (prev content.ID, changes, seen []entry, err error) {
	if len(b) < 33 || b[0] != treeCheckpoint {
		return prev, nil, nil, errBadTree
	}
	copy(prev[:], b[1:33])
	b = b[33:]
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return prev, nil, nil, errBadTree
	}
	if changes, err = decodeEntries(treeDelta, b[k:k+int(n)]); err != nil {
		return prev, nil, nil, err
	}
	seen, err = decodeEntries(treeSeen, b[k+int(n):])
	return prev, changes, seen, err
}

// Checkpoint makes everything recorded so far durable (packs, index and a
// checkpoint blob) and returns a value ResumeWriter continues from. Content
// written before a checkpoint is never stored again after a resume. Each
// checkpoint stores only what changed since the previous one, so
// checkpointing every page stays cheap.
func (w *Writer) Checkpoint(ctx context.Context) (Checkpoint, error) {
	if err := w.usable(); err != nil {
		return Checkpoint{}, err
	}
	slices.Sort(w.cpKeys)
	w.cpKeys = slices.Compact(w.cpKeys)
	changes := make([]entry, len(w.cpKeys))
	for i, k := range w.cpKeys {
		changes[i] = w.changes[k]
	}
	blob := makeTreeBlob(encodeCheckpoint(w.cpHead, changes, nil))
	w.store(blob.id, pack.KindTree, blob.data)
	if err := w.flush(); err != nil {
		return Checkpoint{}, err
	}
	w.cpHead = blob.id
	w.cpKeys = w.cpKeys[:0]
	if err := w.maybeSpill(); err != nil {
		return Checkpoint{}, err
	}
	return Checkpoint{Connector: w.opts.Connector, Scope: w.opts.Scope, Parent: w.parentID, Time: w.opts.Time,
		Full: w.opts.Full, Head: blob.id.String(), State: maps.Clone(w.state)}, nil
}

// ResumeWriter continues a run from a checkpoint after a crash or retry.
// If prune removed what the checkpoint references (its lock went stale) it
// fails with ErrCheckpointLost and the run must start again.
func (r *Repository) ResumeWriter(ctx context.Context, cp Checkpoint) (*Writer, error) {
	w, err := r.NewWriter(ctx, WriterOptions{Connector: cp.Connector, Scope: cp.Scope, Parent: cp.Parent, Time: cp.Time, Full: cp.Full})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: %w", ErrCheckpointLost, err)
		}
		return nil, err
	}
	if err := w.resume(ctx, cp); err != nil {
		w.Abort()
		return nil, err
	}
	return w, nil
}

func (w *Writer) resume(ctx context.Context, cp Checkpoint) error {
	lost := func(err error) error { return fmt.Errorf("%w: %w", ErrCheckpointLost, err) }
	head, err := content.Parse(cp.Head)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	// Walk the chain back to its start, then replay it forwards, one link
	// in memory at a time.
	read := func(id content.ID) (prev content.ID, changes, seen []entry, err error) {
		if !w.r.idx.has(id) {
			return prev, nil, nil, lost(fmt.Errorf("checkpoint blob %s missing", id.Short()))
		}
		raw, _, err := w.r.readContent(ctx, id)
		if err != nil {
			return prev, nil, nil, err
		}
		if prev, changes, seen, err = decodeCheckpoint(raw); err != nil {
			return prev, nil, nil, fmt.Errorf("%w: checkpoint %s: %v", ErrCorrupt, id.Short(), err)
		}
		return prev, changes, seen, nil
	}
	var chain []content.ID
	for id := head; !id.IsZero(); {
		chain = append(chain, id)
		prev, _, _, err := read(id)
		if err != nil {
			return err
		}
		id = prev
	}
	for i := len(chain) - 1; i >= 0; i-- {
		_, changes, seen, err := read(chain[i])
		if err != nil {
			return err
		}
		for _, e := range seen {
			// Written before unchanged markers replaced the seen list.
			w.changes[e.key] = entry{key: e.key}
		}
		for _, e := range changes {
			if !e.deleted && !e.unchanged() && !w.r.idx.has(e.cid) {
				return lost(fmt.Errorf("content %s missing", e.cid.Short()))
			}
			w.changes[e.key] = e
		}
		if err := w.maybeSpill(); err != nil {
			return err
		}
	}
	w.cpHead = head
	w.state = maps.Clone(cp.State)
	if w.state == nil {
		w.state = map[string]string{}
	}
	return nil
}

const treeDelta = 'D'

func sortedEntries(m map[string]entry) []entry {
	out := make([]entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	return out
}

// maybeSpill moves the changes to a run file once they are many.
func (w *Writer) maybeSpill() error {
	if len(w.changes) < spillMin {
		return nil
	}
	es := sortedEntries(w.changes)
	run, err := writeRun(es)
	if err != nil {
		w.err = err
		return err
	}
	w.runs = append(w.runs, run)
	w.spilledKeys = w.spilledKeys.add(es)
	w.changes = map[string]entry{} // clear would keep the buckets
	return nil
}

// walk merges the parent with this run's changes (mem: the unspilled ones,
// sorted) in key order. fn sees each key's final entry (deleted for a
// removal), its parent entry (inParent) and whether it differs from it.
// The parent is streamed: memory does not grow with the tenant.
func (w *Writer) walk(mem []entry, fn func(e, p entry, inParent, changed bool) error) error {
	var parent iter.Seq2[entry, error] = func(func(entry, error) bool) {}
	if w.parent != nil {
		parent = w.r.entries(w.ctx, w.parent)
	}
	next, stop := iter.Pull2(parent)
	defer stop()
	var p entry
	var more bool
	advance := func() error {
		var err error
		p, err, more = next()
		return err
	}
	if err := advance(); err != nil {
		return err
	}
	parentTo := func(key string, all bool) error {
		for more && (all || p.key < key) {
			var err error
			if w.opts.Full {
				err = fn(entry{key: p.key, deleted: true}, p, true, true) // not Put by a full run
			} else {
				err = fn(p, p, true, false)
			}
			if err == nil {
				err = advance()
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	err := mergeRuns(w.runs, mem, func(e entry) error {
		if err := parentTo(e.key, false); err != nil {
			return err
		}
		if more && p.key == e.key {
			old := p
			if e.unchanged() {
				e = old
			}
			if err := advance(); err != nil {
				return err
			}
			return fn(e, old, true, e.deleted || old.cid != e.cid || old.sum != e.sum)
		}
		if e.unchanged() {
			return fmt.Errorf("%w: %s unchanged but not in the parent", ErrCorrupt, displayKey(e.key))
		}
		if e.deleted {
			return nil // removed before it ever was in a snapshot
		}
		return fn(e, entry{}, false, true)
	})
	if err != nil {
		return err
	}
	return parentTo("", true)
}

// Commit writes the manifest, after packs and index are durable, and
// releases the lock. The snapshot becomes visible atomically.
func (w *Writer) Commit(ctx context.Context) (SnapshotInfo, error) {
	if err := w.usable(); err != nil {
		return SnapshotInfo{}, err
	}
	mem := sortedEntries(w.changes)
	m := &manifest{Version: formatVersion, Connector: w.opts.Connector, Scope: w.opts.Scope, Time: w.opts.Time,
		Parent: w.parentID, Counts: map[string]int{}, State: maps.Clone(w.state)}
	if w.parent != nil {
		maps.Copy(m.Counts, w.parent.Counts)
		m.Bytes = w.parent.Bytes
	}
	// First pass: the delta (real differences from the parent) counted.
	ndelta := 0
	err := w.walk(mem, func(e, p entry, inParent, changed bool) error {
		if !changed {
			return nil
		}
		ndelta++
		t, _ := splitKey(e.key)
		if inParent {
			m.Counts[t]--
			m.Bytes -= int64(p.size)
		}
		if !e.deleted {
			m.Counts[t]++
			m.Bytes += int64(e.size)
		}
		if m.Counts[t] == 0 {
			delete(m.Counts, t)
		}
		return nil
	})
	if err != nil {
		w.err = err
		return SnapshotInfo{}, err
	}
	// Second pass: a new base tree, or the delta on top of the parent's.
	p := w.parent
	if p == nil || len(p.Deltas) >= maxDeltas || p.DeltaSize+ndelta > p.BaseCount/maxDeltaShare {
		var c chunker
		n := 0
		err = w.walk(mem, func(e, _ entry, _, _ bool) error {
			if e.deleted {
				return nil
			}
			n++
			if b, ok := c.add(e); ok {
				w.store(b.id, pack.KindTree, b.data)
			}
			return nil
		})
		last, open, root := c.finish()
		if open {
			w.store(last.id, pack.KindTree, last.data)
		}
		// The root, whenever there are entries: the last one may have
		// closed its chunk itself (a boundary key), leaving none open.
		if n > 0 {
			w.store(root.id, pack.KindTree, root.data)
			m.Base = root.id
		}
		m.BaseCount = n
	} else {
		m.Base, m.BaseCount, m.Deltas, m.DeltaSize = p.Base, p.BaseCount, slices.Clone(p.Deltas), p.DeltaSize
		if ndelta > 0 {
			out := binary.AppendUvarint([]byte{treeDelta}, uint64(ndelta))
			err = w.walk(mem, func(e, _ entry, _, changed bool) error {
				if changed {
					out = appendEntry(out, e)
				}
				return nil
			})
			d := makeTreeBlob(out)
			w.store(d.id, pack.KindTree, d.data)
			m.Deltas = append(m.Deltas, d.id)
			m.DeltaSize += ndelta
		}
	}
	if err != nil {
		w.err = err
		return SnapshotInfo{}, err
	}
	if err := w.flush(); err != nil {
		return SnapshotInfo{}, err
	}
	if err := w.lock.valid(); err != nil {
		w.err = err
		return SnapshotInfo{}, err
	}
	id, sealed := w.r.encodeManifest(m)
	if err := w.r.st.put(w.ctx, "snapshots/"+string(id), sealed); err != nil && !errors.Is(err, errBlobExists) {
		w.err = err
		return SnapshotInfo{}, err
	}
	w.r.snaps.mu.Lock()
	w.r.snaps.m[id] = m
	w.r.snaps.mu.Unlock()
	w.finish(ctx)
	return m.info(id), nil
}

// Abort discards the writer and releases its lock. Packs already uploaded
// stay until prune removes them; a checkpoint taken earlier stays usable.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.finish(context.Background())
}

func (w *Writer) finish(ctx context.Context) {
	w.done = true
	w.cancel()
	w.pk.close()
	w.lock.release(ctx)
	for _, run := range w.runs {
		run.close()
	}
	w.runs = nil
}

// packer compresses, seals and uploads groups on its own goroutine, so
// hashing (caller) and compression overlap on two cores.
type packer struct {
	r    *Repository
	ctx  context.Context
	jobs chan packJob
	done chan struct{}

	mu      sync.Mutex
	err     error
	written []packInfo
	// free recycles group buffers: fresh 1 MiB buffers cost page faults
	// that showed up as a third of Put's CPU time.
	free chan []byte
}

type packJob struct {
	plain []byte
	items []pack.Item
	flush chan []packInfo
}

func newPacker(ctx context.Context, r *Repository) *packer {
	p := &packer{r: r, ctx: ctx, jobs: make(chan packJob, 2), done: make(chan struct{}), free: make(chan []byte, 4)}
	go p.run()
	return p
}

func (p *packer) run() {
	defer close(p.done)
	// The pack buffer lives as long as the writer and holds no pointers:
	// outside the heap it does not raise the GC's target.
	buf, free := offHeapBytes(p.r.packBuffer())
	defer free()
	b := pack.NewBuilderIn(p.r.keys, buf)
	for j := range p.jobs {
		if p.failed() == nil {
			if j.plain != nil {
				b.AddGroup(j.plain, j.items) // compresses a copy; plain is free again
				p.recycle(j.plain)
			}
			if !b.Empty() && (b.Size() >= p.r.packSize || j.flush != nil) {
				if err := p.upload(b); err != nil {
					p.mu.Lock()
					p.err = err
					p.mu.Unlock()
				}
				b.Reset() // the pack is written: its buffer is free again
			}
		}
		if j.flush != nil {
			p.mu.Lock()
			out := p.written
			p.written = nil
			p.mu.Unlock()
			j.flush <- out
		}
	}
}

func (p *packer) upload(b *pack.Builder) error {
	name, data, hdr := b.Seal()
	if err := p.r.st.put(p.ctx, "packs/"+name, data); err != nil && !errors.Is(err, errBlobExists) {
		return err
	}
	p.mu.Lock()
	p.written = append(p.written, packInfo{name: name, size: int64(len(data)), header: hdr})
	p.mu.Unlock()
	return nil
}

// buffer returns an empty group buffer, recycled when possible.
func (p *packer) buffer() []byte {
	select {
	case b := <-p.free:
		return b[:0]
	default:
		return make([]byte, 0, p.r.groupSize+64<<10)
	}
}

func (p *packer) recycle(b []byte) {
	if cap(b) > p.r.groupSize+64<<10 {
		return // grown by a large item (a checkpoint blob): do not keep it
	}
	select {
	case p.free <- b:
	default:
	}
}

func (p *packer) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *packer) add(plain []byte, items []pack.Item) { p.jobs <- packJob{plain: plain, items: items} }

// flush uploads everything queued and returns the packs written since the
// last flush.
func (p *packer) flush() ([]packInfo, error) {
	c := make(chan []packInfo, 1)
	p.jobs <- packJob{flush: c}
	out := <-c
	if err := p.failed(); err != nil {
		return nil, err
	}
	return out, nil
}

func (p *packer) close() {
	close(p.jobs)
	<-p.done
}
