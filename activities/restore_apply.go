package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/time/rate"

	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/restore"
)

// RestoreApplyInput applies a stored plan.
type RestoreApplyInput struct {
	ConnectorID string
	TenantID    string
	RestoreID   string
	Plan        string
	IDMap       string `json:",omitempty"` // as RestorePlanInput.IDMap
}

// RestoreApplyResult is the stored report and its counts. A cancelled
// apply returns it as the details of its CanceledError.
type RestoreApplyResult struct {
	Report  string         `json:"report"`
	Counts  restore.Counts `json:"counts"`
	Writes  int            `json:"writes"`
	Created int            `json:"created"` // id map entries this apply added
}

// applyProgress is the heartbeat: the report's checkpoint, the key of the
// last action it holds and the counts up to it. Actions after it are
// applied again on a retry; each re-checks the tenant first, so none is
// done twice. Live is where the apply is now, for the API only: a resume
// must not start after actions its checkpoint (and id map) lacks.
type applyProgress struct {
	Checkpoint *repository.Checkpoint `json:"checkpoint,omitempty"`
	Last       string                 `json:"last,omitempty"`
	Counts     restore.Counts         `json:"counts"`
	Writes     int                    `json:"writes"`
	Created    int                    `json:"created"`
	Total      int                    `json:"total"`
	Live       *ApplyProgress         `json:"live,omitempty"`
}

// ApplyProgress is what GET …/restores/{rid} shows while applying.
type ApplyProgress struct {
	Done   int `json:"done"`
	Total  int `json:"total"`
	Writes int `json:"writes"`
}

// Progress summarises a heartbeat for the API.
func (p applyProgress) Progress() ApplyProgress {
	done := 0
	for _, n := range p.Counts.ByOutcome {
		done += n
	}
	return ApplyProgress{Done: done, Total: p.Total, Writes: p.Writes}
}

// ReadApplyProgress decodes an apply activity's heartbeat details.
func ReadApplyProgress(decode func(any) error) (ApplyProgress, bool) {
	var p applyProgress
	if err := decode(&p); err != nil || p.Total == 0 {
		return ApplyProgress{}, false
	}
	if p.Live != nil {
		return *p.Live, true
	}
	return p.Progress(), true
}

// heartbeat sends the last checkpoint's resume point with the live counts.
func (r *applyRun) heartbeat(ctx context.Context) {
	hb := r.resumeAt
	live := r.p.Progress()
	hb.Live, hb.Total = &live, r.p.Total
	r.beats.record(ctx, hb)
}

