package connector

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Kind separates directory backups from activity-log backups: they need
// different permissions and licences.
type Kind string

const (
	KindDirectory    Kind = "directory"
	KindActivityLogs Kind = "activity_logs"
)

// Scope names a part of the tenant that is backed up on its own schedule.
type Scope string

const (
	ScopeUsers               Scope = "users"
	ScopeGroups              Scope = "groups"
	ScopeAdministrativeUnits Scope = "administrative_units"
	ScopeRoles               Scope = "roles"
	ScopeApplications        Scope = "applications"
	ScopePolicies            Scope = "policies"
	ScopeSignIns             Scope = "sign_ins"
	ScopeDirectoryAudits     Scope = "directory_audits"
)

// LiveNamespace is the repository connector that holds a connector's live
// reads (diff?to=live, restore plans), apart from its backups so they
// never count as backups or parents.
func LiveNamespace(connectorID string) string { return connectorID + ".live" }

// AllScopes in backup order.
var AllScopes = []Scope{ScopeUsers, ScopeGroups, ScopeAdministrativeUnits, ScopeRoles, ScopeApplications, ScopePolicies, ScopeSignIns, ScopeDirectoryAudits}

// IsActivityLog tells the scopes that need a P1/P2 licence and a log reader.
func (s Scope) IsActivityLog() bool { return s == ScopeSignIns || s == ScopeDirectoryAudits }

// Config is everything an operator sets on a connector.
type Config struct {
	Name           string    `json:"name"`
	Tenant         string    `json:"tenant"` // tenant id (GUID) or verified domain
	Kind           Kind      `json:"kind"`
	Scopes         Scopes    `json:"scopes"`
	InitialLogSpan string    `json:"initial_log_span,omitempty"` // "72h", "30d": how far back the first log backup reads
	Schedule       Schedule  `json:"schedule"`
	Retention      Retention `json:"retention"`
	Access         []string  `json:"access,omitempty"` // immutable principal ids (apikey:<id>, oid:<tid>/<oid>) allowed to see and act
}

// Scopes selects what is backed up; a nil pointer means off.
type Scopes struct {
	Users               bool            `json:"users,omitempty"`
	Groups              *GroupScope     `json:"groups,omitempty"`
	AdministrativeUnits *AdminUnitScope `json:"administrative_units,omitempty"`
	Roles               bool            `json:"roles,omitempty"`
	Applications        bool            `json:"applications,omitempty"`
	Policies            *PolicyScope    `json:"policies,omitempty"`
	SignIns             bool            `json:"sign_ins,omitempty"`
	DirectoryAudits     bool            `json:"directory_audits,omitempty"`
}

// GroupScope: all groups or an include list, with or without members.
type GroupScope struct {
	All     bool     `json:"all,omitempty"`
	Include []string `json:"include,omitempty"`
	Members bool     `json:"members,omitempty"`
}

// AdminUnitScope: all administrative units or an include list.
type AdminUnitScope struct {
	All     bool     `json:"all,omitempty"`
	Include []string `json:"include,omitempty"`
}

// PolicyScope selects policy families.
type PolicyScope struct {
	ConditionalAccess     bool `json:"conditional_access,omitempty"`
	NamedLocations        bool `json:"named_locations,omitempty"`
	AuthenticationMethods bool `json:"authentication_methods,omitempty"`
	Authorization         bool `json:"authorization,omitempty"`
}

// Schedule of recurring backups.
type Schedule struct {
	Interval string `json:"interval"` // Go duration or days: "6h", "1d"
	// FullResync forces a full read of delta scopes this often ("7d"),
	// bounding drift delta could miss; directory connectors only.
	FullResync string `json:"full_resync,omitempty"`
}

// Retention of snapshots, applied by the daily cleanup.
type Retention struct {
	Days        int `json:"days,omitempty"` // keep everything newer than this
	KeepLast    int `json:"keep_last,omitempty"`
	KeepDaily   int `json:"keep_daily,omitempty"`
	KeepWeekly  int `json:"keep_weekly,omitempty"`
	KeepMonthly int `json:"keep_monthly,omitempty"`
	KeepYearly  int `json:"keep_yearly,omitempty"`
}

