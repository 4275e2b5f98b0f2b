package restore

import (
	"maps"
	"sync"
)

// IDMap maps the ids of re-created objects, old (as in snapshots) → new
// (in the tenant), for one tenant. It is safe for concurrent use.
type IDMap struct {
	mu  sync.RWMutex
	fwd map[string]string
	rev map[string]string
}

// NewIDMap returns an empty map.
func NewIDMap() *IDMap { return &IDMap{fwd: map[string]string{}, rev: map[string]string{}} }

// Set records old → newID.
func (m *IDMap) Set(old, newID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if prev, ok := m.fwd[old]; ok {
		delete(m.rev, prev)
	}
	m.fwd[old], m.rev[newID] = newID, old
}

// Resolve is the id old has in the tenant now (old itself if never
// re-created). Chains (re-created twice) are followed.
func (m *IDMap) Resolve(old string) string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for range 8 {
		n, ok := m.fwd[old]
		if !ok {
			break
		}
		old = n
	}
	return old
}

// Original is the snapshot id that id replaces (id itself if none).
func (m *IDMap) Original(id string) string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if o, ok := m.rev[id]; ok {
		return o
	}
	return id
}

// IsTarget reports whether id is an object a restore re-created.
func (m *IDMap) IsTarget(id string) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.rev[id]
	return ok
}

// Entries returns a copy of old → new.
func (m *IDMap) Entries() map[string]string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return maps.Clone(m.fwd)
}

// Len is the number of entries.
func (m *IDMap) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.fwd)
}

// RemapIDs returns v with every string that is an old id in m replaced by
// its new id, at any depth: a conditional-access policy names users,
// groups, roles, applications and locations by bare GUID.
func RemapIDs(v any, m *IDMap) any {
	switch x := v.(type) {
	case string:
		return m.Resolve(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = RemapIDs(e, m)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = RemapIDs(e, m)
		}
		return out
	}
	return v
}