// ApplyRestore carries out a plan action by action, in key order, writing
// each outcome to the report.
func (a *Restore) ApplyRestore(ctx context.Context, in RestoreApplyInput) (RestoreApplyResult, error) {
	writer := a.Writer
	if writer == nil {
		writer = a.Graph
	}
	// A new token: a consent granted since the last one must show.
	g, err := writer.Renew(ctx, in.TenantID)
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) {
			return RestoreApplyResult{}, nonRetryable(ErrTypeForbidden, "the restore application cannot sign in to the tenant: has an administrator consented to it?", err)
		}
		return RestoreApplyResult{}, err
	}
	gw, ok := g.(GraphWriter)
	if !ok {
		return RestoreApplyResult{}, nonRetryable(ErrTypeBadInput, "this deployment's Graph client cannot write", nil)
	}
	idmap, _, err := loadIDMap(ctx, a.Repo, cmp.Or(in.IDMap, in.TenantID))
	if err != nil {
		return RestoreApplyResult{}, err
	}
	plan, err := a.Repo.Snapshot(ctx, repository.SnapshotID(in.Plan))
	if err != nil {
		return RestoreApplyResult{}, nonRetryable(ErrTypeBadInput, "the restore plan is gone", err)
	}
	run := &applyRun{Restore: a, in: in, g: gw, idmap: idmap, created: map[string]string{}, pace: a.pacers.get(in.TenantID, a.writesPerSecond())}
	run.p.Total = plan.Counts[restore.ActionType]
	if err := run.open(ctx); err != nil {
		return RestoreApplyResult{}, err
	}
	defer run.w.Abort()
	defer run.beats.keepAlive(ctx, run.resumeAt)()
	var batch []keyed
	err = a.Repo.Scan(ctx, plan.ID, restore.ActionType, restore.ActionType, run.p.Last, func(_, key string, load func() ([]byte, error)) error {
		act, err := loadAction(key, load)
		if err != nil {
			return err
		}
		if len(batch) > 0 && (len(batch) == applyParallel || phaseOf(batch[0].key) != phaseOf(key)) {
			if err := run.applyBatch(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		batch = append(batch, keyed{key, act})
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = run.applyBatch(ctx, batch)
	}
	cancelled := ctx.Err() != nil
	if err != nil && !cancelled {
		return RestoreApplyResult{}, err
	}
	// Cancelled or done: keep what was applied, with its report.
	res, cerr := run.finish(context.WithoutCancel(ctx))
	if cerr != nil {
		return res, cerr
	}
	if cancelled {
		return res, temporal.NewCanceledError(res)
	}
	return res, nil
}

type applyRun struct {
	*Restore
	beats   heartbeats
	in      RestoreApplyInput
	g       GraphWriter
	idmap   *restore.IDMap
	created map[string]string // id map entries not yet saved
	pace    *rate.Limiter
	w       *repository.Writer
	p       applyProgress
	saved   time.Time // when the last checkpoint was taken
	// resumeAt is the progress as of the last checkpoint: what a retry
	// resumes from, and what heartbeats carry.
	resumeAt applyProgress
	// fresh are objects this attempt created: Entra may not see them for
	// a while, so links to them are retried.
	fresh map[string]time.Time
	mu    sync.Mutex // guards created and fresh: a batch applies concurrently
}

func (r *Restore) writesPerSecond() float64 {
	if r.WritesPerSecond > 0 {
		return r.WritesPerSecond
	}
	return 19.5
}

// open resumes the report from the last heartbeat or starts it.
func (r *applyRun) open(ctx context.Context) error {
	r.saved, r.fresh = time.Now(), map[string]time.Time{}
	if activity.HasHeartbeatDetails(ctx) {
		var p applyProgress
		if err := activity.GetHeartbeatDetails(ctx, &p); err == nil && p.Checkpoint != nil {
			w, err := r.Repo.ResumeWriter(ctx, *p.Checkpoint)
			if err == nil {
				p.Live = nil
				r.w, r.p, r.resumeAt = w, p, p
				return nil
			}
			activity.GetLogger(ctx).Warn("restore report checkpoint lost; applying again from the start", "error", err)
		}
	}
	w, err := r.Repo.NewWriter(ctx, repository.WriterOptions{Connector: restore.Namespace(r.in.ConnectorID), Scope: restore.ReportScope(r.in.RestoreID), Full: true})
	if err != nil {
		return err
	}
	r.w, r.p = w, applyProgress{Total: r.p.Total}
	r.resumeAt = r.p
	return nil
}

// applyParallel actions of one phase are applied at once: they touch
// different objects, and waiting for one Graph answer at a time would
// leave most of the write budget unused. They share the tenant's pacer.
const applyParallel = 8

// keyed is a plan action and its key.
type keyed struct {
	key string
	act restore.Action
}

// phaseOf is the apply phase in an action key ("20-000000007" → "20").
func phaseOf(key string) string { return key[:min(2, len(key))] }

func loadAction(key string, load func() ([]byte, error)) (restore.Action, error) {
	var act restore.Action
	raw, err := load()
	if err != nil {
		return act, err
	}
	if err := json.Unmarshal(raw, &act); err != nil {
		return act, fmt.Errorf("plan action %s: %w", key, err)
	}
	return act, nil
}

// applyBatch applies actions of one phase concurrently, then records their
// outcomes in key order. On an error it records the actions before it;
// those after it were applied or not, and a retry's prechecks tell.
func (r *applyRun) applyBatch(ctx context.Context, batch []keyed) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	errs := make([]error, len(batch))
	var wg sync.WaitGroup
	for i := range batch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.apply(ctx, &batch[i].act)
		}()
	}
	wg.Wait()
	for i, k := range batch {
		if errs[i] != nil {
			return errs[i]
		}
		if err := r.record(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// record writes one applied action to the report and heartbeats.
func (r *applyRun) record(ctx context.Context, k keyed) error {
	r.p.Counts.Add(k.act)
	r.p.Writes += k.act.Writes
	r.p.Last = k.key
	if err := r.w.Put(ctx, restore.ActionType, k.key, mustMarshal(k.act)); err != nil {
		return err
	}
	if time.Since(r.saved) >= r.checkpointEvery() {
		return r.checkpoint(ctx)
	}
	r.heartbeat(ctx)
	return nil
}

func (r *applyRun) checkpointEvery() time.Duration {
	if r.CheckpointEvery > 0 {
		return r.CheckpointEvery
	}
	return 10 * time.Second
}

// checkpoint saves new id map entries, then the report, then heartbeats:
// a retry never sees a report whose re-created objects it cannot map.
func (r *applyRun) checkpoint(ctx context.Context) error {
	if err := r.saveIDs(ctx); err != nil {
		return err
	}
	cp, err := r.w.Checkpoint(ctx)
	if err != nil {
		return err
	}
	r.p.Checkpoint, r.saved = &cp, time.Now()
	r.resumeAt = r.p
	r.resumeAt.Live = nil
	r.heartbeat(ctx)
	return nil
}

func (r *applyRun) saveIDs(ctx context.Context) error {
	if err := saveIDMap(ctx, r.Repo, cmp.Or(r.in.IDMap, r.in.TenantID), r.created); err != nil {
		return fmt.Errorf("save the id map: %w", err)
	}
	r.p.Created += len(r.created)
	clear(r.created)
	return nil
}

func (r *applyRun) finish(ctx context.Context) (RestoreApplyResult, error) {
	if err := r.saveIDs(ctx); err != nil {
		return RestoreApplyResult{}, err
	}
	info, err := r.w.Commit(ctx)
	if err != nil {
		return RestoreApplyResult{}, err
	}
	return RestoreApplyResult{Report: string(info.ID), Counts: r.p.Counts, Writes: r.p.Writes, Created: r.p.Created}, nil
}

// pacers hold one write limiter per tenant, shared by every apply on this
// worker, so concurrent restores of one tenant share its budget.
type pacers struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func (p *pacers) get(tenantID string, perSecond float64) *rate.Limiter {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]*rate.Limiter{}
	}
	l, ok := p.m[tenantID]
	if !ok {
		l = rate.NewLimiter(rate.Limit(perSecond), 1)
		p.m[tenantID] = l
	}
	return l
}

var errChanged = errors.New("changed since plan")
