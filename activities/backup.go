package activities

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	// FullResyncEvery forces a full read now and then to bound drift,
	// unless the connector sets its own period (BackupInput).
	FullResyncEvery time.Duration
	// ReportsInterval spaces activity-log requests to stay inside Graph's
	// reports budget (5 requests per 10 s per app and tenant) instead of
	// running into 429s; default 2 s. Negative disables pacing.
	ReportsInterval time.Duration
	// PartRefs is the average number of references in one part of a large
	// relationship list (default 2048); tests lower it so that small
	// tenants store lists in parts too.
	PartRefs int
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
	BytesRead  int64                  `json:"bytesRead,omitempty"`
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
	BytesRead int64  `json:"bytesRead"` // response bodies read from Graph
	Throttled int    `json:"throttled"`
	WaitedMs  int64  `json:"waitedMs"`
}

// heartbeat records the checkpointed resume point plus live counters.
func (r *scopeRun) heartbeat(ctx context.Context) {
	hb := r.saved
	_, throttled, waited := r.httpTotals()
	hb.Live = &LiveProgress{Source: r.sources[min(r.p.Source, len(r.sources)-1)].Name, Pages: r.p.Pages, Requests: r.p.Requests,
		Objects: r.p.Objects, Changed: r.p.Changed, Removed: r.p.Removed, BytesRead: r.p.BytesRead, Throttled: throttled, WaitedMs: waited}
	r.beats.record(ctx, hb)
}

const stateLastFull = "lastFullSync"

// stateSources fingerprints what a run read (see sourcesFingerprint).
const stateSources = "sources"

