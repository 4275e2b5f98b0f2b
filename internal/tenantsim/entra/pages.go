package entra

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
)

// permissionDescriptions are the admin consent descriptions Graph shows for
// the application permissions Entravault uses; others show their name only.
var permissionDescriptions = map[string]string{
	"User.Read.All":                      "Read all users' full profiles",
	"User.ReadWrite.All":                 "Read and write all users' full profiles",
	"Group.Read.All":                     "Read all groups",
	"Group.ReadWrite.All":                "Read and write all groups",
	"GroupMember.Read.All":               "Read all group memberships",
	"GroupMember.ReadWrite.All":          "Read and write all group memberships",
	"AdministrativeUnit.Read.All":        "Read all administrative units",
	"AdministrativeUnit.ReadWrite.All":   "Read and write all administrative units",
	"RoleManagement.Read.Directory":      "Read all directory RBAC settings",
	"RoleManagement.ReadWrite.Directory": "Read and write all directory RBAC settings",
	"Application.Read.All":               "Read all applications",
	"Application.ReadWrite.All":          "Read and write all applications",
	"Policy.Read.All":                    "Read your organization's policies",
	"Policy.ReadWrite.ConditionalAccess": "Read and write your organization's conditional access policies",
	"AuditLog.Read.All":                  "Read all audit log data",
	"Organization.Read.All":              "Read organization information",
	"Directory.Read.All":                 "Read directory data",
	"Directory.ReadWrite.All":            "Read and write directory data",
}

var pageTemplates = template.Must(template.New("layout").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font-family:"Segoe UI",system-ui,sans-serif;background:#f2f2f2;margin:0}
main{max-width:440px;margin:8vh auto;background:#fff;padding:44px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:24px;font-weight:600;margin:0 0 16px}
.sim{color:#666;font-size:13px}.err{color:#e81123}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:6px 0;margin:8px 0;border:0;border-bottom:1px solid #666;font-size:15px}
button{min-width:108px;padding:6px 12px;font-size:15px;margin:16px 0 0 8px;border:0;background:#ccc}
button.primary{background:#0067b8;color:#fff}.buttons{text-align:right}
ul{padding-left:20px}li{margin:6px 0}code{font-size:12px;color:#555}
</style></head><body><main>
<p class="sim">Entravault simulated tenant {{.TenantID}}</p>
{{template "body" .}}
</main></body></html>`))

func init() {
	for name, body := range map[string]string{
		"signin": `{{define "body"}}<h1>Sign in</h1>
<p>to continue to <b>{{.AppName}}</b></p>
{{if .Message}}<p class="err" role="alert">{{.Message}}</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="flow" value="{{.Flow}}">
<input type="text" name="login" aria-label="Email or phone" placeholder="someone@example.com" value="{{.Login}}" autocomplete="username" required>
<input type="password" name="passwd" aria-label="Password" placeholder="Password" autocomplete="current-password" required>
<div class="buttons"><button class="primary" type="submit">Sign in</button></div>
</form>{{end}}`,
		"consent": `{{define "body"}}<h1>Permissions requested</h1>
<p><b>{{.AppName}}</b></p>
<p>Signed in as {{.Login}}. This app would like to:</p>
<ul>{{range .Permissions}}<li>{{.Description}} <code>{{.Name}}</code> (Application)</li>{{else}}<li>Sign you in and read your profile</li>{{end}}</ul>
<p>Accepting grants these permissions to the app for your whole organization.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="flow" value="{{.Flow}}">
<div class="buttons"><button type="submit" name="action" value="cancel">Cancel</button><button class="primary" type="submit" name="action" value="accept">Accept</button></div>
</form>{{end}}`,
		"approval": `{{define "body"}}<h1>Need admin approval</h1>
<p><b>{{.AppName}}</b> needs permission to access resources in your organization that only an admin can grant. Please ask an admin to grant permission to this app before you can use it.</p>
<p class="err">{{.Message}}</p>
<p>Signed in as {{.Login}}.</p>
<p><a href="{{.Back}}">Return to the application without granting consent</a></p>{{end}}`,
		"error": `{{define "body"}}<h1>{{.Heading}}</h1>
<p class="err" role="alert">{{.Message}}</p>{{end}}`,
	} {
		pages[name] = template.Must(template.Must(pageTemplates.Clone()).Parse(body))
	}
}

var pages = map[string]*template.Template{}

type permission struct{ Name, Description string }

// pageData is everything any page may show. Flow is the only secret-ish
// value and goes into a hidden form field, never a URL.
type pageData struct {
	Title, Heading, TenantID, AppName, Action, Flow, Login, Message, Back string
	Permissions                                                           []permission
}

func (s *Server) renderPage(w http.ResponseWriter, status int, name string, d pageData) {
	d.TenantID = s.dir.TenantID()
	var buf bytes.Buffer
	if err := pages[name].Execute(&buf, d); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("X-Frame-Options", "DENY")
	// No form-action: browsers apply it to the redirect after a POST, which
	// leaves for the app's origin.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) renderSignIn(w http.ResponseWriter, f *flow, login, msg string) {
	s.renderPage(w, http.StatusOK, "signin", pageData{
		Title: "Sign in to your account", AppName: f.appName, Action: "/" + f.tenantSeg + "/login",
		Flow: f.id, Login: login, Message: msg,
	})
}

func (s *Server) renderConsent(w http.ResponseWriter, f *flow, roles []string) {
	perms := make([]permission, 0, len(roles))
	for _, r := range roles {
		d := permissionDescriptions[r]
		if d == "" {
			d = r
		}
		perms = append(perms, permission{Name: r, Description: d})
	}
	s.renderPage(w, http.StatusOK, "consent", pageData{
		Title: "Permissions requested", AppName: f.appName, Action: "/" + f.tenantSeg + "/consent",
		Flow: f.id, Login: f.account.UserPrincipalName, Permissions: perms,
	})
}

func (s *Server) renderAdminApproval(w http.ResponseWriter, f *flow, back string) {
	s.renderPage(w, http.StatusForbidden, "approval", pageData{
		Title: "Need admin approval", AppName: f.appName, Login: f.account.UserPrincipalName,
		Message: "AADSTS90094: The grant requires admin permission.", Back: back,
	})
}

// errorPage shows an AADSTS error where no redirect to the app is safe
// (unknown tenant, client or redirect URI).
func (s *Server) errorPage(w http.ResponseWriter, status, aadsts int, desc string) {
	s.log.Info("entra: sign-in error page", "aadsts", aadsts)
	s.renderPage(w, status, "error", pageData{
		Title: "Sign in error", Heading: "Sorry, but we're having trouble signing you in.",
		Message: fmt.Sprintf("AADSTS%d: %s", aadsts, desc),
	})
}
