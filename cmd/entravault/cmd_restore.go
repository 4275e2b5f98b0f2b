package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/workflows"
)

const restoreUsage = `usage: entravault restore <command> --connector ID [flags] [args]

  plan                 plan a restore and show it [--at T | --snapshot SID ...] [--type T ...] [--id OID ...]
                       [--no-undelete] [--no-recreate] [--no-properties] [--no-links]
                       [--remove-extra-links] [--remove-added] [--apply: plan, then apply at once]
  apply RESTORE        apply a planned restore, with a progress bar until it ends
  status RESTORE       status, counts per action kind and outcome, id map
  actions RESTORE      actions in apply order, with outcomes once applied [--kind K] [--outcome O] [--limit N]
  cancel RESTORE       cancel; what was applied stays and is reported

Common flags (also ENTRAVAULT_<FLAG>, e.g. ENTRAVAULT_API_KEY):
  --api URL          the Entravault API (default http://127.0.0.1:8080)
  --api-key KEY      API key or OIDC access token
  --connector ID     the connector to restore into
  --output FORMAT    table or json (default table)
`

// cmdRestore plans and applies restores through the REST API.
func cmdRestore(ctx context.Context, args []string) error {
	return runRestore(ctx, args, os.Stdout, os.Stderr)
}

type restoreCmd struct {
	api            *apiClient
	connector      string
	output         string
	req            api.CreateRestoreRequest
	kind, outcome  string
	limit          int
	stdout, stderr io.Writer
	progress       bool
	positional     []string
}

// listFlag is a repeatable flag; commas separate values too.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if askedForHelp(args, restoreUsage, stderr) {
		return flag.ErrHelp
	}
	sub := args[0]
	run, ok := map[string]struct {
		fn    func(*restoreCmd, context.Context) error
		nargs int
	}{
		"plan": {(*restoreCmd).plan, 0}, "apply": {(*restoreCmd).apply, 1}, "status": {(*restoreCmd).status, 1},
		"actions": {(*restoreCmd).actions, 1}, "cancel": {(*restoreCmd).cancel, 1},
	}[sub]
	if !ok {
		fmt.Fprintf(stderr, "unknown restore command %q\n\n%s", sub, restoreUsage)
		return flag.ErrHelp
	}
	c := &restoreCmd{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("restore "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, restoreUsage) }
	apiURL := fs.String("api", "http://127.0.0.1:8080", "Entravault API base URL")
	key := fs.String("api-key", "", "API key or OIDC access token")
	fs.StringVar(&c.connector, "connector", "", "connector id (c-…)")
	fs.StringVar(&c.output, "output", "table", "table or json")
	at := fs.String("at", "", "plan: restore to this time (RFC 3339): per scope the newest snapshot at or before it")
	var snapshots, types, ids listFlag
	fs.Var(&snapshots, "snapshot", "plan: restore from this snapshot (repeatable, one per scope)")
	fs.Var(&types, "type", "plan: only these object types (user, group, administrativeUnit, roleAssignment)")
	fs.Var(&ids, "id", "plan: only these object ids")
	opts := restore.DefaultOptions()
	noUndelete, noRecreate, noProps, noLinks := fs.Bool("no-undelete", false, "plan: do not undelete"), fs.Bool("no-recreate", false, "plan: do not re-create"),
		fs.Bool("no-properties", false, "plan: do not revert properties"), fs.Bool("no-links", false, "plan: do not restore links")
	fs.BoolVar(&opts.RemoveExtraLinks, "remove-extra-links", false, "plan: remove links added since the snapshot")
	fs.BoolVar(&opts.RemoveAdded, "remove-added", false, "plan: soft-delete objects created since the snapshot")
	fs.BoolVar(&c.req.Apply, "apply", false, "plan: apply at once")
	fs.StringVar(&c.kind, "kind", "", "actions: only this kind")
	fs.StringVar(&c.outcome, "outcome", "", "actions: only this outcome")
	fs.IntVar(&c.limit, "limit", 0, "actions: at most N rows (0: all)")
	var err error
	if c.positional, err = parseClientArgs(fs, args[1:], sub, run.nargs, &c.connector, &c.output, restoreUsage, stderr); err != nil {
		return err
	}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return fmt.Errorf("--at: %w", err)
		}
		c.req.At = &t
	}
	opts.Undelete, opts.Recreate, opts.Properties, opts.Links = !*noUndelete, !*noRecreate, !*noProps, !*noLinks
	c.req.Options, c.req.Snapshots = &opts, snapshots
	if len(types) > 0 || len(ids) > 0 {
		c.req.Select = &restore.Selection{Types: types, IDs: ids}
	}
	if c.api, err = newAPIClient(*apiURL, *key); err != nil {
		return err
	}
	c.progress = isTerminal(stderr)
	return run.fn(c, ctx)
}

func (c *restoreCmd) path(p string) string {
	return "/api/v1/connectors/" + url.PathEscape(c.connector) + "/restores" + p
}

// plan starts a restore and waits for its plan (or, with --apply, its end).
func (c *restoreCmd) plan(ctx context.Context) error {
	var started struct {
		ID string `json:"id"`
	}
	if err := c.api.call(ctx, http.MethodPost, c.path(""), c.req, &started); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "restore %s: planning\n", started.ID)
	c.positional = []string{started.ID}
	v, err := c.follow(ctx, started.ID, workflows.RestorePlanned)
	if err != nil {
		return err
	}
	return c.show(v)
}