// Enabled lists the enabled scopes in backup order.
func (s Scopes) Enabled() []Scope {
	var out []Scope
	on := map[Scope]bool{
		ScopeUsers: s.Users, ScopeGroups: s.Groups != nil, ScopeAdministrativeUnits: s.AdministrativeUnits != nil,
		ScopeRoles: s.Roles, ScopeApplications: s.Applications, ScopePolicies: s.Policies != nil,
		ScopeSignIns: s.SignIns, ScopeDirectoryAudits: s.DirectoryAudits,
	}
	for _, sc := range AllScopes {
		if on[sc] {
			out = append(out, sc)
		}
	}
	return out
}

// FieldError is one invalid field, by its JSON path.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every invalid field at once.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid connector: " + strings.Join(parts, "; ")
}

var (
	guidRE   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainRE = regexp.MustCompile(`^(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?))+$`)
)

// Limits keep a connector's state small enough for workflow history.
const (
	MinInterval     = 15 * time.Minute
	MaxIncludeIDs   = 500
	MaxAccess       = 200
	MaxLogSpan      = 30 * 24 * time.Hour // Entra keeps logs 30 days at most
	DefaultInterval = "24h"
	DefaultLogSpan  = "7d"
	MinFullResync   = time.Hour
	// DefaultFullResync is the full-resync period when none is set.
	DefaultFullResync = "7d"
)

// Normalize fills defaults: a daily schedule, a 7-day initial log span for
// log connectors, and 30 days of retention when nothing is set.
func (c *Config) Normalize() {
	c.Name = strings.TrimSpace(c.Name)
	c.Tenant = strings.ToLower(strings.TrimSpace(c.Tenant))
	if c.Schedule.Interval == "" {
		c.Schedule.Interval = DefaultInterval
	}
	if c.Kind != KindActivityLogs && c.Schedule.FullResync == "" {
		c.Schedule.FullResync = DefaultFullResync
	}
	if c.Kind == KindActivityLogs && c.InitialLogSpan == "" {
		c.InitialLogSpan = DefaultLogSpan
	}
	if c.Retention == (Retention{}) {
		c.Retention.Days = 30
	}
}

