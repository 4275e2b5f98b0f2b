package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Me answers GET /me: who the credential is, so a client (the console)
// can show it and hide what the role may not do.
type Me struct {
	Name   string   `json:"name"`
	Role   string   `json:"role"`
	Method string   `json:"method"`
	IDs    []string `json:"ids"`
}

func init() {
	openAPI["paths"].(map[string]any)["/api/v1/me"] = map[string]any{"get": op("The caller: name, role (admin, operator, viewer), sign-in method and access-list ids", true)}
}

func (h *handlers) me(c echo.Context) error {
	p := principal(c)
	return c.JSON(http.StatusOK, Me{Name: p.Name, Role: string(p.Role), Method: p.Method, IDs: p.IDs})
}
