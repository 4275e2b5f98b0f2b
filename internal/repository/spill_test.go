package repository

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestWriterSpill runs random Puts, Deletes, Currents, checkpoints and
// resumes, full and incremental, with changes spilled at every checkpoint,
// against a map model; every committed snapshot must hold the model.
func TestWriterSpill(t *testing.T) {
	defer func(n int) { spillMin = n }(spillMin)
	spillMin = 1
	ctx := context.Background()
	r := TestRepository(t)
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string]string{} // id → raw, as of the last snapshot
	var parent SnapshotID
	for round := range 6 {
		full := round%2 == 0
		w, err := r.NewWriter(ctx, WriterOptions{Connector: "entra", Scope: "users", Parent: parent, Full: full,
			Time: time.Unix(int64(1000+round), 0)})
		if err != nil {
			t.Fatal(err)
		}
		cur := map[string]string{}
		if !full {
			cur = maps.Clone(model)
		}
		for op := range 600 {
			id := fmt.Sprint("u", rng.IntN(120))
			switch k := rng.IntN(10); {
			case k < 6:
				raw := fmt.Sprintf(`{"id":%q,"v":%d}`, id, rng.IntN(3))
				put(t, w, "user", id, raw)
				cur[id] = raw
			case k < 7:
				if err := w.Delete(ctx, "user", id); err != nil {
					t.Fatal(err)
				}
				delete(cur, id)
			case k < 9:
				got, err := w.Current(ctx, "user", id)
				want, ok := cur[id]
				if ok != (err == nil) || string(got) != want {
					t.Fatalf("round %d op %d: Current(%s) = %q, %v; want %q", round, op, id, got, err, want)
				}
			default:
				cp, err := w.Checkpoint(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if rng.IntN(3) == 0 {
					w.Abort()
					if w, err = r.ResumeWriter(ctx, cp); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		info := commit(t, w)
		model, parent = cur, info.ID
		m, err := r.loadManifest(ctx, parent)
		if err != nil {
			t.Fatal(err)
		}
		list, err := r.view(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != len(model) || m.Counts["user"] != len(model) {
			t.Fatalf("round %d: %d entries, count %d; model has %d", round, len(list), m.Counts["user"], len(model))
		}
		for id, raw := range model {
			if got := mustGet(t, r, parent, "user", id); got != raw {
				t.Fatalf("round %d: %s = %s, want %s", round, id, got, raw)
			}
		}
	}
}

// TestTreeEndingOnAChunkBoundary: when the last key closes its chunk
// itself (one key in 64), the snapshot must still have its root.
func TestTreeEndingOnAChunkBoundary(t *testing.T) {
	r := TestRepository(t)
	ctx := context.Background()
	var last string
	for i := 0; last == ""; i++ {
		if id := fmt.Sprintf("z%d", i); isBoundary(objKey("user", id)) {
			last = id
		}
	}
	for _, ids := range [][]string{{last}, {"a", "b", last}} {
		w, err := r.NewWriter(ctx, WriterOptions{Connector: "c", Scope: "users" + fmt.Sprint(len(ids)), Full: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if err := w.Put(ctx, "user", id, []byte(`{"id":"`+id+`"}`)); err != nil {
				t.Fatal(err)
			}
		}
		info, err := w.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		if err := r.Walk(ctx, info.ID, func(_, id string, _ []byte) error { got = append(got, id); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, ids) {
			t.Errorf("snapshot of %v holds %v", ids, got)
		}
	}
}

// TestPutCanonical: canonical bytes put without canonicalising share the
// content id Put gives them; bytes that are not canonical are what verify
// reports, so a caller breaking the contract is found.
func TestPutCanonical(t *testing.T) {
	r := TestRepository(t)
	ctx := context.Background()
	commit := func(scope string, put func(w *Writer) error) {
		t.Helper()
		w, err := r.NewWriter(ctx, WriterOptions{Connector: "c", Scope: scope, Full: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := put(w); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	canonical := []byte(`{"value":[{"@odata.type":"#microsoft.graph.user","id":"a"}]}`)
	commit("one", func(w *Writer) error { return w.PutCanonical(ctx, "group.members", "g", canonical) })
	before, _ := r.Stats(ctx)
	commit("two", func(w *Writer) error { return w.Put(ctx, "group.members", "g", canonical) })
	after, _ := r.Stats(ctx)
	if after.ObjectBlobs != before.ObjectBlobs {
		t.Errorf("Put stored the content again (%d blobs, was %d): ids differ", after.ObjectBlobs, before.ObjectBlobs)
	}
	if rep, err := r.Verify(ctx, VerifyOptions{ReadDataPercent: 100}); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %+v", err, rep.Problems)
	}
	commit("three", func(w *Writer) error {
		return w.PutCanonical(ctx, "group.members", "h", []byte(`{"value": [ ]}`))
	})
	if rep, err := r.Verify(ctx, VerifyOptions{ReadDataPercent: 100}); err != nil || rep.OK() {
		t.Fatalf("verify of non-canonical bytes put as canonical: %v, report OK", err)
	}
}
