package activities

import (
	"errors"

	"go.temporal.io/sdk/temporal"
)

// Error types that no retry can fix; workflows list them as non-retryable.
const (
	ErrTypeNotLicensed = "NotLicensed" // activity logs without Entra ID P1/P2
	ErrTypeForbidden   = "Forbidden"   // a permission is missing or consent was revoked
	ErrTypeBadInput    = "BadInput"    // the input cannot work, whatever the retry
)

func nonRetryable(errType, msg string, cause error) error {
	return temporal.NewNonRetryableApplicationError(msg, errType, cause)
}

// classifyGraphError turns Graph failures that retrying cannot fix into
// non-retryable errors with a clear message; everything else is returned as
// is and retried by the activity's policy (the SDK already retried 429/503
// honouring Retry-After).
func classifyGraphError(what string, err error) error {
	var ge *GraphError
	if !errors.As(err, &ge) {
		return err
	}
	switch {
	case ge.Status == 403 && ge.Code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant":
		return nonRetryable(ErrTypeNotLicensed, what+": the tenant has no Entra ID P1 or P2 licence, which sign-in logs require", err)
	case ge.Status == 403:
		return nonRetryable(ErrTypeForbidden, what+": access denied by Graph ("+ge.Code+"): the backup application lacks a permission or consent was revoked", err)
	case ge.Status == 401:
		return nonRetryable(ErrTypeForbidden, what+": Graph rejected the application's token ("+ge.Code+")", err)
	case ge.Status == 400 && !IsDeltaExpired(err):
		return nonRetryable(ErrTypeBadInput, what+": Graph refused the request ("+ge.Code+": "+ge.Message+")", err)
	}
	return err
}
