package activities

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/entravault/entravault/internal/restore"
)

// apply carries out one action and sets its outcome. It returns an error
// only for what stops the whole apply (cancellation, storage, revoked
// consent); Graph refusing one action is that action's outcome.
func (r *applyRun) apply(ctx context.Context, a *restore.Action) error {
	var err error
	switch a.Kind {
	case restore.Skip:
		a.Outcome = restore.Skipped
		return nil
	case restore.Undelete:
		err = r.undelete(ctx, a)
	case restore.Recreate:
		err = r.recreate(ctx, a)
	case restore.Revert:
		err = r.revert(ctx, a)
	case restore.AddLinks:
		err = r.addLinks(ctx, a)
	case restore.RemoveLinks:
		err = r.removeLinks(ctx, a)
	case restore.AddChild:
		err = r.addChild(ctx, a)
	case restore.RemoveChild:
		err = r.deleteIfPresent(ctx, a, r.actionURL(a))
	case restore.AddRole:
		err = r.addRole(ctx, a)
	case restore.RemoveRole:
		err = r.removeRole(ctx, a)
	case restore.DeleteAdded:
		err = r.deleteAdded(ctx, a)
	default:
		err = fmt.Errorf("unknown action kind %q", a.Kind)
	}
	return r.settle(a, err)
}

// settle turns an action's error into its outcome, or into the apply's
// error when no later action could succeed either.
func (r *applyRun) settle(a *restore.Action, err error) error {
	var ge *GraphError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errChanged):
		a.Outcome, a.Note = restore.ChangedSincePlan, strings.TrimPrefix(err.Error(), errChanged.Error()+": ")
		return nil
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &ge) && (ge.Status == 401 || ge.Status == 403):
		return nonRetryable(ErrTypeForbidden, "Graph refused a restore write ("+ge.Code+"): the tenant has not granted the restore permissions, or consent was revoked", err)
	case errors.As(err, &ge) && (ge.Status == 429 || ge.Status >= 500):
		return err // the activity retries, no sooner than Retry-After
	}
	a.Outcome, a.Error = restore.Failed, err.Error()
	return nil
}

// Retries of one Graph call inside an action.
const (
	callAttempts = 6
	callBackoff  = 500 * time.Millisecond
	retryMaxWait = 60 * time.Second
)

// call sends one request, pacing writes to the tenant's budget and
// retrying throttling and transient failures no sooner than Retry-After.
// Only idempotent requests go through it; creates re-check first.
func (r *applyRun) call(ctx context.Context, a *restore.Action, method, url string, body any) ([]byte, error) {
	wait := callBackoff
	for attempt := 1; ; attempt++ {
		if method != http.MethodGet {
			if err := r.pace.Wait(ctx); err != nil {
				return nil, err
			}
			a.Writes++
		}
		b, err := r.send(ctx, method, url, body)
		if err == nil || attempt == callAttempts || !transient(ctx, err) {
			return b, err
		}
		if _, err := sleepAfter(ctx, err, &wait); err != nil {
			return nil, err
		}
	}
}

// getJSON GETs url into v, retrying a body that does not parse (a
// truncated response) like any transient failure.
func (r *applyRun) getJSON(ctx context.Context, a *restore.Action, url string, v any) error {
	wait := callBackoff
	for attempt := 1; ; attempt++ {
		b, err := r.call(ctx, a, http.MethodGet, url, nil)
		if err == nil {
			if err = json.Unmarshal(b, v); err == nil {
				return nil
			}
			err = fmt.Errorf("%w: %v", errMalformed, err)
		}
		if attempt == callAttempts || !transient(ctx, err) {
			return err
		}
		if _, err := sleepAfter(ctx, err, &wait); err != nil {
			return err
		}
	}
}

// sleepAfter waits before a retry, the backoff or Retry-After if longer,
// and doubles the backoff. It returns how long it waited.
func sleepAfter(ctx context.Context, err error, wait *time.Duration) (time.Duration, error) {
	d := *wait
	var ge *GraphError
	if errors.As(err, &ge) && ge.RetryAfter > d {
		d = ge.RetryAfter
	}
	activity.GetLogger(ctx).Warn("retrying Graph request", "wait", d, "error", err)
	*wait = min(2**wait, retryMaxWait)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return d, ctx.Err()
	case <-t.C:
		return d, nil
	}
}

