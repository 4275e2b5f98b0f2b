package tenantsim

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// adminConsent grants the backup app its roles through the admin-consent
// flow, completed at once by sim_auto as a script would.
func adminConsent(t *testing.T, s *Simulator) {
	t.Helper()
	c := s.HTTPClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	q := url.Values{"client_id": {s.Credentials().BackupApp.ClientID}, "redirect_uri": {"http://127.0.0.1/cb"},
		"sim_auto": {"accept"}, "login_hint": {s.Credentials().Admins[0].UPN}}
	resp, err := c.Get(s.AuthorityHost() + s.Credentials().TenantID + "/adminconsent?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.Contains(loc, "admin_consent=True") {
		t.Fatalf("admin consent: %d %s", resp.StatusCode, loc)
	}
}

// deltaPages follows a delta round to its deltaLink.
func deltaPages(t *testing.T, tok, link string) (items []map[string]any, delta string) {
	t.Helper()
	for link != "" {
		var p page
		if st := get(t, tok, link, &p); st != 200 {
			t.Fatalf("%s: %d %+v", link, st, p.ErrorObj)
		}
		items = append(items, p.Value...)
		link, delta = p.Next, p.Delta
	}
	return items, delta
}

// waitSaved waits until the saver has written every change made so far.
func waitSaved(t *testing.T, s *Simulator) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		s.saveMu.Lock()
		saved := s.savedGen
		s.saveMu.Unlock()
		if saved == s.tenant.Generation() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the saver did not write the state file within 10s")
		}
	}
}

// stopSaver stops the background saver without saving.
func stopSaver(s *Simulator) {
	s.mu.Lock()
	stop, done := s.stop, s.saverOK
	s.stop = nil
	s.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
}

// kill stops s as kill -9 would: nothing more is saved, Close does nothing.
func kill(s *Simulator) {
	stopSaver(s)
	s.mu.Lock()
	servers := s.servers
	s.servers, s.closed = nil, true
	s.mu.Unlock()
	for _, srv := range servers {
		_ = srv.Close()
	}
}

func TestStateSurvivesKillAndClose(t *testing.T) {
	for _, killed := range []bool{true, false} {
		name := map[bool]string{true: "kill", false: "close"}[killed]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Seed: 9, Users: 40, DataDir: dir, StateFile: filepath.Join(dir, "state.json"),
				ConsentRequired: true, Throttle: ThrottleConfig{Disabled: true}}
			a := NewTest(t, opts)
			adminConsent(t, a)
			tok := token(t, a, a.Credentials().BackupApp)
			_, link := deltaPages(t, tok, a.GraphURL()+"/users/delta")
			a.Churn(30)
			want := stateDump(t, a)
			var lost string
			if killed {
				waitSaved(t, a)
				// Changes after the last save die with the process, and so
				// must delta tokens that include them.
				stopSaver(a)
				a.Churn(5)
				_, lost = deltaPages(t, tok, link)
				kill(a)
				// A save torn by the kill leaves a partial temporary file.
				if err := os.WriteFile(opts.StateFile+".tmp", []byte(`{"Version":1,"Us`), 0o600); err != nil {
					t.Fatal(err)
				}
			} else if err := a.Close(); err != nil {
				t.Fatal(err)
			}

			b := NewTest(t, opts)
			if b.Credentials().TenantID != a.Credentials().TenantID {
				t.Fatalf("tenant %s after restart, was %s", b.Credentials().TenantID, a.Credentials().TenantID)
			}
			if stateDump(t, b) != want {
				t.Fatal("tenant state (consent, churn) differs after the restart")
			}
			if !slices.Contains(b.Tenant().GrantedRoles(strings.ToLower(b.Credentials().BackupApp.ClientID)), "User.Read.All") {
				t.Fatal("admin consent lost in the restart")
			}
			// The access token and delta link from before the restart still
			// work and show the churn.
			rebase := func(l string) string {
				return strings.Replace(l, strings.TrimSuffix(a.GraphURL(), "/v1.0"), strings.TrimSuffix(b.GraphURL(), "/v1.0"), 1)
			}
			b.Churn(30) // the log grows past where the lost changes were
			if items, _ := deltaPages(t, tok, rebase(link)); len(items) == 0 {
				t.Fatal("delta after restart: no changes")
			}
			if killed {
				var p page
				if st := get(t, tok, rebase(lost), &p); st != 400 || p.ErrorObj == nil || p.ErrorObj.Code != "syncStateNotFound" {
					t.Fatalf("delta token of lost changes: %d %+v", st, p.ErrorObj)
				}
			}
		})
	}
}
