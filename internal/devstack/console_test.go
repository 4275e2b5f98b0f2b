package devstack

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/internal/tenantsim/model"
)

// screenshotsEnv, set to 1, saves a PNG of each console page under
// docs/console/ (for the README); off in CI so the tree stays clean.
const screenshotsEnv = "ENTRAVAULT_SCREENSHOTS"

// chromiumPath finds Debian's Chromium, as scripts/chromium.sh installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("../../scripts/chromium.sh", "path").Output()
	if err != nil {
		t.Fatalf("no Chromium for the console tests (run scripts/chromium.sh install): %v", err)
	}
	return strings.TrimSpace(string(out))
}

// console drives one headless Chromium against the dev stack.
type console struct {
	h    *harness
	ctx  context.Context
	base string
}

func newConsole(t *testing.T, h *harness) *console {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900),
		// The simulator's sign-in page is served with its own CA.
		chromedp.Flag("ignore-certificate-errors", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(h.ctx, opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first run starts the browser; it must not carry a timeout, which
	// would stop the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &console{h: h, ctx: ctx, base: h.api}
}

// do performs browser steps, failing the test with what was asked and
// the page it was on.
func (c *console) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	c.h.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		c.fail(what, err)
	}
}

// get runs one action that answers a value.
func get[T any](c *console, what string, a chromedp.Action[T]) T {
	c.h.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 90*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		c.fail(what, err)
	}
	return v
}

func (c *console) fail(what string, err error) {
	c.h.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	c.h.t.Fatalf("%s: %v\nat %s:\n%.2000s", what, err, loc, body)
}

