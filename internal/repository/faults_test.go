package repository

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entravault/entravault/internal/repository/entragen"
)

// otherProcess returns a second Repository over the same bucket with its own
// caches and index, as another process would have.
func otherProcess(t testing.TB, r *Repository) *Repository {
	t.Helper()
	r2 := newRepository(&store{b: r.st.b, dir: r.st.dir}, r.keys, r.id, Config{PackSize: r.packSize, GroupSize: r.groupSize})
	if err := r2.refreshIndex(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r2
}

// smallRepo has tiny packs and groups so tests span many of them.
func smallRepo(t testing.TB) *Repository { return sizedRepo(t, 64<<10, 16<<10) }

func sizedRepo(t testing.TB, packSize, groupSize int) *Repository {
	t.Helper()
	r, err := Init(context.Background(), Config{BlobURL: "mem://", SecretsURL: TestKeyURL(), PackSize: packSize, GroupSize: groupSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func backupUsers(t testing.TB, r *Repository, ten *entragen.Tenant, users []entragen.User, parent SnapshotID, at time.Time) (SnapshotInfo, error) {
	t.Helper()
	ctx := context.Background()
	w, err := r.NewWriter(ctx, WriterOptions{Connector: "entra", Scope: "users", Parent: parent, Time: at, Full: true})
	if err != nil {
		return SnapshotInfo{}, err
	}
	for _, u := range users {
		if err := w.Put(ctx, "user", u.ID(), u.JSON()); err != nil {
			w.Abort()
			return SnapshotInfo{}, err
		}
	}
	info, err := w.Commit(ctx)
	if err != nil {
		w.Abort()
	}
	return info, err
}

func tenantUsers(seed uint64, n int) (*entragen.Tenant, []entragen.User) {
	ten := entragen.NewTenant(seed)
	users := make([]entragen.User, n)
	for i := range users {
		users[i] = ten.User(i)
	}
	return ten, users
}

// checkSnapshot asserts that a snapshot holds exactly users.
func checkSnapshot(t testing.TB, r *Repository, s SnapshotID, users []entragen.User) {
	t.Helper()
	want := map[string]string{}
	for _, u := range users {
		want[u.ID()] = string(u.JSON())
	}
	n := 0
	err := r.Walk(context.Background(), s, func(typ, id string, raw []byte) error {
		n++
		if want[id] != string(raw) {
			return fmt.Errorf("user %s differs", id)
		}
		return nil
	})
	if err != nil || n != len(want) {
		t.Fatalf("snapshot %s: walked %d of %d: %v", s.Short(), n, len(want), err)
	}
}

func verifyAll(t testing.TB, r *Repository) VerifyReport {
	t.Helper()
	rep, err := r.Verify(context.Background(), VerifyOptions{ReadDataPercent: 100})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("Verify found problems: %v", rep.Problems)
	}
	return rep
}

func TestVerifyClean(t *testing.T) {
	r := smallRepo(t)
	_, users := tenantUsers(1, 200)
	s, err := backupUsers(t, r, nil, users, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	rep := verifyAll(t, r)
	if rep.PacksRead != rep.Packs || rep.Packs < 2 || rep.ObjectsChecked != 200 || rep.BlobsRehashed < 200 {
		t.Fatalf("report = %+v", rep)
	}
	checkSnapshot(t, r, s.ID, users)
}

// TestFlippedBit flips one bit at several places in a pack: verify reports
// the pack and the affected objects, and reading them fails with ErrCorrupt.
func TestFlippedBit(t *testing.T) {
	cases := []struct {
		name string
		pos  func(size int) int
		// dataHit: the flip damages object bytes, so reads must fail;
		// a damaged header or trailer only breaks verify and rebuilds.
		dataHit bool
	}{
		{"first group", func(int) int { return 10 }, true},
		{"header", func(n int) int { return n - 20 }, false},
		{"trailer magic", func(n int) int { return n - 1 }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			r := smallRepo(t)
			_, users := tenantUsers(2, 100)
			s, err := backupUsers(t, r, nil, users, "", t0)
			if err != nil {
				t.Fatal(err)
			}
			// the first pack holds the first users
			var victim packInfo
			packs, err := r.packsWithEntries(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range packs {
				if p.header.Entries[0].Kind == 1 && p.header.Entries[0].Group == 0 {
					victim = p
					break
				}
			}
			data, err := r.st.b.ReadAll(ctx, "packs/"+victim.name)
			if err != nil {
				t.Fatal(err)
			}
			data[c.pos(len(data))] ^= 0x04
			if err := r.st.b.WriteAll(ctx, "packs/"+victim.name, data, nil); err != nil {
				t.Fatal(err)
			}
			r2 := otherProcess(t, r) // no cached plaintext
			rep, err := r2.Verify(ctx, VerifyOptions{ReadDataPercent: 100})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatal("verify missed a flipped bit")
			}
			var objects []string
			for _, p := range rep.Problems {
				if p.Kind != CorruptPack || p.Pack != victim.name {
					t.Fatalf("unexpected problem %v", p)
				}
				if p.Object != "" {
					objects = append(objects, strings.TrimPrefix(p.Object, "user/"))
				}
			}
			if len(objects) == 0 {
				t.Fatalf("no affected object named: %v", rep.Problems)
			}
			_, err = r2.Get(ctx, s.ID, "user", objects[0])
			if c.dataHit && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Get of damaged object: err = %v, want ErrCorrupt", err)
			}
			if !c.dataHit && err != nil {
				t.Fatalf("Get of intact object in a pack with a damaged header: %v", err)
			}
		})
	}
}

func TestVerifyMissingPack(t *testing.T) {
	ctx := context.Background()
	r := smallRepo(t)
	_, users := tenantUsers(3, 100)
	if _, err := backupUsers(t, r, nil, users, "", t0); err != nil {
		t.Fatal(err)
	}
	p := r.idx.packList()[0]
	if err := r.st.b.Delete(ctx, "packs/"+p.name); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Verify(ctx, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[ProblemKind]int{}
	for _, pr := range rep.Problems {
		kinds[pr.Kind]++
	}
	if kinds[MissingPack] != 1 || kinds[MissingContent]+kinds[CorruptTree] == 0 {
		t.Fatalf("problems = %v", rep.Problems)
	}
}

var errInjected = errors.New("injected fault")

// TestCrashAtEveryStep kills the "process" at every bucket write of a
// commit in turn: a fresh process then sees the old snapshot set or the new
// one, and everything it sees verifies and reads back completely.
func TestCrashAtEveryStep(t *testing.T) {
	ctx := context.Background()
	ten, users := tenantUsers(4, 150)
	// The second backup changes 30 users and adds 60 new ones, over many
	// small packs, so there are many points to crash at.
	tiny := func(t *testing.T) *Repository { return sizedRepo(t, 8<<10, 2<<10) }
	probe := tiny(t)
	s0, err := backupUsers(t, probe, ten, users, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	_, extra := tenantUsers(40, 60)
	changed := append(mutate(ten, users, 30, 9), extra...)
	var writes atomic.Int64
	probe.st.fault = func(op, key string) error {
		if op == "put" {
			writes.Add(1)
		}
		return nil
	}
	if _, err := backupUsers(t, probe, ten, changed, s0.ID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	total := int(writes.Load())
	if total < 4 {
		t.Fatalf("only %d writes", total)
	}
	for crashAt := 1; crashAt <= total; crashAt++ {
		t.Run(fmt.Sprintf("crash at write %d of %d", crashAt, total), func(t *testing.T) {
			r := tiny(t)
			s0, err := backupUsers(t, r, ten, users, "", t0)
			if err != nil {
				t.Fatal(err)
			}
			var n atomic.Int64
			r.st.fault = func(op, key string) error {
				if op == "put" && int(n.Add(1)) >= crashAt {
					return errInjected // dead from here on
				}
				return nil
			}
			_, err = backupUsers(t, r, ten, changed, s0.ID, t0.Add(time.Hour))
			if !errors.Is(err, errInjected) && crashAt < total {
				t.Fatalf("backup error = %v, want the injected fault", err)
			}
			r.st.fault = nil
			r2 := otherProcess(t, r)
			snaps, err := r2.Snapshots(ctx, Filter{})
			if err != nil {
				t.Fatal(err)
			}
			switch len(snaps) {
			case 1:
				checkSnapshot(t, r2, snaps[0].ID, users)
			case 2:
				checkSnapshot(t, r2, snaps[1].ID, changed)
			default:
				t.Fatalf("%d snapshots", len(snaps))
			}
			verifyAll(t, r2)
		})
	}
}

// mutate returns a copy of users with k of them changed.
func mutate(ten *entragen.Tenant, users []entragen.User, k int, seed uint64) []entragen.User {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]entragen.User, len(users))
	for i, u := range users {
		c := entragen.User{}
		for k, v := range u {
			c[k] = v
		}
		out[i] = c
	}
	for range k {
		ten.Mutate(out[rng.IntN(len(out))], rng)
	}
	return out
}

// TestRandomFaults fails reads and writes at random: errors surface to the
// caller, and whatever was committed stays intact and readable.
func TestRandomFaults(t *testing.T) {
	ctx := context.Background()
	r := smallRepo(t)
	ten, users := tenantUsers(5, 120)
	rng := rand.New(rand.NewPCG(7, 7))
	var mu sync.Mutex
	r.st.fault = func(op, key string) error {
		mu.Lock()
		defer mu.Unlock()
		if rng.IntN(40) == 0 {
			return errInjected
		}
		return nil
	}
	committed := map[SnapshotID][]entragen.User{}
	var parent SnapshotID
	failures := 0
	for day := range 12 {
		users = mutate(ten, users, 10, uint64(day))
		s, err := backupUsers(t, r, ten, users, parent, t0.Add(time.Duration(day)*time.Hour))
		if err != nil {
			if !errors.Is(err, errInjected) {
				t.Fatalf("day %d: error %v does not wrap the fault", day, err)
			}
			failures++
			continue
		}
		committed[s.ID] = users
		parent = s.ID
	}
	r.st.fault = nil
	if failures == 0 || len(committed) == 0 {
		t.Fatalf("failures=%d committed=%d: fault rate unsuitable", failures, len(committed))
	}
	r2 := otherProcess(t, r)
	snaps, err := r2.Snapshots(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(snaps) != len(committed) {
		t.Fatalf("%d snapshots visible, %d committed", len(snaps), len(committed))
	}
	for id, us := range committed {
		checkSnapshot(t, r2, id, us)
	}
	verifyAll(t, r2)
}

func TestPruneRetention(t *testing.T) {
	ctx := context.Background()
	r := smallRepo(t)
	ten, users := tenantUsers(6, 100)
	var parent SnapshotID
	var ids []SnapshotID
	var states [][]entragen.User
	for day := range 10 {
		users = mutate(ten, users, 20, uint64(day))
		s, err := backupUsers(t, r, ten, users, parent, t0.AddDate(0, 0, day))
		if err != nil {
			t.Fatal(err)
		}
		parent = s.ID
		ids = append(ids, s.ID)
		states = append(states, users)
	}
	before, _ := r.Stats(ctx)
	dry, err := r.Prune(ctx, PruneOptions{Policy: RetentionPolicy{KeepLast: 3}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Forget) != 7 || dry.PacksDeleted == 0 {
		t.Fatalf("dry run = %+v", dry)
	}
	if s, _ := r.Stats(ctx); s != before {
		t.Fatal("dry run changed the repository")
	}
	rep, err := r.Prune(ctx, PruneOptions{Policy: RetentionPolicy{KeepLast: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.PacksDeleted != dry.PacksDeleted || rep.PacksRepacked != dry.PacksRepacked || len(rep.Forget) != len(dry.Forget) {
		t.Fatalf("prune %+v differs from its dry run %+v", rep, dry)
	}
	after, _ := r.Stats(ctx)
	if after.Snapshots != 3 || after.PackBytes >= before.PackBytes {
		t.Fatalf("after prune: %+v (before %+v)", after, before)
	}
	for i := 7; i < 10; i++ {
		checkSnapshot(t, r, ids[i], states[i])
	}
	verifyAll(t, otherProcess(t, r))
	// KeepLast 0 with an otherwise empty policy keeps everything; the newest
	// snapshot survives any policy.
	rep, err = r.Prune(ctx, PruneOptions{Policy: RetentionPolicy{KeepWithinDays: 0, KeepDaily: 1}})
	if err != nil || rep.Kept != 1 {
		t.Fatalf("prune keep-daily 1: %+v %v", rep, err)
	}
	checkSnapshot(t, r, ids[9], states[9])
}

// TestPruneConcurrentWithBackup runs prune in a loop while backups run in
// another "process": no content a committed snapshot references is lost.
func TestPruneConcurrentWithBackup(t *testing.T) {
	oldWait := lockWait
	lockWait = time.Minute
	t.Cleanup(func() { lockWait = oldWait })
	ctx := context.Background()
	r := smallRepo(t)
	backup := otherProcess(t, r)
	ten, users := tenantUsers(8, 80)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	t.Cleanup(halt)
	var prunes, locked atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			time.Sleep(20 * time.Millisecond) // let backups take their lock
			_, err := r.Prune(ctx, PruneOptions{Policy: RetentionPolicy{KeepLast: 1}})
			switch {
			case err == nil:
				prunes.Add(1)
			case errors.Is(err, ErrLocked):
				locked.Add(1)
			default:
				t.Errorf("prune: %v", err)
				return
			}
		}
	}()
	var parent SnapshotID
	latest := users
	for day := range 15 {
		// Alternate between new content and content of an older, probably
		// pruned, snapshot: dedup must not trust blobs prune removed.
		if day%3 == 2 {
			_, latest = tenantUsers(8, 80)
		} else {
			latest = mutate(ten, latest, 15, uint64(day))
		}
		s, err := backupUsers(t, backup, ten, latest, parent, t0.AddDate(0, 0, day))
		if err != nil {
			t.Fatalf("day %d: %v", day, err)
		}
		parent = s.ID
		checkSnapshot(t, otherProcess(t, r), s.ID, latest)
	}
	halt()
	if prunes.Load() == 0 {
		t.Fatalf("prune never ran (locked %d times)", locked.Load())
	}
	fresh := otherProcess(t, r)
	checkSnapshot(t, fresh, parent, latest)
	verifyAll(t, fresh)
	t.Logf("prunes=%d locked=%d", prunes.Load(), locked.Load())
}

func TestRebuildIndex(t *testing.T) {
	ctx := context.Background()
	r := smallRepo(t)
	ten, users := tenantUsers(9, 120)
	s1, err := backupUsers(t, r, ten, users, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	changed := mutate(ten, users, 30, 1)
	s2, err := backupUsers(t, r, ten, changed, s1.ID, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	files, _ := r.st.list(ctx, "index")
	for _, f := range files {
		if err := r.st.b.Delete(ctx, "index/"+f.name); err != nil {
			t.Fatal(err)
		}
	}
	lost := otherProcess(t, r)
	if _, err := lost.Get(ctx, s1.ID, "user", users[0].ID()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get without index: %v, want ErrCorrupt", err)
	}
	rep, err := lost.RebuildIndex(ctx)
	if err != nil || len(rep.Unreadable) != 0 || rep.Packs == 0 {
		t.Fatalf("RebuildIndex = %+v, %v", rep, err)
	}
	fresh := otherProcess(t, r)
	checkSnapshot(t, fresh, s1.ID, users)
	checkSnapshot(t, fresh, s2.ID, changed)
	verifyAll(t, fresh)
}

func TestPruneAllOfConnector(t *testing.T) {
	ctx := context.Background()
	r := smallRepo(t)
	ten, users := tenantUsers(10, 50)
	s1, err := backupUsers(t, r, ten, users, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	w, err := r.NewWriter(ctx, WriterOptions{Connector: "other", Scope: "groups", Time: t0})
	if err != nil {
		t.Fatal(err)
	}
	put(t, w, "group", "g1", `{"id":"g1"}`)
	other := commit(t, w)
	if _, err := r.Prune(ctx, PruneOptions{All: true}); err == nil {
		t.Fatal("All without a connector accepted")
	}
	rep, err := r.Prune(ctx, PruneOptions{Connector: "entra", All: true})
	if err != nil || len(rep.Forget) != 1 || rep.Forget[0].ID != s1.ID {
		t.Fatalf("Prune All = %+v, %v", rep, err)
	}
	if _, err := r.Get(ctx, s1.ID, "user", users[0].ID()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted connector still readable: %v", err)
	}
	if got := mustGet(t, r, other.ID, "group", "g1"); got != `{"id":"g1"}` {
		t.Fatalf("other connector damaged: %q", got)
	}
	verifyAll(t, r)
}

func TestLocks(t *testing.T) {
	ctx := context.Background()
	t.Run("stale lock ignored by prune", func(t *testing.T) {
		r := smallRepo(t)
		data := []byte(fmt.Sprintf(`{"exclusive":false,"time":%q,"host":"gone","pid":1}`, time.Now().Add(-2*staleAfter).Format(time.RFC3339)))
		if err := r.st.put(ctx, "locks/"+randomName(), data); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Prune(ctx, PruneOptions{}); err != nil {
			t.Fatalf("prune with a stale lock: %v", err)
		}
	})
	t.Run("fresh backup lock blocks prune", func(t *testing.T) {
		r := smallRepo(t)
		w := newWriter(t, r, "", t0)
		defer w.Abort()
		if _, err := otherProcess(t, r).Prune(ctx, PruneOptions{}); !errors.Is(err, ErrLocked) {
			t.Fatalf("prune during backup: %v, want ErrLocked", err)
		}
	})
	t.Run("a dead holder's lock is ignored and removed by Unlock", func(t *testing.T) {
		r := smallRepo(t)
		self := thisHolder()
		child := exec.Command(os.Args[0], "-test.run=^$") // this test binary, running nothing
		if err := child.Run(); err != nil {
			t.Fatal(err)
		}
		reused := self
		reused.Start++ // our PID, but another process's start time
		otherNS := self
		otherNS.PIDNS = "pid:[1]"
		holders := map[string]lockFile{
			"exited":       {PID: child.Process.Pid, holderID: self},
			"reused pid":   {PID: os.Getpid(), holderID: reused},
			"live":         {PID: os.Getpid(), holderID: self},
			"other pid ns": {PID: child.Process.Pid, holderID: otherNS},
		}
		names := map[string]string{}
		for what, lf := range holders {
			lf.Time, lf.Host = time.Now().UTC(), thisHost()
			data, _ := json.Marshal(lf)
			name := randomName()
			names[name] = what
			if err := r.st.put(ctx, "locks/"+name, data); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.Prune(ctx, PruneOptions{}); !errors.Is(err, ErrLocked) {
			t.Fatalf("prune beside a live holder's lock: %v, want ErrLocked", err)
		}
		removed, err := r.Unlock(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range removed {
			got = append(got, names[l.Name]+": "+l.Gone)
		}
		sort.Strings(got)
		// Only Linux tells a dead holder apart (through /proc); elsewhere
		// every fresh lock is left to go stale.
		want := []string{}
		if runtime.GOOS == "linux" {
			want = []string{"exited: holder exited", "reused pid: holder exited"}
		}
		if got == nil {
			got = []string{}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Unlock removed %q, want %q", got, want)
		}
		if removed, err = r.Unlock(ctx, true); err != nil || len(removed) != len(holders)-len(want) {
			t.Fatalf("Unlock(all) = %d locks, %v; want the %d left", len(removed), err, len(holders)-len(want))
		}
		if _, err := r.Prune(ctx, PruneOptions{}); err != nil {
			t.Fatalf("prune after unlock: %v", err)
		}
	})
	t.Run("commit refuses with an expired own lock", func(t *testing.T) {
		r := smallRepo(t)
		w := newWriter(t, r, "", t0)
		defer w.Abort()
		put(t, w, "user", "a", `{}`)
		w.lock.mu.Lock()
		w.lock.lastRefresh = time.Now().Add(-staleAfter)
		w.lock.mu.Unlock()
		if _, err := w.Commit(ctx); !errors.Is(err, ErrLocked) {
			t.Fatalf("Commit: %v, want ErrLocked", err)
		}
		if snaps, _ := r.Snapshots(ctx, Filter{}); len(snaps) != 0 {
			t.Fatal("snapshot committed without a valid lock")
		}
	})
}

// TestCheckpointLostAfterPrune: a run crashed, its lock expired, prune
// removed its unreferenced data; resuming must fail cleanly.
func TestCheckpointLostAfterPrune(t *testing.T) {
	ctx := context.Background()
	r := smallRepo(t)
	_, users := tenantUsers(14, 60)
	w := newWriter(t, r, "", t0)
	for _, u := range users {
		put(t, w, "user", u.ID(), string(u.JSON()))
	}
	cp, err := w.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.Abort() // stands for a crash whose lock has gone stale
	rep, err := r.Prune(ctx, PruneOptions{})
	if err != nil || rep.PacksDeleted == 0 {
		t.Fatalf("Prune = %+v, %v", rep, err)
	}
	if _, err := r.ResumeWriter(ctx, cp); !errors.Is(err, ErrCheckpointLost) {
		t.Fatalf("ResumeWriter: %v, want ErrCheckpointLost", err)
	}
}
