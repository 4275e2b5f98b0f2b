package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/entravault/entravault/internal/repository"
)

// Backup reads scopes from Graph into the snapshot repository.
type Backup struct {
	Graph GraphFactory
	Repo  *repository.Repository
	// CheckpointEvery bounds the work a crash can lose; tests lower it.
	CheckpointEvery time.Duration
	// LogOverlap re-reads this much before the last log watermark, since
	// Entra ingests records late; duplicates merge by id.
	LogOverlap time.Duration
	// FullResyncEvery forces a full read now and then to bound drift.
	FullResyncEvery time.Duration
	// ReportsInterval spaces activity-log requests to stay inside Graph's
	// reports budget (5 requests per 10 s per app and tenant) instead of
	// running into 429s; default 2 s. Negative disables pacing.
	ReportsInterval time.Duration
}

// backupProgress is the heartbeat: where to resume after a crash or retry.
type backupProgress struct {
	Checkpoint *repository.Checkpoint `json:"checkpoint,omitempty"`
	Source     int                    `json:"source"`
	Cursor     string                 `json:"cursor,omitempty"`
	Full       bool                   `json:"full"`
	Resynced   bool                   `json:"resynced,omitempty"`
	Pages      int                    `json:"pages"`
	Requests   int                    `json:"requests"`
	Objects    int                    `json:"objects"`
	Changed    int                    `json:"changed"`
	Removed    int                    `json:"removed"`
	// HTTP attempts, throttled responses and waits of earlier attempts of
	// this activity, added to this attempt's CallStats in the result.
	HTTPRequests int   `json:"httpRequests,omitempty"`
	Throttled    int   `json:"throttled,omitempty"`
	WaitedMs     int64 `json:"waitedMs,omitempty"`
	// Live is where the run is now, for operators (GET /runs, the Temporal
	// UI's pending activity); a resume ignores it and restarts from the
	// checkpointed fields above.
	Live *LiveProgress `json:"live,omitempty"`
}

// LiveProgress is a running backup's counters as of its last heartbeat.
type LiveProgress struct {
	Source    string `json:"source"`
	Pages     int    `json:"pages"`
	Requests  int    `json:"requests"`
	Objects   int    `json:"objects"`
	Changed   int    `json:"changed"`
	Removed   int    `json:"removed"`
	Throttled int    `json:"throttled"`
	WaitedMs  int64  `json:"waitedMs"`
}

// heartbeat records the checkpointed resume point plus live counters.
func (r *scopeRun) heartbeat(ctx context.Context) {
	hb := r.saved
	_, throttled, waited := r.httpTotals()
	hb.Live = &LiveProgress{Source: r.sources[min(r.p.Source, len(r.sources)-1)].Name, Pages: r.p.Pages, Requests: r.p.Requests,
		Objects: r.p.Objects, Changed: r.p.Changed, Removed: r.p.Removed, Throttled: throttled, WaitedMs: waited}
	activity.RecordHeartbeat(ctx, hb)
}

const stateLastFull = "lastFullSync"

// BackupScope backs up one scope into one snapshot. It heartbeats its
// progress (a repository checkpoint plus the Graph cursor) and, when
// retried, resumes from the last heartbeat instead of starting over.
func (b *Backup) BackupScope(ctx context.Context, in BackupInput) (BackupResult, error) {
	sources, err := sourcesFor(in.Scope, in.Scopes)
	if err != nil {
		return BackupResult{}, nonRetryable(ErrTypeBadInput, err.Error(), nil)
	}
	g, err := b.Graph.ForTenant(ctx, in.TenantID)
	if err != nil {
		return BackupResult{}, err
	}
	stats := &CallStats{}
	ctx = WithCallStats(ctx, stats)
	run := &scopeRun{b: b, g: g, in: in, sources: sources, stats: stats}
	if activity.HasHeartbeatDetails(ctx) {
		var p backupProgress
		if err := activity.GetHeartbeatDetails(ctx, &p); err == nil && p.Checkpoint != nil {
			if err := run.resume(ctx, p); err != nil {
				return BackupResult{}, err
			}
		}
	}
	if run.w == nil {
		if err := run.start(ctx, false); err != nil {
			return BackupResult{}, err
		}
	}
	defer func() {
		if run.w != nil {
			run.w.Abort()
		}
	}()
	res, err := run.readAll(ctx)
	if err != nil && IsDeltaExpired(err) && !run.p.Full {
		// The delta token expired: read everything again into a fresh
		// snapshot, recorded on the run.
		activity.GetLogger(ctx).Warn("delta token expired; full resync", "scope", in.Scope)
		run.w.Abort()
		before := run.p
		if err := run.start(ctx, true); err != nil {
			return BackupResult{}, err
		}
		run.p.Resynced = true
		run.p.Requests, run.p.Pages = before.Requests, before.Pages
		run.p.HTTPRequests, run.p.Throttled, run.p.WaitedMs = before.HTTPRequests, before.Throttled, before.WaitedMs
		res, err = run.readAll(ctx)
	}
	if err != nil {
		return BackupResult{}, classifyGraphError(string(in.Scope), err)
	}
	return res, nil
}

