package api

import (
	"context"
	"sync"
	"time"
)

// connectorIndex serves GET /connectors from memory. Temporal visibility
// lists 1,000 executions in about 1.5 s on the embedded SQLite store, too
// slow to ask on every request; the index is reloaded from visibility in
// the background when older than fresh, and synchronously when older than
// stale, so a listing is at most a few seconds behind the workflows.
// Connectors created or deleted through this API show at once.
type connectorIndex struct {
	fresh, stale time.Duration
	load         func(ctx context.Context) ([]ConnectorListItem, error)
	now          func() time.Time

	mu         sync.Mutex
	items      map[string]ConnectorListItem
	loadedAt   time.Time
	refreshing bool
}

func newConnectorIndex(load func(ctx context.Context) ([]ConnectorListItem, error), now func() time.Time) *connectorIndex {
	return &connectorIndex{fresh: 2 * time.Second, stale: 30 * time.Second, load: load, now: now}
}

// list returns every connector (callers filter by access).
func (x *connectorIndex) list(ctx context.Context) ([]ConnectorListItem, error) {
	x.mu.Lock()
	age := x.now().Sub(x.loadedAt)
	switch {
	case x.items == nil || age >= x.stale:
		x.mu.Unlock()
		if err := x.reload(ctx); err != nil {
			return nil, err
		}
		x.mu.Lock()
	case age >= x.fresh && !x.refreshing:
		x.refreshing = true
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_ = x.reload(ctx)
			x.mu.Lock()
			x.refreshing = false
			x.mu.Unlock()
		}()
	}
	out := make([]ConnectorListItem, 0, len(x.items))
	for _, it := range x.items {
		out = append(out, it)
	}
	x.mu.Unlock()
	return out, nil
}

func (x *connectorIndex) reload(ctx context.Context) error {
	started := x.now()
	items, err := x.load(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]ConnectorListItem, len(items))
	for _, it := range items {
		m[it.ID] = it
	}
	x.mu.Lock()
	// Keep what this API changed while the load ran.
	for id, it := range x.items {
		if it.touched.After(started) {
			if it.removed {
				delete(m, id)
			} else {
				m[id] = it
			}
		}
	}
	x.items, x.loadedAt = m, started
	x.mu.Unlock()
	return nil
}

// put records a connector created or changed through this API.
func (x *connectorIndex) put(it ConnectorListItem) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.items == nil {
		return // the first load will see it
	}
	it.touched = x.now()
	x.items[it.ID] = it
}

// remove records a deletion through this API.
func (x *connectorIndex) remove(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.items == nil {
		return
	}
	if it, ok := x.items[id]; ok {
		it.touched, it.removed = x.now(), true
		x.items[id] = it
	}
}
