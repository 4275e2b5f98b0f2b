package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/entravault/entravault/api"
)

// fakeAPI answers the snapshot endpoints the CLI calls with fixed data,
// paging snapshots and diffs one row at a time, so the client's paging,
// output and error handling are what is tested.
func fakeAPI(t *testing.T, archive []byte) *httptest.Server {
	t.Helper()
	snaps := []api.SnapshotView{
		{ID: strings.Repeat("c", 64), Scope: "users", Time: time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), Objects: 3, Counts: map[string]int{"user": 3}},
		{ID: strings.Repeat("b", 64), Scope: "users", Time: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), Objects: 2, Counts: map[string]int{"user": 2}},
		{ID: strings.Repeat("a", 64), Scope: "users", Time: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Objects: 1, Counts: map[string]int{"user": 1}},
	}
	changes := []api.ChangeView{
		{Type: "user", ID: "u1", Kind: "changed"},
		{Type: "user", ID: "u2", Kind: "added"},
		{Type: "group.members", ID: "g1", Kind: "changed", Members: &api.MemberChanges{Added: []string{"u2"}, Removed: []string{}}},
	}
	// page serves items one at a time; the cursor is the next index.
	page := func(r *http.Request, n int) (int, string) {
		i := 0
		if c := r.URL.Query().Get("cursor"); c != "" {
			i = int(c[0] - '0')
		}
		next := ""
		if i+1 < n {
			next = string(rune('0' + i + 1))
		}
		return i, next
	}
	mux := http.NewServeMux()
	base := "/api/v1/connectors/c-0000000000000001"
	mux.HandleFunc("GET "+base+"/snapshots", func(w http.ResponseWriter, r *http.Request) {
		i, next := page(r, len(snaps))
		_ = json.NewEncoder(w).Encode(api.SnapshotList{Snapshots: snaps[i : i+1], NextCursor: next})
	})
	mux.HandleFunc("GET "+base+"/snapshots/{sid}", func(w http.ResponseWriter, r *http.Request) {
		for _, s := range snaps {
			if s.ID == r.PathValue("sid") {
				_ = json.NewEncoder(w).Encode(s)
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"snapshot_not_found","message":"snapshot not found"}}`))
	})
	mux.HandleFunc("GET "+base+"/diff", func(w http.ResponseWriter, r *http.Request) {
		i, next := page(r, len(changes))
		_ = json.NewEncoder(w).Encode(api.Diff{Scope: "users", Changes: changes[i : i+1], NextCursor: next})
	})
	mux.HandleFunc("GET "+base+"/snapshots/{sid}/export", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(api.ExportCountHeader, "3")
		if r.URL.Query().Get("type") == "cut" { // a stream that stops half way
			_, _ = w.Write(archive[:len(archive)/2])
			return
		}
		_, _ = w.Write(archive)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k1" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"unauthorized","message":"bad key"}}`))
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func testArchive(t *testing.T) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for _, name := range []string{"user/u1.json", "user/u2.json", "user/u3.json"} {
		body := []byte("{\n  \"id\": \"" + name + "\"\n}\n")
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(body)
	}
	tw.Close()
	zw.Close()
	return b.Bytes()
}

func TestSnapshotsCLI(t *testing.T) {
	archive := testArchive(t)
	srv := fakeAPI(t, archive)
	dir := t.TempDir()
	common := []string{"--api", srv.URL, "--api-key", "k1", "--connector", "c-0000000000000001"}
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		// common flags go between the command and its own arguments, so an
		// argument can override one
		all := append(append([]string{args[0]}, common...), args[1:]...)
		err := runSnapshots(context.Background(), all, &out, &errOut)
		return out.String(), err
	}
	for _, tc := range []struct {
		name     string
		args     []string
		contains []string
		lines    int // of stdout, when > 0
	}{
		{"list pages through every snapshot", []string{"list"}, []string{strings.Repeat("a", 64), strings.Repeat("c", 64)}, 4},
		{"list limit", []string{"list", "--limit", "2"}, []string{strings.Repeat("b", 64)}, 3},
		{"show, flags after the argument", []string{"show", strings.Repeat("b", 64)}, []string{"OBJECTS", "user"}, 0},
		{"diff pages and summarises", []string{"diff", strings.Repeat("a", 64), strings.Repeat("c", 64)}, []string{"+1 members", "1 added, 0 removed, 2 changed"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.contains {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			if tc.lines > 0 && strings.Count(out, "\n") != tc.lines {
				t.Errorf("%d lines, want %d:\n%s", strings.Count(out, "\n"), tc.lines, out)
			}
		})
	}

	out, err := run("list", "--output", "json")
	var l api.SnapshotList
	if err != nil || json.Unmarshal([]byte(out), &l) != nil || len(l.Snapshots) != 3 {
		t.Errorf("json list: %v %s", err, out)
	}

	file := filepath.Join(dir, "x.tar.gz")
	if _, err := run("export", strings.Repeat("c", 64), "-o", file); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(file); !bytes.Equal(got, archive) {
		t.Error("exported file differs from the stream")
	}

	for _, tc := range []struct {
		name   string
		args   []string
		status int
		code   string
	}{
		{"unknown snapshot", []string{"show", strings.Repeat("d", 64)}, 404, "snapshot_not_found"},
		{"bad key", []string{"list", "--api-key", "wrong"}, 401, "unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(tc.args...)
			var ae *apiError
			if !errors.As(err, &ae) || ae.Status != tc.status || ae.Code != tc.code {
				t.Errorf("got %v", err)
			}
		})
	}

	cut := filepath.Join(dir, "cut.tar.gz")
	if _, err := run("export", strings.Repeat("c", 64), "-o", cut, "--type", "cut"); err == nil {
		t.Error("a truncated export succeeded")
	}
	if _, err := os.Stat(cut); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("partial export left behind: %v", err)
	}

	for name, args := range map[string][]string{
		"no connector":   {"list", "--connector", ""},
		"bad output":     {"list", "--output", "yaml"},
		"missing arg":    {"show"},
		"unknown action": {"frobnicate"},
	} {
		if _, err := run(args...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestDiffWaitsForALiveRead: a live diff answered 202 is asked again with
// the read it names, after Retry-After, until the diff comes.
func TestDiffWaitsForALiveRead(t *testing.T) {
	asked := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked++
		if r.URL.Query().Get("read") == "" {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"status":"reading","read":"connector/c-0000000000000001/live/live-users-1"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(api.Diff{From: "a", To: "b", Scope: "users", Changes: []api.ChangeView{{Type: "user", ID: "u1", Kind: "changed"}}})
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	err := runSnapshots(context.Background(), []string{"diff", strings.Repeat("a", 64), "live", "--api", srv.URL, "--api-key", "k",
		"--connector", "c-0000000000000001"}, &out, &errOut)
	if err != nil || asked != 2 || !strings.Contains(out.String(), "0 added, 0 removed, 1 changed") {
		t.Fatalf("diff (%v) after %d requests:\n%s", err, asked, out.String())
	}
}