// text is the visible text of the first element matching sel.
func (c *console) text(sel string) string {
	c.h.t.Helper()
	c.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	return get(c, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func (c *console) html() string {
	c.h.t.Helper()
	return get(c, "read the page", chromedp.OuterHTML(chromedp.CSS("html")))
}

// waitURL waits until the browser is at a URL containing part.
func (c *console) waitURL(part string) {
	c.h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(c.location(), part) {
		if time.Now().After(deadline) {
			c.fail("wait for a URL with "+part, context.DeadlineExceeded)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.do("wait for the page", chromedp.WaitReady(chromedp.CSS("footer")))
}

func (c *console) location() string {
	c.h.t.Helper()
	return get(c, "location", chromedp.Location())
}

func (c *console) open(path string) {
	c.h.t.Helper()
	c.do("open "+path, chromedp.Navigate(c.base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

// shot saves the page as docs/console/<name>.png when screenshots are on.
func (c *console) shot(name string) {
	c.h.t.Helper()
	if os.Getenv(screenshotsEnv) != "1" {
		return
	}
	png := get(c, "screenshot "+name, chromedp.FullScreenshot(100))
	dir := filepath.Join("..", "..", "docs", "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.h.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		c.h.t.Fatal(err)
	}
}

// simSignIn signs in on the simulator's page and accepts the permissions
// when they are asked for.
func (c *console) simSignIn(acct tenantsim.AccountCredentials, shotPrefix string) {
	c.h.t.Helper()
	c.do("the simulator's sign-in page", chromedp.WaitVisible(chromedp.CSS(`input[name=passwd]`)))
	c.do("type the account", chromedp.SetValue(chromedp.CSS(`input[name=login]`), acct.UPN),
		chromedp.SetValue(chromedp.CSS(`input[name=passwd]`), acct.Password))
	if shotPrefix != "" {
		c.shot(shotPrefix + "-signin")
	}
	c.do("sign in", chromedp.Click(chromedp.CSS(`button.primary`)), chromedp.WaitNotPresent(chromedp.CSS(`input[name=passwd]`)),
		chromedp.WaitReady(chromedp.CSS("body")))
	if get(c, "look for the consent page", chromedp.Evaluate[bool](`document.querySelector("button[value=accept]") !== null`)) {
		if shotPrefix != "" {
			c.shot(shotPrefix + "-consent")
		}
		c.do("accept", chromedp.Click(chromedp.CSS(`button[value=accept]`)), chromedp.WaitNotPresent(chromedp.CSS(`button[value=accept]`)),
			chromedp.WaitReady(chromedp.CSS("body")))
	}
}

// waitText reloads path until the text of every element matching sel
// contains want.
func (c *console) waitText(path, sel, want string, within time.Duration) string {
	c.h.t.Helper()
	deadline := time.Now().Add(within)
	var got string
	for time.Now().Before(deadline) {
		c.open(path)
		js := `Array.from(document.querySelectorAll(` + strconv.Quote(sel) + `)).map(n => n.innerText).join("\n")`
		got = get(c, "read "+sel, chromedp.Evaluate[string](js))
		if strings.Contains(got, want) {
			return got
		}
		time.Sleep(time.Second)
	}
	c.h.t.Fatalf("%s %s never showed %q; last:\n%s", path, sel, want, got)
	return ""
}

var connectorURLRE = regexp.MustCompile(`/connectors/(c-[0-9a-f]{16})`)

// TestConsole goes through the console in a real headless Chromium
// against the dev stack, in the seed's order: sign in with the
// simulator's OIDC sign-in; Connectors → Add connector → Sign in →
// the simulator's sign-in and consent page → configure → Create; the
// verification shown check by check and the first backup finished; a
// snapshot opened, a user searched and its history shown; two snapshots
// compared after churn; a restore planned. Then a viewer sees only the
// connectors on whose access list it is, and can change nothing.
func TestConsole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	h := newHarnessWith(t, ctx, tenantsim.Options{Seed: 16, Users: 30, Groups: 6, AdministrativeUnits: 2, Applications: 3, Premium: true, LogsPerDay: 2})
	c := newConsole(t, h)
	ga := h.admin("Global Administrator")

	// Sign in: no session goes to the sign-in page; OIDC with the demo
	// Global Administrator's password, on the simulator's page.
	c.open("/connectors")
	c.do("the sign-in page", chromedp.WaitVisible(chromedp.CSS("#signin-oidc")))
	c.shot("signin")
	c.do("sign in with the organization", chromedp.Click(chromedp.CSS("#signin-oidc")))
	c.simSignIn(ga, "")
	if got := c.text("main"); !strings.Contains(got, "No connectors yet") {
		t.Fatalf("connectors page after sign-in:\n%s", got)
	}
	c.shot("connectors-empty")

	id := addConnector(t, c, h, ga)
	checkSnapshots(t, c, h, id)
	before := checkCompare(t, c, h, id)
	grantRestore(t, c, h, id, ga)
	checkRestore(t, c, id, before)
	checkSettings(t, c, h, id)
	// A narrow window gets the same page, stacked.
	c.do("narrow window", chromedp.EmulateViewport(420, 900))
	c.open("/connectors/" + id)
	c.shot("connector-narrow")
	c.do("wide window", chromedp.EmulateViewport(1280, 900))
	checkViewer(t, c, h, id)
}

// addConnector runs the seed flow and waits for the first backup.
func addConnector(t *testing.T, c *console, h *harness, ga tenantsim.AccountCredentials) string {
	c.do("Add connector", chromedp.Click(chromedp.CSS("#add-connector")), chromedp.WaitVisible(chromedp.CSS("#add-directory")))
	c.shot("add-connector")
	c.do("Entra ID", chromedp.Click(chromedp.CSS("#add-directory")), chromedp.WaitVisible(chromedp.CSS("#tenant")))
	if got := c.text("main"); !strings.Contains(got, "Global Administrator") || !strings.Contains(got, "private browser window") {
		t.Errorf("the sign-in page lacks the requirements:\n%s", got)
	}
	c.do("tenant", chromedp.SendKeys(chromedp.CSS("#tenant"), h.creds.TenantDomain))
	c.shot("connector-signin")
	c.do("Sign in", chromedp.Click(chromedp.CSS("#signin-tenant")))
	c.simSignIn(ga, "simulator")
	c.do("back to configure", chromedp.WaitVisible(chromedp.CSS("#settings-form")))
	if got := c.text("main"); !strings.Contains(got, "accepted the permissions") || !strings.Contains(got, ga.UPN) {
		t.Fatalf("configure page:\n%s", got)
	}
	// Groups are found by name in the tenant itself: no backup exists yet.
	group := liveGroupName(t, h)
	c.do("find groups before create", chromedp.SendKeys(chromedp.CSS("#gq"), group[:4]), chromedp.Click(chromedp.CSS("#gq-search")))
	c.waitURL("gq=")
	c.do("configure again", chromedp.WaitVisible(chromedp.CSS("#settings-form")))
	if picks := c.text("#settings-form"); !strings.Contains(picks, group) {
		t.Errorf("group search for %q before create found:\n%s", group[:4], picks)
	}
	c.do("name", chromedp.SetValue(chromedp.CSS("#name"), "Contoso console"))
	c.shot("configure")
	c.do("Create", chromedp.Click(chromedp.CSS("#create")), chromedp.WaitVisible(chromedp.CSS("#status")))
	loc := c.location()
	m := connectorURLRE.FindStringSubmatch(loc)
	if m == nil {
		t.Fatalf("Create led to %s", loc)
	}
	id := m[1]
	// The page refreshes itself while verifying and backing up; wait for
	// the checks, then for every scope's first backup.
	c.do("verification shown", chromedp.WaitVisible(chromedp.CSS("#checks")))
	c.shot("connector-verifying")
	h.waitFor(id, "first backup of every scope", func(v connectorView) bool {
		if v.Status != "active" || len(v.Scopes) < 6 {
			return false
		}
		for _, sc := range v.Scopes {
			if sc.LastStatus != "succeeded" {
				return false
			}
		}
		return true
	})
	checks := c.waitText("/connectors/"+id, "#checks", "Global Administrator", time.Minute)
	if strings.Contains(c.text("#status"), "Verif") || strings.Count(checks, "\n") < 2 {
		t.Errorf("verification checks:\n%s", checks)
	}
	if runs := c.text("#runs"); !strings.Contains(runs, "Succeeded") || strings.Contains(runs, "Failed") {
		t.Errorf("runs:\n%s", runs)
	}
	c.shot("connector")
	c.open("/connectors")
	if rows := c.text("main table"); !strings.Contains(rows, "Contoso console") || !strings.Contains(rows, "Active") {
		t.Errorf("connectors list:\n%s", rows)
	}
	c.shot("connectors")
	return id
}

// checkSnapshots opens the users snapshot, searches a user and opens its
// JSON and history.
func checkSnapshots(t *testing.T, c *console, h *harness, id string) {
	c.open("/connectors/" + id + "/snapshots")
	c.shot("snapshots")
	var v connectorView
	h.call("GET", "/api/v1/connectors/"+id, nil, &v)
	c.open("/connectors/" + id + "/snapshots/" + v.Scopes["users"].LastSnapshot)
	user := h.admin("")
	c.do("search", chromedp.SendKeys(chromedp.CSS("#q"), user.UPN), chromedp.Click(chromedp.CSS("#search")))
	c.waitURL("q=")
	if rows := c.text("#objects"); !strings.Contains(rows, user.UPN) || strings.Count(rows, "\n") > 2 {
		t.Errorf("search for %s found:\n%s", user.UPN, rows)
	}
	c.shot("snapshot")
	export := get(c, "download the export", chromedp.Evaluate[string](`(async () => {
		const r = await fetch(document.querySelector("#export").href);
		const b = new Uint8Array(await r.arrayBuffer());
		return r.status + " " + r.headers.get("Content-Disposition") + " " + b[0] + "," + b[1]; })()`, chromedp.EvalAwaitPromise))
	if !strings.HasPrefix(export, "200 attachment") || !strings.HasSuffix(export, " 31,139") { // gzip magic
		t.Errorf("export download: %s", export)
	}
	c.do("open the user", chromedp.Click(chromedp.CSS("#objects tbody a")), chromedp.WaitVisible(chromedp.CSS("#history")))
	if js := c.text("#object-json"); !strings.Contains(js, `"userPrincipalName": "`+user.UPN+`"`) {
		t.Errorf("object JSON:\n%s", js)
	}
	if hist := c.text("#history"); !strings.Contains(hist, "added") {
		t.Errorf("history:\n%s", hist)
	}
	c.shot("object")
}

// checkCompare churns the tenant, runs a backup from the console and
// compares the two users snapshots; it answers the one before the churn.
func checkCompare(t *testing.T, c *console, h *harness, id string) string {
	var before connectorView
	h.call("GET", "/api/v1/connectors/"+id, nil, &before)
	h.stack.Simulator().Churn(40)
	c.open("/connectors/" + id)
	c.do("Run now", chromedp.Click(chromedp.CSS("#run-now")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	after := h.waitFor(id, "a second users snapshot", func(v connectorView) bool {
		sc := v.Scopes["users"]
		return sc.LastStatus == "succeeded" && sc.LastSnapshot != before.Scopes["users"].LastSnapshot
	})
	from, to := before.Scopes["users"].LastSnapshot, after.Scopes["users"].LastSnapshot
	logs := addLogsConnector(t, c, h)
	c.open("/connectors/" + id + "/compare?from=" + from + "&to=" + to + "&audits=" + logs)
	if got := c.text("#audits"); !strings.Contains(got, "Contoso logs") {
		t.Errorf("compare offers no activity-log connector to explain changes: %q", got)
	}
	counts := c.text("#diff-counts")
	diff := c.text("#diff")
	if !strings.Contains(counts, "changed") || !strings.Contains(diff, "→") {
		t.Errorf("compare after churn:\n%s\n%s", counts, diff)
	}
	c.shot("compare")
	return from
}

// liveGroupName is the display name of a live security group of the
// simulated tenant.
func liveGroupName(t *testing.T, h *harness) string {
	t.Helper()
	tn := h.stack.Simulator().Tenant()
	tn.RLock()
	defer tn.RUnlock()
	for i := range tn.Groups {
		if ref := model.MakeRef(model.KindGroup, int32(i)); tn.IsLive(ref) {
			if name, _ := tn.Render(ref)["displayName"].(string); len(name) >= 4 {
				return name
			}
		}
	}
	t.Fatal("the tenant has no live group")
	return ""
}

// checkSettings picks one group found by name on the settings page and
// saves: the connector now backs up that group only.
func checkSettings(t *testing.T, c *console, h *harness, id string) {
	var v connectorView
	h.call("GET", "/api/v1/connectors/"+id, nil, &v)
	var groups struct {
		Objects []struct{ ID, DisplayName string } `json:"objects"`
	}
	h.call("GET", "/api/v1/connectors/"+id+"/snapshots/"+v.Scopes["groups"].LastSnapshot+"/objects?type=group&limit=1", nil, &groups)
	if len(groups.Objects) == 0 {
		t.Fatal("no group backed up")
	}
	g := groups.Objects[0]
	c.open("/connectors/" + id + "/edit")
	c.do("find the group", chromedp.SendKeys(chromedp.CSS("#gq"), g.DisplayName), chromedp.Click(chromedp.CSS("#gq-search")))
	c.waitURL("gq=")
	if picks := c.text(".pick"); !strings.Contains(picks, g.ID) {
		t.Fatalf("group search for %q found:\n%s", g.DisplayName, picks)
	}
	c.do("pick it", chromedp.Click(chromedp.CSS(".pick input")), chromedp.Click(chromedp.CSS(`input[name=groups_mode][value=some]`)))
	c.shot("settings")
	c.do("save", chromedp.Click(chromedp.CSS("#create")))
	c.waitURL("notice=")
	var cfg struct {
		Config struct {
			Scopes struct {
				Groups struct {
					Include []string `json:"include"`
				} `json:"groups"`
			} `json:"scopes"`
		} `json:"config"`
	}
	h.call("GET", "/api/v1/connectors/"+id, nil, &cfg)
	if inc := cfg.Config.Scopes.Groups.Include; len(inc) != 1 || inc[0] != g.ID {
		t.Errorf("groups after saving: %v, want [%s]", inc, g.ID)
	}
}

// addLogsConnector adds the recommended separate activity-log connector
// for the same tenant, through the same flow, and waits for its first
// backup.
func addLogsConnector(t *testing.T, c *console, h *harness) string {
	c.open("/connectors/new?kind=activity_logs")
	if got := c.text("main"); !strings.Contains(got, "P1 or P2") || !strings.Contains(got, "Security Administrator") {
		t.Errorf("the activity-log sign-in page lacks its requirements:\n%s", got)
	}
	c.do("tenant", chromedp.SendKeys(chromedp.CSS("#tenant"), h.creds.TenantDomain), chromedp.Click(chromedp.CSS("#signin-tenant")))
	c.simSignIn(h.admin("Global Administrator"), "")
	c.do("configure", chromedp.WaitVisible(chromedp.CSS("#log_span_n")), chromedp.SetValue(chromedp.CSS("#name"), "Contoso logs"),
		chromedp.SetValue(chromedp.CSS("#log_span_n"), "2"))
	if got := c.text("#settings-form"); !strings.Contains(got, "shorter span makes the first backup shorter") {
		t.Errorf("the initial span has no note:\n%s", got)
	}
	c.shot("configure-logs")
	c.do("Create", chromedp.Click(chromedp.CSS("#create")), chromedp.WaitVisible(chromedp.CSS("#status")))
	m := connectorURLRE.FindStringSubmatch(c.location())
	if m == nil {
		t.Fatalf("Create led to %s", c.location())
	}
	h.waitFor(m[1], "the first log backup", func(v connectorView) bool {
		return v.Scopes["sign_ins"].LastStatus == "succeeded" && v.Scopes["directory_audits"].LastStatus == "succeeded"
	})
	return m[1]
}

// grantRestore has the administrator grant the restore application's
// write permissions from the connector page, and waits for readiness.
func grantRestore(t *testing.T, c *console, h *harness, id string, ga tenantsim.AccountCredentials) {
	c.open("/connectors/" + id)
	c.do("Grant restore permissions", chromedp.Click(chromedp.CSS("#restore-consent")))
	c.simSignIn(ga, "")
	back := `a[href="/connectors/` + id + `"]`
	c.do("back to the connector", chromedp.WaitVisible(chromedp.CSS(back)), chromedp.Click(chromedp.CSS(back)),
		chromedp.WaitVisible(chromedp.CSS("#status")))
	deadline := time.Now().Add(time.Minute)
	for {
		var v struct {
			Verification struct {
				Restore []struct{ Ready bool } `json:"restore"`
			} `json:"verification"`
		}
		h.call("GET", "/api/v1/connectors/"+id, nil, &v)
		ready := len(v.Verification.Restore) > 0
		for _, r := range v.Verification.Restore {
			ready = ready && r.Ready
		}
		if ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("restore never ready: %+v", v.Verification.Restore)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// checkRestore plans a restore of the users snapshot from before the
// churn, reviews its actions, applies it and reads the report.
func checkRestore(t *testing.T, c *console, id, snapshot string) {
	c.open("/connectors/" + id + "/restores?snapshot=" + snapshot)
	c.do("plan", chromedp.Click(chromedp.CSS("#plan")), chromedp.WaitVisible(chromedp.CSS("#restore-status")))
	loc := c.location()
	status := c.waitText(strings.TrimPrefix(loc, c.base), "#restore-status", "Planned", 2*time.Minute)
	if !strings.Contains(status, "Planned") {
		t.Errorf("restore status %q", status)
	}
	c.shot("restore-plan")
	// Apply (the confirm dialog answered yes), then the page follows the
	// apply to its report.
	if actions := c.text("#actions"); !strings.Contains(actions, "→") {
		t.Errorf("the plan after churn has no property reverts:\n%.2000s", actions)
	}
	c.do("apply", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true; document.querySelector("#apply").click()`),
		chromedp.WaitNotPresent(chromedp.CSS("#apply")))
	status = c.waitText(strings.TrimPrefix(loc, c.base), "#restore-status, main .error", "Succeeded", 2*time.Minute)
	if report := c.text("main"); !strings.Contains(report, "Report") || !strings.Contains(report, "succeeded") {
		t.Errorf("restore report after apply (%s):\n%.2000s", status, report)
	}
	c.shot("restore-report")
	// The snapshot against the live tenant after the restore: the page
	// waits for the live read by itself.
	c.open("/connectors/" + id + "/compare?from=" + snapshot + "&to=live")
	c.do("live compare", chromedp.WaitVisible(chromedp.CSS("#diff-counts")))
	if got := c.text("#diff-counts"); !strings.Contains(got, "changed") {
		t.Errorf("live compare: %q", got)
	}
}

// checkViewer signs in with a viewer's API key: it sees the connector it
// is listed on and not another one, not even its name, and cannot act.
func checkViewer(t *testing.T, c *console, h *harness, id string) {
	keys, _ := h.keyStore()
	viewerKey, _, err := keys.Create(h.ctx, "console-viewer", auth.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	if code := h.call("PATCH", "/api/v1/connectors/"+id, map[string]any{"access": []string{"console-viewer"}}, nil); code != http.StatusOK {
		t.Fatalf("add the viewer: %d", code)
	}
	hidden := h.create(directoryConnector(h.creds.TenantDomain, "Hidden from viewers"))

	c.do("sign out", chromedp.Click(chromedp.CSS(".who button")), chromedp.WaitVisible(chromedp.CSS("#api_key")))
	c.do("viewer signs in", chromedp.SendKeys(chromedp.CSS("#api_key"), viewerKey), chromedp.Click(chromedp.CSS("#signin-key")),
		chromedp.WaitVisible(chromedp.CSS("main table")))
	page := c.html()
	if !strings.Contains(page, "Contoso console") || strings.Contains(page, "Hidden from viewers") || strings.Contains(page, hidden.ID) {
		t.Errorf("viewer's connectors page shows the wrong connectors")
	}
	if strings.Contains(page, "add-connector") || strings.Contains(page, viewerKey) {
		t.Error("viewer's page offers Add connector or shows the key")
	}
	c.open("/connectors/" + id)
	if page := c.html(); strings.Contains(page, `id="run-now"`) || strings.Contains(page, `id="delete"`) {
		t.Error("viewer's connector page offers Run now or Delete")
	}
	// Forged with the viewer's own valid CSRF token: the API refuses.
	status := get(c, "viewer posts Run now", chromedp.Evaluate[string](`(async () => {
		const tok = document.querySelector("input[name=csrf]").value;
		const r = await fetch(location.pathname + "/run", {method: "POST", body: new URLSearchParams({csrf: tok})});
		return r.status + " " + (await r.text()); })()`, chromedp.EvalAwaitPromise))
	if !strings.HasPrefix(status, "403") || !strings.Contains(status, "Not allowed") {
		t.Errorf("viewer's Run now answered %.300s", status)
	}
	c.open("/connectors/" + hidden.ID)
	if page := c.html(); !strings.Contains(page, "Not found") || strings.Contains(page, "Hidden from viewers") {
		t.Error("viewer's view of a connector it may not see reveals it")
	}
	c.shot("viewer")
}

// TestConsoleCSRFAndSession: over plain HTTP against the dev stack, every
// form needs its session's CSRF token, cookies are HttpOnly and
// SameSite, the credential never appears in a page or cookie, and a
// signed-out session is refused.
func TestConsoleCSRFAndSession(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	h := newHarnessWith(t, ctx, tenantsim.Options{Seed: 17, Users: 10, Groups: 2, AdministrativeUnits: 1, Applications: 1})
	c := h.create(directoryConnector(h.creds.TenantDomain, "CSRF target"))
	alice, bob := newHTTPBrowser(t, h), newHTTPBrowser(t, h)
	aliceTok, bobTok := alice.signIn(h.key), bob.signIn(h.key)
	if aliceTok == bobTok {
		t.Fatal("two sessions share a CSRF token")
	}
	for _, ck := range alice.jar.Cookies(alice.u) {
		if strings.Contains(ck.Value, h.key) {
			t.Error("the API key is readable in a cookie")
		}
	}
	verify := "/connectors/" + c.ID + "/verify"
	for name, form := range map[string]url.Values{"no token": {}, "a forged token": {"csrf": {"x"}}, "another session's token": {"csrf": {bobTok}}} {
		if code, _ := alice.post(verify, form); code != http.StatusForbidden {
			t.Errorf("POST with %s: %d", name, code)
		}
	}
	// With its own token the form reaches the API (which refuses to verify
	// a connector still awaiting consent: a 409 in plain words).
	if code, body := alice.post(verify, url.Values{"csrf": {aliceTok}}); code != http.StatusConflict || !strings.Contains(body, "Not possible right now") {
		t.Errorf("POST with the session's token: %d %.300s", code, body)
	}
	// The list trails a just-created connector by a moment (visibility).
	deadline := time.Now().Add(15 * time.Second)
	code, body := alice.get("/connectors")
	for !strings.Contains(body, "CSRF target") && time.Now().Before(deadline) {
		time.Sleep(300 * time.Millisecond)
		code, body = alice.get("/connectors")
	}
	if code != http.StatusOK || strings.Contains(body, h.key) || !strings.Contains(body, "CSRF target") {
		t.Errorf("connectors page: %d", code)
	}
	if code, _ := alice.post("/signout", url.Values{"csrf": {aliceTok}}); code != http.StatusOK {
		t.Errorf("sign out: %d", code)
	}
	if code, body := alice.get("/connectors"); code != http.StatusOK || !strings.Contains(body, "Sign in to Entravault") {
		t.Errorf("after sign-out the connectors page answered %d", code)
	}
}

// httpBrowser is a cookie-keeping HTTP client.
type httpBrowser struct {
	t   *testing.T
	h   *harness
	jar *cookiejar.Jar
	c   *http.Client
	u   *url.URL
}

func newHTTPBrowser(t *testing.T, h *harness) *httpBrowser {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(h.api)
	return &httpBrowser{t: t, h: h, jar: jar, c: &http.Client{Jar: jar}, u: u}
}

func (b *httpBrowser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.h.api + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (b *httpBrowser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.h.api+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var csrfFieldRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in with an API key and answers the session's CSRF token.
func (b *httpBrowser) signIn(key string) string {
	b.t.Helper()
	_, page := b.get("/signin")
	m := csrfFieldRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("sign-in page without a CSRF token:\n%s", page)
	}
	// Not following the redirect, to read the Set-Cookie flags.
	noFollow := &http.Client{Jar: b.jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.PostForm(b.h.api+"/signin/key", url.Values{"csrf": {m[1]}, "api_key": {key}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign in: %v %v", resp, err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "ev_session" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" {
		b.t.Errorf("session cookie: %+v", session)
	}
	_, page = b.get("/connectors")
	if m = csrfFieldRE.FindStringSubmatch(page); m == nil {
		b.t.Fatalf("connectors page without a CSRF token:\n%.500s", page)
	}
	return m[1]
}

var grantRE = regexp.MustCompile(`consent_grant&#34;: &#34;([A-Za-z0-9_.-]+)&#34;`)

// TestSignInFirst: the API's sign-in-before-create order. The callback
// hands out a consent grant that creates a connector already consented,
// for the key that asked for the link only, for its tenant only; a forged
// grant and an outside return path are refused.
func TestSignInFirst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	h := newHarnessWith(t, ctx, tenantsim.Options{Seed: 18, Users: 10, Groups: 2, AdministrativeUnits: 1, Applications: 1})
	keys, _ := h.keyStore()
	otherKey, _, err := keys.Create(ctx, "other-admin", auth.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	var link struct {
		ConsentURL string `json:"consent_url"`
	}
	if code := h.call("POST", "/api/v1/consent/sign-in", map[string]any{"tenant": h.creds.TenantDomain, "kind": "directory", "return_to": "//evil.example/x"}, nil); code != http.StatusBadRequest {
		t.Errorf("an outside return_to: %d", code)
	}
	if code := h.call("POST", "/api/v1/consent/sign-in", map[string]any{"tenant": h.creds.TenantDomain, "kind": "directory"}, &link); code != http.StatusOK {
		t.Fatalf("sign-in link: %d", code)
	}
	_, page := h.signIn(link.ConsentURL, "accept", h.admin("Global Administrator").UPN)
	m := grantRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the callback page shows no grant:\n%s", page)
	}
	cfg := directoryConnector(h.creds.TenantDomain, "signed in first")
	cfg["consent_grant"] = m[1]
	other := *h
	other.key = otherKey
	checkDirectorySearch(t, h, &other, m[1])
	forged := map[string]any{}
	for k, v := range cfg {
		forged[k] = v
	}
	forged["consent_grant"] = m[1][:len(m[1])-4] + "AAAA"
	wrongTenant := directoryConnector("fabrikam.example.com", "wrong tenant")
	wrongTenant["consent_grant"] = m[1]
	for name, try := range map[string]func() int{
		"another key":    func() int { return other.call("POST", "/api/v1/connectors", cfg, nil) },
		"a forged grant": func() int { return h.call("POST", "/api/v1/connectors", forged, nil) },
		"another tenant": func() int { return h.call("POST", "/api/v1/connectors", wrongTenant, nil) },
	} {
		if code := try(); code != http.StatusBadRequest {
			t.Errorf("create with %s: %d", name, code)
		}
	}
	var c created
	if code := h.call("POST", "/api/v1/connectors", cfg, &c); code != http.StatusCreated || c.Status != "verifying" || c.ConsentURL != "" {
		t.Fatalf("create with the grant: %d %+v", code, c)
	}
	h.waitFor(c.ID, "active with a first backup", func(v connectorView) bool {
		return v.Status == "active" && v.Scopes["users"].LastStatus == "succeeded"
	})
}

// checkDirectorySearch: before Create, the grant's holder finds the
// tenant's groups and units by name (read live on a worker); nobody else
// may, and bad input is refused.
func checkDirectorySearch(t *testing.T, h, other *harness, grant string) {
	t.Helper()
	search := func(h *harness, typ, q string) (int, []string) {
		var r struct {
			Results []struct {
				DisplayName string `json:"display_name"`
			} `json:"results"`
		}
		code := h.call("POST", "/api/v1/consent/directory-search", map[string]any{"consent_grant": grant, "type": typ, "q": q}, &r)
		var names []string
		for _, o := range r.Results {
			names = append(names, o.DisplayName)
		}
		return code, names
	}
	code, all := search(h, "group", "")
	if code != http.StatusOK || len(all) == 0 {
		t.Fatalf("list groups before create: %d %v", code, all)
	}
	prefix := strings.ToLower(all[0][:3])
	code, found := search(h, "group", prefix)
	if code != http.StatusOK || !slices.Contains(found, all[0]) {
		t.Errorf("search %q: %d %v, want %q among them", prefix, code, found, all[0])
	}
	for _, name := range found {
		if !strings.HasPrefix(strings.ToLower(name), prefix) {
			t.Errorf("search %q found %q", prefix, name)
		}
	}
	if code, units := search(h, "administrativeUnit", ""); code != http.StatusOK || len(units) == 0 {
		t.Errorf("list units before create: %d %v", code, units)
	}
	if code, _ := search(other, "group", ""); code != http.StatusBadRequest {
		t.Errorf("another key searched with the grant: %d", code)
	}
	if code, _ := search(h, "user", ""); code != http.StatusBadRequest {
		t.Errorf("search of users: %d", code)
	}
}
