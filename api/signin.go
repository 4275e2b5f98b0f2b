package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/workflows"
)

// The sign-in-first order (console: Add connector → Sign in → Accept →
// configure → Create): POST /consent/sign-in answers a sign-in link before
// any connector exists; the callback redeems the code and hands back a
// consent grant, a short-lived token signed by this API that names the
// tenant and the administrator and is bound to whoever asked for the link;
// POST /connectors with that grant starts the connector already consented,
// in verifying. Both tokens are stateless (MACed with a key derived from
// the repository's), so any API replica can check them, and they carry no
// secret: the code is redeemed here and never leaves.

const (
	signInStatePrefix = "g."
	grantLifetime     = time.Hour
	macPurposeSignIn  = "api/consent-sign-in"
)

// SignInRequest is POST /consent/sign-in.
type SignInRequest struct {
	Tenant string         `json:"tenant"`
	Kind   connector.Kind `json:"kind"`
	// ReturnTo is a path on this server the callback sends the browser
	// to with ?grant=…; empty: the callback page shows the grant.
	ReturnTo string `json:"return_to,omitempty"`
}

// SignInResponse answers POST /consent/sign-in.
type SignInResponse struct {
	ConsentURL string    `json:"consent_url"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// signInState is what the OAuth state of a sign-in-first link carries.
type signInState struct {
	Principal string         `json:"p"`
	Tenant    string         `json:"t"`
	Kind      connector.Kind `json:"k"`
	ReturnTo  string         `json:"r,omitempty"`
	Expires   int64          `json:"e"`
	Nonce     string         `json:"n"`
}

// ConsentGrant is what a sign-in proved: the tenant's administrator
// accepted. It is bound to the principal that asked for the link.
type ConsentGrant struct {
	Principal string         `json:"p"`
	Tenant    string         `json:"t"`
	Kind      connector.Kind `json:"k"`
	TenantID  string         `json:"tid"`
	AdminOID  string         `json:"oid"`
	AdminUPN  string         `json:"upn"`
	Expires   int64          `json:"e"`
}

func init() {
	paths := openAPI["paths"].(map[string]any)
	paths["/api/v1/consent/sign-in"] = map[string]any{"post": withBody(op(
		"Sign in before creating: answers the administrator's sign-in link for {tenant, kind, return_to}. "+
			"After the administrator accepts, the callback redirects to return_to?grant=… (or shows the grant); "+
			"POST /connectors with consent_grant within an hour creates the connector already consented", true), "SignInRequest")}
	openAPI["components"].(map[string]any)["schemas"].(map[string]any)["SignInRequest"] = obj(map[string]any{
		"tenant": str(), "kind": map[string]any{"type": "string", "enum": []string{"directory", "activity_logs"}},
		"return_to": map[string]any{"type": "string", "description": "a path on this server, such as /connectors/new/configure"},
	})
}

func principalID(p auth.Principal) string {
	if len(p.IDs) > 0 {
		return p.IDs[0]
	}
	return p.Name
}

// signIn answers a sign-in link that exists before the connector.
func (h *handlers) signIn(c echo.Context) error {
	p := principal(c)
	if !p.CanWrite() {
		return apiError(http.StatusForbidden, "forbidden", "role "+string(p.Role)+" may not create connectors", nil)
	}
	if h.Repo == nil {
		return apiError(http.StatusServiceUnavailable, "unavailable", "sign-in before create needs the snapshot repository", nil)
	}
	var req SignInRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	// Only the tenant and the kind are known yet; the scope stands in for
	// the settings the connector gets at create.
	cfg := connector.Config{Name: "sign-in", Tenant: req.Tenant, Kind: req.Kind, Scopes: connector.Scopes{Users: true}}
	if req.Kind == connector.KindActivityLogs {
		cfg.Scopes = connector.Scopes{SignIns: true}
	}
	cfg.Normalize()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if !SafeReturnPath(req.ReturnTo) {
		return apiError(http.StatusBadRequest, "rejected", "return_to must be a path on this server", nil)
	}
	exp := h.Now().Add(h.consentTimeout())
	st := signInState{Principal: principalID(p), Tenant: cfg.Tenant, Kind: cfg.Kind, ReturnTo: req.ReturnTo, Expires: exp.Unix(), Nonce: nonce()}
	state := signInStatePrefix + h.seal("state", st)
	prompt := !h.skipConsentPrompt(c.Request().Context(), p, cfg.Tenant)
	return c.JSON(http.StatusOK, SignInResponse{ConsentURL: h.Consent.signInURL(cfg.Tenant, state, prompt), ExpiresAt: exp.UTC()})
}

// SafeReturnPath accepts only a local absolute path (or none), never
// //host or a scheme, so a redirect to it cannot leave this server.
func SafeReturnPath(p string) bool {
	if p == "" {
		return true
	}
	// Browsers drop tabs and newlines, so "/\t/host" would become "//host".
	return strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.Contains(p, "://") &&
		!strings.ContainsFunc(p, func(r rune) bool { return r == '\\' || unicode.IsControl(r) })
}

func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// seal encodes v and MACs it under kind, so a state can never pass as a
// grant or the other way round.
func (h *handlers) seal(kind string, v any) string {
	b, _ := json.Marshal(v)
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(h.mac(kind, payload))
}

func (h *handlers) mac(kind, payload string) []byte {
	m := hmac.New(sha256.New, h.Repo.DeriveKey(macPurposeSignIn))
	m.Write([]byte(kind + "\x00" + payload))
	return m.Sum(nil)
}

var errBadToken = errors.New("invalid or expired")

// open checks a sealed value's MAC and decodes it.
func (h *handlers) open(kind, sealed string, into any) error {
	payload, sig, ok := strings.Cut(sealed, ".")
	if !ok || h.Repo == nil {
		return errBadToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, h.mac(kind, payload)) {
		return errBadToken
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(b, into) != nil {
		return errBadToken
	}
	return nil
}

// signInCallback finishes a sign-in-first link: redeem the code, seal a
// grant, and send the browser back to the console (or show the grant).
func (h *handlers) signInCallback(c echo.Context, state string) error {
	var st signInState
	if err := h.open("state", strings.TrimPrefix(state, signInStatePrefix), &st); err != nil || h.Now().Unix() > st.Expires {
		return h.callbackResult(c, http.StatusBadRequest, failPage("This sign-in link is unknown or expired. Start again from Add connector."))
	}
	q := c.QueryParams()
	if e := q.Get("error"); e != "" {
		return h.signInFailed(c, st, e+": "+truncate(q.Get("error_description"), 300))
	}
	id, err := h.exchangeCode(c.Request().Context(), st.Tenant, q.Get("code"))
	if err != nil {
		h.Logger.Warn("sign-in code exchange failed", "error", err)
		return h.signInFailed(c, st, "code_exchange_failed: "+truncate(err.Error(), 300))
	}
	g := ConsentGrant{Principal: st.Principal, Tenant: st.Tenant, Kind: st.Kind, TenantID: id.TenantID, AdminOID: id.ObjectID,
		AdminUPN: id.UPN, Expires: h.Now().Add(grantLifetime).Unix()}
	grant := h.seal("grant", g)
	if st.ReturnTo == "" {
		return h.callbackResult(c, http.StatusOK, callbackView{Title: "Consent received", Class: "ok",
			Message: "Create the connector within an hour with \"consent_grant\": \"" + grant + "\"."})
	}
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	return c.Redirect(http.StatusSeeOther, withParam(st.ReturnTo, "grant", grant))
}

func (h *handlers) signInFailed(c echo.Context, st signInState, reason string) error {
	if st.ReturnTo == "" {
		return h.callbackResult(c, http.StatusOK, callbackView{Title: "Consent not granted", Class: "err", Message: reason})
	}
	return c.Redirect(http.StatusSeeOther, withParam(st.ReturnTo, "error", reason))
}

func withParam(path, k, v string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + url.QueryEscape(k) + "=" + url.QueryEscape(v)
}

// checkGrant opens a consent grant for a connector of cfg created by p.
func (h *handlers) checkGrant(p auth.Principal, cfg connector.Config, sealed string) (*workflows.ConsentResult, error) {
	g, err := h.openGrant(p, sealed)
	if err != nil {
		return nil, err
	}
	if cfg.Tenant != g.Tenant && !strings.EqualFold(cfg.Tenant, g.TenantID) {
		return nil, badGrant("the consent grant is for another tenant")
	}
	return &workflows.ConsentResult{TenantID: g.TenantID, AdminObjectID: g.AdminOID, AdminUPN: g.AdminUPN}, nil
}

func badGrant(msg string) error {
	return apiError(http.StatusBadRequest, "invalid_consent_grant", msg, nil)
}

// openGrant checks that sealed is a grant this API issued to p that has
// not expired.
func (h *handlers) openGrant(p auth.Principal, sealed string) (ConsentGrant, error) {
	var g ConsentGrant
	if err := h.open("grant", sealed, &g); err != nil {
		return g, badGrant("the consent grant is not valid")
	}
	switch {
	case h.Now().Unix() > g.Expires:
		return g, badGrant("the consent grant expired: sign in again")
	case g.Principal != principalID(p):
		return g, badGrant("the consent grant was issued to someone else")
	}
	return g, nil
}
