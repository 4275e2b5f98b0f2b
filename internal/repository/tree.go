package repository

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/entravault/entravault/internal/repository/content"
	"github.com/entravault/entravault/internal/repository/pack"
)

// entry is one object in a snapshot's object map. key is type + "\x00" + id,
// so sorting by key groups objects by type.
type entry struct {
	key     string
	cid     content.ID
	sum     [16]byte // SHA-256 prefix of the raw bytes: unchanged objects skip canonicalisation
	size    uint32   // raw length
	deleted bool     // only in delta blobs
}

func objKey(objType, id string) string { return objType + "\x00" + id }

func splitKey(k string) (objType, id string) {
	t, id, _ := strings.Cut(k, "\x00")
	return t, id
}

// chunkMask sets the average base-tree chunk to 64 entries. Boundaries depend
// on keys only, so an insertion or change touches one chunk, not all after it.
const chunkMask = 63

func isBoundary(key string) bool {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()&chunkMask == 0
}

const (
	treeChunk = 'C' // sorted entries
	treeRoot  = 'R' // list of chunk refs
	treeSeen  = 'S' // keys seen by a full-scan writer (checkpoints)
)

func encodeEntries(kind byte, es []entry) []byte {
	out := make([]byte, 0, 1+len(es)*90)
	out = append(out, kind)
	out = binary.AppendUvarint(out, uint64(len(es)))
	for _, e := range es {
		out = appendEntry(out, e)
	}
	return out
}

var errBadTree = errors.New("malformed tree blob")

// decodeEntry reads one appendEntry record at the start of b: its key (a
// slice of b, so a lookup can compare it without a copy), the rest of the
// entry, and the record's length.
func decodeEntry(b []byte) (key []byte, e entry, n int, err error) {
	l, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < l+1 {
		return nil, e, 0, errBadTree
	}
	key, rec := b[k:k+int(l)], b[k+int(l):]
	e.deleted = rec[0] == 1
	n = k + int(l) + 1
	if e.deleted {
		return key, e, n, nil
	}
	if len(rec) < 49 {
		return nil, e, 0, errBadTree
	}
	copy(e.cid[:], rec[1:33])
	copy(e.sum[:], rec[33:49])
	sz, m := binary.Uvarint(rec[49:])
	if m <= 0 {
		return nil, e, 0, errBadTree
	}
	e.size = uint32(sz)
	return key, e, n + 48 + m, nil
}

func decodeEntries(kind byte, b []byte) ([]entry, error) {
	if len(b) < 1 || b[0] != kind {
		return nil, errBadTree
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errBadTree
	}
	b = b[k:]
	es := make([]entry, n)
	for i := range es {
		key, e, m, err := decodeEntry(b)
		if err != nil {
			return nil, err
		}
		e.key = string(key)
		es[i] = e
		b = b[m:]
	}
	return es, nil
}

// chunkRef points at one base-tree chunk.
type chunkRef struct {
	first string // first key in the chunk
	id    content.ID
	count int
}

func encodeRoot(refs []chunkRef) []byte {
	out := []byte{treeRoot}
	out = binary.AppendUvarint(out, uint64(len(refs)))
	for _, r := range refs {
		out = binary.AppendUvarint(out, uint64(len(r.first)))
		out = append(out, r.first...)
		out = append(out, r.id[:]...)
		out = binary.AppendUvarint(out, uint64(r.count))
	}
	return out
}

func decodeRoot(b []byte) ([]chunkRef, error) {
	if len(b) < 1 || b[0] != treeRoot {
		return nil, errBadTree
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errBadTree
	}
	b = b[k:]
	refs := make([]chunkRef, n)
	for i := range refs {
		l, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < l+32 {
			return nil, errBadTree
		}
		refs[i].first = string(b[k : k+int(l)])
		b = b[k+int(l):]
		copy(refs[i].id[:], b[:32])
		b = b[32:]
		c, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, errBadTree
		}
		refs[i].count = int(c)
		b = b[k:]
	}
	return refs, nil
}

// treeBlob is something to store as KindTree content.
type treeBlob struct {
	id   content.ID
	data []byte
}

func makeTreeBlob(data []byte) treeBlob { return treeBlob{id: content.SumBytes(data), data: data} }

// chunker splits a sorted, deletion-free stream of entries into
// content-defined chunks, so a base tree is written without holding it.
type chunker struct {
	cur  []entry
	refs []chunkRef
}

// add appends e and returns the chunk it completes, if any.
func (c *chunker) add(e entry) (treeBlob, bool) {
	c.cur = append(c.cur, e)
	if !isBoundary(e.key) {
		return treeBlob{}, false
	}
	return c.cut(), true
}

func (c *chunker) cut() treeBlob {
	b := makeTreeBlob(encodeEntries(treeChunk, c.cur))
	c.refs = append(c.refs, chunkRef{first: c.cur[0].key, id: b.id, count: len(c.cur)})
	c.cur = c.cur[:0]
	return b
}

