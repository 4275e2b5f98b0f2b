package repository

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// Scan calls fn for the objects of a snapshot in type/id order, starting
// strictly after the object (afterType, afterID) (both empty: from the
// first) and, when objType is set, only for objects of that type. Unlike
// Walk it reads no content unless fn calls load, so a page of a listing or
// a search by id costs one pass over the object map, not over the data.
// load's bytes are shared and must not be modified. fn runs on the
// caller's goroutine; returning an error stops the scan and Scan returns it.
func (r *Repository) Scan(ctx context.Context, snap SnapshotID, objType, afterType, afterID string,
	fn func(objType, id string, load func() ([]byte, error)) error) error {
	m, err := r.loadManifest(ctx, snap)
	if err != nil {
		return err
	}
	from, exclusive := "", false
	if afterType != "" || afterID != "" {
		from, exclusive = objKey(afterType, afterID), true
	}
	if objType != "" && objKey(objType, "") > from {
		from, exclusive = objKey(objType, ""), false
	}
	err = r.iterate(ctx, m, from, exclusive, func(e entry) error {
		t, id := splitKey(e.key)
		if objType != "" && t != objType {
			return errStop
		}
		load := func() ([]byte, error) {
			raw, _, err := r.readContent(ctx, e.cid)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", t, id, err)
			}
			return raw, nil
		}
		return fn(t, id, load)
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// startAt is the index of the first entry after (afterType, afterID) and,
// with objType set, at or after that type's first key.
func startAt(es []entry, objType, afterType, afterID string) int {
	i := 0
	if afterType != "" || afterID != "" {
		k, found := slices.BinarySearchFunc(es, objKey(afterType, afterID), cmpEntryKey)
		if found {
			k++
		}
		i = k
	}
	if objType != "" {
		k, _ := slices.BinarySearchFunc(es, objKey(objType, ""), cmpEntryKey)
		i = max(i, k)
	}
	return i
}

// DiffAfter is Diff restricted like Scan: only objects of objType (when
// set) and strictly after (afterType, afterID). Both object maps are
// streamed from that point, a chunk at a time, and content is read only for
// objects that changed, so a page of a large diff holds neither map.
func (r *Repository) DiffAfter(ctx context.Context, from, to SnapshotID, objType, afterType, afterID string, fn func(Change) error) error {
	mf, err := r.loadManifest(ctx, from)
	if err != nil {
		return err
	}
	mt, err := r.loadManifest(ctx, to)
	if err != nil {
		return err
	}
	start, prefix := "", ""
	if afterType != "" || afterID != "" {
		start = objKey(afterType, afterID) + "\x00" // the next key after it: ids hold no NUL
	}
	if objType != "" {
		prefix = objType + "\x00"
		start = max(start, prefix)
	}
	if !mf.Base.IsZero() && mf.Base == mt.Base {
		// Snapshots of one chain share their base tree (until the next
		// rebase): only keys their deltas touch can differ.
		a, b, err := r.deltaSides(ctx, mf, mt, start, prefix)
		if err != nil {
			return err
		}
		return r.diffEntries(ctx, sliceNext(a), sliceNext(b), fn)
	}
	a, stopA := iter.Pull2(r.entriesFrom(ctx, mf, start, false))
	defer stopA()
	b, stopB := iter.Pull2(r.entriesFrom(ctx, mt, start, false))
	defer stopB()
	within := func(next func() (entry, error, bool)) func() (entry, bool, error) {
		return func() (entry, bool, error) {
			e, err, ok := next()
			return e, ok && err == nil && strings.HasPrefix(e.key, prefix), err
		}
	}
	return r.diffEntries(ctx, within(a), within(b), fn)
}

// deltaSides returns, for two manifests sharing a base, the entries of
// each at the keys either's deltas touch (from start, under prefix).
func (r *Repository) deltaSides(ctx context.Context, mf, mt *manifest, start, prefix string) (a, b []entry, err error) {
	oa, err := r.overlayOf(ctx, mf)
	if err != nil {
		return nil, nil, err
	}
	ob, err := r.overlayOf(ctx, mt)
	if err != nil {
		return nil, nil, err
	}
	keys := make([]string, 0, len(oa)+len(ob))
	for _, o := range [][]entry{oa, ob} {
		for _, e := range o {
			if e.key >= start && strings.HasPrefix(e.key, prefix) {
				keys = append(keys, e.key)
			}
		}
	}
	slices.Sort(keys)
	base := &manifest{Base: mf.Base}
	side := func(over []entry, key string) (entry, bool, error) {
		if i, ok := slices.BinarySearchFunc(over, key, cmpEntryKey); ok {
			return over[i], !over[i].deleted, nil
		}
		return r.lookup(ctx, base, key)
	}
	for _, k := range slices.Compact(keys) {
		ea, okA, err := side(oa, k)
		if err != nil {
			return nil, nil, err
		}
		eb, okB, err := side(ob, k)
		if err != nil {
			return nil, nil, err
		}
		if okA {
			a = append(a, ea)
		}
		if okB {
			b = append(b, eb)
		}
	}
	return a, b, nil
}

func sliceNext(es []entry) func() (entry, bool, error) {
	return func() (entry, bool, error) {
		if len(es) == 0 {
			return entry{}, false, nil
		}
		e := es[0]
		es = es[1:]
		return e, true, nil
	}
}

// prefixRun is the leading run of es whose keys are of objType.
func prefixRun(es []entry, objType string) []entry {
	p := objType + "\x00"
	n := 0
	for n < len(es) && strings.HasPrefix(es[n].key, p) {
		n++
	}
	return es[:n]
}

// ScanStored calls fn for every object of a snapshot (of objType when set)
// in the order its content is stored, not in type/id order: consecutive
// reads then share a compressed group, which is decompressed once instead
// of once per object (a 100k-user snapshot: ~800 groups vs 100k reads).
// Use it to read a whole snapshot when order does not matter. raw is only
// valid during the call.
func (r *Repository) ScanStored(ctx context.Context, snap SnapshotID, objType string, fn func(objType, id string, raw []byte) error) error {
	es, err := r.entriesOf(ctx, snap, objType)
	if err != nil {
		return err
	}
	return r.readByLocation(ctx, es, fn)
}

// WalkBatched is Walk (type/id order, objType when set) reading content
// batch objects at a time sorted by storage location, so each compressed
// group is decompressed about once per batch. It holds one batch of raw
// objects in memory. raw is only valid during the call.
func (r *Repository) WalkBatched(ctx context.Context, snap SnapshotID, objType string, batch int, fn func(objType, id string, raw []byte) error) error {
	m, err := r.loadManifest(ctx, snap)
	if err != nil {
		return err
	}
	prefix := ""
	if objType != "" {
		prefix = objKey(objType, "")
	}
	batch = max(batch, 1)
	part := make([]entry, 0, min(batch, 1<<14))
	raws := make(map[string][]byte, cap(part))
	flush := func() error {
		clear(raws)
		err := r.readByLocation(ctx, part, func(t, id string, raw []byte) error {
			// Copy: a slice of a cached group would keep the whole group alive.
			raws[objKey(t, id)] = append([]byte(nil), raw...)
			return nil
		})
		if err != nil {
			return err
		}
		for _, e := range part {
			t, id := splitKey(e.key)
			if err := fn(t, id, raws[e.key]); err != nil {
				return err
			}
		}
		part = part[:0]
		return nil
	}
	// The object map is streamed: only a batch of entries is held.
	for e, err := range r.entriesFrom(ctx, m, prefix, false) {
		if err != nil {
			return err
		}
		if !strings.HasPrefix(e.key, prefix) {
			break
		}
		if part = append(part, e); len(part) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func (r *Repository) entriesOf(ctx context.Context, snap SnapshotID, objType string) ([]entry, error) {
	m, err := r.loadManifest(ctx, snap)
	if err != nil {
		return nil, err
	}
	es, err := r.view(ctx, m)
	if err != nil {
		return nil, err
	}
	if objType != "" {
		es = prefixRun(es[startAt(es, objType, "", ""):], objType)
	}
	return es, nil
}

// readByLocation reads entries sorted by (pack, group, offset); content
// the index does not know yet sorts last and readContent refreshes for it.
func (r *Repository) readByLocation(ctx context.Context, es []entry, fn func(objType, id string, raw []byte) error) error {
	type located struct {
		e     entry
		known bool
		l     loc
	}
	ls := make([]located, len(es))
	for i, e := range es {
		l, _, ok := r.idx.lookup(e.cid)
		ls[i] = located{e: e, known: ok, l: l}
	}
	slices.SortStableFunc(ls, func(a, b located) int {
		switch {
		case a.known != b.known:
			if a.known {
				return -1
			}
			return 1
		case a.l.pack != b.l.pack:
			return cmpU32(a.l.pack, b.l.pack)
		case a.l.group != b.l.group:
			return cmpU32(a.l.group, b.l.group)
		}
		return cmpU32(a.l.offset, b.l.offset)
	})
	for _, x := range ls {
		if err := ctx.Err(); err != nil {
			return err
		}
		t, id := splitKey(x.e.key)
		raw, _, err := r.readContent(ctx, x.e.cid)
		if err != nil {
			return fmt.Errorf("%s %s: %w", t, id, err)
		}
		if err := fn(t, id, raw); err != nil {
			return err
		}
	}
	return nil
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// errStop ends an iteration early without an error.
var errStop = errors.New("stop")

// iterate calls fn in key order for the live entries of m whose key is at
// least from (after it when exclusive), without materialising the object
// map (entriesFrom), caching the chunks it reads: listings page through
// the same ones. fn returns errStop to end early.
func (r *Repository) iterate(ctx context.Context, m *manifest, from string, exclusive bool, fn func(entry) error) error {
	for e, err := range r.entriesFrom(ctx, m, from, true) {
		if err != nil {
			return err
		}
		if exclusive && e.key == from {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}
