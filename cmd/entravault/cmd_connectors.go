package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/connector"
)

const connectorsUsage = `usage: entravault connectors <command> [flags] [ID]

  list                 connectors you may see [--status S] [--tenant T]
  show ID              configuration, status, verification, last and next run per scope
  create               --name N --tenant T [--kind directory|activity_logs] [--scopes users,groups,…]
                       [--interval 24h] [--retention-days 30] [--initial-log-span 7d] [--access A,…]
                       [--config FILE: the whole JSON config] [--consent-grant G: sign-in first]
                       prints the administrator's sign-in URL (none with --consent-grant)
  sign-in              --tenant T [--kind K]: a sign-in URL before any connector exists; after the
                       administrator accepts, the page shows the grant for create --consent-grant
  find                 --consent-grant G [--type group|administrativeUnit] [--query PREFIX]: the
                       signed-in tenant's groups or units by name, to pick before create
  update ID            change --name, --scopes, --interval, --retention-days, --access, --config FILE
  delete ID            stop backups [--purge: also remove the snapshots after the grace period (admins)]
  cancel-purge ID      cancel a purge still in its grace (admins)
  run ID               back up now [--scope S]
  runs ID              the connector's runs, newest first
  verify ID            verify consent and permissions again
  consent ID           a new sign-in URL after expiry or failure
  restore-consent ID   the admin-consent URL of the restore application

Scopes: users, groups, administrative_units, roles, applications, policies, sign_ins,
directory_audits (groups: all groups with members; policies: every family).

Common flags (also ENTRAVAULT_<FLAG>, e.g. ENTRAVAULT_API_KEY):
  --api URL          the Entravault API (default http://127.0.0.1:8080)
  --api-key KEY      API key or OIDC access token
  --output FORMAT    table or json (default table)
`

type connectorsCmd struct {
	api            *apiClient
	id, output     string
	stdout, stderr io.Writer
	// flags of create, update and the others
	name, tenant, kind, scopes, interval, span, access, config, grant string
	status, scope, objType, query                                     string
	retention                                                         int
	purge                                                             bool
	set                                                               map[string]bool // flags given explicitly
}

// cmdConnectors manages connectors through the REST API.
func cmdConnectors(ctx context.Context, args []string) error {
	return runConnectors(ctx, args, os.Stdout, os.Stderr)
}

var connectorCommands = map[string]struct {
	fn    func(*connectorsCmd, context.Context) error
	nargs int
}{
	"list": {(*connectorsCmd).list, 0}, "create": {(*connectorsCmd).create, 0}, "sign-in": {(*connectorsCmd).signIn, 0}, "find": {(*connectorsCmd).find, 0},
	"show": {(*connectorsCmd).show, 1}, "update": {(*connectorsCmd).update, 1}, "delete": {(*connectorsCmd).delete, 1},
	"cancel-purge": {(*connectorsCmd).cancelPurge, 1}, "run": {(*connectorsCmd).run, 1}, "runs": {(*connectorsCmd).runs, 1},
	"verify": {(*connectorsCmd).verify, 1}, "consent": {(*connectorsCmd).consent, 1}, "restore-consent": {(*connectorsCmd).restoreConsent, 1},
}

func runConnectors(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if askedForHelp(args, connectorsUsage, stderr) {
		return flag.ErrHelp
	}
	sub := args[0]
	run, ok := connectorCommands[sub]
	if !ok {
		fmt.Fprintf(stderr, "unknown connectors command %q\n\n%s", sub, connectorsUsage)
		return flag.ErrHelp
	}
	c := &connectorsCmd{stdout: stdout, stderr: stderr}
	fs := c.flags(sub, stderr)
	apiURL := fs.String("api", "http://127.0.0.1:8080", "Entravault API base URL")
	key := fs.String("api-key", "", "API key or OIDC access token")
	// The connector is the positional ID here, not --connector: the shared
	// parser's connector check is satisfied with a placeholder.
	placeholder := "-"
	positional, err := parseClientArgs(fs, args[1:], sub, run.nargs, &placeholder, &c.output, connectorsUsage, stderr)
	if err != nil {
		return err
	}
	if len(positional) == 1 {
		c.id = positional[0]
	}
	c.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
	if c.api, err = newAPIClient(*apiURL, *key); err != nil {
		return err
	}
	return run.fn(c, ctx)
}

