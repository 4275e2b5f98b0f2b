package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// AppRoles returns the application permissions ("roles" claim) in the
// app's Graph token for this tenant: what the tenant actually granted. The
// token comes straight from the authority over TLS, so its claims are read
// without verifying the signature; Graph verifies it on every call.
func (c *Client) AppRoles(ctx context.Context) ([]string, error) {
	tok, err := c.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err != nil {
		return nil, err
	}
	parts := strings.Split(tok.Token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("graph: access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("graph: access token payload: %w", err)
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("graph: access token claims: %w", err)
	}
	return claims.Roles, nil
}
