package workflows

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/entravault/entravault/internal/connector"
)

// Restore writes go through a separate restore application, consented
// only when a tenant is first restored into: an application's admin
// consent grants every permission it is registered with, so one
// application for both would give every backup write access.
const (
	UpdateRequestRestoreConsent = "request-restore-consent"
	UpdateRestoreConsent        = "submit-restore-consent"
)

// RestoreConsent is the restore application's consent as the connector
// records it.
type RestoreConsent struct {
	StateHash string    `json:",omitempty"` // of the pending sign-in link; single use
	Deadline  time.Time `json:",omitzero"`
	GrantedAt time.Time `json:",omitzero"`
	Error     string    `json:",omitempty"`
}

// RestoreConsentResult is what the API learned from the admin-consent
// redirect.
type RestoreConsentResult struct {
	StateHash        string
	TenantID         string
	Error            string
	ErrorDescription string
}

func (c *connectorRun) validateRequestRestoreConsent(_ workflow.Context, in RenewConsentInput) error {
	if c.s.TenantID == "" || c.s.Config.Kind != connector.KindDirectory || c.s.Status == connector.StatusDeleted {
		return fmt.Errorf("restore consent: %w (%s): an active directory connector is needed", errWrongStatus, c.s.Status)
	}
	if len(in.StateHash) != 64 {
		return errors.New("restore consent: state hash required")
	}
	return nil
}

func (c *connectorRun) onRequestRestoreConsent(ctx workflow.Context, in RenewConsentInput) error {
	rc := c.restoreConsent()
	rc.StateHash, rc.Deadline = in.StateHash, in.Deadline
	return nil
}

func (c *connectorRun) validateRestoreConsent(ctx workflow.Context, in RestoreConsentResult) error {
	rc := c.s.RestoreConsent
	if rc == nil || rc.StateHash == "" || subtle.ConstantTimeCompare([]byte(in.StateHash), []byte(rc.StateHash)) != 1 {
		return errBadState
	}
	if workflow.Now(ctx).After(rc.Deadline) {
		return errors.New("restore consent: the sign-in link expired")
	}
	if in.Error == "" && in.TenantID != c.s.TenantID {
		return fmt.Errorf("restore consent: granted in tenant %s, the connector's is %s", in.TenantID, c.s.TenantID)
	}
	return nil
}

// onRestoreConsent records the answer and verifies again, so restore
// readiness shows what the tenant granted.
func (c *connectorRun) onRestoreConsent(ctx workflow.Context, in RestoreConsentResult) error {
	rc := c.restoreConsent()
	rc.StateHash = ""
	if in.Error != "" {
		rc.Error = in.Error + ": " + in.ErrorDescription
		return nil
	}
	rc.GrantedAt, rc.Error = workflow.Now(ctx), ""
	if c.s.Status == connector.StatusActive {
		c.s.VerifyRequested = true
		c.wake = true
	}
	return nil
}

func (c *connectorRun) restoreConsent() *RestoreConsent {
	if c.s.RestoreConsent == nil {
		c.s.RestoreConsent = &RestoreConsent{}
	}
	return c.s.RestoreConsent
}