func (c *connectorsCmd) flags(sub string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("connectors "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, connectorsUsage) }
	fs.StringVar(&c.output, "output", "table", "table or json")
	fs.StringVar(&c.name, "name", "", "create, update: the connector's name")
	fs.StringVar(&c.tenant, "tenant", "", "create, sign-in: tenant id or verified domain; list: only this tenant")
	fs.StringVar(&c.kind, "kind", "directory", "create, sign-in: directory or activity_logs")
	fs.StringVar(&c.scopes, "scopes", "", "create, update: comma-separated scopes")
	fs.StringVar(&c.interval, "interval", "", "create, update: backup interval (6h, 1d)")
	fs.IntVar(&c.retention, "retention-days", 0, "create, update: keep snapshots this many days")
	fs.StringVar(&c.span, "initial-log-span", "", "create: how far back the first log backup reads (72h, 7d)")
	fs.StringVar(&c.access, "access", "", "create, update: who may see the connector (key names, apikey:<id>, oid:<tid>/<oid>)")
	fs.StringVar(&c.config, "config", "", "create, update: a JSON file with the config (flags override it)")
	fs.StringVar(&c.grant, "consent-grant", "", "create: the grant from sign-in (the connector starts consented)")
	fs.StringVar(&c.status, "status", "", "list: only this status")
	fs.StringVar(&c.objType, "type", "group", "find: group or administrativeUnit")
	fs.StringVar(&c.query, "query", "", "find: display-name prefix")
	fs.StringVar(&c.scope, "scope", "", "run: only this scope")
	fs.BoolVar(&c.purge, "purge", false, "delete: also remove the snapshots after the grace period")
	return fs
}

func (c *connectorsCmd) path(p string) string {
	return "/api/v1/connectors/" + url.PathEscape(c.id) + p
}

func (c *connectorsCmd) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *connectorsCmd) list(ctx context.Context) error {
	q := url.Values{}
	for k, v := range map[string]string{"status": c.status, "tenant": c.tenant} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var res struct {
		Connectors []api.ConnectorListItem `json:"connectors"`
	}
	path := "/api/v1/connectors"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return c.table(ctx, path, &res, "ID\tNAME\tKIND\tTENANT\tSTATUS", func(tw io.Writer) {
		for _, it := range res.Connectors {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", it.ID, it.Name, it.Kind, it.Tenant, it.Status)
		}
	})
}

// table reads path into res and prints it as JSON, or as a table of
// header and the rows rows writes.
func (c *connectorsCmd) table(ctx context.Context, path string, res any, header string, rows func(tw io.Writer)) error {
	if err := c.api.get(ctx, path, res); err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(res)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	rows(tw)
	return tw.Flush()
}

func (c *connectorsCmd) show(ctx context.Context) error {
	var v api.ConnectorView
	if err := c.api.get(ctx, c.path(""), &v); err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(v)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%s\nname\t%s\nkind\t%s\ntenant\t%s %s\nstatus\t%s\n", v.ID, v.Config.Name, v.Config.Kind, v.Config.Tenant, v.TenantID, v.Status)
	if v.LastError != "" {
		fmt.Fprintf(tw, "last error\t%s\n", v.LastError)
	}
	if v.PurgeAt != nil {
		fmt.Fprintf(tw, "purge at\t%s\n", v.PurgeAt.Format("2006-01-02 15:04 MST"))
	}
	fmt.Fprintln(tw, "\nSCOPE\tLAST RUN\tRESULT\tNEXT RUN")
	scopes := make([]string, 0, len(v.Scopes))
	for sc := range v.Scopes {
		scopes = append(scopes, string(sc))
	}
	sort.Strings(scopes)
	for _, sc := range scopes {
		st := v.Scopes[connector.Scope(sc)]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", sc, fmtWhen(st.LastStart), orDash(st.LastStatus), fmtWhen(st.NextRun))
	}
	return tw.Flush()
}