func (c *restoreCmd) apply(ctx context.Context) error {
	rid := c.positional[0]
	if err := c.api.call(ctx, http.MethodPost, c.path("/"+url.PathEscape(rid)+"/apply"), nil, nil); err != nil {
		return err
	}
	v, err := c.follow(ctx, rid)
	if err != nil {
		return err
	}
	return c.show(v)
}

func (c *restoreCmd) cancel(ctx context.Context) error {
	var v api.RestoreView
	if err := c.api.call(ctx, http.MethodPost, c.path("/"+url.PathEscape(c.positional[0])+"/cancel"), nil, &v); err != nil {
		return err
	}
	return c.show(v)
}

func (c *restoreCmd) status(ctx context.Context) error {
	var v api.RestoreView
	if err := c.api.get(ctx, c.path("/"+url.PathEscape(c.positional[0])), &v); err != nil {
		return err
	}
	return c.show(v)
}

// follow polls a restore until it stops at one of stop or ends, drawing
// a progress bar while it applies.
func (c *restoreCmd) follow(ctx context.Context, rid string, stop ...workflows.RestoreStatus) (api.RestoreView, error) {
	ended := []workflows.RestoreStatus{workflows.RestoreSucceeded, workflows.RestorePartiallySucceeded, workflows.RestoreFailed, workflows.RestoreCancelled}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		var v api.RestoreView
		if err := c.api.get(ctx, c.path("/"+url.PathEscape(rid)), &v); err != nil {
			return v, err
		}
		if p := v.Progress; c.progress && p != nil {
			fmt.Fprintf(c.stderr, "\r%s", applyBar(p.Done, p.Total, p.Writes))
		}
		for _, st := range append(stop, ended...) {
			if v.Status == st {
				if c.progress {
					fmt.Fprintln(c.stderr)
				}
				return v, nil
			}
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-tick.C:
		}
	}
}

func applyBar(done, total, writes int) string {
	const width = 30
	filled := 0
	if total > 0 {
		filled = min(width, done*width/total)
	}
	return fmt.Sprintf("applying [%s%s] %d/%d actions, %d writes", strings.Repeat("#", filled), strings.Repeat(" ", width-filled), done, total, writes)
}

func (c *restoreCmd) show(v api.RestoreView) error {
	if c.output == "json" {
		return (&snapshotsCmd{stdout: c.stdout}).printJSON(v)
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "RESTORE\t%s\nSTATUS\t%s\nCREATED\t%s\n", v.ID, v.Status, v.CreatedAt.Format(time.RFC3339))
	if v.Error != "" {
		fmt.Fprintf(tw, "ERROR\t%s\n", v.Error)
	}
	fmt.Fprintln(tw, "\nACTION\tPLANNED")
	for _, k := range restore.ActionKinds {
		if n := v.Planned.ByKind[k]; n > 0 {
			fmt.Fprintf(tw, "%s\t%d\n", k, n)
		}
	}
	if len(v.Applied.ByOutcome) > 0 {
		fmt.Fprintln(tw, "\nOUTCOME\tACTIONS")
		for _, o := range restore.Outcomes {
			fmt.Fprintf(tw, "%s\t%d\n", o, v.Applied.ByOutcome[o])
		}
		fmt.Fprintf(tw, "writes\t%d\n", v.Writes)
	}
	if len(v.IDMap) > 0 {
		fmt.Fprintln(tw, "\nOLD ID\tNEW ID")
		for _, old := range sortedKeys(v.IDMap) {
			fmt.Fprintf(tw, "%s\t%s\n", old, v.IDMap[old])
		}
	}
	return tw.Flush()
}

func (c *restoreCmd) actions(ctx context.Context) error {
	out := api.ActionPage{Actions: []restore.Action{}}
	q := url.Values{}
	if c.kind != "" {
		q.Set("kind", c.kind)
	}
	if c.outcome != "" {
		q.Set("outcome", c.outcome)
	}
	for {
		q.Set("limit", "1000")
		var page api.ActionPage
		if err := c.api.get(ctx, c.path("/"+url.PathEscape(c.positional[0])+"/actions?"+q.Encode()), &page); err != nil {
			return err
		}
		out.Actions = append(out.Actions, page.Actions...)
		if page.NextCursor == "" || c.limit > 0 && len(out.Actions) >= c.limit {
			break
		}
		q.Set("cursor", page.NextCursor)
	}
	if c.limit > 0 && len(out.Actions) > c.limit {
		out.Actions = out.Actions[:c.limit]
	}
	if c.output == "json" {
		return (&snapshotsCmd{stdout: c.stdout}).printJSON(out)
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tTYPE\tID\tNAME\tWHAT\tOUTCOME")
	for _, a := range out.Actions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Kind, a.Type, a.ID, a.Name, actionSummary(a), outcomeText(a))
	}
	return tw.Flush()
}

func actionSummary(a restore.Action) string {
	var parts []string
	for _, p := range a.Properties {
		parts = append(parts, fmt.Sprintf("%s: %s → %s", p.Name, p.Before, p.After))
	}
	if len(a.Links) > 0 {
		parts = append(parts, fmt.Sprintf("%d %s", len(a.Links), a.Relation))
	}
	if a.Reason != "" {
		parts = append(parts, a.Reason)
	}
	return strings.Join(parts, "; ")
}

func outcomeText(a restore.Action) string {
	s := string(a.Outcome)
	if a.Error != "" {
		s += ": " + a.Error
	} else if a.Note != "" {
		s += ": " + a.Note
	}
	return s
}
