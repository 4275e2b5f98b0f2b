package repository

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestScanMatchesView checks the chunk-at-a-time iteration against the
// materialised view, on snapshots with a base and a chain of deltas that
// add, change and delete objects, from every start position and type.
func TestScanMatchesView(t *testing.T) {
	ctx := context.Background()
	r := TestRepository(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var parent SnapshotID
	var snaps []SnapshotID
	for round := range 6 {
		w, err := r.NewWriter(ctx, WriterOptions{Connector: "c", Scope: "users", Parent: parent, Time: time.Unix(int64(round), 0)})
		if err != nil {
			t.Fatal(err)
		}
		n := 600
		if round > 0 {
			n = 40
		}
		for range n {
			typ := []string{"user", "user.manager", "group"}[rng.IntN(3)]
			id := fmt.Sprintf("%04d", rng.IntN(1000))
			if round > 0 && rng.IntN(3) == 0 {
				_ = w.Delete(ctx, typ, id)
				continue
			}
			if err := w.Put(ctx, typ, id, fmt.Appendf(nil, `{"id":%q,"v":%d}`, id, round)); err != nil {
				t.Fatal(err)
			}
		}
		info, err := w.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		parent = info.ID
		snaps = append(snaps, info.ID)
	}
	for _, snap := range snaps {
		m, err := r.loadManifest(ctx, snap)
		if err != nil {
			t.Fatal(err)
		}
		view, err := r.view(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, e := range view {
			all = append(all, e.key)
		}
		scan := func(objType, afterType, afterID string) []string {
			var out []string
			err := r.Scan(ctx, snap, objType, afterType, afterID, func(typ, id string, load func() ([]byte, error)) error {
				if _, err := load(); err != nil {
					return err
				}
				out = append(out, objKey(typ, id))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
		if got := scan("", "", ""); !slices.Equal(got, all) {
			t.Fatalf("snapshot %s: full scan differs from the view (%d vs %d)", snap.Short(), len(got), len(all))
		}
		for k := 0; k < len(all); k += 37 {
			typ, id := splitKey(all[k])
			if got := scan("", typ, id); !slices.Equal(got, all[k+1:]) {
				t.Fatalf("after %q: %d keys, want %d", all[k], len(got), len(all)-k-1)
			}
			var want []string
			for _, key := range all[k+1:] {
				if tt, _ := splitKey(key); tt == typ {
					want = append(want, key)
				}
			}
			if got := scan(typ, typ, id); !slices.Equal(got, want) {
				t.Fatalf("type %s after %q: %d keys, want %d", typ, all[k], len(got), len(want))
			}
		}
	}
}