// finish returns the last chunk (ok false when none is open) and the root.
func (c *chunker) finish() (last treeBlob, ok bool, root treeBlob) {
	if len(c.cur) > 0 {
		last, ok = c.cut(), true
	}
	return last, ok, makeTreeBlob(encodeRoot(c.refs))
}

// loadTree returns a decoded tree blob (entries or root), cached.
func (r *Repository) loadTree(ctx context.Context, id content.ID) (any, error) {
	if v, ok := r.trees.get(string(id[:])); ok {
		return v, nil
	}
	raw, kind, err := r.readContent(ctx, id)
	if err != nil {
		return nil, err
	}
	if kind != pack.KindTree || len(raw) == 0 {
		return nil, fmt.Errorf("%w: tree %s: wrong kind", ErrCorrupt, id.Short())
	}
	var v any
	switch raw[0] {
	case treeRoot:
		v, err = decodeRoot(raw)
	default:
		v, err = decodeEntries(raw[0], raw)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: tree %s: %v", ErrCorrupt, id.Short(), err)
	}
	r.trees.add(string(id[:]), v, len(raw)*2)
	return v, nil
}

func (r *Repository) loadEntries(ctx context.Context, id content.ID) ([]entry, error) {
	v, err := r.loadTree(ctx, id)
	if err != nil {
		return nil, err
	}
	es, ok := v.([]entry)
	if !ok {
		return nil, fmt.Errorf("%w: tree %s: want entries", ErrCorrupt, id.Short())
	}
	return es, nil
}

func (r *Repository) loadRoot(ctx context.Context, id content.ID) ([]chunkRef, error) {
	v, err := r.loadTree(ctx, id)
	if err != nil {
		return nil, err
	}
	refs, ok := v.([]chunkRef)
	if !ok {
		return nil, fmt.Errorf("%w: tree %s: want root", ErrCorrupt, id.Short())
	}
	return refs, nil
}

// view materialises a manifest's object map: base plus deltas, sorted by key.
func (r *Repository) view(ctx context.Context, m *manifest) ([]entry, error) {
	var base []entry
	if !m.Base.IsZero() {
		refs, err := r.loadRoot(ctx, m.Base)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, ref := range refs {
			n += ref.count
		}
		base = make([]entry, 0, n)
		for _, ref := range refs {
			es, err := r.loadEntries(ctx, ref.id)
			if err != nil {
				return nil, err
			}
			base = append(base, es...)
		}
	}
	for _, d := range m.Deltas {
		es, err := r.loadEntries(ctx, d)
		if err != nil {
			return nil, err
		}
		base = mergeDelta(base, es)
	}
	return base, nil
}

// mergeDelta applies a sorted delta to a sorted base, dropping deletions.
func mergeDelta(base, delta []entry) []entry {
	return slices.DeleteFunc(overlay(base, delta), func(e entry) bool { return e.deleted })
}

// lookup finds one key in a manifest without materialising the whole view:
// newest delta first, then a binary search of the base.
func (r *Repository) lookup(ctx context.Context, m *manifest, key string) (entry, bool, error) {
	for i := len(m.Deltas) - 1; i >= 0; i-- {
		es, err := r.loadEntries(ctx, m.Deltas[i])
		if err != nil {
			return entry{}, false, err
		}
		if k, ok := slices.BinarySearchFunc(es, key, cmpEntryKey); ok {
			return es[k], !es[k].deleted, nil
		}
	}
	if m.Base.IsZero() {
		return entry{}, false, nil
	}
	refs, err := r.loadRoot(ctx, m.Base)
	if err != nil {
		return entry{}, false, err
	}
	// the last chunk whose first key is <= key
	c := sortSearch(len(refs), func(i int) bool { return refs[i].first > key }) - 1
	if c < 0 {
		return entry{}, false, nil
	}
	es, err := r.loadEntries(ctx, refs[c].id)
	if err != nil {
		return entry{}, false, err
	}
	if k, ok := slices.BinarySearchFunc(es, key, cmpEntryKey); ok {
		return es[k], true, nil
	}
	return entry{}, false, nil
}

func cmpEntryKey(e entry, key string) int { return strings.Compare(e.key, key) }

func sortSearch(n int, f func(int) bool) int {
	lo, hi := 0, n
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if !f(h) {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo
}

// treeIDs lists every tree blob a manifest references (for prune and verify).
func (r *Repository) treeIDs(ctx context.Context, m *manifest) ([]content.ID, error) {
	var ids []content.ID
	if !m.Base.IsZero() {
		ids = append(ids, m.Base)
		refs, err := r.loadRoot(ctx, m.Base)
		if err != nil {
			return nil, err
		}
		for _, ref := range refs {
			ids = append(ids, ref.id)
		}
	}
	return append(ids, m.Deltas...), nil
}
