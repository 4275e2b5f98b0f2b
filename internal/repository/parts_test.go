package repository

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/entravault/entravault/internal/repository/content"
	"github.com/entravault/entravault/internal/repository/pack"
)

// memberList is a large relationship in canonical form, cut into parts
// after every id divisible by 97 (a content-defined cut, as the backup
// makes), with the member skip left out.
func memberList(n, skip int) []string {
	var parts []string
	var b strings.Builder
	b.WriteString(`{"value":[`)
	first := true
	for i := range n {
		if i == skip {
			continue
		}
		if !first {
			b.WriteString(",")
		}
		first = false
		fmt.Fprintf(&b, `{"id":"m%06d"}`, i)
		if i%97 == 0 {
			parts = append(parts, b.String())
			b.Reset()
		}
	}
	b.WriteString(`]}`)
	return append(parts, b.String())
}

func putParts(t *testing.T, w *Writer, id string, parts []string) {
	t.Helper()
	err := w.PutParts(context.Background(), "group.members", id, func(yield func([]byte) error) error {
		for _, p := range parts {
			if err := yield([]byte(p)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("PutParts: %v", err)
	}
}

func contents(t *testing.T, r *Repository) int {
	t.Helper()
	s, err := r.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s.Contents
}

func TestPutPartsReadsBackWhole(t *testing.T) {
	ctx := context.Background()
	r := TestRepository(t)
	parts := memberList(20000, -1)
	whole := strings.Join(parts, "")

	w := newWriter(t, r, "", t0)
	putParts(t, w, "g1", parts)
	putParts(t, w, "small", []string{`{"value":[{"id":"m1"}]}`})
	// Before commit the run reads its own object as a stream.
	rd, err := w.Open(ctx, "group.members", "g1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(iotest.OneByteReader(rd))
	if err != nil || string(got) != whole {
		t.Fatalf("Open: %d bytes, err %v; want %d bytes", len(got), err, len(whole))
	}
	first := commit(t, w)
	if got := mustGet(t, r, first.ID, "group.members", "g1"); got != whole {
		t.Fatalf("Get: %d bytes, want %d", len(got), len(whole))
	}
	cid, err := content.Sum([]byte(whole))
	if err != nil {
		t.Fatal(err)
	}
	if k := r.idx.kind(cid); k != pack.KindParts {
		t.Fatalf("kind of the large list = %d, want parts", k)
	}
	small, _ := content.Sum([]byte(`{"value":[{"id":"m1"}]}`))
	if k := r.idx.kind(small); k != pack.KindObject {
		t.Fatalf("a single part is stored as kind %d, want a whole object", k)
	}
	if info, err := r.Snapshot(ctx, first.ID); err != nil || info.Bytes < int64(len(whole)) {
		t.Fatalf("snapshot bytes = %d (%v), want at least %d", info.Bytes, err, len(whole))
	}

	// One member leaves: one part and the list are new, the rest dedup.
	before := contents(t, r)
	w = newWriter(t, r, first.ID, t0.Add(time.Hour))
	changed := memberList(20000, 5000)
	putParts(t, w, "g1", changed)
	second := commit(t, w)
	if added := contents(t, r) - before; added > 4 { // part, list, a tree chunk and root
		t.Fatalf("one member removed added %d blobs, want the changed part and the list", added)
	}
	if got := mustGet(t, r, second.ID, "group.members", "g1"); got != strings.Join(changed, "") {
		t.Fatal("second snapshot: list differs")
	}
	var changes []Change
	if err := r.Diff(ctx, first.ID, second.ID, func(c Change) error { changes = append(changes, c); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Kind != Changed {
		t.Fatalf("diff = %+v, want g1 modified", changes)
	}

	// Prune forgets the first snapshot and repacks: the parts the second
	// still uses must survive, and verify re-hashes the joined list.
	if _, err := r.Prune(ctx, PruneOptions{Policy: RetentionPolicy{KeepLast: 1}, RepackUnused: 0.0001}); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	r2 := otherProcess(t, r) // no cached plaintext, the index as prune left it
	if got := mustGet(t, r2, second.ID, "group.members", "g1"); got != strings.Join(changed, "") {
		t.Fatal("after prune: list differs")
	}
	rep, err := r2.Verify(ctx, VerifyOptions{ReadDataPercent: 100})
	if err != nil || !rep.OK() {
		t.Fatalf("Verify: %v %+v", err, rep.Problems)
	}
}

func TestPutPartsUnchangedStoresNothing(t *testing.T) {
	r := TestRepository(t)
	parts := memberList(5000, -1)
	w := newWriter(t, r, "", t0)
	putParts(t, w, "g1", parts)
	first := commit(t, w)
	before := contents(t, r)
	w = newWriter(t, r, first.ID, t0.Add(time.Hour))
	putParts(t, w, "g1", parts)
	if len(w.changes) != 0 {
		t.Fatalf("unchanged list recorded %d changes", len(w.changes))
	}
	commit(t, w)
	if added := contents(t, r) - before; added != 0 {
		t.Fatalf("unchanged list added %d blobs", added)
	}
}

func TestPutPartsRejectsNothing(t *testing.T) {
	r := TestRepository(t)
	w := newWriter(t, r, "", t0)
	defer w.Abort()
	err := w.PutParts(context.Background(), "group.members", "g", func(func([]byte) error) error { return nil })
	if !errors.Is(err, ErrInvalidObject) {
		t.Fatalf("no parts: err = %v, want ErrInvalidObject", err)
	}
}

// TestFullRunMarksUnchangedObjects: a full run over its parent recognises
// byte-identical objects from the parent's sums, recording markers without
// canonicalising, storing or looking the parent up; Commit resolves them.
func TestFullRunMarksUnchangedObjects(t *testing.T) {
	ctx := context.Background()
	r := TestRepository(t)
	w := newWriter(t, r, "", t0)
	for i := range 20 {
		put(t, w, "user", fmt.Sprint(i), fmt.Sprintf(`{"i":%d}`, i))
	}
	first := commit(t, w)
	w, err := r.NewWriter(ctx, WriterOptions{Connector: "entra", Scope: "users", Parent: first.ID, Time: t0.Add(time.Hour), Full: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 19 { // user 19 is gone
		raw := fmt.Sprintf(`{"i":%d}`, i)
		if i == 7 {
			raw = `{"i":7,"changed":true}`
		}
		put(t, w, "user", fmt.Sprint(i), raw)
	}
	markers := 0
	for _, e := range w.changes {
		if e.unchanged() {
			markers++
		}
	}
	if markers != 18 {
		t.Fatalf("%d unchanged markers, want 18 (19 Put, one changed)", markers)
	}
	second := commit(t, w)
	if second.Counts["user"] != 19 {
		t.Fatalf("counts %v, want 19 users", second.Counts)
	}
	if got := mustGet(t, r, second.ID, "user", "3"); got != `{"i":3}` {
		t.Fatalf("unchanged user 3 = %s", got)
	}
	var changes []string
	if err := r.Diff(ctx, first.ID, second.ID, func(c Change) error { changes = append(changes, string(c.Kind)+" "+c.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(changes, []string{"removed 19", "changed 7"}) && !slices.Equal(changes, []string{"changed 7", "removed 19"}) {
		t.Fatalf("diff %v, want user 7 changed and 19 removed", changes)
	}
}
