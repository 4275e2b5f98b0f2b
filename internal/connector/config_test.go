package connector

import (
	"errors"
	"testing"
)

func validDirectory() Config {
	return Config{
		Name:      "Contoso",
		Tenant:    "contoso.onmicrosoft.com",
		Kind:      KindDirectory,
		Scopes:    Scopes{Users: true, Groups: &GroupScope{All: true, Members: true}},
		Schedule:  Schedule{Interval: "6h"},
		Retention: Retention{Days: 30},
	}
}

func TestValidateAcceptsGoodConfigs(t *testing.T) {
	logs := Config{Name: "logs", Tenant: "6f1b3c2a-1111-2222-3333-444455556666", Kind: KindActivityLogs,
		Scopes: Scopes{SignIns: true, DirectoryAudits: true}, InitialLogSpan: "72h", Schedule: Schedule{Interval: "1h"}, Retention: Retention{KeepDaily: 7}}
	for name, c := range map[string]Config{"directory": validDirectory(), "logs": logs} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidateListsEveryBadField(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		fields []string
	}{
		{"empty", func(c *Config) { *c = Config{} }, []string{"kind", "name", "retention", "schedule.interval", "scopes", "tenant"}},
		{"bad tenant", func(c *Config) { c.Tenant = "not a tenant" }, []string{"tenant"}},
		{"log scope on directory", func(c *Config) { c.Scopes.SignIns = true }, []string{"scopes.sign_ins"}},
		{"group include and all", func(c *Config) { c.Scopes.Groups.Include = []string{"x"} }, []string{"scopes.groups", "scopes.groups.include[0]"}},
		{"interval too short", func(c *Config) { c.Schedule.Interval = "1m" }, []string{"schedule.interval"}},
		{"interval garbage", func(c *Config) { c.Schedule.Interval = "often" }, []string{"schedule.interval"}},
		{"full resync too often", func(c *Config) { c.Schedule.FullResync = "10m" }, []string{"schedule.full_resync"}},
		{"full resync garbage", func(c *Config) { c.Schedule.FullResync = "weekly" }, []string{"schedule.full_resync"}},
		{"negative retention", func(c *Config) { c.Retention.KeepLast = -1 }, []string{"retention.keep_last"}},
		{"log span on directory", func(c *Config) { c.InitialLogSpan = "3d" }, []string{"initial_log_span"}},
		{"empty policy scope", func(c *Config) { c.Scopes.Policies = &PolicyScope{} }, []string{"scopes.policies"}},
		{"blank principal", func(c *Config) { c.Access = []string{"alice", " "} }, []string{"access[1]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validDirectory()
			tc.mutate(&c)
			var ve *ValidationError
			if err := c.Validate(); !errors.As(err, &ve) {
				t.Fatalf("want a ValidationError, got %v", err)
			}
			got := map[string]bool{}
			for _, f := range ve.Fields {
				got[f.Field] = true
			}
			for _, f := range tc.fields {
				if !got[f] {
					t.Errorf("field %s not reported; got %+v", f, ve.Fields)
				}
			}
			if len(ve.Fields) != len(tc.fields) {
				t.Errorf("reported %d fields, want %d: %+v", len(ve.Fields), len(tc.fields), ve.Fields)
			}
		})
	}
}

func TestLogSpanLimit(t *testing.T) {
	c := Config{Name: "l", Tenant: "contoso.com", Kind: KindActivityLogs, Scopes: Scopes{SignIns: true}, InitialLogSpan: "31d", Schedule: Schedule{Interval: "1h"}, Retention: Retention{Days: 1}}
	if err := c.Validate(); err == nil {
		t.Fatal("31 days accepted")
	}
	c.InitialLogSpan = "30d"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.LogSpanDuration().Hours(); got != 720 {
		t.Fatalf("span = %vh", got)
	}
}

func TestNormalizeDefaults(t *testing.T) {
	c := Config{Name: " x ", Tenant: " Contoso.COM ", Kind: KindActivityLogs}
	c.Normalize()
	if c.Name != "x" || c.Tenant != "contoso.com" || c.Schedule.Interval != DefaultInterval || c.InitialLogSpan != DefaultLogSpan || c.Retention.Days != 30 {
		t.Fatalf("%+v", c)
	}
}

func TestCanAccess(t *testing.T) {
	c := validDirectory()
	c.Access = []string{"Alice@Contoso.com", "oid-1"}
	if !c.CanAccess("alice@contoso.com") || !c.CanAccess("x", "oid-1") || c.CanAccess("bob") || c.CanAccess("") {
		t.Fatal("access list matching is wrong")
	}
}
