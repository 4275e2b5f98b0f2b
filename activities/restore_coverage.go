package activities

import (
	"strings"

	"github.com/entravault/entravault/internal/connector"
)

// coverage is what a restore's live read holds: a connector narrowed to
// specific groups or units reads only those, so the others, still in an
// older or broader snapshot, would look deleted. They are left out of the
// plan, with a skip saying how to restore them.
type coverage struct {
	groups, units map[string]bool // nil: all
}

func coverageOf(sc connector.Scopes) coverage {
	var c coverage
	if g := sc.Groups; g != nil && !g.All {
		c.groups = setOf(g.Include)
	}
	if a := sc.AdministrativeUnits; a != nil && !a.All {
		c.units = setOf(a.Include)
	}
	return c
}

func setOf(ids []string) map[string]bool {
	s := make(map[string]bool, len(ids))
	for _, id := range ids {
		s[id] = true
	}
	return s
}

// outside returns why the object (or the relation owned by) id of typ is
// not in the live read, or "".
func (c coverage) outside(typ, id string) string {
	owner, _, _ := strings.Cut(typ, ".")
	switch {
	case owner == "group" && c.groups != nil && !c.groups[id]:
		return "not in the connector's groups scope (specific groups): add it there to restore it"
	case owner == "administrativeUnit" && c.units != nil && !c.units[id]:
		return "not in the connector's administrative units scope (specific units): add it there to restore it"
	}
	return ""
}
