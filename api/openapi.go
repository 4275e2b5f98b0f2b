package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPI is the API's OpenAPI 3 document. A test checks that it lists
// exactly the routes the server has.
var openAPI = map[string]any{
	"openapi": "3.0.3",
	"info": map[string]any{
		"title":       "Entravault API",
		"version":     "1",
		"description": "Back up Microsoft Entra ID tenants. Authenticate with `Authorization: Bearer <API key or OIDC access token>`.",
	},
	"components": map[string]any{
		"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer"}},
		"schemas": map[string]any{
			"Error": obj(map[string]any{"error": obj(map[string]any{
				"code": str(), "message": str(), "details": map[string]any{},
			})}),
			"ConnectorConfig": obj(map[string]any{
				"name": str(), "tenant": str(), "kind": map[string]any{"type": "string", "enum": []string{"directory", "activity_logs"}},
				"scopes":           map[string]any{"type": "object", "description": "users, groups {all|include, members}, administrative_units {all|include}, roles, applications, policies {conditional_access, named_locations, authentication_methods, authorization}, sign_ins, directory_audits"},
				"initial_log_span": str(), "schedule": obj(map[string]any{"interval": str(), "full_resync": str()}),
				"retention":     obj(map[string]any{"days": integer(), "keep_last": integer(), "keep_daily": integer(), "keep_weekly": integer(), "keep_monthly": integer(), "keep_yearly": integer()}),
				"access":        map[string]any{"type": "array", "items": str(), "description": "who may see and act: apikey:<id> or oid:<tenant id>/<object id>; a key name is resolved to its live key's id"},
				"consent_grant": map[string]any{"type": "string", "description": "POST only: the grant from POST /consent/sign-in's callback; the connector starts consented (verifying) and the answer has no consent_url"},
			}),
		},
	},
	"security": []any{map[string]any{"bearer": []string{}}},
	"paths": map[string]any{
		"/healthz":             map[string]any{"get": op("Liveness", false)},
		"/readyz":              map[string]any{"get": op("Readiness: Temporal and storage reachable", false)},
		"/metrics":             map[string]any{"get": op("Prometheus metrics", false)},
		"/api/v1/openapi.json": map[string]any{"get": op("This document", false)},
		"/api/v1/consent/callback": map[string]any{"get": withParams(op("OAuth redirect URI for the tenant administrator's sign-in", false),
			query("state"), query("code"), query("error"), query("error_description"))},
		"/api/v1/connectors": map[string]any{
			"post": withBody(op("Create a connector; answers the administrator's sign-in URL, or, with consent_grant (sign-in first), starts it verifying", true), "ConnectorConfig"),
			"get":  withParams(op("List the connectors the caller may see", true), query("status"), query("tenant")),
		},
		"/api/v1/connectors/{id}": map[string]any{
			"get":    withParams(op("Connector configuration, status, verification report, last and next run per scope", true), path("id")),
			"patch":  withParams(withBody(op("Change name, scopes, schedule, retention or access (validated by the workflow)", true), "ConnectorConfig"), path("id")),
			"delete": withParams(op("Stop backups; snapshots stay under retention unless purge=true (admins only; takes effect after the purge grace, cancellable)", true), path("id"), query("purge")),
		},
		"/api/v1/connectors/{id}/backups": map[string]any{"post": withParams(op("Run a backup now (all scopes or one)", true), path("id"))},
		"/api/v1/connectors/{id}/runs":    map[string]any{"get": withParams(op("Backup runs, newest first", true), path("id"), query("scope"))},
		"/api/v1/connectors/{id}/verify":  map[string]any{"post": withParams(op("Verify consent and permissions again", true), path("id"))},
		"/api/v1/connectors/{id}/consent": map[string]any{"post": withParams(op("Issue a new sign-in URL after expiry or failure", true), path("id"))},
	},
}

func obj(props map[string]any) map[string]any {
	return map[string]any{"type": "object", "properties": props}
}
func str() map[string]any     { return map[string]any{"type": "string"} }
func integer() map[string]any { return map[string]any{"type": "integer"} }

func op(summary string, secured bool) map[string]any {
	o := map[string]any{
		"summary": summary,
		"responses": map[string]any{
			"default": map[string]any{"description": "error", "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}}}},
			"200":     map[string]any{"description": "success"},
		},
	}
	if !secured {
		o["security"] = []any{}
	}
	return o
}

func withBody(o map[string]any, schema string) map[string]any {
	o["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + schema}}}}
	return o
}

func param(in, name string) map[string]any {
	return map[string]any{"in": in, "name": name, "required": in == "path", "schema": str()}
}
func path(name string) map[string]any  { return param("path", name) }
func query(name string) map[string]any { return param("query", name) }

func withParams(o map[string]any, ps ...map[string]any) map[string]any {
	o["parameters"] = ps
	return o
}

func serveOpenAPI(c echo.Context) error { return c.JSON(http.StatusOK, openAPI) }