type scopeRun struct {
	b       *Backup
	g       Graph
	stats   *CallStats // this attempt's HTTP attempts, throttling, waits
	in      BackupInput
	sources []source
	w       *repository.Writer
	p       backupProgress
	parent  *repository.SnapshotInfo
	lastCP  time.Time
	cpObjs  int // r.p.Objects at lastCP
	// lastReport is when the last activity-log request went out (pace).
	lastReport time.Time
	// saved is the progress as of the last checkpoint: the only progress
	// that may be heartbeated, since a resume restarts from it.
	saved backupProgress
	// relations accumulates relationship objects touched in this run: a
	// large group repeats across delta pages with slices of members@delta.
	relations map[string]map[string]json.RawMessage
}

// resume continues from a heartbeat: the writer from its checkpoint, the
// Graph cursor where the checkpoint left it. A checkpoint lost to a prune
// means starting over.
func (r *scopeRun) resume(ctx context.Context, p backupProgress) error {
	w, err := r.b.Repo.ResumeWriter(ctx, *p.Checkpoint)
	if errors.Is(err, repository.ErrCheckpointLost) {
		return nil
	}
	if err != nil {
		return err
	}
	if p.Checkpoint.Parent != "" {
		parent, err := r.b.Repo.Snapshot(ctx, p.Checkpoint.Parent)
		if err != nil {
			w.Abort()
			return err
		}
		r.parent = &parent
	}
	r.w, r.p, r.saved = w, p, p
	r.relations = map[string]map[string]json.RawMessage{}
	r.lastCP, r.cpObjs = time.Now(), p.Objects
	activity.GetLogger(ctx).Info("resuming backup", "source", p.Source, "pages", p.Pages)
	return nil
}

// start opens a writer on top of the latest snapshot of the scope; full
// forces a full read (no delta links, unseen objects removed).
func (r *scopeRun) start(ctx context.Context, full bool) error {
	r.relations = map[string]map[string]json.RawMessage{}
	prev, err := r.b.Repo.Snapshots(ctx, repository.Filter{Connector: r.in.ConnectorID, Scope: string(r.in.Scope)})
	if err != nil {
		return err
	}
	opts := repository.WriterOptions{Connector: r.in.ConnectorID, Scope: string(r.in.Scope), Time: r.in.Time}
	if n := len(prev); n > 0 {
		p := prev[n-1]
		r.parent = &p
		opts.Parent = p.ID
	}
	if !full && r.needsFull() {
		full = true
	}
	// Logs accumulate: a run adds records, never removes older ones.
	opts.Full = full && !r.isLog()
	w, err := r.b.Repo.NewWriter(ctx, opts)
	if err != nil {
		return err
	}
	r.w = w
	r.p = backupProgress{Full: full}
	if r.parent != nil && !full {
		for k, v := range r.parent.State {
			w.SetState(k, v) // carry watermarks and full-sync time forward
		}
	}
	if full {
		w.SetState(stateLastFull, r.in.Time.UTC().Format(time.RFC3339))
	}
	r.lastCP = time.Now()
	return nil
}

func (r *scopeRun) isLog() bool {
	for _, s := range r.sources {
		if s.LogTimeField != "" {
			return true
		}
	}
	return false
}

