package repository

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Locks follow restic: backups take shared locks, prune an exclusive one.
// A lock is a small file under locks/; it is refreshed by writing a new file
// and deleting the old (nothing is overwritten) and is stale, and ignored,
// once not refreshed for staleAfter. After creating its file a taker lists
// all locks; on conflict it removes its own and backs off, so two racing
// takers can both fail but never both succeed.
var (
	staleAfter   = 30 * time.Minute
	refreshEvery = 5 * time.Minute
	// lockWait bounds how long a backup waits for a running prune.
	lockWait = 2 * time.Minute
)

type lockFile struct {
	Exclusive bool      `json:"exclusive"`
	Time      time.Time `json:"time"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	holderID
}

// holderID identifies the writing process well enough to tell, on the same
// machine, that it has died (see holderGone). Older locks lack it.
type holderID struct {
	Boot  string `json:"boot,omitempty"`
	PIDNS string `json:"pidns,omitempty"`
	Start uint64 `json:"start,omitempty"`
}

var (
	thisHolder = sync.OnceValue(selfHolder)
	thisHost   = sync.OnceValue(func() string { h, _ := os.Hostname(); return h })
)

// heldLock is one lock file as found in the bucket.
type heldLock struct {
	name     string
	file     lockFile
	readable bool
}

// gone reports why the lock's holder cannot be running any more, or "".
func (h heldLock) gone() string {
	switch {
	case !h.readable:
		return "unreadable"
	case time.Since(h.file.Time) > staleAfter:
		return "stale"
	case holderGone(h.file, thisHolder(), thisHost()):
		return "holder exited"
	}
	return ""
}

type repoLock struct {
	r         *Repository
	exclusive bool

	mu          sync.Mutex
	name        string
	lastRefresh time.Time
	stop        chan struct{}
	done        chan struct{}
}

func randomName() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// lock takes a shared or exclusive lock. Shared takers wait up to lockWait
// for an exclusive holder; exclusive takers fail at once with ErrLocked.
func (r *Repository) lock(ctx context.Context, exclusive bool) (*repoLock, error) {
	deadline := time.Now().Add(lockWait)
	backoff := 20 * time.Millisecond
	for {
		l, err := r.tryLock(ctx, exclusive)
		if err == nil || exclusive || !errors.Is(err, ErrLocked) || time.Now().After(deadline) {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (r *Repository) tryLock(ctx context.Context, exclusive bool) (*repoLock, error) {
	name, now, err := r.writeLock(ctx, exclusive)
	if err != nil {
		return nil, err
	}
	if err := r.checkLockConflicts(ctx, name, exclusive); err != nil {
		_ = r.st.del(context.WithoutCancel(ctx), "locks/"+name)
		return nil, err
	}
	l := &repoLock{r: r, exclusive: exclusive, name: name, lastRefresh: now,
		stop: make(chan struct{}), done: make(chan struct{})}
	go l.refreshLoop()
	return l, nil
}

func (r *Repository) writeLock(ctx context.Context, exclusive bool) (string, time.Time, error) {
	now := time.Now().UTC()
	data, _ := json.Marshal(lockFile{Exclusive: exclusive, Time: now, Host: thisHost(), PID: os.Getpid(), holderID: thisHolder()})
	name := randomName()
	if err := r.st.put(ctx, "locks/"+name, data); err != nil {
		return "", time.Time{}, fmt.Errorf("lock: %w", err)
	}
	return name, now, nil
}

// listLocks reads every lock file but own; files removed meanwhile are
// skipped.
func (r *Repository) listLocks(ctx context.Context, own string) ([]heldLock, error) {
	files, err := r.st.list(ctx, "locks")
	if err != nil {
		return nil, err
	}
	var locks []heldLock
	for _, f := range files {
		if f.name == own {
			continue
		}
		data, err := r.st.get(ctx, "locks/"+f.name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		h := heldLock{name: f.name}
		h.readable = json.Unmarshal(data, &h.file) == nil
		locks = append(locks, h)
	}
	return locks, nil
}

func (r *Repository) checkLockConflicts(ctx context.Context, own string, exclusive bool) error {
	locks, err := r.listLocks(ctx, own)
	if err != nil {
		return err
	}
	for _, h := range locks {
		if h.gone() != "" {
			continue // its holder no longer runs
		}
		lf := h.file
		if exclusive || lf.Exclusive {
			kind := "shared"
			if lf.Exclusive {
				kind = "exclusive"
			}
			return fmt.Errorf("%w: %s lock held by %s pid %d since %s", ErrLocked, kind, lf.Host, lf.PID, lf.Time.Format(time.RFC3339))
		}
	}
	return nil
}

// LockInfo describes a lock file for an operator.
type LockInfo struct {
	Name      string    `json:"name"`
	Exclusive bool      `json:"exclusive"`
	Time      time.Time `json:"time"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	// Gone says why its holder no longer runs ("stale", "holder exited",
	// "unreadable"), or is empty for a lock that may still be held.
	Gone string `json:"gone,omitempty"`
}

// Unlock removes the locks whose holders no longer run (see heldLock.gone)
// and, with all, every lock: only for an operator who knows that no
// process uses the repository. It returns the locks removed.
func (r *Repository) Unlock(ctx context.Context, all bool) ([]LockInfo, error) {
	locks, err := r.listLocks(ctx, "")
	if err != nil {
		return nil, err
	}
	var removed []LockInfo
	for _, h := range locks {
		gone := h.gone()
		if gone == "" && !all {
			continue
		}
		if err := r.st.del(ctx, "locks/"+h.name); err != nil && !errors.Is(err, ErrNotFound) {
			return removed, fmt.Errorf("remove lock %s: %w", h.name, err)
		}
		removed = append(removed, LockInfo{Name: h.name, Exclusive: h.file.Exclusive, Time: h.file.Time,
			Host: h.file.Host, PID: h.file.PID, Gone: gone})
	}
	return removed, nil
}

func (l *repoLock) refreshLoop() {
	defer close(l.done)
	t := time.NewTicker(refreshEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			name, now, err := l.r.writeLock(ctx, l.exclusive)
			if err == nil {
				l.mu.Lock()
				old := l.name
				l.name, l.lastRefresh = name, now
				l.mu.Unlock()
				_ = l.r.st.del(ctx, "locks/"+old)
			}
			cancel()
		}
	}
}

// valid reports whether the lock is certainly still honoured by others: it
// was refreshed well within staleAfter.
func (l *repoLock) valid() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.lastRefresh) > staleAfter/2 {
		return fmt.Errorf("%w: own lock not refreshed since %s", ErrLocked, l.lastRefresh.Format(time.RFC3339))
	}
	return nil
}

func (l *repoLock) release(ctx context.Context) {
	if l == nil {
		return
	}
	select {
	case <-l.stop:
		return
	default:
	}
	close(l.stop)
	<-l.done
	l.mu.Lock()
	name := l.name
	l.mu.Unlock()
	_ = l.r.st.del(context.WithoutCancel(ctx), "locks/"+name)
}
