package prodtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/entravault/entravault/internal/repository"
)

// simTruth is the part of the simulator's canonical state dump
// (GET /_sim/state) the users and groups scopes back up.
type simTruth struct {
	Lists         map[string]json.RawMessage `json:"-"`
	Relationships struct {
		GroupMembers map[string][]string `json:"groupMembers"`
		GroupOwners  map[string][]string `json:"groupOwners"`
		Managers     map[string]string   `json:"managers"`
	} `json:"relationships"`
}

func fetchGroundTruth(t *testing.T, simBase string) simTruth {
	t.Helper()
	resp, err := http.Get(simBase + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /_sim/state: %d %v", resp.StatusCode, err)
	}
	var gt simTruth
	if err := json.Unmarshal(raw, &gt); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &gt.Lists); err != nil {
		t.Fatal(err)
	}
	return gt
}

// objSet is object type → id → canonical JSON (or, for a relationship,
// the sorted ids it links to).
type objSet map[string]map[string]string

// canonicalJSON re-encodes JSON with sorted keys and exact numbers, the
// form the state dump uses.
func canonicalJSON(t testing.TB, raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("canonical: %v in %.200s", err, raw)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSpace(b.String())
}

func sortedIDs(ids []string) string {
	ids = append([]string(nil), ids...)
	sort.Strings(ids)
	return strings.Join(ids, ",")
}

func (o objSet) addList(t testing.TB, typ string, raw json.RawMessage) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	o[typ] = map[string]string{}
	for _, it := range list {
		var h struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(it, &h); err != nil {
			t.Fatal(err)
		}
		o[typ][h.ID] = canonicalJSON(t, it)
	}
}

func (o objSet) addRel(typ string, m map[string][]string) {
	o[typ] = map[string]string{}
	for id, ids := range m {
		o[typ][id] = sortedIDs(ids)
	}
}

// want is what a snapshot of scope must hold.
func (gt simTruth) want(t testing.TB, scope string) objSet {
	o := objSet{}
	switch scope {
	case "users":
		o.addList(t, "user", gt.Lists["users"])
		o["user.manager"] = map[string]string{}
		for u, m := range gt.Relationships.Managers {
			o["user.manager"][u] = m
		}
	case "groups":
		o.addList(t, "group", gt.Lists["groups"])
		o.addRel("group.members", gt.Relationships.GroupMembers)
		o.addRel("group.owners", gt.Relationships.GroupOwners)
	default:
		t.Fatalf("no ground truth for scope %s", scope)
	}
	return o
}

// storedObjects reads a snapshot back in the shape of want.
func storedObjects(t *testing.T, ctx context.Context, repo *repository.Repository, snap string) objSet {
	t.Helper()
	o := objSet{}
	err := repo.Walk(ctx, repository.SnapshotID(snap), func(typ, id string, raw []byte) error {
		if o[typ] == nil {
			o[typ] = map[string]string{}
		}
		if !strings.Contains(typ, ".") {
			o[typ][id] = canonicalJSON(t, raw)
			return nil
		}
		var rel struct {
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
		}
		if err := json.Unmarshal(raw, &rel); err != nil {
			return err
		}
		ids := make([]string, 0, len(rel.Value))
		for _, v := range rel.Value {
			ids = append(ids, v.ID)
		}
		o[typ][id] = sortedIDs(ids)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", snap, err)
	}
	// A manager link to a user the snapshot does not hold is dangling and
	// kept by design (restore ignores it while the manager is absent), as
	// activities' ground-truth tests compare.
	for u, m := range o["user.manager"] {
		if _, ok := o["user"][m]; !ok {
			delete(o["user.manager"], u)
		}
	}
	return o
}

// compareObjects reports every difference, a few per type.
func compareObjects(t *testing.T, scope string, want, got objSet) {
	t.Helper()
	types := map[string]bool{}
	for k := range want {
		types[k] = true
	}
	for k := range got {
		types[k] = true
	}
	for typ := range types {
		w, g := want[typ], got[typ]
		bad, missing, extra := 0, 0, 0
		for id, wv := range w {
			gv, ok := g[id]
			switch {
			case !ok:
				bad++
				missing++
				if bad <= 3 {
					t.Errorf("%s: %s %s missing", scope, typ, id)
				}
			case gv != wv:
				bad++
				if bad <= 3 {
					t.Errorf("%s: %s %s differs:\n got %.300s\nwant %.300s", scope, typ, id, gv, wv)
				}
			}
		}
		for id := range g {
			if _, ok := w[id]; !ok {
				bad++
				extra++
				if bad <= 3 {
					t.Errorf("%s: %s %s not in the tenant", scope, typ, id)
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %s: %d of %d wrong (%d missing, %d extra)", scope, typ, bad, len(w), missing, extra)
		}
	}
}
