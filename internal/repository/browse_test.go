package repository

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/entravault/entravault/internal/repository/content"
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

// TestDiffAfterStreamsLikeTheMaps: DiffAfter streams both object maps from
// its cursor; it must report what comparing the materialised maps does,
// for snapshots with delta chains, every type filter and random cursors.
func TestDiffAfterStreamsLikeTheMaps(t *testing.T) {
	ctx := context.Background()
	r := TestRepository(t)
	rng := rand.New(rand.NewPCG(3, 4))
	types := []string{"group", "user", "user.manager"}
	var snaps []SnapshotID
	var parent SnapshotID
	for round := range 6 {
		w := newWriter(t, r, parent, t0.Add(time.Duration(round)*time.Hour))
		// A base, a chain of deltas, a rebase (round 3), another chain:
		// pairs share a base or do not.
		ops := 8
		if round == 0 || round == 3 {
			ops = 600
		}
		for range ops {
			typ, id := types[rng.IntN(3)], fmt.Sprint(rng.IntN(400))
			if rng.IntN(5) == 0 {
				if err := w.Delete(ctx, typ, id); err != nil {
					t.Fatal(err)
				}
				continue
			}
			put(t, w, typ, id, fmt.Sprintf(`{"id":%q,"v":%d}`, id, rng.IntN(4)))
		}
		parent = commit(t, w).ID
		snaps = append(snaps, parent)
	}
	first, _ := r.loadManifest(ctx, snaps[0])
	last, err := r.loadManifest(ctx, parent)
	if err != nil || len(last.Deltas) < 2 || first.Base == last.Base {
		t.Fatalf("want two chains of deltas on different bases (%v)", err)
	}
	want := func(from, to SnapshotID, objType, after string) []string {
		view := func(s SnapshotID) map[string]content.ID {
			m, err := r.loadManifest(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			es, err := r.view(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]content.ID{}
			for _, e := range es {
				if (objType == "" || strings.HasPrefix(e.key, objType+"\x00")) && e.key > after {
					out[e.key] = e.cid
				}
			}
			return out
		}
		a, b := view(from), view(to)
		var out []string
		for k, c := range a {
			if d, ok := b[k]; !ok {
				out = append(out, "removed "+displayKey(k))
			} else if d != c {
				out = append(out, "changed "+displayKey(k))
			}
		}
		for k := range b {
			if _, ok := a[k]; !ok {
				out = append(out, "added "+displayKey(k))
			}
		}
		slices.Sort(out)
		return out
	}
	for range 80 {
		from, to := snaps[rng.IntN(len(snaps))], snaps[rng.IntN(len(snaps))]
		objType := []string{"", "user", "user.manager"}[rng.IntN(3)]
		afterType, afterID, after := "", "", ""
		if rng.IntN(2) == 0 {
			afterType, afterID = types[rng.IntN(3)], fmt.Sprint(rng.IntN(400))
			after = objKey(afterType, afterID)
		}
		var got []string
		err := r.DiffAfter(ctx, from, to, objType, afterType, afterID, func(c Change) error {
			got = append(got, string(c.Kind)+" "+c.Type+"/"+c.ID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if w := want(from, to, objType, after); !slices.Equal(got, w) {
			t.Fatalf("DiffAfter(%s→%s, type %q, after %q):\n got %v\nwant %v", from.Short(), to.Short(), objType, after, got, w)
		}
	}
}

// TestWalkBatchedMatchesWalk: batches of any size, with and without a
// type, give Walk's objects in Walk's order.
func TestWalkBatchedMatchesWalk(t *testing.T) {
	ctx := context.Background()
	r := TestRepository(t)
	w := newWriter(t, r, "", t0)
	for i := range 50 {
		put(t, w, []string{"group", "user", "user.manager"}[i%3], fmt.Sprint(i), fmt.Sprintf(`{"i":%d}`, i))
	}
	s1 := commit(t, w)
	w = newWriter(t, r, s1.ID, t0.Add(time.Hour))
	put(t, w, "user", "x", `{"new":true}`)
	if err := w.Delete(ctx, "user", "4"); err != nil {
		t.Fatal(err)
	}
	snap := commit(t, w).ID
	for _, objType := range []string{"", "user", "user.manager", "nothing"} {
		var want []string
		err := r.Walk(ctx, snap, func(typ, id string, raw []byte) error {
			if objType == "" || typ == objType {
				want = append(want, typ+"/"+id+"="+string(raw))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range []int{1, 3, 16, 1000} {
			var got []string
			err := r.WalkBatched(ctx, snap, objType, batch, func(typ, id string, raw []byte) error {
				got = append(got, typ+"/"+id+"="+string(raw))
				return nil
			})
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("type %q, batch %d: %v (%v), want %v", objType, batch, got, err, want)
			}
		}
	}
}
