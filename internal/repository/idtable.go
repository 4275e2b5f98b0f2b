package repository

import (
	"bytes"
	"slices"

	"github.com/entravault/entravault/internal/repository/content"
)

// idTable maps content ids to locations in about 52 bytes an id: a Go map
// took ~110 (slots, load factor, doubling), half a backup's live heap at
// 500k users. Ids are spread over buckets by their first bits (they are
// hashes, so evenly); each bucket is a sorted slice plus a short unsorted
// tail of recent additions, merged into the slice in place when it fills.
// A merge moves one bucket (a few hundred entries for a million ids), so
// no step ever holds a second copy of the table.
type idTable struct {
	buckets [idBuckets]idBucket
	n       int
	arena   *entryArena // nil: all on the heap
}

// newIDTable returns a table whose large buckets live off the Go heap
// (offheap.go); free releases them.
func newIDTable() *idTable {
	t := &idTable{}
	t.arena = newEntryArena(t)
	return t
}

// free releases the off-heap arrays; t must not be used afterwards.
func (t *idTable) free() {
	if t.arena != nil {
		t.arena.freeAll()
	}
}

const (
	idBucketBits = 12
	idBuckets    = 1 << idBucketBits
	// idTailMax bounds the linear scan of a bucket's tail.
	idTailMax = 16
)

type idBucket struct {
	sorted []idEntry
	tail   []idEntry
}

type idEntry struct {
	id  content.ID
	loc loc
}

func bucketOf(id content.ID) int { return int(id[0])<<4 | int(id[1]>>4) }

func compareIDs(a, b content.ID) int { return bytes.Compare(a[:], b[:]) }

func (t *idTable) get(id content.ID) (loc, bool) {
	b := &t.buckets[bucketOf(id)]
	if i, ok := slices.BinarySearchFunc(b.sorted, id, func(e idEntry, id content.ID) int { return compareIDs(e.id, id) }); ok {
		return b.sorted[i].loc, true
	}
	for i := range b.tail {
		if b.tail[i].id == id {
			return b.tail[i].loc, true
		}
	}
	return loc{}, false
}

// add records id at l unless it is already known (the first location wins).
func (t *idTable) add(id content.ID, l loc) {
	if _, ok := t.get(id); ok {
		return
	}
	b := &t.buckets[bucketOf(id)]
	if b.tail == nil {
		b.tail = make([]idEntry, 0, idTailMax)
	}
	b.tail = append(b.tail, idEntry{id: id, loc: l})
	t.n++
	if len(b.tail) == idTailMax {
		b.merge(t.arena)
	}
}

// merge sorts the tail into the bucket's slice, in place from the back
// (the slice grows 25% at a time).
func (b *idBucket) merge(a *entryArena) {
	cmp := func(x, y idEntry) int { return compareIDs(x.id, y.id) }
	slices.SortFunc(b.tail, cmp)
	n := len(b.sorted)
	b.sorted = a.grow(b.sorted, len(b.tail))[:n+len(b.tail)] // room; filled below
	i, j, k := n-1, len(b.tail)-1, len(b.sorted)-1
	for j >= 0 {
		if i >= 0 && cmp(b.sorted[i], b.tail[j]) > 0 {
			b.sorted[k] = b.sorted[i]
			i--
		} else {
			b.sorted[k] = b.tail[j]
			j--
		}
		k--
	}
	b.tail = b.tail[:0]
}

func (t *idTable) len() int { return t.n }

// each calls fn for every id, in no particular order.
func (t *idTable) each(fn func(content.ID, loc)) {
	for i := range t.buckets {
		b := &t.buckets[i]
		for _, e := range b.sorted {
			fn(e.id, e.loc)
		}
		for _, e := range b.tail {
			fn(e.id, e.loc)
		}
	}
}