// body builds a config from --config and the flags given; for update
// only what was given is sent.
func (c *connectorsCmd) body() (map[string]any, error) {
	body := map[string]any{}
	if c.config != "" {
		raw, err := os.ReadFile(c.config)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			return nil, fmt.Errorf("--config: %w", err)
		}
	}
	str := map[string]string{"name": c.name, "tenant": c.tenant, "kind": c.kind, "initial-log-span": c.span}
	keys := map[string]string{"name": "name", "tenant": "tenant", "kind": "kind", "initial-log-span": "initial_log_span"}
	for flagName, v := range str {
		if c.set[flagName] {
			body[keys[flagName]] = v
		}
	}
	if c.set["scopes"] {
		sc, err := parseScopes(c.scopes)
		if err != nil {
			return nil, err
		}
		body["scopes"] = sc
	}
	if c.set["interval"] {
		body["schedule"] = connector.Schedule{Interval: c.interval}
	}
	if c.set["retention-days"] {
		body["retention"] = connector.Retention{Days: c.retention}
	}
	if c.set["access"] {
		body["access"] = splitList(c.access)
	}
	return body, nil
}

// parseScopes turns a scope list into the API's scopes object.
func parseScopes(list string) (connector.Scopes, error) {
	var sc connector.Scopes
	for _, s := range splitList(list) {
		switch connector.Scope(s) {
		case connector.ScopeUsers:
			sc.Users = true
		case connector.ScopeGroups:
			sc.Groups = &connector.GroupScope{All: true, Members: true}
		case connector.ScopeAdministrativeUnits:
			sc.AdministrativeUnits = &connector.AdminUnitScope{All: true}
		case connector.ScopeRoles:
			sc.Roles = true
		case connector.ScopeApplications:
			sc.Applications = true
		case connector.ScopePolicies:
			sc.Policies = &connector.PolicyScope{ConditionalAccess: true, NamedLocations: true, AuthenticationMethods: true, Authorization: true}
		case connector.ScopeSignIns:
			sc.SignIns = true
		case connector.ScopeDirectoryAudits:
			sc.DirectoryAudits = true
		default:
			return sc, fmt.Errorf("--scopes: unknown scope %q", s)
		}
	}
	return sc, nil
}

func splitList(s string) []string {
	out := []string{}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (c *connectorsCmd) create(ctx context.Context) error {
	c.set["kind"] = true // the default kind is sent too
	body, err := c.body()
	if err != nil {
		return err
	}
	if _, ok := body["scopes"]; !ok {
		def := "users,groups,administrative_units,roles,applications,policies"
		if body["kind"] == string(connector.KindActivityLogs) {
			def = "sign_ins,directory_audits"
		}
		body["scopes"], _ = parseScopes(def)
	}
	if c.grant != "" {
		body["consent_grant"] = c.grant
	}
	var res api.CreateConnectorResponse
	if err := c.api.call(ctx, http.MethodPost, "/api/v1/connectors", body, &res); err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(res)
	}
	fmt.Fprintf(c.stdout, "created %s (%s)\n", res.ID, res.Status)
	if res.ConsentURL != "" {
		fmt.Fprintf(c.stdout, "The tenant's Global Administrator signs in and accepts here (until %s):\n%s\n",
			res.ExpiresAt.Format("2006-01-02 15:04 MST"), res.ConsentURL)
	}
	return nil
}

