package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/entravault/entravault/internal/restore"
)

// addChild creates a federated credential, app role assignment or
// delegated grant, unless the tenant holds one with its key already: a
// retried action writes nothing twice. Its ids (owner, principal, client)
// go through the id map.
func (r *applyRun) addChild(ctx context.Context, a *restore.Action) error {
	c := restore.Children[a.Type]
	var snap map[string]any
	if err := json.Unmarshal(a.Object, &snap); err != nil {
		return fmt.Errorf("%s: %w", a.Type, err)
	}
	body := restore.RemapIDs(snap, r.idmap).(map[string]any)
	coll := r.childCollection(c, a.Owner)
	list := coll + "?$top=999"
	if client, _ := body["clientId"].(string); c.Owner == "" && client != "" {
		list = coll + "?$filter=" + queryEscape(fmt.Sprintf("clientId eq '%s'", client))
	}
	exists, err := r.hasChild(ctx, a, c, list, body)
	if err != nil || exists {
		if exists {
			a.Outcome = restore.AlreadyDone
		}
		return err
	}
	ids := []string{r.idmap.Resolve(a.Owner)}
	for _, v := range body {
		if s, ok := v.(string); ok {
			ids = append(ids, s)
		}
	}
	err = r.post(ctx, a, coll, body, ids...)
	switch {
	case err == nil:
		a.Outcome = restore.Succeeded
	case alreadyThere(err): // an earlier attempt's create went through
		a.Outcome, err = restore.AlreadyDone, nil
	}
	return err
}

// childCollection is where a child of owner (a snapshot id) lives.
func (r *applyRun) childCollection(c *restore.Child, owner string) string {
	if c.Owner == "" {
		return c.Path
	}
	return r.objectURL(c.Owner, owner) + "/" + c.Path
}

// actionURL is the object an action writes: a child under its owner.
func (r *applyRun) actionURL(a *restore.Action) string {
	if c := restore.Children[a.Type]; c != nil {
		return r.childCollection(c, a.Owner) + "/" + graphPath("%s", a.ID)
	}
	return r.objectURL(a.Type, a.ID)
}

// hasChild reports whether the collection, read from list page by page,
// holds an item with body's key.
func (r *applyRun) hasChild(ctx context.Context, a *restore.Action, c *restore.Child, list string, body map[string]any) (bool, error) {
	want := c.KeyOf(body)
	for next := list; next != ""; {
		var page struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"@odata.nextLink"`
		}
		if err := r.getJSON(ctx, a, next, &page); err != nil {
			return false, err
		}
		for _, o := range page.Value {
			if c.KeyOf(o) == want {
				return true, nil
			}
		}
		next = page.NextLink
	}
	return false, nil
}
