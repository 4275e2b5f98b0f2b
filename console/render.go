package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// pages are the parsed templates, one set per page: the layout plus the
// page's own file.
type pages map[string]*template.Template

var funcs = template.FuncMap{
	"when":     when,
	"ago":      ago,
	"status":   statusWords,
	"tone":     statusTone,
	"kindName": kindName,
	"pct":      pct,
	"bytes":    humanBytes,
	"json":     prettyJSON,
	"raw":      rawJSON,
	"scopeName": func(v any) string {
		s := fmt.Sprint(v)
		if s == "" {
			return ""
		}
		return strings.ReplaceAll(strings.ToUpper(s[:1])+s[1:], "_", " ")
	},
	"q":       func(kv ...string) template.URL { return template.URL(queryString(kv...)) },
	"plain":   plainError,
	"list":    func(s ...string) []string { return s },
	"seconds": func(ms int64) string { return (time.Duration(ms) * time.Millisecond).Round(time.Second).String() },
	"total": func(m map[string]int) int {
		n := 0
		for _, v := range m {
			n += v
		}
		return n
	},
}

func parsePages() (pages, error) {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := pages{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		p[name] = t
	}
	return p, nil
}

// view is what every page's template gets.
type view struct {
	Title   string
	Session *session
	CSRF    string
	Path    string
	Notice  string
	Data    any
}

// CanWrite hides the buttons a viewer may not use (the API refuses them
// anyway).
func (v view) CanWrite() bool { return v.Session != nil && v.Session.Role != "viewer" }

// IsAdmin shows admin-only actions.
func (v view) IsAdmin() bool { return v.Session != nil && v.Session.Role == "admin" }

// titled pages name themselves in the browser's tab.
type titled interface{ PageTitle() string }

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, tmpl string, sess *session, data any) {
	t, ok := s.pages[tmpl]
	if !ok {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	v := view{Session: sess, Path: r.URL.Path, Notice: r.URL.Query().Get("notice"), Data: data}
	if sess != nil {
		v.CSRF = sess.CSRF
	}
	if tt, ok := data.(titled); ok {
		v.Title = tt.PageTitle()
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		s.log.Error("render", "page", tmpl, "error", err)
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// ago says how long before now t was, or how long until it comes.
func ago(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := time.Until(t)
	suffix := "from now"
	if d < 0 {
		d, suffix = -d, "ago"
	}
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min %s", int(d.Minutes()), suffix)
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %s", int(d.Hours()), suffix)
	}
	return fmt.Sprintf("%d days %s", int(d.Hours()/24), suffix)
}

var statusText = map[string][2]string{
	"awaiting_consent":    {"Awaiting consent", "wait"},
	"consent_expired":     {"Needs consent (link expired)", "warn"},
	"consent_failed":      {"Consent failed", "bad"},
	"verifying":           {"Verifying", "wait"},
	"verification_failed": {"Verification failed", "bad"},
	"needs_consent":       {"Needs consent", "warn"},
	"active":              {"Active", "ok"},
	"paused":              {"Paused", "muted"},
	"deleted":             {"Deleted", "muted"},
	"running":             {"Running", "wait"},
	"succeeded":           {"Succeeded", "ok"},
	"failed":              {"Failed", "bad"},
	"planning":            {"Planning", "wait"},
	"planned":             {"Planned: review and apply", "wait"},
	"applying":            {"Applying", "wait"},
	"applied":             {"Applied", "ok"},
	"cancelled":           {"Cancelled", "muted"},
}

func statusWords(s any) string {
	k := fmt.Sprint(s)
	if t, ok := statusText[k]; ok {
		return t[0]
	}
	return strings.ReplaceAll(k, "_", " ")
}

func statusTone(s any) string {
	if t, ok := statusText[fmt.Sprint(s)]; ok {
		return t[1]
	}
	return "muted"
}

func kindName(k any) string {
	if fmt.Sprint(k) == "activity_logs" {
		return "Entra ID activity logs"
	}
	return "Entra ID"
}

func pct(done, total int) int {
	if total <= 0 {
		return 0
	}
	return min(100, done*100/total)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// prettyJSON indents raw JSON for reading.
func prettyJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		return string(raw)
	}
	return buf.String()
}

// rawJSON shows a short JSON value on one line (before → after).
func rawJSON(v any) string {
	var b []byte
	switch x := v.(type) {
	case json.RawMessage:
		b = x
	default:
		b, _ = json.Marshal(x)
	}
	s := string(b)
	if s == "" || s == "null" {
		return "∅"
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// queryString builds ?k=v&… from pairs, leaving out empty values.
func queryString(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		if b.Len() == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(urlEscape(kv[i]) + "=" + urlEscape(kv[i+1]))
	}
	return b.String()
}