func notFound(err error) bool { return GraphStatus(err) == http.StatusNotFound }

// alreadyThere: Graph refuses a reference that exists already.
func alreadyThere(err error) bool {
	var ge *GraphError
	return errors.As(err, &ge) && ge.Status == http.StatusBadRequest && strings.Contains(ge.Message, "already exist")
}

// notVisibleYet: Entra is eventually consistent; a just-created object can
// be missing from a link request for a while.
func notVisibleYet(err error) bool {
	var ge *GraphError
	return errors.As(err, &ge) && (ge.Status == http.StatusNotFound ||
		ge.Status == http.StatusBadRequest && strings.Contains(ge.Message, "do not exist"))
}

func (r *applyRun) objectURL(typ, id string) string {
	kind := restore.Kinds[typ]
	if kind.Singleton {
		return kind.Path
	}
	if kind.Fixed {
		return kind.Path + "/" + graphPath("%s", id)
	}
	return kind.Path + "/" + graphPath("%s", r.idmap.Resolve(id))
}

// undelete restores an object from the recycle bin.
func (r *applyRun) undelete(ctx context.Context, a *restore.Action) error {
	if _, err := r.call(ctx, a, http.MethodGet, r.objectURL(a.Type, a.ID)+"?$select=id", nil); err == nil {
		a.Outcome = restore.AlreadyDone
		return nil
	} else if !notFound(err) {
		return err
	}
	_, err := r.call(ctx, a, http.MethodPost, graphPath("/directory/deletedItems/%s/restore", r.idmap.Resolve(a.ID)), nil)
	if notFound(err) {
		return fmt.Errorf("%w: no longer in the recycle bin", errChanged)
	}
	if err == nil {
		a.Outcome = restore.Succeeded
	}
	return err
}

// recreate creates an object gone for good, unless an earlier attempt
// already did: it looks the object up by its id map entry and natural key
// before every create.
func (r *applyRun) recreate(ctx context.Context, a *restore.Action) error {
	kind := restore.Kinds[a.Type]
	var body map[string]any
	if err := json.Unmarshal(a.Object, &body); err != nil {
		return fmt.Errorf("recreate body: %w", err)
	}
	wait := callBackoff
	for attempt := 1; ; attempt++ {
		found, err := r.findExisting(ctx, a, kind, body)
		if err != nil {
			return err
		}
		if found.ID != "" {
			r.mapID(a, found)
			a.Outcome = restore.AlreadyDone
			return nil
		}
		created, err := r.create(ctx, a, kind, body)
		if err == nil {
			r.mapID(a, created)
			a.Outcome = restore.Succeeded
			return nil
		}
		if attempt == callAttempts || !transient(ctx, err) {
			return err
		}
		if _, err := sleepAfter(ctx, err, &wait); err != nil {
			return err
		}
	}
}

// liveObject is a re-created object as Graph answers it: its id and, for
// an application, its appId.
type liveObject struct {
	ID    string `json:"id"`
	AppID string `json:"appId"`
}

// mapID records the new ids of a re-created object: its own, and its
// second id (an application's appId) when it has one.
func (r *applyRun) mapID(a *restore.Action, o liveObject) {
	a.NewID = o.ID
	r.mu.Lock()
	defer r.mu.Unlock()
	for old, n := range map[string]string{a.ID: o.ID, a.AltID: o.AppID} {
		if old != "" && n != "" && old != n {
			r.idmap.Set(old, n)
			r.created[old] = n
		}
	}
	r.fresh[o.ID] = time.Now()
}

// selectIDs asks Graph for what mapID records.
func selectIDs(kind *restore.Kind) string {
	if kind.AltID != "" {
		return "$select=id," + kind.AltID
	}
	return "$select=id"
}

