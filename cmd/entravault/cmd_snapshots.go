package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
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
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/config"
	"github.com/entravault/entravault/internal/repository/jsondiff"
)

const snapshotsUsage = `usage: entravault snapshots <command> --connector ID [flags] [args]

  list                     snapshots, newest first [--scope S] [--from T] [--to T] [--limit N]
  show SNAPSHOT            time, scope, object counts per type, per-scope state
  objects SNAPSHOT         objects in type/id order [--type T] [-q TEXT] [--limit N]
  history OBJECT_ID        versions of an object and what changed in each [--type T]
  diff FROM TO             objects added, removed and changed between two snapshots [--type T]
  export SNAPSHOT          tar.gz of <type>/<id>.json [-o FILE, - for stdout] [--type T]

Common flags (also ENTRAVAULT_<FLAG>, e.g. ENTRAVAULT_API_KEY):
  --api URL          the Entravault API (default http://127.0.0.1:8080)
  --api-key KEY      API key or OIDC access token
  --connector ID     the connector whose snapshots to read
  --output FORMAT    table or json (default table)
Times are RFC 3339 (2026-03-01T10:00:00Z).
`

// cmdSnapshots browses snapshots through the REST API, so it needs an API
// key, not storage access, and sees only the connectors its key may see.
func cmdSnapshots(ctx context.Context, args []string) error {
	return runSnapshots(ctx, args, os.Stdout, os.Stderr)
}

type snapshotsCmd struct {
	api               *apiClient
	connector, output string
	scope, from, to   string
	typ, q, outFile   string
	limit             int
	stdout, stderr    io.Writer
	progress          bool
	positional        []string
}

func runSnapshots(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if askedForHelp(args, snapshotsUsage, stderr) {
		return flag.ErrHelp
	}
	sub := args[0]
	run, ok := map[string]struct {
		fn    func(*snapshotsCmd, context.Context) error
		nargs int
	}{
		"list": {(*snapshotsCmd).list, 0}, "show": {(*snapshotsCmd).show, 1}, "objects": {(*snapshotsCmd).objects, 1},
		"history": {(*snapshotsCmd).history, 1}, "diff": {(*snapshotsCmd).diff, 2}, "export": {(*snapshotsCmd).export, 1},
	}[sub]
	if !ok {
		fmt.Fprintf(stderr, "unknown snapshots command %q\n\n%s", sub, snapshotsUsage)
		return flag.ErrHelp
	}
	c := &snapshotsCmd{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("snapshots "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, snapshotsUsage) }
	apiURL := fs.String("api", "http://127.0.0.1:8080", "Entravault API base URL")
	key := fs.String("api-key", "", "API key or OIDC access token")
	fs.StringVar(&c.connector, "connector", "", "connector id (c-…)")
	fs.StringVar(&c.output, "output", "table", "table or json")
	fs.StringVar(&c.scope, "scope", "", "list: only this scope")
	fs.StringVar(&c.from, "from", "", "list: snapshots at or after this time")
	fs.StringVar(&c.to, "to", "", "list: snapshots before this time")
	fs.StringVar(&c.typ, "type", "", "object type (user, group.members, …)")
	fs.StringVar(&c.q, "q", "", "objects: search id, displayName, userPrincipalName, mail")
	fs.IntVar(&c.limit, "limit", 0, "list, objects: at most N rows (0: all)")
	fs.StringVar(&c.outFile, "o", "", "export: output file (default <connector>-<snapshot>.tar.gz; - for stdout)")
	// Flags may follow positional arguments: parse, take one positional,
	// parse the rest again.
	var err error
	if c.positional, err = parseClientArgs(fs, args[1:], sub, run.nargs, &c.connector, &c.output, snapshotsUsage, stderr); err != nil {
		return err
	}
	if c.limit < 0 {
		return errors.New("--limit must be 0 or more")
	}
	if c.api, err = newAPIClient(*apiURL, *key); err != nil {
		return err
	}
	c.progress = isTerminal(stderr)
	return run.fn(c, ctx)
}

