package repository

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/entravault/entravault/internal/repository/content"
	"github.com/entravault/entravault/internal/repository/entragen"
)

var t0 = time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)

func put(t testing.TB, w *Writer, typ, id, raw string) {
	t.Helper()
	if err := w.Put(context.Background(), typ, id, []byte(raw)); err != nil {
		t.Fatalf("Put %s %s: %v", typ, id, err)
	}
}

func commit(t testing.TB, w *Writer) SnapshotInfo {
	t.Helper()
	info, err := w.Commit(context.Background())
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return info
}

func newWriter(t testing.TB, r *Repository, parent SnapshotID, at time.Time) *Writer {
	t.Helper()
	w, err := r.NewWriter(context.Background(), WriterOptions{Connector: "entra", Scope: "users", Parent: parent, Time: at})
	if err != nil {
		t.Fatalf("NewWriter: %v", err)
	}
	return w
}

func mustGet(t testing.TB, r *Repository, s SnapshotID, typ, id string) string {
	t.Helper()
	b, err := r.Get(context.Background(), s, typ, id)
	if err != nil {
		t.Fatalf("Get %s %s: %v", typ, id, err)
	}
	return string(b)
}

func TestPutGetExactBytes(t *testing.T) {
	r := TestRepository(t)
	cases := []struct{ name, id, raw string }{
		{"compact", "a", `{"id":"a","n":1}`},
		{"whitespace and order kept", "b", "{ \"z\": [1, 2],\n  \"id\": \"b\" }"},
		{"unicode escapes kept", "c", `{"id":"c","name":"caf\u00e9 \ud83d\ude00"}`},
		{"numbers kept", "d", `{"id":"d","x":1.0e2,"y":-0}`},
	}
	w := newWriter(t, r, "", t0)
	for _, c := range cases {
		put(t, w, "user", c.id, c.raw)
	}
	info := commit(t, w)
	if info.Counts["user"] != len(cases) {
		t.Fatalf("Counts = %v", info.Counts)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := mustGet(t, r, info.ID, "user", c.id); got != c.raw {
				t.Fatalf("Get = %q, want %q", got, c.raw)
			}
		})
	}
	if _, err := r.Get(context.Background(), info.ID, "user", "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing: err = %v, want ErrNotFound", err)
	}
	if _, err := r.Get(context.Background(), SnapshotID(fmt.Sprintf("%064x", 1)), "user", "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get in missing snapshot: err = %v, want ErrNotFound", err)
	}
}