// needsFull: no parent, the parent has no delta link for a delta source,
// the periodic full resync is due, or the workflow asked for it.
func (r *scopeRun) needsFull() bool {
	if r.in.ForceFull || r.parent == nil {
		return true
	}
	for _, s := range r.sources {
		if s.Delta && r.parent.State["delta."+s.Name] == "" {
			return true
		}
		if !s.Delta && s.LogTimeField == "" {
			return true // plain lists are always read whole
		}
	}
	if r.b.FullResyncEvery > 0 {
		last, err := time.Parse(time.RFC3339, r.parent.State[stateLastFull])
		if err != nil || r.in.Time.Sub(last) >= r.b.FullResyncEvery {
			return true
		}
	}
	return false
}

func (r *scopeRun) readAll(ctx context.Context) (BackupResult, error) {
	for ; r.p.Source < len(r.sources); r.p.Source++ {
		src := r.sources[r.p.Source]
		if r.p.Cursor == "" {
			r.p.Cursor = r.firstURL(src)
		}
		for r.p.Cursor != "" {
			next, err := r.readPage(ctx, src, r.p.Cursor)
			if err != nil {
				return BackupResult{}, err
			}
			r.p.Cursor = next
			if err := r.maybeCheckpoint(ctx, false); err != nil {
				return BackupResult{}, err
			}
		}
		if err := r.flushRelations(ctx, src); err != nil {
			return BackupResult{}, err
		}
	}
	info, err := r.w.Commit(ctx)
	if err != nil {
		return BackupResult{}, err
	}
	r.w = nil
	r.totals()
	return BackupResult{
		SnapshotID: string(info.ID), Counts: info.Counts, Bytes: info.Bytes,
		Changed: r.p.Changed, Removed: r.p.Removed, Pages: r.p.Pages, Requests: r.p.HTTPRequests,
		Throttled: r.p.Throttled, WaitedMs: r.p.WaitedMs,
		Resynced: r.p.Resynced, Incremental: !r.p.Full,
	}, nil
}

func (r *scopeRun) firstURL(src source) string {
	if src.Delta && !r.p.Full && r.parent != nil {
		if link := r.parent.State["delta."+src.Name]; link != "" {
			return link
		}
	}
	if src.LogTimeField != "" {
		since := r.in.LogSince
		if r.parent != nil {
			if wm, err := time.Parse(time.RFC3339Nano, r.parent.State["watermark."+src.Name]); err == nil {
				since = wm.Add(-r.logOverlap())
			}
		}
		if since.IsZero() {
			since = r.in.Time.Add(-7 * 24 * time.Hour)
		}
		return logURL(src, since.UTC().Format("2006-01-02T15:04:05Z"))
	}
	return src.URL
}

func (r *scopeRun) logOverlap() time.Duration {
	if r.b.LogOverlap > 0 {
		return r.b.LogOverlap
	}
	return time.Hour
}

type graphPage struct {
	Value     []json.RawMessage `json:"value"`
	NextLink  string            `json:"@odata.nextLink"`
	DeltaLink string            `json:"@odata.deltaLink"`
}

// readPage stores one page and returns the next URL ("" when done).
func (r *scopeRun) readPage(ctx context.Context, src source, pageURL string) (string, error) {
	var page graphPage
	var single []member
	err := r.fetch(ctx, pageURL, func(body []byte) (err error) {
		if src.Singleton {
			single, err = splitObject(body)
			return err
		}
		page, err = parsePage(body)
		return err
	})
	if err != nil {
		return "", err
	}
	r.p.Pages++
	if src.Singleton {
		obj := joinObject(without(single, "@odata.context"))
		id := src.ObjType
		if v, ok := find(single, "id"); ok {
			_ = json.Unmarshal(v, &id)
		}
		return "", r.put(ctx, src.ObjType, id, obj)
	}
	var newest string
	for _, raw := range page.Value {
		ms, err := splitObject(raw)
		if err != nil {
			return "", fmt.Errorf("%s: %w: %v", src.Name, errMalformed, err)
		}
		var id string
		if v, ok := find(ms, "id"); !ok || json.Unmarshal(v, &id) != nil || id == "" {
			return "", fmt.Errorf("%s: item without id in page", src.Name)
		}
		if len(src.Include) > 0 && !slices.Contains(src.Include, id) {
			continue
		}
		if _, removed := find(ms, "@removed"); removed {
			if err := r.remove(ctx, src, id); err != nil {
				return "", err
			}
			continue
		}
		if err := r.store(ctx, src, id, raw, ms); err != nil {
			return "", err
		}
		if src.LogTimeField != "" {
			var ts string
			if v, ok := find(ms, src.LogTimeField); ok && json.Unmarshal(v, &ts) == nil && ts > newest {
				newest = ts
			}
		}
	}
	if src.LogTimeField != "" && newest != "" {
		key := "watermark." + src.Name
		if cur := r.currentState(key); newest > cur {
			r.w.SetState(key, newest)
		}
	}
	if page.DeltaLink != "" {
		r.w.SetState("delta."+src.Name, page.DeltaLink)
	}
	return page.NextLink, nil
}