// findExisting is the object a re-create would make, if it is live
// already: through the id map, else by natural key (itself mapped: a
// service principal's appId may be one this apply created).
func (r *applyRun) findExisting(ctx context.Context, a *restore.Action, kind *restore.Kind, body map[string]any) (liveObject, error) {
	var found liveObject
	if mapped := r.idmap.Resolve(a.ID); mapped != a.ID {
		err := r.getJSON(ctx, a, kind.Path+"/"+graphPath("%s", mapped)+"?"+selectIDs(kind), &found)
		if err == nil || !notFound(err) {
			return found, err
		}
	}
	natural := kind.NaturalKey
	if natural == "" {
		natural = "displayName"
	}
	key, _ := body[natural].(string)
	key = r.idmap.Resolve(key)
	filter := fmt.Sprintf("%s eq '%s'", natural, strings.ReplaceAll(key, "'", "''"))
	var page struct {
		Value []liveObject `json:"value"`
	}
	if err := r.getJSON(ctx, a, kind.Path+"?"+selectIDs(kind)+"&$filter="+queryEscape(filter), &page); err != nil {
		return found, err
	}
	switch len(page.Value) {
	case 0:
		return found, nil
	case 1:
		return page.Value[0], nil
	}
	return found, fmt.Errorf("%w: %d live objects have %s %q", errChanged, len(page.Value), natural, key)
}

// create POSTs the object once; a user gets a random password that is
// never stored, logged or returned.
func (r *applyRun) create(ctx context.Context, a *restore.Action, kind *restore.Kind, body map[string]any) (liveObject, error) {
	var obj liveObject
	if a.Type == "user" {
		body = cloneMap(body)
		body["passwordProfile"] = map[string]any{"password": randomPassword(), "forceChangePasswordNextSignIn": true}
	}
	if err := r.pace.Wait(ctx); err != nil {
		return obj, err
	}
	a.Writes++
	// Ids created earlier in this apply (a group, a named location, an
	// application's appId).
	b, err := r.send(ctx, http.MethodPost, kind.Path, restore.RemapIDs(body, r.idmap))
	if err != nil {
		return obj, err
	}
	if err := json.Unmarshal(b, &obj); err != nil || obj.ID == "" {
		return obj, fmt.Errorf("create %s: no id in Graph's answer", a.Type)
	}
	return obj, nil
}

// revert PATCHes back the properties still as planned; if any property
// moved on since the plan, the object is left alone.
func (r *applyRun) revert(ctx context.Context, a *restore.Action) error {
	names := make([]string, len(a.Properties))
	for i, p := range a.Properties {
		names[i] = p.Name
	}
	var live map[string]any
	err := r.getJSON(ctx, a, r.actionURL(a)+"?$select="+strings.Join(names, ","), &live)
	if notFound(err) {
		return fmt.Errorf("%w: the object no longer exists", errChanged)
	}
	if err != nil {
		return err
	}
	patch := map[string]any{}
	for _, p := range a.Properties {
		now := mustMarshal(live[p.Name])
		var v any
		_ = json.Unmarshal(p.After, &v)
		after := mustMarshal(restore.RemapIDs(v, r.idmap)) // ids created earlier in this apply
		switch {
		case jsonEqual(now, after):
		case jsonEqual(now, p.Before):
			patch[p.Name] = json.RawMessage(after)
		default:
			return fmt.Errorf("%w: %s is now %s", errChanged, p.Name, now)
		}
	}
	if len(patch) == 0 {
		a.Outcome = restore.AlreadyDone
		return nil
	}
	if k := restore.Kinds[a.Type]; k != nil && k.TypedPatch { // children are not kinds
		patch["@odata.type"] = live["@odata.type"]
	}
	if _, err := r.call(ctx, a, http.MethodPatch, r.actionURL(a), patch); err != nil {
		return err
	}
	a.Outcome = restore.Succeeded
	return nil
}

func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(mustMarshal(va), mustMarshal(vb))
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// randomPassword meets Entra's complexity rules: 24 random characters
// from four classes.
func randomPassword() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return "Ev1!" + base64.RawURLEncoding.EncodeToString(b[:])
}
