package repository

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/entravault/entravault/internal/repository/content"
)

func TestIDTableAgainstAMap(t *testing.T) {
	t.Run("heap", func(t *testing.T) { checkIDTable(t, &idTable{}, 150_000) })
	t.Run("off-heap", func(t *testing.T) {
		// 100 ids a bucket: past a page, the arrays are mapped.
		tab := newIDTable()
		checkIDTable(t, tab, 400_000)
		if len(tab.arena.regions) == 0 && pageSize > 0 && mapAnonWorks() {
			t.Fatal("no bucket array was mapped off the heap")
		}
		tab.free()
		if len(tab.arena.regions) != 0 {
			t.Fatal("free left mappings")
		}
	})
}

func mapAnonWorks() bool {
	mem, ok := mapAnon(pageSize)
	if ok {
		unmap(unsafe.Pointer(unsafe.SliceData(mem)), pageSize)
	}
	return ok
}

func checkIDTable(t *testing.T, tab *idTable, n int) {
	model := map[content.ID]loc{}
	id := func(i int) content.ID {
		return content.ID(sha256.Sum256(binary.LittleEndian.AppendUint64(nil, uint64(i))))
	}
	for i := range n + n/3 {
		k := id(i % n) // a quarter are repeats: the first location stays
		l := loc{pack: uint32(i), offset: uint32(i % 7)}
		tab.add(k, l)
		if _, ok := model[k]; !ok {
			model[k] = l
		}
		if i%9973 == 0 { // look up while adding, across tails and merges
			for j := 0; j <= i%n; j += 997 {
				got, ok := tab.get(id(j))
				if want := model[id(j)]; !ok || got != want {
					t.Fatalf("after %d adds: id %d: %v %v, want %v", i, j, got, ok, want)
				}
			}
		}
	}
	if tab.len() != len(model) {
		t.Fatalf("len %d, want %d", tab.len(), len(model))
	}
	seen := 0
	tab.each(func(k content.ID, l loc) {
		if model[k] != l {
			t.Fatalf("each: %v at %v, want %v", k.Short(), l, model[k])
		}
		seen++
	})
	if seen != len(model) {
		t.Fatalf("each visited %d, want %d", seen, len(model))
	}
	if _, ok := tab.get(id(-1)); ok {
		t.Fatal("found an id never added")
	}
}

func BenchmarkIDTableAdd(b *testing.B) {
	ids := make([]content.ID, 1_000_000)
	for i := range ids {
		ids[i] = content.ID(sha256.Sum256(binary.LittleEndian.AppendUint64(nil, uint64(i))))
	}
	for b.Loop() {
		tab := newIDTable() // large buckets off the heap, as in a repository
		for i, k := range ids {
			tab.add(k, loc{pack: uint32(i)})
		}
		tab.free()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ids)), "ns/add")
}