// parseClientArgs parses the flags of a client command, which may follow
// its positional arguments, and checks what every client command needs.
// connector and output point at flag values, read after parsing.
func parseClientArgs(fs *flag.FlagSet, args []string, sub string, nargs int, connector, output *string, usage string, stderr io.Writer) ([]string, error) {
	var positional []string
	for {
		if err := config.Parse(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case len(positional) != nargs:
		fmt.Fprint(stderr, usage)
		return nil, fmt.Errorf("%s takes %d argument(s), got %d", sub, nargs, len(positional))
	case *connector == "":
		return nil, errors.New("--connector is required")
	case *output != "table" && *output != "json":
		return nil, errors.New("--output must be table or json")
	}
	return positional, nil
}

func newAPIClient(apiURL, key string) (*apiClient, error) {
	if key == "" {
		return nil, errors.New("--api-key (or ENTRAVAULT_API_KEY) is required")
	}
	return &apiClient{base: strings.TrimRight(apiURL, "/"), key: key, http: &http.Client{}}, nil
}

// isTerminal: progress bars only where a person watches.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (c *snapshotsCmd) path(p string, q url.Values) string {
	s := "/api/v1/connectors/" + url.PathEscape(c.connector) + p
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

func (c *snapshotsCmd) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// pageSize asks for what is still wanted, at most the API's maximum.
func (c *snapshotsCmd) pageSize(have int) string {
	n := 1000
	if c.limit > 0 && c.limit-have < n {
		n = c.limit - have
	}
	return strconv.Itoa(n)
}

func (c *snapshotsCmd) list(ctx context.Context) error {
	out := api.SnapshotList{Snapshots: []api.SnapshotView{}}
	q := url.Values{}
	for k, v := range map[string]string{"scope": c.scope, "from": c.from, "to": c.to} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for {
		q.Set("limit", c.pageSize(len(out.Snapshots)))
		var page api.SnapshotList
		if err := c.api.get(ctx, c.path("/snapshots", q), &page); err != nil {
			return err
		}
		out.Snapshots = append(out.Snapshots, page.Snapshots...)
		if page.NextCursor == "" || c.limit > 0 && len(out.Snapshots) >= c.limit {
			break
		}
		q.Set("cursor", page.NextCursor)
	}
	if c.output == "json" {
		return c.printJSON(out)
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tSCOPE\tOBJECTS\tSIZE")
	for _, s := range out.Snapshots {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", s.ID, s.Time.Format(time.RFC3339), s.Scope, s.Objects, humanBytes(s.Bytes))
	}
	return tw.Flush()
}

func (c *snapshotsCmd) show(ctx context.Context) error {
	var v api.SnapshotView
	if err := c.api.get(ctx, c.path("/snapshots/"+url.PathEscape(c.positional[0]), nil), &v); err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(v)
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\t%s\nTIME\t%s\nSCOPE\t%s\nPARENT\t%s\nOBJECTS\t%d\nSIZE\t%s\n", v.ID, v.Time.Format(time.RFC3339), v.Scope, v.Parent, v.Objects, humanBytes(v.Bytes))
	fmt.Fprintln(tw, "\nTYPE\tCOUNT")
	for _, t := range sortedKeys(v.Counts) {
		fmt.Fprintf(tw, "%s\t%d\n", t, v.Counts[t])
	}
	if len(v.State) > 0 {
		fmt.Fprintln(tw, "\nSTATE\tVALUE")
		for _, k := range sortedKeys(v.State) {
			fmt.Fprintf(tw, "%s\t%s\n", k, v.State[k])
		}
	}
	return tw.Flush()
}

func (c *snapshotsCmd) objects(ctx context.Context) error {
	out := api.ObjectList{Objects: []api.ObjectSummary{}}
	q := url.Values{}
	if c.typ != "" {
		q.Set("type", c.typ)
	}
	if c.q != "" {
		q.Set("q", c.q)
	}
	for {
		q.Set("limit", c.pageSize(len(out.Objects)))
		var page api.ObjectList
		if err := c.api.get(ctx, c.path("/snapshots/"+url.PathEscape(c.positional[0])+"/objects", q), &page); err != nil {
			return err
		}
		out.Objects = append(out.Objects, page.Objects...)
		if page.NextCursor == "" || c.limit > 0 && len(out.Objects) >= c.limit {
			break
		}
		q.Set("cursor", page.NextCursor)
	}
	if c.output == "json" {
		return c.printJSON(out)
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tID\tDISPLAY NAME\tUPN / MAIL")
	for _, o := range out.Objects {
		name := o.UserPrincipalName
		if name == "" {
			name = o.Mail
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Type, o.ID, o.DisplayName, name)
	}
	return tw.Flush()
}

func (c *snapshotsCmd) history(ctx context.Context) error {
	q := url.Values{}
	if c.typ != "" {
		q.Set("type", c.typ)
	}
	var h api.History
	if err := c.api.get(ctx, c.path("/objects/"+url.PathEscape(c.positional[0])+"/history", q), &h); err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(h)
	}
	fmt.Fprintf(c.stdout, "%s %s (scope %s)\n", h.Type, h.ID, h.Scope)
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SNAPSHOT\tTIME\tKIND\tCHANGES")
	for _, v := range h.Versions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Snapshot, v.Time.Format(time.RFC3339), v.Kind, describe(v.Changes, v.Members))
	}
	return tw.Flush()
}

