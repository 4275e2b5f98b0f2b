package repository

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"slices"

	"github.com/entravault/entravault/internal/repository/content"
)

// A writer does not hold its parent's object map: at 500k users that is a
// million entries, ~110 MiB. An incremental run looks up the few keys it
// changes (cached tree chunks); a full run, which Puts every object, keeps
// 24 bytes an entry (parentSums) to tell unchanged objects; Commit streams
// the parent's map chunk by chunk.

// unchanged marks a change entry of a full run whose object is the
// parent's version, byte for byte: its cid is zero and Commit takes the
// parent's entry.
func (e entry) unchanged() bool { return !e.deleted && e.cid.IsZero() }

// parentSums holds, sorted, a hash of each parent key and the raw-bytes sum
// of its version.
type parentSums []parentSum

type parentSum struct {
	key uint64
	sum [16]byte
}

func (s parentSums) has(key string, sum [16]byte) bool {
	h := keyHash(key)
	i, _ := slices.BinarySearchFunc(s, h, func(p parentSum, h uint64) int { return cmp.Compare(p.key, h) })
	for ; i < len(s) && s[i].key == h; i++ { // a hash shared by two keys needs both sums to collide too
		if s[i].sum == sum {
			return true
		}
	}
	return false
}

func (r *Repository) parentSums(ctx context.Context, m *manifest) (parentSums, error) {
	out := make(parentSums, 0, m.BaseCount+m.DeltaSize)
	for e, err := range r.entries(ctx, m) {
		if err != nil {
			return nil, err
		}
		out = append(out, parentSum{key: keyHash(e.key), sum: e.sum})
	}
	slices.SortFunc(out, func(a, b parentSum) int { return cmp.Compare(a.key, b.key) })
	return out, nil
}

// entries yields a manifest's object map in key order: the base, one chunk
// at a time and not cached (a scan would only evict what lookups need),
// with the deltas laid over it.
func (r *Repository) entries(ctx context.Context, m *manifest) iter.Seq2[entry, error] {
	return r.entriesFrom(ctx, m, "", false)
}

// entriesFrom is entries from the first key at or after from; cache keeps
// the chunks read in the tree cache (for listings that page through them).
func (r *Repository) entriesFrom(ctx context.Context, m *manifest, from string, cache bool) iter.Seq2[entry, error] {
	load := r.readEntries
	if cache {
		load = r.loadEntries
	}
	return func(yield func(entry, error) bool) {
		over, err := r.overlayOf(ctx, m)
		if err != nil {
			yield(entry{}, err)
			return
		}
		j, _ := slices.BinarySearchFunc(over, from, cmpEntryKey)
		emit := func(e entry) bool { return e.deleted || yield(e, nil) }
		// upTo yields the overlay entries before key (all with all).
		upTo := func(key string, all bool) bool {
			for ; j < len(over) && (all || over[j].key < key); j++ {
				if !emit(over[j]) {
					return false
				}
			}
			return true
		}
		if !m.Base.IsZero() {
			refs, err := r.loadRoot(ctx, m.Base)
			if err != nil {
				yield(entry{}, err)
				return
			}
			// from the last chunk whose first key is <= from
			c := max(sortSearch(len(refs), func(i int) bool { return refs[i].first > from })-1, 0)
			for _, ref := range refs[c:] {
				es, err := load(ctx, ref.id)
				if err == nil {
					err = ctx.Err()
				}
				if err != nil {
					yield(entry{}, err)
					return
				}
				k, _ := slices.BinarySearchFunc(es, from, cmpEntryKey)
				for _, e := range es[k:] {
					if !upTo(e.key, false) {
						return
					}
					if j < len(over) && over[j].key == e.key {
						e = over[j]
						j++
					}
					if !emit(e) {
						return
					}
				}
			}
		}
		upTo("", true)
	}
}

// overlayOf is a manifest's deltas merged, deletions kept.
func (r *Repository) overlayOf(ctx context.Context, m *manifest) ([]entry, error) {
	var over []entry
	for _, d := range m.Deltas {
		es, err := r.loadEntries(ctx, d)
		if err != nil {
			return nil, err
		}
		over = overlay(over, es)
	}
	return over, nil
}

// readEntries decodes a tree chunk without caching it.
func (r *Repository) readEntries(ctx context.Context, id content.ID) ([]entry, error) {
	if v, ok := r.trees.get(string(id[:])); ok {
		if es, ok := v.([]entry); ok {
			return es, nil
		}
	}
	raw, _, err := r.readContent(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: tree %s: empty", ErrCorrupt, id.Short())
	}
	es, err := decodeEntries(treeChunk, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: tree %s: %v", ErrCorrupt, id.Short(), err)
	}
	return es, nil
}

// overlay lays newer (sorted) over older: for a key in both, newer's entry,
// a deletion included.
func overlay(older, newer []entry) []entry {
	out := make([]entry, 0, len(older)+len(newer))
	i, j := 0, 0
	for i < len(older) || j < len(newer) {
		switch {
		case j == len(newer) || (i < len(older) && older[i].key < newer[j].key):
			out = append(out, older[i])
			i++
		default:
			if i < len(older) && older[i].key == newer[j].key {
				i++
			}
			out = append(out, newer[j])
			j++
		}
	}
	return out
}

// parentEntry looks key up in the parent snapshot.
func (w *Writer) parentEntry(key string) (entry, bool, error) {
	if w.parent == nil {
		return entry{}, false, nil
	}
	e, ok, err := w.r.lookup(w.ctx, w.parent, key)
	if err != nil {
		w.err = err
	}
	return e, ok, err
}

// since tells whether key already holds content with this raw-bytes sum in
// the snapshot being written (then nothing needs storing; a full run
// records that the parent's version stays). Otherwise it returns the
// version the new content replaces, if any: the base for a delta.
func (w *Writer) since(key string, sum [16]byte, size int) (prev entry, had, same bool, err error) {
	e, ok, err := w.changed(key)
	switch {
	case err != nil:
		return entry{}, false, false, err
	case ok && e.deleted:
		return entry{}, false, false, nil
	case ok && e.sum == sum:
		return e, true, true, nil
	case ok && e.unchanged():
		e, ok, err = w.parentEntry(key)
		return e, ok, false, err
	case ok:
		return e, true, false, nil
	case w.parent == nil:
		return entry{}, false, false, nil
	}
	if !w.opts.Full {
		p, ok, err := w.parentEntry(key)
		return p, ok, ok && p.sum == sum, err
	}
	if w.parentSums.has(key, sum) {
		w.changes[key] = entry{key: key, sum: sum, size: uint32(size)}
		w.cpKeys = append(w.cpKeys, key)
		return entry{}, true, true, nil
	}
	p, ok, err := w.parentEntry(key)
	return p, ok, false, err
}

// resolve turns an unchanged-marker change into the parent's entry.
func (w *Writer) resolve(e entry) (entry, bool, error) {
	if !e.unchanged() {
		return e, !e.deleted, nil
	}
	p, ok, err := w.parentEntry(e.key)
	if err == nil && !ok {
		err = fmt.Errorf("%w: %s unchanged but not in the parent", ErrCorrupt, displayKey(e.key))
	}
	return p, ok, err
}
