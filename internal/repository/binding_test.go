package repository

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// copyInBucket writes the bytes stored at from over to, as someone with
// write access to the bucket (and no key) could.
func copyInBucket(t *testing.T, r *Repository, from, to string) {
	t.Helper()
	ctx := context.Background()
	data, err := r.st.b.ReadAll(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.st.b.WriteAll(ctx, to, data, nil); err != nil {
		t.Fatal(err)
	}
}

// TestSwappedMetadata is the attack of issue 15, item 9: with bucket access
// but no key, copy an older manifest over a newer snapshot's name and swap
// two index files. No reader may serve the older contents under the newer
// id, verify must name every such blob, prune must not act on a damaged
// index, and rebuild-index repairs the index.
func TestSwappedMetadata(t *testing.T) {
	ctx := context.Background()
	r := smallRepo(t)
	ten, users := tenantUsers(15, 120)
	s1, err := backupUsers(t, r, ten, users, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	changed := mutate(ten, users, 30, 9)
	s2, err := backupUsers(t, r, ten, changed, s1.ID, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	files, err := r.st.list(ctx, "index")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("want at least 2 index files, have %d", len(files))
	}
	ia, ib := files[0].name, files[1].name

	copyInBucket(t, r, "snapshots/"+string(s1.ID), "snapshots/"+string(s2.ID))
	a, _ := r.st.b.ReadAll(ctx, "index/"+ia)
	copyInBucket(t, r, "index/"+ib, "index/"+ia)
	if err := r.st.b.WriteAll(ctx, "index/"+ib, a, nil); err != nil {
		t.Fatal(err)
	}

	// A fresh process (nothing cached), and the writing process itself
	// (manifests cached, both index files loaded before the swap).
	for _, p := range []struct {
		name string
		r    *Repository
	}{{"fresh", otherProcess(t, r)}, {"cached", r}} {
		t.Run(p.name, func(t *testing.T) {
			r := p.r
			if p.name == "fresh" {
				info, err := r.Snapshot(ctx, s2.ID)
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Snapshot(newer) = %+v, %v; want ErrCorrupt", info, err)
				}
				snaps, err := r.Snapshots(ctx, Filter{})
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Snapshots = %+v, %v; want ErrCorrupt", snaps, err)
				}
				if _, err := r.Get(ctx, s2.ID, "user", changed[0].ID()); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Get under newer id: %v, want ErrCorrupt", err)
				}
			} else {
				// The cache holds what this process wrote and checked; it
				// may be served, the copied bytes never.
				info, err := r.Snapshot(ctx, s2.ID)
				if err != nil || !info.Time.Equal(s2.Time) || info.Parent != s1.ID {
					t.Fatalf("Snapshot(newer) from cache = %+v, %v", info, err)
				}
			}

			rep, err := r.Verify(ctx, VerifyOptions{ReadDataPercent: 100})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			found := map[string]bool{}
			for _, pr := range rep.Problems {
				switch pr.Kind {
				case CorruptManifest:
					found["snapshots/"+string(pr.Snapshot)] = true
				case CorruptIndex:
					found["index/"+pr.Index] = true
				}
			}
			for _, want := range []string{"snapshots/" + string(s2.ID), "index/" + ia, "index/" + ib} {
				if !found[want] {
					t.Errorf("verify did not report %s: %v", want, rep.Problems)
				}
			}
			if found["snapshots/"+string(s1.ID)] || len(found) != 3 {
				t.Errorf("verify reported intact blobs: %v", found)
			}
			if rep.IndexFiles != len(files) {
				t.Errorf("IndexFiles = %d, want %d", rep.IndexFiles, len(files))
			}

			// Prune would delete the packs only the swapped files list.
			if _, err := r.Prune(ctx, PruneOptions{}); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Prune: %v, want ErrCorrupt", err)
			}
		})
	}

	// Repair: the index from pack headers, the manifest by removing it.
	fresh := otherProcess(t, r)
	if rep, err := fresh.RebuildIndex(ctx); err != nil || len(rep.Unreadable) != 0 {
		t.Fatalf("RebuildIndex = %+v, %v", rep, err)
	}
	if err := r.st.b.Delete(ctx, "snapshots/"+string(s2.ID)); err != nil {
		t.Fatal(err)
	}
	fresh = otherProcess(t, r)
	checkSnapshot(t, fresh, s1.ID, users)
	verifyAll(t, fresh)
	if snaps, err := fresh.Snapshots(ctx, Filter{}); err != nil || len(snaps) != 1 || snaps[0].ID != s1.ID {
		t.Fatalf("Snapshots after repair = %+v, %v", snaps, err)
	}
}

// TestMetadataFormatUnchanged pins the format of manifests and index files:
// blobs sealed as every earlier version did (kind as associated data, named
// by the keyed hash of kind and plaintext) open, so repositories written
// before names were checked still read.
func TestMetadataFormatUnchanged(t *testing.T) {
	ctx := context.Background()
	r := smallRepo(t)
	_, users := tenantUsers(16, 50)
	s1, err := backupUsers(t, r, nil, users, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.loadManifest(ctx, s1.ID)
	if err != nil {
		t.Fatal(err)
	}
	m2 := *m
	m2.Time = m.Time.Add(time.Minute)
	plain, _ := json.Marshal(&m2)
	old := r.keys.SealRandom(zstdEnc.EncodeAll(plain, nil), []byte("snapshot"))
	id := SnapshotID(r.keys.Name([]byte("snapshot"), plain))
	if err := r.st.put(ctx, "snapshots/"+string(id), old); err != nil {
		t.Fatal(err)
	}
	packs, err := r.packsWithEntries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := r.st.list(ctx, "index")
	for _, f := range files {
		if err := r.st.b.Delete(ctx, "index/"+f.name); err != nil {
			t.Fatal(err)
		}
	}
	iplain := encodeIndexFile(packs)
	if err := r.st.put(ctx, "index/"+r.keys.Name([]byte("index"), iplain), r.keys.SealRandom(zstdEnc.EncodeAll(iplain, nil), []byte("index"))); err != nil {
		t.Fatal(err)
	}
	fresh := otherProcess(t, r)
	if info, err := fresh.Snapshot(ctx, id); err != nil || !info.Time.Equal(m2.Time) {
		t.Fatalf("Snapshot of a format-1 manifest = %+v, %v", info, err)
	}
	checkSnapshot(t, fresh, id, users)
	verifyAll(t, fresh)
}
