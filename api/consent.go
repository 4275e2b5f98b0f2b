package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"go.temporal.io/sdk/client"
	"golang.org/x/oauth2"

	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/workflows"
)

// ConsentConfig is the backup application's sign-in side. The API holds the
// client secret only to exchange the administrator's authorization code:
// the code and the secret never enter workflow history.
type ConsentConfig struct {
	AuthorityHost string // https://login.microsoftonline.com/
	ClientID      string
	ClientSecret  string
	// RedirectURL is this API's public callback,
	// https://entravault.example.com/api/v1/consent/callback.
	RedirectURL string
	// HTTPClient reaches the authority (may trust a private CA).
	HTTPClient *http.Client
	// Timeout is how long a sign-in link stays valid.
	Timeout time.Duration
	// RestoreClientID is the restore application ("": restores write with
	// the backup application, whose consent already covers them).
	RestoreClientID string
}

// newState returns an unguessable, connector-bound OAuth state and the
// hash the workflow keeps. The connector id before the dot lets the
// callback find the workflow; the random part makes it unguessable.
func newState(connectorID string) (state, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	state = connectorID + "." + base64.RawURLEncoding.EncodeToString(b)
	return state, hashState(state)
}

func hashState(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

// signInURL builds the administrator's sign-in link. With prompt=consent
// the permissions are reviewed; when the tenant's consent is already on
// record the prompt is left out and the sign-in only identifies the admin.
func (cc ConsentConfig) signInURL(tenant, state string, prompt bool) string {
	q := url.Values{}
	q.Set("client_id", cc.ClientID)
	q.Set("response_type", "code")
	q.Set("redirect_uri", cc.RedirectURL)
	q.Set("response_mode", "query")
	q.Set("scope", "openid profile https://graph.microsoft.com/.default")
	q.Set("state", state)
	if prompt {
		q.Set("prompt", "consent")
	}
	return strings.TrimSuffix(cc.AuthorityHost, "/") + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/authorize?" + q.Encode()
}

// skipConsentPrompt says whether the sign-in link may leave out the
// consent prompt: only when the tenant already consented (an active
// connector of it exists) and the caller may see such a connector, or is
// an admin. Anyone else gets the prompt, so a stranger cannot ride a
// consent given for someone else's connector (a Global Administrator with
// a live session would be signed in silently), and the link's shape
// reveals nothing about other connectors.
func (h *handlers) skipConsentPrompt(ctx context.Context, p auth.Principal, tenant string) bool {
	tid := h.tenantIDOf(ctx, tenant)
	q := fmt.Sprintf("WorkflowType = '%s' AND %s = '%s' AND %s IN ('%s', '%s')", workflows.ConnectorWorkflowName,
		workflows.ConnectorStatusKey.GetName(), connector.StatusActive, workflows.TenantIDKey.GetName(), escapeQuery(tid), escapeQuery(tenant))
	resp, err := h.Temporal.ListWorkflow(ctx, listRequest(h.Namespace, q, 100, nil))
	if err != nil {
		return false
	}
	for _, e := range resp.GetExecutions() {
		sum, err := decodeSummary(e.GetMemo())
		if err == nil && (p.IsAdmin() || auth.CanSee(p, sum.Access)) {
			return true
		}
	}
	return false
}

// tenantIDOf resolves a verified domain to its tenant id through the
// authority's OpenID discovery document (its issuer names the tenant), so
// a connector typed with a domain matches one typed with the id. A GUID,
// or a domain that does not resolve, is returned as given.
func (h *handlers) tenantIDOf(ctx context.Context, tenant string) string {
	if guidRE.MatchString(tenant) || h.Consent.AuthorityHost == "" {
		return tenant
	}
	if tid, ok := h.tenantIDs.Load(strings.ToLower(tenant)); ok {
		return tid.(string)
	}
	cctx := ctx
	if h.Consent.HTTPClient != nil {
		cctx = oidc.ClientContext(ctx, h.Consent.HTTPClient)
	}
	u := strings.TrimSuffix(h.Consent.AuthorityHost, "/") + "/" + url.PathEscape(tenant) + "/v2.0"
	provider, err := oidc.NewProvider(cctx, u)
	if err != nil {
		// The discovery document names the tenant id as its issuer, not
		// the domain asked for: go-oidc reports the mismatch, which
		// carries the issuer.
		var tid string
		if m := issuerTenantRE.FindStringSubmatch(err.Error()); m != nil {
			tid = m[1]
		}
		if tid == "" {
			return tenant
		}
		h.tenantIDs.Store(strings.ToLower(tenant), tid)
		return tid
	}
	var claims struct {
		Issuer string `json:"issuer"`
	}
	if provider.Claims(&claims) == nil {
		if m := issuerTenantRE.FindStringSubmatch(claims.Issuer); m != nil {
			h.tenantIDs.Store(strings.ToLower(tenant), m[1])
			return m[1]
		}
	}
	return tenant
}

var (
	guidRE         = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	issuerTenantRE = regexp.MustCompile(`/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})/v2\.0`)
)

var callbackPage = template.Must(template.New("callback").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Entravault – {{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}
.ok{color:#0a6b2d}.err{color:#a4262c}</style></head>
<body><h1 class="{{.Class}}">{{.Title}}</h1><p>{{.Message}}</p>
{{if .Connector}}<p>Connector: <code>{{.Connector}}</code></p>{{end}}
{{if .Link}}<p><a href="{{.Link}}">Back to the connector in Entravault</a></p>{{else}}<p>You can close this window.</p>{{end}}</body></html>`))

type callbackView struct {
	Title, Class, Message, Connector string
	Link                             string // the connector's console page
}

func (h *handlers) callbackResult(c echo.Context, status int, v callbackView) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().WriteHeader(status)
	return callbackPage.Execute(c.Response(), v)
}

func failPage(msg string) callbackView {
	return callbackView{Title: "Sign-in not completed", Class: "err", Message: msg}
}

// consentCallback is the redirect URI. It checks the state against the
// connector's workflow (unguessable, single use, bound to the connector,
// expiring), exchanges the code, and hands the result to the workflow.
func (h *handlers) consentCallback(c echo.Context) error {
	ctx := c.Request().Context()
	q := c.QueryParams()
	state := q.Get("state")
	if strings.HasPrefix(state, signInStatePrefix) {
		return h.signInCallback(c, state)
	}
	connectorID, _, ok := strings.Cut(state, ".")
	if state == "" || !ok || !validID(connectorID) {
		return h.callbackResult(c, http.StatusBadRequest, failPage("The sign-in response has no valid state. Start again from the connector's sign-in link."))
	}
	st, err := h.queryState(ctx, connectorID)
	if err != nil || st.Status != connector.StatusAwaitingConsent || st.ConsentStateHash == "" || st.ConsentStateHash != hashState(state) {
		return h.callbackResult(c, http.StatusBadRequest, failPage("This sign-in link is unknown, expired or already used. Request a new one for the connector."))
	}
	result := workflows.ConsentResult{StateHash: hashState(state)}
	if e := q.Get("error"); e != "" {
		result.Error, result.ErrorDescription = e, truncate(q.Get("error_description"), 500)
	} else {
		code := q.Get("code")
		if code == "" {
			return h.callbackResult(c, http.StatusBadRequest, failPage("The sign-in response has neither a code nor an error."))
		}
		id, err := h.exchangeCode(ctx, st.Config.Tenant, code)
		if err != nil {
			h.Logger.Warn("consent code exchange failed", "connector", connectorID, "error", err)
			result.Error, result.ErrorDescription = "code_exchange_failed", truncate(err.Error(), 500)
		} else {
			result.TenantID, result.AdminObjectID, result.AdminUPN = id.TenantID, id.ObjectID, id.UPN
		}
	}
	upd, err := h.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.ConnectorWorkflowID(connectorID), UpdateName: workflows.UpdateConsent,
		Args: []any{result}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var status connector.Status
	if err == nil {
		err = upd.Get(ctx, &status)
	}
	if err != nil {
		return h.callbackResult(c, http.StatusBadRequest, failPage("This sign-in link is unknown, expired or already used. Request a new one for the connector."))
	}
	if result.Error != "" {
		return h.callbackResult(c, http.StatusOK, callbackView{Title: "Consent not granted", Class: "err", Connector: st.Config.Name,
			Message: fmt.Sprintf("%s: %s", result.Error, result.ErrorDescription)})
	}
	return h.callbackResult(c, http.StatusOK, callbackView{Title: "Consent received", Class: "ok", Connector: st.Config.Name, Link: "/connectors/" + connectorID,
		Message: "Thank you, " + result.AdminUPN + ". Entravault is verifying the permissions; the first backup starts when verification passes."})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

type idClaims struct {
	TenantID string `json:"tid"`
	ObjectID string `json:"oid"`
	UPN      string `json:"upn"`
	Username string `json:"preferred_username"`
}

type adminIdentity struct{ TenantID, ObjectID, UPN string }

// exchangeCode redeems the administrator's code and verifies the id_token
// (signature via the tenant's published keys, audience, issuer, expiry).
func (h *handlers) exchangeCode(ctx context.Context, tenant, code string) (adminIdentity, error) {
	cc := h.Consent
	if cc.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, cc.HTTPClient)
	}
	base := strings.TrimSuffix(cc.AuthorityHost, "/") + "/" + url.PathEscape(tenant)
	conf := oauth2.Config{
		ClientID: cc.ClientID, ClientSecret: cc.ClientSecret, RedirectURL: cc.RedirectURL,
		Endpoint: oauth2.Endpoint{TokenURL: base + "/oauth2/v2.0/token", AuthStyle: oauth2.AuthStyleInParams},
		Scopes:   []string{"openid", "profile", "https://graph.microsoft.com/.default"},
	}
	tok, err := conf.Exchange(ctx, code)
	if err != nil {
		return adminIdentity{}, fmt.Errorf("exchange code: %w", redactOAuthError(err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return adminIdentity{}, errors.New("the token response has no id_token")
	}
	unverified, err := peekClaims(raw)
	if err != nil {
		return adminIdentity{}, err
	}
	provider, err := oidc.NewProvider(ctx, strings.TrimSuffix(cc.AuthorityHost, "/")+"/"+unverified.TenantID+"/v2.0")
	if err != nil {
		return adminIdentity{}, fmt.Errorf("tenant %s discovery: %w", unverified.TenantID, err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: cc.ClientID}).Verify(ctx, raw)
	if err != nil {
		return adminIdentity{}, fmt.Errorf("id_token: %w", err)
	}
	var cl idClaims
	if err := idt.Claims(&cl); err != nil {
		return adminIdentity{}, err
	}
	upn := cl.UPN
	if upn == "" {
		upn = cl.Username
	}
	if cl.TenantID == "" || cl.ObjectID == "" {
		return adminIdentity{}, errors.New("id_token lacks tid or oid")
	}
	return adminIdentity{TenantID: cl.TenantID, ObjectID: cl.ObjectID, UPN: upn}, nil
}

// redactOAuthError keeps the authority's error code and description and
// drops anything that could echo a credential.
func redactOAuthError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return fmt.Errorf("%s: %s", re.ErrorCode, truncate(re.ErrorDescription, 300))
		}
		return fmt.Errorf("authority answered %d", re.Response.StatusCode)
	}
	return err
}

func peekClaims(raw string) (idClaims, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return idClaims{}, errors.New("id_token is not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return idClaims{}, errors.New("id_token payload is not base64url")
	}
	var cl idClaims
	if err := json.Unmarshal(b, &cl); err != nil || cl.TenantID == "" {
		return idClaims{}, errors.New("id_token has no tenant")
	}
	return cl, nil
}