func TestPutRejectsInvalid(t *testing.T) {
	r := TestRepository(t)
	w := newWriter(t, r, "", t0)
	defer w.Abort()
	cases := []struct{ name, typ, id, raw string }{
		{"not json", "user", "x", `{"a":`},
		{"two values", "user", "x", `{} {}`},
		{"empty id", "user", "", `{}`},
		{"empty type", "", "x", `{}`},
		{"nul in id", "user", "a\x00b", `{}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := w.Put(context.Background(), c.typ, c.id, []byte(c.raw)); !errors.Is(err, ErrInvalidObject) {
				t.Fatalf("err = %v, want ErrInvalidObject", err)
			}
		})
	}
	// the writer is still usable after a rejected object
	put(t, w, "user", "ok", `{}`)
}

func TestDedupAndCanonicalHash(t *testing.T) {
	r := TestRepository(t)
	ctx := context.Background()
	w := newWriter(t, r, "", t0)
	put(t, w, "user", "1", `{"a":1,"b":2}`)
	put(t, w, "user", "2", `{"b":2, "a":1}`) // same canonical form: stored once
	put(t, w, "user", "3", `{"a":1,"b":3}`)
	commit(t, w)
	st, err := r.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.ObjectBlobs != 2 {
		t.Fatalf("ObjectBlobs = %d, want 2 (dedup by canonical form)", st.ObjectBlobs)
	}
}

func TestIncrementalParent(t *testing.T) {
	r := TestRepository(t)
	ctx := context.Background()
	w := newWriter(t, r, "", t0)
	for i := range 50 {
		put(t, w, "user", fmt.Sprint(i), fmt.Sprintf(`{"id":"%d","v":0}`, i))
	}
	put(t, w, "group", "g", `{"id":"g"}`)
	w.SetState("delta", "link-1")
	s1 := commit(t, w)

	w = newWriter(t, r, s1.ID, t0.Add(24*time.Hour))
	put(t, w, "user", "3", `{"id":"3","v":1}`)         // changed
	put(t, w, "user", "4", `{ "v":0, "id":"4" }`)      // reformatted only
	put(t, w, "user", "new", `{"id":"new"}`)           // added
	if err := w.Delete(ctx, "user", "7"); err != nil { // removed
		t.Fatal(err)
	}
	w.SetState("delta", "link-2")
	s2 := commit(t, w)

	if s2.Counts["user"] != 50 || s2.Counts["group"] != 1 {
		t.Fatalf("Counts = %v", s2.Counts)
	}
	if s2.State["delta"] != "link-2" || s1.State["delta"] != "link-1" {
		t.Fatalf("state = %v / %v", s1.State, s2.State)
	}
	if s2.Parent != s1.ID {
		t.Fatalf("Parent = %q", s2.Parent)
	}
	if l, err := r.Latest(ctx, "entra", "users"); err != nil || l.ID != s2.ID {
		t.Fatalf("Latest = %v, %v", l.ID, err)
	}
	if _, err := r.Latest(ctx, "entra", "groups"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Latest of an empty scope: %v, want ErrNotFound", err)
	}
	cases := []struct {
		name, id string
		snap     SnapshotID
		want     string
		notFound bool
	}{
		{"carried over", "10", s2.ID, `{"id":"10","v":0}`, false},
		{"changed", "3", s2.ID, `{"id":"3","v":1}`, false},
		{"old version intact", "3", s1.ID, `{"id":"3","v":0}`, false},
		{"reformatted keeps first bytes", "4", s2.ID, `{"id":"4","v":0}`, false},
		{"added", "new", s2.ID, `{"id":"new"}`, false},
		{"deleted", "7", s2.ID, "", true},
		{"deleted still in old", "7", s1.ID, `{"id":"7","v":0}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := r.Get(ctx, c.snap, "user", c.id)
			if c.notFound {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("err = %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil || string(b) != c.want {
				t.Fatalf("Get = %q, %v; want %q", b, err, c.want)
			}
		})
	}

	var walked int
	if err := r.Walk(ctx, s2.ID, func(typ, id string, raw []byte) error { walked++; return nil }); err != nil {
		t.Fatal(err)
	}
	if walked != 51 {
		t.Fatalf("Walk saw %d objects, want 51", walked)
	}

	var changes []Change
	if err := r.Diff(ctx, s1.ID, s2.ID, func(c Change) error { changes = append(changes, c); return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string]ChangeKind{"3": Changed, "7": Removed, "new": Added}
	if len(changes) != len(want) {
		t.Fatalf("Diff = %+v", changes)
	}
	for _, c := range changes {
		if want[c.ID] != c.Kind {
			t.Fatalf("Diff %s = %s, want %s", c.ID, c.Kind, want[c.ID])
		}
		if c.Kind == Changed && (len(c.Properties) != 1 || c.Properties[0].Path != "/v") {
			t.Fatalf("property diff = %+v, want one change at /v", c.Properties)
		}
	}

	hist, err := r.History(ctx, "entra", "users", "user", "3")
	if err != nil || len(hist) != 2 || hist[0].Snapshot != s1.ID || hist[1].Snapshot != s2.ID {
		t.Fatalf("History(3) = %+v, %v", hist, err)
	}
	hist, err = r.History(ctx, "entra", "users", "user", "4")
	if err != nil || len(hist) != 1 {
		t.Fatalf("History(4) = %+v, %v; reformatting is not a change", hist, err)
	}
	hist, err = r.History(ctx, "entra", "users", "user", "7")
	if err != nil || len(hist) != 2 || !hist[1].Deleted {
		t.Fatalf("History(7) = %+v, %v", hist, err)
	}
}

func TestFullScanRemovesUnseen(t *testing.T) {
	r := TestRepository(t)
	ctx := context.Background()
	w := newWriter(t, r, "", t0)
	for i := range 5 {
		put(t, w, "user", fmt.Sprint(i), fmt.Sprintf(`{"i":%d}`, i))
	}
	s1 := commit(t, w)
	w, err := r.NewWriter(ctx, WriterOptions{Connector: "entra", Scope: "users", Parent: s1.ID, Time: t0.Add(time.Hour), Full: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 2, 4} {
		put(t, w, "user", fmt.Sprint(i), fmt.Sprintf(`{"i":%d}`, i))
	}
	s2 := commit(t, w)
	if s2.Counts["user"] != 3 {
		t.Fatalf("Counts = %v, want 3 users", s2.Counts)
	}
	if _, err := r.Get(ctx, s2.ID, "user", "1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unseen object still present: %v", err)
	}
}

func TestWrongKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	blobURL := "file://" + dir + "?no_tmp_dir=1&metadata=skip"
	good := TestKeyURL()
	r, err := Init(ctx, Config{BlobURL: blobURL, SecretsURL: good})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	cases := []struct {
		name, secrets string
		want          error
	}{
		{"other key", TestKeyURL(), ErrWrongKey},
		{"right key", good, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Open(ctx, Config{BlobURL: blobURL, SecretsURL: c.secrets})
			if !errors.Is(err, c.want) {
				t.Fatalf("Open err = %v, want %v", err, c.want)
			}
			if r != nil {
				r.Close()
			}
		})
	}
	if _, err := Open(ctx, Config{BlobURL: blobURL, SecretsURL: "base64key://"}); err == nil {
		t.Fatal("empty base64key:// accepted")
	}
	if _, err := Init(ctx, Config{BlobURL: blobURL, SecretsURL: good}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Init: %v, want ErrExists", err)
	}
	if _, err := Open(ctx, Config{BlobURL: "file://" + t.TempDir(), SecretsURL: good}); !errors.Is(err, ErrNoRepository) {
		t.Fatalf("Open empty: %v, want ErrNoRepository", err)
	}
}

