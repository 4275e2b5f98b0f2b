package activities

import (
	"time"

	"github.com/entravault/entravault/internal/connector"
)

// VerifyInput asks whether a tenant's consent is enough for a connector.
type VerifyInput struct {
	ConnectorID   string
	TenantID      string // from the signed-in administrator's id_token
	ConfigTenant  string // as the operator typed it: id or verified domain
	AdminObjectID string
	AdminUPN      string
	Kind          connector.Kind
	Scopes        connector.Scopes
}

// Check is one line of the verification report.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// VerifyReport is what the operator sees under the connector.
type VerifyReport struct {
	OK                 bool      `json:"ok"`
	Checks             []Check   `json:"checks"`
	MissingPermissions []string  `json:"missing_permissions,omitempty"`
	CheckedAt          time.Time `json:"checked_at"`
	// Restore is readiness per object type: what a restore into the
	// tenant may write with the permissions granted now. It does not
	// make verification fail: backups need none of it.
	Restore []RestoreReadiness `json:"restore,omitempty"`
}

// RestoreReadiness says whether restore can write one object type.
type RestoreReadiness struct {
	Type    string   `json:"type"`
	Ready   bool     `json:"ready"`
	Missing []string `json:"missing,omitempty"`
}

// BackupInput is one scope backup run.
type BackupInput struct {
	ConnectorID string
	TenantID    string
	RunID       string
	Scope       connector.Scope
	Scopes      connector.Scopes // the scope's settings (include lists, members, policy families)
	// LogSince bounds the first activity-log run (initial_log_span); later
	// runs continue from the watermark stored with the previous snapshot.
	LogSince time.Time
	// ForceFull ignores delta links, e.g. on the periodic full resync.
	ForceFull bool
	// FullResyncEvery is the connector's full-resync period; 0 means the
	// worker's default.
	FullResyncEvery time.Duration `json:",omitempty"`
	Time            time.Time
	// HeartbeatTimeout overrides how soon a lost worker is noticed and the
	// run retried elsewhere (default 20 s).
	HeartbeatTimeout time.Duration `json:",omitempty"`
}

// BackupResult summarises a run. Counts are per object type.
type BackupResult struct {
	SnapshotID  string         `json:"snapshot_id"`
	Counts      map[string]int `json:"counts"`
	Changed     int            `json:"changed"`
	Removed     int            `json:"removed"`
	Bytes       int64          `json:"bytes"`      // JSON the snapshot holds
	BytesRead   int64          `json:"bytes_read"` // response bodies read from Graph by this run
	Pages       int            `json:"pages"`
	Requests    int            `json:"requests"`
	Throttled   int            `json:"throttled"`
	WaitedMs    int64          `json:"waited_ms"`
	Resynced    bool           `json:"resynced,omitempty"` // an expired delta token forced a full read
	Incremental bool           `json:"incremental"`
}

// RetentionInput applies a connector's retention to each of its scopes.
type RetentionInput struct {
	ConnectorID string
	Scopes      []connector.Scope
	Policy      connector.Retention
	Now         time.Time
}

// RetentionResult counts what the cleanup removed.
type RetentionResult struct {
	SnapshotsRemoved int   `json:"snapshots_removed"`
	PacksRemoved     int   `json:"packs_removed"`
	BytesFreed       int64 `json:"bytes_freed"`
}

// PurgeInput removes every snapshot of a deleted connector.
type PurgeInput struct {
	ConnectorID string
}
