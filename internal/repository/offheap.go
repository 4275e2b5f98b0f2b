package repository

import (
	"runtime"
	"sync"
	"unsafe"
)

// The index is the one structure of a backup that grows with the tenant
// (≈ 52 bytes per stored blob, a million blobs at 500k users), and it is
// long-lived and pointer-free. On the Go heap it also doubles the GC's
// target (GOGC=100 lets the heap reach twice what is live), so the larger
// bucket arrays live outside it, in memory mapped for them (offheap_unix.go)
// and unmapped when they grow or the index is dropped. Small buckets, and
// every bucket on systems without mmap, stay on the heap.

// entryArena owns a table's off-heap bucket arrays.
type entryArena struct {
	mu      sync.Mutex
	regions map[*idEntry]int // base → mapped bytes
}

func newEntryArena(owner *idTable) *entryArena {
	a := &entryArena{regions: map[*idEntry]int{}}
	// A table dropped without free (a reset index) still unmaps.
	runtime.AddCleanup(owner, func(a *entryArena) { a.freeAll() }, a)
	return a
}

// offHeapMin is the capacity, in entries, from which an array is mapped:
// a page's worth, so no mapping is mostly empty.
var offHeapMin = pageSize / int(unsafe.Sizeof(idEntry{}))

// grow returns s with room for n more entries (length unchanged),
// moving it off the heap once it is large enough.
func (a *entryArena) grow(s []idEntry, n int) []idEntry {
	need := len(s) + n
	if need <= cap(s) {
		return s
	}
	newCap := max(need, cap(s)+cap(s)/4)
	if a == nil || newCap < offHeapMin {
		out := make([]idEntry, len(s), newCap)
		copy(out, s)
		return out
	}
	out, ok := a.alloc(newCap)
	if !ok {
		out = make([]idEntry, 0, newCap)
	}
	out = append(out, s...)
	a.release(s)
	return out
}

func (a *entryArena) alloc(n int) ([]idEntry, bool) {
	size := (n*int(unsafe.Sizeof(idEntry{})) + pageSize - 1) &^ (pageSize - 1)
	mem, ok := mapAnon(size)
	if !ok {
		return nil, false
	}
	base := (*idEntry)(unsafe.Pointer(unsafe.SliceData(mem)))
	a.mu.Lock()
	a.regions[base] = size
	a.mu.Unlock()
	return unsafe.Slice(base, size/int(unsafe.Sizeof(idEntry{})))[:0], true
}

// release unmaps s if it is one of a's arrays (heap slices are left to
// the GC).
func (a *entryArena) release(s []idEntry) {
	if a == nil || cap(s) == 0 {
		return
	}
	base := unsafe.SliceData(s[:1])
	a.mu.Lock()
	size, ok := a.regions[base]
	delete(a.regions, base)
	a.mu.Unlock()
	if ok {
		unmap(unsafe.Pointer(base), size)
	}
}

// freeAll unmaps every array; the table must not be used afterwards.
func (a *entryArena) freeAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for base, size := range a.regions {
		unmap(unsafe.Pointer(base), size)
	}
	clear(a.regions)
}

// offHeapBytes returns a buffer of n bytes outside the Go heap where the
// system allows (else on it) and the function that releases it.
func offHeapBytes(n int) ([]byte, func()) {
	size := (n + pageSize - 1) &^ (pageSize - 1)
	mem, ok := mapAnon(size)
	if !ok {
		return make([]byte, n), func() {}
	}
	var once sync.Once
	return mem, func() { once.Do(func() { unmap(unsafe.Pointer(unsafe.SliceData(mem)), size) }) }
}
