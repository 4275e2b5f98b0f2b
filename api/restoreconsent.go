package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"go.temporal.io/sdk/client"

	"github.com/entravault/entravault/workflows"
)

// Restore writes go through a restore application, consented only when a
// tenant is first restored into (workflows/restoreconsent.go says why).
// Its consent is Entra's admin-consent endpoint: the redirect says whether
// the tenant granted it, and carries no code to redeem.

func init() {
	paths := openAPI["paths"].(map[string]any)
	paths["/api/v1/connectors/{id}/restore-consent"] = map[string]any{"post": withParams(op("A sign-in link for the tenant's administrator to grant the restore application's write permissions (write access); restore readiness in the verification report follows", true), path("id"))}
	paths["/api/v1/consent/restore-callback"] = map[string]any{"get": op("The restore application's admin-consent redirect URI", false)}
}

func (cc ConsentConfig) restoreRedirectURL() string {
	return strings.TrimSuffix(cc.RedirectURL, "/callback") + "/restore-callback"
}

// restoreConsentURL is Entra's admin-consent link for the restore
// application in the connector's tenant.
func (cc ConsentConfig) restoreConsentURL(tenantID, state string) string {
	q := url.Values{}
	q.Set("client_id", cc.RestoreClientID)
	q.Set("scope", "https://graph.microsoft.com/.default")
	q.Set("redirect_uri", cc.restoreRedirectURL())
	q.Set("state", state)
	return strings.TrimSuffix(cc.AuthorityHost, "/") + "/" + url.PathEscape(tenantID) + "/v2.0/adminconsent?" + q.Encode()
}

// RestoreConsentResponse answers POST …/restore-consent.
type RestoreConsentResponse struct {
	ConsentURL string `json:"consent_url"`
	ExpiresAt  string `json:"expires_at"`
}

func (h *handlers) requestRestoreConsent(c echo.Context) error {
	id, _, err := h.authorize(c, true)
	if err != nil {
		return err
	}
	if h.Consent.RestoreClientID == "" {
		return apiError(http.StatusConflict, "no_restore_application",
			"this deployment restores with the backup application, whose consent covers restores (see --restore-client-id)", nil)
	}
	ctx := c.Request().Context()
	st, err := h.queryState(ctx, id)
	if err != nil {
		return err
	}
	state, hash := newState(id)
	deadline := h.Now().Add(h.consentTimeout())
	if err := h.update(ctx, id, workflows.UpdateRequestRestoreConsent, workflows.RenewConsentInput{StateHash: hash, Deadline: deadline}, nil); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, RestoreConsentResponse{ConsentURL: h.Consent.restoreConsentURL(st.TenantID, state), ExpiresAt: deadline.UTC().Format("2006-01-02T15:04:05Z")})
}

// restoreConsentCallback checks the state against the connector's
// workflow (unguessable, single use, expiring) and records the answer.
func (h *handlers) restoreConsentCallback(c echo.Context) error {
	ctx := c.Request().Context()
	q := c.QueryParams()
	state := q.Get("state")
	connectorID, _, ok := strings.Cut(state, ".")
	bad := failPage("This link is unknown, expired or already used. Request a new restore consent link for the connector.")
	if state == "" || !ok || !validID(connectorID) {
		return h.callbackResult(c, http.StatusBadRequest, bad)
	}
	result := workflows.RestoreConsentResult{StateHash: hashState(state), TenantID: q.Get("tenant")}
	if e := q.Get("error"); e != "" {
		result.Error, result.ErrorDescription = e, truncate(q.Get("error_description"), 500)
	} else if !strings.EqualFold(q.Get("admin_consent"), "true") {
		result.Error, result.ErrorDescription = "not_granted", "the administrator did not grant consent"
	}
	upd, err := h.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.ConnectorWorkflowID(connectorID), UpdateName: workflows.UpdateRestoreConsent,
		Args: []any{result}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = upd.Get(ctx, nil)
	}
	if err != nil {
		h.Logger.Warn("restore consent refused", "connector", connectorID, "error", err)
		return h.callbackResult(c, http.StatusBadRequest, bad)
	}
	if result.Error != "" {
		return h.callbackResult(c, http.StatusOK, callbackView{Title: "Restore consent not granted", Class: "err", Connector: connectorID,
			Message: fmt.Sprintf("%s: %s", result.Error, result.ErrorDescription)})
	}
	return h.callbackResult(c, http.StatusOK, callbackView{Title: "Restore consent received", Class: "ok", Connector: connectorID, Link: "/connectors/" + connectorID,
		Message: "The tenant granted the restore application's permissions. Entravault verifies them again; restores can write once readiness shows them."})
}