func (c *connectorsCmd) signIn(ctx context.Context) error {
	var res api.SignInResponse
	req := api.SignInRequest{Tenant: c.tenant, Kind: connector.Kind(c.kind)}
	if err := c.api.call(ctx, http.MethodPost, "/api/v1/consent/sign-in", req, &res); err != nil {
		return err
	}
	return c.printURL(res.ConsentURL, res)
}

// find lists the signed-in tenant's groups or units whose name starts
// with --query, read live: what to name in --scopes' include lists.
func (c *connectorsCmd) find(ctx context.Context) error {
	if c.grant == "" {
		return errors.New("find: give --consent-grant (from sign-in)")
	}
	var res api.DirectorySearchResponse
	req := api.DirectorySearchRequest{ConsentGrant: c.grant, Type: c.objType, Query: c.query}
	if err := c.api.call(ctx, http.MethodPost, "/api/v1/consent/directory-search", req, &res); err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(res)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tMAIL")
	for _, o := range res.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", o.ID, o.DisplayName, o.Mail)
	}
	return tw.Flush()
}

func (c *connectorsCmd) printURL(u string, res any) error {
	if c.output == "json" {
		return c.printJSON(res)
	}
	_, err := fmt.Fprintln(c.stdout, u)
	return err
}

func (c *connectorsCmd) update(ctx context.Context) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	delete(body, "tenant")
	delete(body, "kind")
	if len(body) == 0 {
		return fmt.Errorf("update: nothing to change (give --name, --scopes, --interval, --retention-days, --access or --config)")
	}
	return c.act(ctx, http.MethodPatch, "", body, "updated")
}

func (c *connectorsCmd) delete(ctx context.Context) error {
	p := ""
	if c.purge {
		p = "?purge=true"
	}
	return c.act(ctx, http.MethodDelete, p, nil, "deleted")
}

func (c *connectorsCmd) cancelPurge(ctx context.Context) error {
	return c.act(ctx, http.MethodPost, "/purge/cancel", nil, "purge cancelled")
}

func (c *connectorsCmd) run(ctx context.Context) error {
	body := map[string]string{}
	if c.scope != "" {
		body["scope"] = c.scope
	}
	return c.act(ctx, http.MethodPost, "/backups", body, "backup started")
}

func (c *connectorsCmd) verify(ctx context.Context) error {
	return c.act(ctx, http.MethodPost, "/verify", nil, "verifying")
}

// act sends one change and prints the answer (json) or a short line.
func (c *connectorsCmd) act(ctx context.Context, method, p string, body any, done string) error {
	var res map[string]any
	if err := c.api.call(ctx, method, c.path(p), body, &res); err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(res)
	}
	line := c.id + ": " + done
	if at, ok := res["purge_at"].(string); ok {
		line += ", snapshots purged at " + at
	}
	_, err := fmt.Fprintln(c.stdout, line)
	return err
}

func (c *connectorsCmd) consent(ctx context.Context) error {
	var res api.CreateConnectorResponse
	if err := c.api.call(ctx, http.MethodPost, c.path("/consent"), nil, &res); err != nil {
		return err
	}
	return c.printURL(res.ConsentURL, res)
}

func (c *connectorsCmd) restoreConsent(ctx context.Context) error {
	var res api.RestoreConsentResponse
	if err := c.api.call(ctx, http.MethodPost, c.path("/restore-consent"), nil, &res); err != nil {
		return err
	}
	return c.printURL(res.ConsentURL, res)
}

func (c *connectorsCmd) runs(ctx context.Context) error {
	var res struct {
		Runs []api.RunView `json:"runs"`
	}
	return c.table(ctx, c.path("/runs"), &res, "RUN\tSCOPE\tTRIGGER\tSTART\tEND\tSTATUS\tERROR", func(tw io.Writer) {
		for _, r := range res.Runs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.RunID, r.Scope, r.Trigger, fmtWhen(r.Start), fmtWhen(r.End), r.Status, r.Error)
		}
	})
}

func fmtWhen(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