// sourcesFingerprint names what a run reads. A parent read otherwise (a
// scope narrowed to specific groups, or widened, since) cannot be carried
// on incrementally: its snapshot would keep what is no longer covered, or
// lack what now is.
func sourcesFingerprint(srcs []source) string {
	h := sha256.New()
	for _, s := range srcs {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\n", s.Name, s.ObjType, s.URL, strings.Join(s.Include, ","))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

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
	defer run.beats.keepAlive(ctx, run.saved)()
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
		run.p.Requests, run.p.Pages, run.p.BytesRead = before.Requests, before.Pages, before.BytesRead
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
	beats   heartbeats
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
	relations map[string]*refSet
	// lastRelation is the object whose relationship slice came last.
	lastRelation string
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
	r.relations = map[string]*refSet{}
	r.lastCP, r.cpObjs = time.Now(), p.Objects
	activity.GetLogger(ctx).Info("resuming backup", "source", p.Source, "pages", p.Pages)
	return nil
}

// start opens a writer on top of the latest snapshot of the scope; full
// forces a full read (no delta links, unseen objects removed).
func (r *scopeRun) start(ctx context.Context, full bool) error {
	r.relations = map[string]*refSet{}
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
	w.SetState(stateSources, sourcesFingerprint(r.sources))
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
	if fp := r.parent.State[stateSources]; fp != "" && fp != sourcesFingerprint(r.sources) {
		return true // the scope's settings changed
	}
	for _, s := range r.sources {
		if s.Delta && r.parent.State["delta."+s.Name] == "" {
			return true
		}
		if !s.Delta && s.LogTimeField == "" && s.Expand == "" {
			return true // plain lists are always read whole
		}
	}
	every := r.in.FullResyncEvery
	if every <= 0 {
		every = r.b.FullResyncEvery
	}
	if every > 0 {
		last, err := time.Parse(time.RFC3339, r.parent.State[stateLastFull])
		if err != nil || r.in.Time.Sub(last) >= every {
			return true
		}
	}
	return false
}

func (r *scopeRun) readAll(ctx context.Context) (BackupResult, error) {
	var ahead *prefetch
	defer func() { ahead.cancel() }()
	for ; r.p.Source < len(r.sources); r.p.Source++ {
		src := r.sources[r.p.Source]
		if r.p.Cursor == "" {
			r.p.Cursor = r.firstURL(src)
		}
		for r.p.Cursor != "" {
			var pg fetchedPage
			if ahead != nil && ahead.url == r.p.Cursor {
				pg = ahead.wait()
			} else {
				ahead.cancel()
				pg = r.fetchPage(ctx, src, r.p.Cursor)
			}
			ahead = nil
			r.p.Requests += pg.attempts
			r.p.BytesRead += pg.bytes
			if pg.err != nil {
				return BackupResult{}, pg.err
			}
			// Read the next page while this one is stored: Graph's
			// latency (and the simulator's rendering) overlaps hashing
			// and packing. Logs are paced, so they are read in turn.
			if pg.page.NextLink != "" && src.LogTimeField == "" {
				ahead = r.prefetch(ctx, src, pg.page.NextLink)
			}
			next, err := r.storePage(ctx, src, pg)
			if err != nil {
				return BackupResult{}, err
			}
			r.p.Cursor = next
			if err := r.maybeCheckpoint(ctx, false); err != nil {
				return BackupResult{}, err
			}
		}
		if err := r.flushRelations(ctx, src, false); err != nil {
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
		Changed: r.p.Changed, Removed: r.p.Removed, Pages: r.p.Pages, Requests: r.p.HTTPRequests, BytesRead: r.p.BytesRead,
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

// fetchedPage is one page read from Graph, parsed, not yet stored.
type fetchedPage struct {
	page     graphPage
	single   []member // a singleton's members
	bytes    int64    // the body's size
	attempts int
	err      error
}

// fetchPage reads and parses one page. It leaves the run's progress alone,
// so a prefetch may call it beside the goroutine storing pages.
func (r *scopeRun) fetchPage(ctx context.Context, src source, pageURL string) (pg fetchedPage) {
	pg.attempts, pg.err = r.fetch(ctx, pageURL, func(body []byte) (err error) {
		pg.bytes = int64(len(body))
		if src.Singleton {
			pg.single, err = splitObject(body)
			return err
		}
		pg.page, err = parsePage(body)
		return err
	})
	return pg
}

// prefetch is a page being read ahead on its own goroutine.
type prefetch struct {
	url  string
	done chan fetchedPage
	stop context.CancelFunc
}

func (r *scopeRun) prefetch(ctx context.Context, src source, pageURL string) *prefetch {
	ctx, stop := context.WithCancel(ctx)
	p := &prefetch{url: pageURL, done: make(chan fetchedPage, 1), stop: stop}
	go func() { p.done <- r.fetchPage(ctx, src, pageURL) }()
	return p
}

func (p *prefetch) wait() fetchedPage {
	defer p.stop()
	return <-p.done
}

// cancel abandons a prefetch (nil-safe) and waits for its goroutine.
func (p *prefetch) cancel() {
	if p != nil {
		p.stop()
		<-p.done
	}
}

// putItems stores each entry of a singleton's Items list as an object.
func (r *scopeRun) putItems(ctx context.Context, src source, single []member) error {
	raw, ok := find(single, src.Items)
	if src.Items == "" || !ok {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return fmt.Errorf("%s.%s: %w: %v", src.Name, src.Items, errMalformed, err)
	}
	for _, item := range items {
		ms, err := splitObject(item)
		if err != nil {
			return fmt.Errorf("%s.%s: %w: %v", src.Name, src.Items, errMalformed, err)
		}
		var id string
		if v, ok := find(ms, "id"); !ok || json.Unmarshal(v, &id) != nil || id == "" {
			return fmt.Errorf("%s.%s: item without id", src.Name, src.Items)
		}
		if err := r.put(ctx, src.ItemType, id, joinObject(ms)); err != nil {
			return err
		}
	}
	return nil
}

// storePage stores one fetched page and returns the next URL ("" when done).
func (r *scopeRun) storePage(ctx context.Context, src source, pg fetchedPage) (string, error) {
	page, single := pg.page, pg.single
	r.p.Pages++
	if src.Singleton {
		obj := joinObject(without(single, "@odata.context"))
		id := src.ObjType
		if v, ok := find(single, "id"); ok {
			_ = json.Unmarshal(v, &id)
		}
		if err := r.putItems(ctx, src, single); err != nil {
			return "", err
		}
		return "", r.put(ctx, src.ObjType, id, obj)
	}
	if src.Expand != "" {
		return page.NextLink, r.storeExpanded(ctx, src, page.Value)
	}
	var newest time.Time
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
		if src.LogTimeField != "" {
			at := recordTime(ms, src.LogTimeField)
			if at.After(newest) {
				newest = at
			}
			if err := r.put(ctx, src.ObjType, LogKey(at, id), raw); err != nil {
				return "", err
			}
			continue
		}
		if err := r.store(ctx, src, id, raw, ms); err != nil {
			return "", err
		}
	}
	if src.LogTimeField != "" && !newest.IsZero() {
		key := "watermark." + src.Name
		cur, err := time.Parse(time.RFC3339Nano, r.currentState(key))
		if err != nil || newest.After(cur) {
			r.w.SetState(key, newest.Format(time.RFC3339Nano))
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
		if err := r.readSubCollection(ctx, src, id); err != nil {
			return err
		}
	}
	for _, x := range src.Extras {
		if err := r.readExtra(ctx, x, id); err != nil {
			return err
		}
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
	types := []string{src.RelationType, src.SubRelationType}
	for _, x := range src.Extras {
		types = append(types, x.Type)
	}
	for _, rel := range types {
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

// applyInlineRelation folds a members@delta / manager@delta slice into
// the relationship object of id.
func (r *scopeRun) applyInlineRelation(ctx context.Context, src source, id string, raw []byte) error {
	refs := r.relations[id]
	if refs == nil {
		refs = newRefSet()
		// Start from what the snapshot holds so far: in a full read, only
		// what this run already wrote (an earlier slice of the same group).
		if prev, err := r.w.Open(ctx, src.RelationType, id); err == nil {
			if err := refs.addStored(prev); err != nil {
				return fmt.Errorf("stored %s of %s: %w", src.RelationType, id, err)
			}
		} else if !errors.Is(err, repository.ErrNotFound) {
			return err
		}
		r.relations[id] = refs
	}
	r.lastRelation = id
	if src.InlineRelation == "manager@delta" {
		// A user has one manager: manager@delta carries the current one,
		// or nothing (or an @removed entry) when it was removed.
		refs.clear()
	}
	if err := refs.add(raw); err != nil {
		return fmt.Errorf("%s of %s: %w: %v", src.InlineRelation, id, errMalformed, err)
	}
	return nil
}

// flushRelations writes the relationship objects touched by a source.
// keepOpen keeps the last one touched in memory: a large group's next
// members@delta slice, on the next page, then adds to it instead of
// reading back and parsing what was just written.
func (r *scopeRun) flushRelations(ctx context.Context, src source, keepOpen bool) error {
	if src.InlineRelation == "" {
		return nil
	}
	for _, id := range sortedKeys(r.relations) {
		refs := r.relations[id]
		if refs.len() == 0 {
			if err := r.w.Delete(ctx, src.RelationType, id); err != nil && !errors.Is(err, repository.ErrNotFound) {
				return err
			}
			continue
		}
		if err := r.putRefs(ctx, src.RelationType, id, refs); err != nil {
			return err
		}
	}
	open, ok := r.relations[r.lastRelation]
	r.relations = map[string]*refSet{}
	if keepOpen && ok {
		r.relations[r.lastRelation] = open
	}
	return nil
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
)

// fetch GETs url and hands the body to parse, retrying transient failures,
// and returns how many requests it made. A throttled request is retried no
// sooner than its Retry-After, so the run never retries early.
func (r *scopeRun) fetch(ctx context.Context, url string, parse func([]byte) error) (int, error) {
	wait := fetchBackoff
	for attempt := 1; ; attempt++ {
		if err := r.pace(ctx); err != nil {
			return attempt - 1, err
		}
		// Conditional access takes one request a second per tenant, with
		// 429s that say nothing of when to come back: wait for its turn.
		body, err := inTurn(ctx, r.in.TenantID, url, func() ([]byte, error) { return r.g.GetRaw(ctx, url) })
		if err == nil {
			if perr := parse(body); perr != nil {
				err = fmt.Errorf("%w: %v", errMalformed, perr)
			}
		}
		if err == nil || attempt == fetchAttempts || !transient(ctx, err) {
			return attempt, err
		}
		d, err := sleepAfter(ctx, err, &wait)
		r.stats.Add(0, 0, d)
		if err != nil {
			return attempt, err
		}
	}
}

// get is fetch for the goroutine storing pages: it counts the requests
// and the bytes read.
func (r *scopeRun) get(ctx context.Context, url string, parse func([]byte) error) error {
	n, err := r.fetch(ctx, url, func(body []byte) error {
		r.p.BytesRead += int64(len(body))
		return parse(body)
	})
	r.p.Requests += n
	return err
}

// pace waits, for activity logs, until the reports budget allows the next
// request. Other sources rely on Graph's 429s and Retry-After (their
// budgets are large and measured in resource units Graph alone knows), but
// conditional access, which takes turns (inTurn).
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
	var body []byte
	err := r.get(ctx, "/users/"+id+"/manager?$select=id", func(b []byte) error {
		body = b
		n := 0
		if err := eachRef(b, func(string, string, bool) { n++ }); err != nil || n != 1 {
			return errMalformed
		}
		return nil
	})
	switch {
	case GraphStatus(err) == 404:
		body = []byte(`[]`)
	case err != nil:
		return err
	}
	return r.applyInlineRelation(ctx, src, id, body)
}

// storeExpanded stores the expanded relationship of each listed object the
// snapshot holds. Objects it does not hold appeared or vanished since the
// delta round; the next round brings them.
func (r *scopeRun) storeExpanded(ctx context.Context, src source, items []json.RawMessage) error {
	for _, raw := range items {
		ms, err := splitObject(raw)
		if err != nil {
			return fmt.Errorf("%s: %w: %v", src.Name, errMalformed, err)
		}
		var id string
		if v, ok := find(ms, "id"); !ok || json.Unmarshal(v, &id) != nil || id == "" {
			return fmt.Errorf("%s: item without id in page", src.Name)
		}
		if len(src.Include) > 0 && !slices.Contains(src.Include, id) {
			continue
		}
		if held, err := r.w.Has(src.ObjType, id); err != nil {
			return err
		} else if !held {
			continue
		}
		refs := newRefSet()
		if v, ok := find(ms, src.Expand); ok {
			if err := refs.add(v); err != nil {
				return fmt.Errorf("%s: %w: %s of %s: %v", src.Name, errMalformed, src.Expand, id, err)
			}
		}
		if refs.len() >= expandCap {
			err = r.readSubCollection(ctx, src, id)
		} else {
			err = r.putRelation(ctx, src.SubRelationType, id, refs)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// putRelation stores a relationship read in full; an object without any
// is stored without a relationship object, as for inline ones.
func (r *scopeRun) putRelation(ctx context.Context, relType, id string, refs *refSet) error {
	if refs.len() == 0 {
		if held, err := r.w.Has(relType, id); err != nil || !held {
			return err
		}
		return r.w.Delete(ctx, relType, id)
	}
	return r.putRefs(ctx, relType, id, refs)
}

// putRefs stores a relationship list: whole, or in parts when large.
func (r *scopeRun) putRefs(ctx context.Context, relType, id string, refs *refSet) error {
	every := cmp.Or(r.b.PartRefs, defaultPartRefs)
	if !storedInParts(refs.len(), every) {
		return r.w.PutCanonical(ctx, relType, id, refs.encode())
	}
	return r.w.PutParts(ctx, relType, id, func(yield func([]byte) error) error {
		return refs.encodeParts(every, yield)
	})
}

// readSubCollection reads a per-object relationship in full.
func (r *scopeRun) readSubCollection(ctx context.Context, src source, id string) error {
	return r.readRefs(ctx, fmt.Sprintf(src.SubCollection, id), src.SubRelationType, id)
}

// readRefs reads a link list from its first page. An object without any
// links is stored without a relationship object, as for inline ones.
func (r *scopeRun) readRefs(ctx context.Context, next, relType, id string) error {
	refs := newRefSet()
	for next != "" {
		var page graphPage
		err := r.get(ctx, next, func(body []byte) (err error) {
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
			if err := refs.add(it); err != nil {
				return fmt.Errorf("%s of %s: %w: %v", relType, id, errMalformed, err)
			}
		}
		next = page.NextLink
	}
	return r.putRelation(ctx, relType, id, refs)
}

// readExtra reads one extra of object id. An object deleted since the
// page listing it has none: the next round reports the removal.
func (r *scopeRun) readExtra(ctx context.Context, x extra, id string) error {
	url := fmt.Sprintf(x.URL, id)
	if x.Refs {
		return r.readRefs(ctx, url, x.Type, id)
	}
	var items []json.RawMessage
	for url != "" {
		var page graphPage
		var one []member
		err := r.get(ctx, url, func(body []byte) (err error) {
			if x.Single {
				one, err = splitObject(body)
				return err
			}
			page, err = parsePage(body)
			return err
		})
		if GraphStatus(err) == 404 {
			return nil
		}
		if err != nil {
			return err
		}
		if x.Single {
			return r.w.Put(ctx, x.Type, id, joinObject(without(one, "@odata.context")))
		}
		items, url = append(items, page.Value...), page.NextLink
	}
	if len(items) == 0 {
		if held, err := r.w.Has(x.Type, id); err != nil || !held {
			return err
		}
		return r.w.Delete(ctx, x.Type, id)
	}
	return r.w.Put(ctx, x.Type, id, mustMarshal(map[string]any{"value": items}))
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
	if err := r.flushRelations(ctx, r.sources[r.p.Source], true); err != nil {
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