// Validate reports every invalid field.
func (c Config) Validate() error {
	var errs []FieldError
	bad := func(field, format string, a ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, a...)})
	}
	if c.Name == "" {
		bad("name", "required")
	} else if len(c.Name) > 100 {
		bad("name", "at most 100 characters")
	}
	if c.Tenant == "" {
		bad("tenant", "required: a tenant id or a verified domain")
	} else if !guidRE.MatchString(c.Tenant) && !domainRE.MatchString(c.Tenant) {
		bad("tenant", "must be a tenant id (GUID) or a domain name")
	}
	switch c.Kind {
	case KindDirectory, KindActivityLogs:
	case "":
		bad("kind", "required: directory or activity_logs")
	default:
		bad("kind", "must be directory or activity_logs")
	}
	enabled := c.Scopes.Enabled()
	if len(enabled) == 0 {
		bad("scopes", "enable at least one scope")
	}
	for _, s := range enabled {
		if c.Kind == KindDirectory && s.IsActivityLog() {
			bad("scopes."+string(s), "activity-log scopes belong to an activity_logs connector")
		}
		if c.Kind == KindActivityLogs && !s.IsActivityLog() {
			bad("scopes."+string(s), "an activity_logs connector backs up sign_ins and directory_audits only")
		}
	}
	if g := c.Scopes.Groups; g != nil {
		checkInclude(bad, "scopes.groups", g.All, g.Include)
	}
	if a := c.Scopes.AdministrativeUnits; a != nil {
		checkInclude(bad, "scopes.administrative_units", a.All, a.Include)
	}
	if p := c.Scopes.Policies; p != nil && !p.ConditionalAccess && !p.NamedLocations && !p.AuthenticationMethods && !p.Authorization {
		bad("scopes.policies", "select at least one policy family")
	}
	if c.InitialLogSpan != "" {
		if c.Kind != KindActivityLogs {
			bad("initial_log_span", "only for activity_logs connectors")
		} else if d, err := parseDuration(c.InitialLogSpan); err != nil || d <= 0 {
			bad("initial_log_span", "must be a duration such as 72h or 30d")
		} else if d > MaxLogSpan {
			bad("initial_log_span", "at most 30d: Entra keeps activity logs 30 days")
		}
	}
	if d, err := parseDuration(c.Schedule.Interval); err != nil {
		bad("schedule.interval", "must be a duration such as 6h or 1d")
	} else if d < MinInterval {
		bad("schedule.interval", "at least %s", MinInterval)
	}
	if f := c.Schedule.FullResync; f != "" {
		if d, err := parseDuration(f); err != nil {
			bad("schedule.full_resync", "must be a duration such as 168h or 7d")
		} else if d < MinFullResync {
			bad("schedule.full_resync", "at least %s", MinFullResync)
		} else if c.Kind == KindActivityLogs {
			bad("schedule.full_resync", "activity logs are never resynced: leave it out")
		}
	}
	r := c.Retention
	for field, v := range map[string]int{"days": r.Days, "keep_last": r.KeepLast, "keep_daily": r.KeepDaily, "keep_weekly": r.KeepWeekly, "keep_monthly": r.KeepMonthly, "keep_yearly": r.KeepYearly} {
		if v < 0 {
			bad("retention."+field, "must not be negative")
		}
	}
	if r == (Retention{}) {
		bad("retention", "set days or a keep policy")
	}
	if len(c.Access) > MaxAccess {
		bad("access", "at most %d principals", MaxAccess)
	}
	for i, p := range c.Access {
		if strings.TrimSpace(p) == "" {
			bad(fmt.Sprintf("access[%d]", i), "empty principal")
		}
	}
	if len(errs) == 0 {
		return nil
	}
	slices.SortFunc(errs, func(a, b FieldError) int { return strings.Compare(a.Field, b.Field) })
	return &ValidationError{Fields: errs}
}

func checkInclude(bad func(string, string, ...any), field string, all bool, include []string) {
	if all == (len(include) > 0) {
		bad(field, "set either all or include")
	}
	if len(include) > MaxIncludeIDs {
		bad(field+".include", "at most %d ids", MaxIncludeIDs)
	}
	for i, id := range include {
		if !guidRE.MatchString(id) {
			bad(fmt.Sprintf("%s.include[%d]", field, i), "must be an object id (GUID)")
		}
	}
}

// IntervalDuration is the schedule interval; Validate has accepted it.
func (c Config) IntervalDuration() time.Duration {
	d, _ := parseDuration(c.Schedule.Interval)
	return d
}

// FullResyncDuration is the full-resync period, or 0 for the default.
func (c Config) FullResyncDuration() time.Duration {
	d, _ := parseDuration(c.Schedule.FullResync)
	return d
}

// LogSpanDuration is the initial log span, or 0.
func (c Config) LogSpanDuration() time.Duration {
	d, _ := parseDuration(c.InitialLogSpan)
	return d
}

// parseDuration accepts Go durations and whole days ("30d").
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err != nil || fmt.Sprint(days) != n || days < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// CanAccess reports whether principal is on the connector's access list.
func (c Config) CanAccess(principals ...string) bool {
	for _, p := range principals {
		for _, a := range c.Access {
			if p != "" && strings.EqualFold(a, p) {
				return true
			}
		}
	}
	return false
}

// Status is where a connector is in its life.
type Status string

const (
	StatusAwaitingConsent    Status = "awaiting_consent"
	StatusConsentExpired     Status = "consent_expired"
	StatusConsentFailed      Status = "consent_failed"
	StatusVerifying          Status = "verifying"
	StatusVerificationFailed Status = "verification_failed"
	// StatusNeedsConsent: a backup was refused for good (consent revoked,
	// a permission removed); an administrator must consent again.
	StatusNeedsConsent Status = "needs_consent"
	StatusActive       Status = "active"
	StatusPaused       Status = "paused"
	StatusDeleted      Status = "deleted"
)
