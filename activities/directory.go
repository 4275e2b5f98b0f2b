package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// Directory answers the small live questions an operator asks of a tenant
// before its connector exists: which groups or administrative units to
// back up, found by name on the configure page.
type Directory struct {
	Graph GraphFactory
}

// DirectorySearchInput looks for objects of Type whose display name
// starts with Query ("" lists the first ones).
type DirectorySearchInput struct {
	TenantID string
	Type     string // "group" or "administrativeUnit"
	Query    string
}

// DirectoryObject is one search result.
type DirectoryObject struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	Mail        string `json:"mail,omitempty"`
}

// DirectorySearchLimit bounds a search's results: a picker, not an export.
const DirectorySearchLimit = 25

var directoryPaths = map[string]string{"group": "/groups", "administrativeUnit": "/directory/administrativeUnits"}

// SearchDirectory reads at most DirectorySearchLimit matching objects.
func (d *Directory) SearchDirectory(ctx context.Context, in DirectorySearchInput) ([]DirectoryObject, error) {
	path, ok := directoryPaths[in.Type]
	if !ok {
		return nil, nonRetryable(ErrTypeBadInput, fmt.Sprintf("cannot search objects of type %q", in.Type), nil)
	}
	g, err := d.Graph.ForTenant(ctx, in.TenantID)
	if err != nil {
		return nil, err
	}
	q := url.Values{"$select": {"id,displayName,mail"}, "$top": {fmt.Sprint(DirectorySearchLimit)}}
	if in.Query != "" {
		// OData strings double their single quotes.
		q.Set("$filter", fmt.Sprintf("startswith(displayName,'%s')", strings.ReplaceAll(in.Query, "'", "''")))
	}
	body, err := g.GetRaw(ctx, path+"?"+q.Encode())
	if err != nil {
		return nil, classifyGraphError("search the directory", err)
	}
	var page struct {
		Value []struct {
			ID          string `json:"id"`
			DisplayName string `json:"displayName"`
			Mail        string `json:"mail"`
		} `json:"value"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, fmt.Errorf("directory search: %w", err)
	}
	out := make([]DirectoryObject, 0, len(page.Value))
	for _, o := range page.Value[:min(len(page.Value), DirectorySearchLimit)] {
		out = append(out, DirectoryObject{ID: o.ID, DisplayName: o.DisplayName, Mail: o.Mail})
	}
	return out, nil
}
