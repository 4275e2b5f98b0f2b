package tenantsim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Handler serves Graph under /v1.0/ and the control API under /_sim/:
//
//	GET  /_sim/credentials           demo credentials (as tenant.json)
//	GET  /_sim/state                 canonical JSON dump of the tenant
//	POST /_sim/churn?percent=N       change N% of objects
//	POST /_sim/logs?count=N          append N sign-in and N audit records
//	POST /_sim/incident              damage the tenant: {"kind","percent"} (see Incident)
//	PUT  /_sim/faults                set fault injection (JSON Faults)
//	POST /_sim/delta/expire          expire every delta token issued so far
//	GET  /_sim/counters              request counters (per route: requests, writes, 429s, early retries)
func (s *Simulator) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1.0/", s.graph)
	mux.HandleFunc("GET /_sim/credentials", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.creds)
	})
	mux.HandleFunc("GET /_sim/state", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		s.tenant.RLock()
		defer s.tenant.RUnlock()
		_ = s.tenant.WriteState(w)
	})
	mux.HandleFunc("POST /_sim/churn", func(w http.ResponseWriter, r *http.Request) {
		pct, err := strconv.ParseFloat(r.URL.Query().Get("percent"), 64)
		if err != nil || pct < 0 || pct > 100 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "percent must be a number in [0,100]"})
			return
		}
		writeJSON(w, http.StatusOK, s.Churn(pct))
	})
	mux.HandleFunc("POST /_sim/logs", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("count"))
		if err != nil || n < 0 || n > 1_000_000 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "count must be an integer in [0,1000000]"})
			return
		}
		s.AppendLogs(n)
		writeJSON(w, http.StatusOK, map[string]int{"appended": n})
	})
	mux.HandleFunc("POST /_sim/incident", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Kind    string  `json:"kind"`
			Percent float64 `json:"percent"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body must be {"kind": …, "percent": …}`})
			return
		}
		rep, err := s.Incident(req.Kind, req.Percent)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": strings.TrimPrefix(err.Error(), "model: invalid request: ")})
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})
	mux.HandleFunc("POST /_sim/consent/revoke", func(w http.ResponseWriter, r *http.Request) {
		app := r.URL.Query().Get("client_id")
		if app == "" {
			app = s.creds.BackupApp.ClientID
		}
		s.RevokeConsent(app)
		writeJSON(w, http.StatusOK, map[string]string{"revoked": app})
	})
	mux.HandleFunc("PUT /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be a JSON Faults object"})
			return
		}
		s.graph.SetFaults(f)
		writeJSON(w, http.StatusOK, f)
	})
	mux.HandleFunc("POST /_sim/delta/expire", func(w http.ResponseWriter, r *http.Request) {
		s.graph.ExpireDeltaTokens()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sim/counters", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.graph.Counters())
	})
	return mux
}

// Churn changes pct percent of the directory objects (see model.Tenant.Churn).
func (s *Simulator) Churn(pct float64) ChurnStats {
	s.tenant.Lock()
	defer s.tenant.Unlock()
	return s.tenant.Churn(pct)
}

// Incident damages the tenant as a mistake or an attack would, for restore
// drills: kind is one of model.IncidentKinds or "mixed" (a bit of each),
// percent in (0,100] of the objects the kind applies to. The sign-in
// accounts and the apps are never touched; the draw is deterministic for a
// given seed and history.
func (s *Simulator) Incident(kind string, percent float64) (IncidentReport, error) {
	s.tenant.Lock()
	defer s.tenant.Unlock()
	affected, err := s.tenant.Incident(kind, percent)
	if err != nil {
		return IncidentReport{}, err
	}
	return IncidentReport{Kind: kind, Percent: percent, Affected: affected}, nil
}

// AppendLogs adds n sign-in and n audit records stamped now.
func (s *Simulator) AppendLogs(n int) {
	s.tenant.Lock()
	defer s.tenant.Unlock()
	s.tenant.AppendLogs(n)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