func TestOpenLocal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	r, err := OpenLocal(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	w := newWriter(t, r, "", t0)
	put(t, w, "user", "a", `{"a":1}`)
	s := commit(t, w)
	r.Close()
	r, err = OpenLocal(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := mustGet(t, r, s.ID, "user", "a"); got != `{"a":1}` {
		t.Fatalf("Get = %q", got)
	}
	fi, err := os.Stat(dir + "/repo.key")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
}

func TestCheckpointResume(t *testing.T) {
	r := TestRepository(t)
	ctx := context.Background()
	ten := entragen.NewTenant(1)
	w, err := r.NewWriter(ctx, WriterOptions{Connector: "entra", Scope: "users", Time: t0, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		u := ten.User(i)
		put(t, w, "user", u.ID(), string(u.JSON()))
	}
	w.SetState("next", "page-300")
	cp, err := w.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := r.Stats(ctx)
	w.Abort() // the activity crashed

	w, err = r.ResumeWriter(ctx, cp)
	if err != nil {
		t.Fatal(err)
	}
	// the retried activity pages again from the start of the last page
	for i := 250; i < 400; i++ {
		u := ten.User(i)
		put(t, w, "user", u.ID(), string(u.JSON()))
	}
	s := commit(t, w)
	if s.Counts["user"] != 400 || s.State["next"] != "page-300" {
		t.Fatalf("Counts = %v State = %v", s.Counts, s.State)
	}
	after, _ := r.Stats(ctx)
	if after.ObjectBlobs != 400 {
		t.Fatalf("ObjectBlobs = %d, want 400 (no object stored twice)", after.ObjectBlobs)
	}
	if before.ObjectBlobs != 300 {
		t.Fatalf("checkpoint indexed %d objects, want 300", before.ObjectBlobs)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		u := ten.User(rng.IntN(400))
		if got := mustGet(t, r, s.ID, "user", u.ID()); got != string(u.JSON()) {
			t.Fatalf("user %s differs", u.ID())
		}
	}
}

// TestCheckpointChain checkpoints after every page (each checkpoint blob
// holds only that page's changes), crashes twice, and checks the result and
// that the checkpoint value stays small.
func TestCheckpointChain(t *testing.T) {
	r := TestRepository(t)
	ctx := context.Background()
	ten := entragen.NewTenant(3)
	s0 := func() SnapshotInfo {
		w := newWriter(t, r, "", t0)
		for i := range 100 {
			u := ten.User(i)
			put(t, w, "user", u.ID(), string(u.JSON()))
		}
		return commit(t, w)
	}()
	w, err := r.NewWriter(ctx, WriterOptions{Connector: "entra", Scope: "users", Parent: s0.ID, Time: t0.Add(time.Hour), Full: true})
	if err != nil {
		t.Fatal(err)
	}
	var cp Checkpoint
	for page := range 10 {
		for i := page * 10; i < page*10+10; i++ {
			u := ten.User(i)
			if i%10 == 0 {
				u["jobTitle"] = fmt.Sprintf("changed on page %d", page)
			}
			if i == 55 {
				continue // deleted in the tenant: not enumerated
			}
			put(t, w, "user", u.ID(), string(u.JSON()))
		}
		if page == 3 {
			if err := w.Delete(ctx, "user", ten.User(5).ID()); err != nil {
				t.Fatal(err)
			}
		}
		if cp, err = w.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if page == 4 || page == 7 {
			w.Abort()
			if w, err = r.ResumeWriter(ctx, cp); err != nil {
				t.Fatal(err)
			}
		}
	}
	if b, _ := json.Marshal(cp); len(b) > 512 {
		t.Fatalf("checkpoint is %d bytes: %s", len(b), b)
	}
	s := commit(t, w)
	if s.Counts["user"] != 98 {
		t.Fatalf("Counts = %v, want 98 users (two removed)", s.Counts)
	}
	for _, gone := range []int{5, 55} {
		if _, err := r.Get(ctx, s.ID, "user", ten.User(gone).ID()); !errors.Is(err, ErrNotFound) {
			t.Fatalf("user %d: %v, want ErrNotFound", gone, err)
		}
	}
	if got := mustGet(t, r, s.ID, "user", ten.User(70).ID()); !strings.Contains(got, "changed on page 7") {
		t.Fatalf("user 70 = %s", got)
	}
	st, _ := r.Stats(ctx)
	if st.ObjectBlobs != 110 {
		t.Fatalf("ObjectBlobs = %d, want 110 (100 + 10 changed)", st.ObjectBlobs)
	}
}

func TestWriterCurrent(t *testing.T) {
	ctx := context.Background()
	r := TestRepository(t)
	w := newWriter(t, r, "", t0)
	put(t, w, "user", "a", `{"v":1}`)
	put(t, w, "user", "b", `{"v":2}`)
	s1 := commit(t, w)

	w = newWriter(t, r, s1.ID, t0.Add(time.Hour))
	defer w.Abort()
	put(t, w, "user", "a", `{"v":10}`)
	if err := w.Delete(ctx, "user", "b"); err != nil {
		t.Fatal(err)
	}
	put(t, w, "user", "c", `{"v":3}`)
	w.recent = map[content.ID][]byte{} // force the flush-and-read path for c
	w.recentBytes = 0
	cases := []struct {
		name, id, want string
		notFound       bool
	}{
		{"changed this run", "a", `{"v":10}`, false},
		{"deleted this run", "b", "", true},
		{"new this run, pending", "c", `{"v":3}`, false},
		{"never existed", "d", "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := w.Current(ctx, "user", c.id)
			if c.notFound {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("err = %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil || string(got) != c.want {
				t.Fatalf("Current = %q, %v; want %q", got, err, c.want)
			}
		})
	}
	// a carried-over object comes from the parent
	w2 := newWriter(t, r, s1.ID, t0.Add(2*time.Hour))
	defer w2.Abort()
	if got, err := w2.Current(ctx, "user", "b"); err != nil || string(got) != `{"v":2}` {
		t.Fatalf("Current(b) from parent = %q, %v", got, err)
	}
	// a full run starts from nothing: parent objects count once Put again
	w3, err := r.NewWriter(ctx, WriterOptions{Connector: "entra", Scope: "users", Parent: s1.ID, Time: t0.Add(3 * time.Hour), Full: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w3.Abort()
	if _, err := w3.Current(ctx, "user", "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Current in a full run before Put: %v, want ErrNotFound", err)
	}
}
