package repository

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/entravault/entravault/internal/repository/content"
)

func TestIDTableAgainstAMap(t *testing.T) {
	var tab idTable
	model := map[content.ID]loc{}
	id := func(i int) content.ID {
		return content.ID(sha256.Sum256(binary.LittleEndian.AppendUint64(nil, uint64(i))))
	}
	for i := range 200_000 {
		k := id(i % 150_000) // a quarter are repeats: the first location stays
		l := loc{pack: uint32(i), offset: uint32(i % 7)}
		tab.add(k, l)
		if _, ok := model[k]; !ok {
			model[k] = l
		}
		if i%9973 == 0 { // look up while adding, across tails and merges
			for j := 0; j <= i%150_000; j += 997 {
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
		var tab idTable
		for i, k := range ids {
			tab.add(k, loc{pack: uint32(i)})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ids)), "ns/add")
}
