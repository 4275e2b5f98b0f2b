package api

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/entravault/entravault/workflows"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func ids(items []ConnectorListItem) map[string]bool {
	m := map[string]bool{}
	for _, it := range items {
		if !it.removed {
			m[it.ID] = true
		}
	}
	return m
}

func TestConnectorIndex(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	var mu sync.Mutex
	source := []ConnectorListItem{{ID: "a"}, {ID: "b"}}
	loads := 0
	load := func(context.Context) ([]ConnectorListItem, error) {
		mu.Lock()
		defer mu.Unlock()
		loads++
		return append([]ConnectorListItem(nil), source...), nil
	}
	x := newConnectorIndex(load, clock.now)
	ctx := context.Background()

	x.put(ConnectorListItem{ID: "ignored-before-first-load"})
	got, _ := x.list(ctx)
	if m := ids(got); len(m) != 2 || !m["a"] || !m["b"] || loads != 1 {
		t.Fatalf("first list %v loads %d", m, loads)
	}
	// Fresh: served from memory; this API's own changes show at once.
	x.put(ConnectorListItem{ID: "c", ConnectorSummary: workflows.ConnectorSummary{Name: "new"}})
	x.remove("a")
	got, _ = x.list(ctx)
	if m := ids(got); len(m) != 2 || !m["b"] || !m["c"] || loads != 1 {
		t.Fatalf("fresh list %v loads %d", m, loads)
	}
	// Stale: reloaded synchronously; visibility now has c and not a.
	mu.Lock()
	source = []ConnectorListItem{{ID: "b"}, {ID: "c"}, {ID: "d"}}
	mu.Unlock()
	clock.add(time.Minute)
	got, _ = x.list(ctx)
	if m := ids(got); len(m) != 3 || !m["d"] || loads != 2 {
		t.Fatalf("stale list %v loads %d", m, loads)
	}
	// Between fresh and stale: served at once, refreshed in the background.
	clock.add(5 * time.Second)
	if _, err := x.list(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := loads
		mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no background refresh: loads %d", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
