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
	host, _ := os.Hostname()
	now := time.Now().UTC()
	data, _ := json.Marshal(lockFile{Exclusive: exclusive, Time: now, Host: host, PID: os.Getpid()})
	name := randomName()
	if err := r.st.put(ctx, "locks/"+name, data); err != nil {
		return "", time.Time{}, fmt.Errorf("lock: %w", err)
	}
	return name, now, nil
}

func (r *Repository) checkLockConflicts(ctx context.Context, own string, exclusive bool) error {
	files, err := r.st.list(ctx, "locks")
	if err != nil {
		return err
	}
	for _, f := range files {
		if f.name == own {
			continue
		}
		data, err := r.st.get(ctx, "locks/"+f.name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		var lf lockFile
		if json.Unmarshal(data, &lf) != nil || time.Since(lf.Time) > staleAfter {
			continue // stale or unreadable: its holder is gone
		}
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
