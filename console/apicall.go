package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
)

// apiError is the REST API's error answer.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// call runs one REST API request in-process with the session's own
// credential, so the console can do exactly what its user may do through
// the API, and no more. into receives the JSON answer.
func (s *Server) call(r *http.Request, sess *session, method, path string, body, into any) error {
	status, raw := s.do(r, sess.Token, method, path, body)
	if status >= 300 {
		return decodeAPIError(status, raw)
	}
	if into == nil || status == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// do answers the status and body of one in-process API request.
func (s *Server) do(r *http.Request, token, method, path string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(r.Context(), method, path, rd)
	req.RemoteAddr = r.RemoteAddr
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	s.cfg.API.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func decodeAPIError(status int, raw []byte) error {
	var e struct {
		Error struct {
			Code    string          `json:"code"`
			Message string          `json:"message"`
			Details json.RawMessage `json:"details"`
		} `json:"error"`
	}
	_ = json.Unmarshal(raw, &e)
	msg := e.Error.Message
	// A refused configuration lists each field: show them all.
	var fields []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	}
	if json.Unmarshal(e.Error.Details, &fields) == nil && len(fields) > 0 {
		parts := make([]string, len(fields))
		for i, f := range fields {
			parts[i] = f.Field + ": " + f.Message
		}
		msg += ": " + strings.Join(parts, "; ")
	}
	return &apiError{Status: status, Code: e.Error.Code, Message: msg}
}

// errorView is the error page.
type errorView struct {
	Title, Message string
}

// explain turns an error into a status and words a person can act on.
func explain(err error) (int, errorView) {
	ae, ok := err.(*apiError)
	if !ok {
		return http.StatusInternalServerError, errorView{Title: "Something went wrong", Message: "Entravault could not finish this request. Try again in a moment; if it keeps failing, the server log says why."}
	}
	switch ae.Status {
	case http.StatusNotFound:
		return ae.Status, errorView{Title: "Not found", Message: "It does not exist, or you do not have access to it."}
	case http.StatusForbidden:
		return ae.Status, errorView{Title: "Not allowed", Message: "Your role does not allow this. " + ae.Message}
	case http.StatusConflict:
		return ae.Status, errorView{Title: "Not possible right now", Message: ae.Message}
	case http.StatusTooManyRequests:
		return ae.Status, errorView{Title: "Busy", Message: "Too many heavy requests at once. Wait a few seconds and reload."}
	}
	if ae.Status < 500 {
		return ae.Status, errorView{Title: "Check the input", Message: ae.Message}
	}
	return ae.Status, errorView{Title: "Something went wrong", Message: "Entravault could not finish this request (" + ae.Message + "). Try again in a moment."}
}

func urlEscape(s string) string { return url.QueryEscape(s) }