func (c *snapshotsCmd) diff(ctx context.Context) error {
	out := api.Diff{Changes: []api.ChangeView{}}
	q := url.Values{"from": {c.positional[0]}, "to": {c.positional[1]}, "limit": {"1000"}}
	if c.typ != "" {
		q.Set("type", c.typ)
	}
	for {
		var page api.Diff
		read, err := c.getDiff(ctx, q, &page)
		if err != nil {
			return err
		}
		if read != "" { // the live read is still running: ask again for it
			q.Set("read", read)
			continue
		}
		out.From, out.To, out.Scope = page.From, page.To, page.Scope
		out.Changes = append(out.Changes, page.Changes...)
		if page.NextCursor == "" {
			break
		}
		q.Set("cursor", page.NextCursor)
	}
	if c.output == "json" {
		return c.printJSON(out)
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tTYPE\tID\tCHANGES")
	counts := map[string]int{}
	for _, ch := range out.Changes {
		counts[ch.Kind]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ch.Kind, ch.Type, ch.ID, describe(ch.Properties, ch.Members))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%d added, %d removed, %d changed\n", counts["added"], counts["removed"], counts["changed"])
	return nil
}

// getDiff reads one page of a diff. A live read still running answers 202
// with the read to wait for: getDiff waits Retry-After and returns it.
func (c *snapshotsCmd) getDiff(ctx context.Context, q url.Values, page *api.Diff) (read string, err error) {
	resp, err := c.api.send(ctx, http.MethodGet, c.path("/diff", q), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return "", json.NewDecoder(resp.Body).Decode(page)
	}
	var reading struct {
		Read string `json:"read"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reading); err != nil || reading.Read == "" {
		return "", fmt.Errorf("the API answered 202 without a live read to wait for")
	}
	wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if c.progress {
		fmt.Fprintf(c.stderr, "reading the tenant live (%s)…\n", reading.Read)
	}
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(time.Duration(max(wait, 1)) * time.Second):
	}
	return reading.Read, nil
}

// describe is a one-line summary of property and member changes.
func describe(props []jsondiff.Change, m *api.MemberChanges) string {
	var parts []string
	for _, p := range props {
		sign := map[string]string{"added": "+", "removed": "-"}[string(p.Op)]
		if sign == "" {
			sign = "~"
		}
		parts = append(parts, sign+strings.TrimPrefix(p.Path, "/"))
	}
	if m != nil {
		if len(m.Added) > 0 {
			parts = append(parts, fmt.Sprintf("+%d members", len(m.Added)))
		}
		if len(m.Removed) > 0 {
			parts = append(parts, fmt.Sprintf("-%d members", len(m.Removed)))
		}
	}
	return strings.Join(parts, " ")
}

// export streams the archive to a file, reading it as it arrives to count
// objects for the progress bar and to check it is complete: a stream cut
// short fails the gzip check and the partial file is removed.
func (c *snapshotsCmd) export(ctx context.Context) error {
	sid := c.positional[0]
	q := url.Values{}
	if c.typ != "" {
		q.Set("type", c.typ)
	}
	resp, err := c.api.do(ctx, c.path("/snapshots/"+url.PathEscape(sid)+"/export", q))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	total, _ := strconv.Atoi(resp.Header.Get(api.ExportCountHeader))

	name := c.outFile
	if name == "" {
		name = fmt.Sprintf("%s-%s.tar.gz", c.connector, shortID(sid))
	}
	var w io.Writer = c.stdout
	var f *os.File
	if name != "-" {
		if f, err = os.Create(name); err != nil {
			return err
		}
		w = f
	}
	n, size, err := readExport(io.TeeReader(resp.Body, w), func(n int, size int64) {
		if c.progress {
			fmt.Fprintf(c.stderr, "\r%s", progressBar(n, total, size))
		}
	})
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(name)
		}
	}
	if c.progress {
		fmt.Fprintln(c.stderr)
	}
	if err != nil {
		return fmt.Errorf("export incomplete: %w", err)
	}
	if name != "-" {
		fmt.Fprintf(c.stderr, "wrote %s: %d objects, %s of JSON\n", name, n, humanBytes(size))
	}
	return nil
}

// readExport reads a tar.gz to its end, calling tick as entries pass.
func readExport(r io.Reader, tick func(n int, size int64)) (int, int64, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return 0, 0, err
	}
	tr := tar.NewReader(zr)
	n, size := 0, int64(0)
	last := time.Time{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, size, err
		}
		n++
		size += h.Size
		if now := time.Now(); now.Sub(last) > 100*time.Millisecond {
			tick(n, size)
			last = now
		}
	}
	// Read the gzip trailer: it holds the checksum of the whole stream.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return n, size, err
	}
	tick(n, size)
	return n, size, nil
}

func progressBar(n, total int, size int64) string {
	const width = 30
	if total <= 0 {
		return fmt.Sprintf("exporting: %d objects, %s", n, humanBytes(size))
	}
	done := min(width, n*width/total)
	return fmt.Sprintf("exporting [%s%s] %d/%d objects, %s", strings.Repeat("#", done), strings.Repeat(" ", width-done), n, total, humanBytes(size))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// apiClient calls the Entravault API with a bearer token.
type apiClient struct {
	base, key string
	http      *http.Client
}

// apiError is an error answer of the API.
type apiError struct {
	Status        int
	Code, Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (%d %s)", e.Message, e.Status, e.Code)
}

func (a *apiClient) do(ctx context.Context, path string) (*http.Response, error) {
	return a.send(ctx, http.MethodGet, path, nil)
}

// send makes one request with an optional JSON body; an error answer is an
// *apiError.
func (a *apiClient) send(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	var answer struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&answer)
	if answer.Error.Message == "" {
		answer.Error.Message = http.StatusText(resp.StatusCode)
	}
	return nil, &apiError{Status: resp.StatusCode, Code: answer.Error.Code, Message: answer.Error.Message}
}

func (a *apiClient) get(ctx context.Context, path string, into any) error {
	return a.call(ctx, http.MethodGet, path, nil, into)
}

// call sends a request and decodes the JSON answer into into (nil: none).
func (a *apiClient) call(ctx context.Context, method, path string, body, into any) error {
	resp, err := a.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if into == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(into)
}