func (r *scopeRun) currentState(key string) string {
	if r.p.Checkpoint != nil {
		if v, ok := r.p.Checkpoint.State[key]; ok {
			return v
		}
	}
	if r.parent != nil {
		return r.parent.State[key]
	}
	return ""
}

// store writes an object, merging a delta update onto the previous
// version, and handles its relationships.
// raw is the item as Graph sent it and ms its members: stored as sent
// unless a relationship was taken out or an update merged in.
func (r *scopeRun) store(ctx context.Context, src source, id string, raw []byte, ms []member) error {
	n := len(ms)
	hadRel := false
	if src.InlineRelation != "" {
		var rel json.RawMessage
		if rel, hadRel = find(ms, src.InlineRelation); hadRel {
			if err := r.applyInlineRelation(ctx, src, id, rel); err != nil {
				return err
			}
		}
		ms = without(ms, src.InlineRelation)
	}
	if src.Delta && !r.p.Full {
		// An item carrying nothing but its identity (and perhaps a
		// relationship slice) changed no property: keep the stored object.
		if len(without(ms, "id", "@odata.type")) == 0 {
			return nil
		}
		prev, err := r.previous(ctx, src.ObjType, id)
		if err != nil {
			return err
		}
		if prev != nil {
			ms = mergeObject(prev, ms)
			n = -1 // no longer what Graph sent
		} else if src.InlineRelation == "manager@delta" && !hadRel {
			// A user created since the last round may come without
			// manager@delta (the simulator does so): ask for it.
			if err := r.readManager(ctx, src, id); err != nil {
				return err
			}
		}
	}
	if len(ms) != n {
		raw = joinObject(ms)
	}
	if err := r.put(ctx, src.ObjType, id, raw); err != nil {
		return err
	}
	if src.SubCollection != "" {
		return r.readSubCollection(ctx, src, id)
	}
	return nil
}

func (r *scopeRun) put(ctx context.Context, objType, id string, raw []byte) error {
	r.p.Objects++
	r.p.Changed++
	return r.w.Put(ctx, objType, id, raw)
}

func (r *scopeRun) remove(ctx context.Context, src source, id string) error {
	r.p.Removed++
	if err := r.w.Delete(ctx, src.ObjType, id); err != nil && !errors.Is(err, repository.ErrNotFound) {
		return err
	}
	for _, rel := range []string{src.RelationType, src.SubRelationType} {
		if rel == "" {
			continue
		}
		if err := r.w.Delete(ctx, rel, id); err != nil && !errors.Is(err, repository.ErrNotFound) {
			return err
		}
	}
	if r.relations != nil {
		delete(r.relations, id) // a slice read earlier this run must not resurrect it
	}
	return nil
}

// previous is the object as the snapshot so far holds it.
func (r *scopeRun) previous(ctx context.Context, objType, id string) ([]member, error) {
	raw, err := r.w.Current(ctx, objType, id)
	if err != nil {
		if errors.Is(err, repository.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return splitObject(raw)
}

type relationRef struct {
	Type    string `json:"@odata.type,omitempty"`
	ID      string `json:"id"`
	Removed *struct {
		Reason string `json:"reason"`
	} `json:"@removed,omitempty"`
}

// applyInlineRelation folds a members@delta / manager@delta slice into
// the relationship object of id.
func (r *scopeRun) applyInlineRelation(ctx context.Context, src source, id string, raw json.RawMessage) error {
	refs := r.relations[id]
	if refs == nil {
		refs = map[string]json.RawMessage{}
		// Start from what the snapshot holds so far: in a full read, only
		// what this run already wrote (an earlier slice of the same group).
		if prev, err := r.w.Current(ctx, src.RelationType, id); err == nil {
			var old struct {
				Value []json.RawMessage `json:"value"`
			}
			if json.Unmarshal(prev, &old) == nil {
				for _, v := range old.Value {
					var ref relationRef
					if json.Unmarshal(v, &ref) == nil {
						refs[ref.ID] = v
					}
				}
			}
		} else if !errors.Is(err, repository.ErrNotFound) {
			return err
		}
		r.relations[id] = refs
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		items = []json.RawMessage{raw} // tolerate a single object
	}
	if src.InlineRelation == "manager@delta" {
		// A user has one manager: manager@delta carries the current one,
		// or nothing (or an @removed entry) when it was removed.
		clear(refs)
	}
	for _, it := range items {
		var ref relationRef
		if err := json.Unmarshal(it, &ref); err != nil || ref.ID == "" {
			continue
		}
		if ref.Removed != nil {
			delete(refs, ref.ID)
			continue
		}
		clean, _ := json.Marshal(relationRef{Type: ref.Type, ID: ref.ID})
		refs[ref.ID] = clean
	}
	return nil
}

// flushRelations writes the relationship objects touched by a source.
func (r *scopeRun) flushRelations(ctx context.Context, src source) error {
	if src.InlineRelation == "" {
		return nil
	}
	for _, id := range sortedKeys(r.relations) {
		refs := r.relations[id]
		if len(refs) == 0 {
			if err := r.w.Delete(ctx, src.RelationType, id); err != nil && !errors.Is(err, repository.ErrNotFound) {
				return err
			}
			continue
		}
		if err := r.w.Put(ctx, src.RelationType, id, relationObject(refs)); err != nil {
			return err
		}
	}
	r.relations = map[string]map[string]json.RawMessage{}
	return nil
}

func relationObject(refs map[string]json.RawMessage) []byte {
	var b strings.Builder
	b.WriteString(`{"value":[`)
	for i, k := range sortedKeys(refs) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(refs[k])
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// errMalformed is a response body that does not parse: a truncated or
// garbled transfer, retried like a network error.
var errMalformed = errors.New("malformed response from Graph")

// Retries of one request inside the activity, beyond the SDK's own retry
// of 429/503/504: for bodies that do not parse, dropped connections and
// throttling that outlasted the SDK's retries.
const (
	fetchAttempts = 6
	fetchBackoff  = 250 * time.Millisecond
	fetchMaxWait  = 60 * time.Second
)

// fetch GETs url and hands the body to parse, retrying transient failures.
// A throttled request is retried no sooner than its Retry-After, so the
// run never retries early.
func (r *scopeRun) fetch(ctx context.Context, url string, parse func([]byte) error) error {
	wait := fetchBackoff
	for attempt := 1; ; attempt++ {
		if err := r.pace(ctx); err != nil {
			return err
		}
		body, err := r.g.GetRaw(ctx, url)
		r.p.Requests++
		if err == nil {
			if perr := parse(body); perr != nil {
				err = fmt.Errorf("%w: %v", errMalformed, perr)
			}
		}
		if err == nil || attempt == fetchAttempts || !transient(ctx, err) {
			return err
		}
		d := wait
		var ge *GraphError
		if errors.As(err, &ge) && ge.RetryAfter > d {
			d = ge.RetryAfter
		}
		activity.GetLogger(ctx).Warn("retrying Graph request", "attempt", attempt, "wait", d, "error", err)
		r.stats.Add(0, 0, d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, fetchMaxWait)
	}
}

// pace waits, for activity logs, until the reports budget allows the next
// request. Other sources rely on Graph's 429s and Retry-After: their
// budgets are large and measured in resource units Graph alone knows.
func (r *scopeRun) pace(ctx context.Context) error {
	every := r.b.ReportsInterval
	if every == 0 {
		every = 2 * time.Second
	}
	if every < 0 || !r.isLog() {
		return nil
	}
	if d := time.Until(r.lastReport.Add(every)); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	r.lastReport = time.Now()
	return nil
}

// transient tells failures that a later attempt may not see.
func transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var ge *GraphError
	var te *TokenError
	switch {
	case errors.Is(err, errMalformed):
		return true
	case errors.As(err, &ge):
		return ge.Status == 429 || ge.Status >= 500
	case errors.As(err, &te):
		return false
	}
	return true // transport errors: reset connections, timeouts
}

// readManager reads a user's manager into the user.manager relation.
func (r *scopeRun) readManager(ctx context.Context, src source, id string) error {
	var ref relationRef
	err := r.fetch(ctx, "/users/"+id+"/manager?$select=id", func(body []byte) error {
		ref = relationRef{}
		if err := json.Unmarshal(body, &ref); err != nil || ref.ID == "" {
			return errMalformed
		}
		return nil
	})
	switch {
	case GraphStatus(err) == 404:
		return r.applyInlineRelation(ctx, src, id, json.RawMessage(`[]`))
	case err != nil:
		return err
	}
	ref.Removed = nil
	one, _ := json.Marshal([]relationRef{ref})
	return r.applyInlineRelation(ctx, src, id, one)
}

// readSubCollection reads a per-object relationship in full. An object
// without any is stored without a relationship object, as for inline ones.
func (r *scopeRun) readSubCollection(ctx context.Context, src source, id string) error {
	refs := map[string]json.RawMessage{}
	next := fmt.Sprintf(src.SubCollection, id)
	for next != "" {
		var page graphPage
		err := r.fetch(ctx, next, func(body []byte) (err error) {
			page, err = parsePage(body)
			return err
		})
		if GraphStatus(err) == 404 {
			// Deleted since the page listing it: the next delta round
			// reports the removal.
			break
		}
		if err != nil {
			return err
		}
		for _, it := range page.Value {
			var ref relationRef
			if json.Unmarshal(it, &ref) == nil && ref.ID != "" {
				clean, _ := json.Marshal(relationRef{Type: ref.Type, ID: ref.ID})
				refs[ref.ID] = clean
			}
		}
		next = page.NextLink
	}
	if len(refs) == 0 {
		if err := r.w.Delete(ctx, src.SubRelationType, id); err != nil && !errors.Is(err, repository.ErrNotFound) {
			return err
		}
		return nil
	}
	return r.w.Put(ctx, src.SubRelationType, id, relationObject(refs))
}

// checkpointObjects also bounds a checkpoint interval by work, not only by
// time: what a run holds until the next checkpoint (relationship slices,
// the writer's unspilled changes) then no longer grows with Graph's speed.
// 20k users is 3 s at 7k users/s; such a checkpoint writes a ~10 MB pack.
const checkpointObjects = 20_000

// maybeCheckpoint makes progress durable and heartbeats it. Relationship
// objects are flushed first so the checkpoint holds them.
func (r *scopeRun) maybeCheckpoint(ctx context.Context, force bool) error {
	every := r.b.CheckpointEvery
	if every == 0 {
		every = 10 * time.Second
	}
	if !force && time.Since(r.lastCP) < every && r.p.Objects-r.cpObjs < checkpointObjects {
		r.heartbeat(ctx)
		return nil
	}
	if err := r.flushRelations(ctx, r.sources[r.p.Source]); err != nil {
		return err
	}
	cp, err := r.w.Checkpoint(ctx)
	if err != nil {
		return err
	}
	r.p.Checkpoint = &cp
	r.lastCP, r.cpObjs = time.Now(), r.p.Objects
	r.saved = r.p
	r.saved.HTTPRequests, r.saved.Throttled, r.saved.WaitedMs = r.httpTotals()
	r.heartbeat(ctx)
	return nil
}

// httpTotals adds this attempt's CallStats to those of earlier attempts.
func (r *scopeRun) httpTotals() (requests, throttled int, waitedMs int64) {
	n, th, w := r.stats.Get()
	return r.p.HTTPRequests + n, r.p.Throttled + th, r.p.WaitedMs + w.Milliseconds()
}

// totals folds this attempt's CallStats into the progress, once, at the end.
func (r *scopeRun) totals() {
	r.p.HTTPRequests, r.p.Throttled, r.p.WaitedMs = r.httpTotals()
	r.stats = &CallStats{}
}
