package console

import (
	"reflect"
	"testing"

	"github.com/entravault/entravault/internal/connector"
)

// TestSettingsFormRoundTrip: a connector's settings shown in the form and
// sent back unchanged are the same settings, and what the form does not
// show (full resync, retention rules besides days) survives a save.
func TestSettingsFormRoundTrip(t *testing.T) {
	cfg := connector.Config{Name: "c", Tenant: "contoso.com", Kind: connector.KindDirectory,
		Scopes: connector.Scopes{Users: true, Groups: &connector.GroupScope{Include: []string{"g1", "g2"}, Members: true},
			AdministrativeUnits: &connector.AdminUnitScope{All: true}, Policies: &connector.PolicyScope{NamedLocations: true}},
		Schedule:  connector.Schedule{Interval: "6h", FullResync: "3d"},
		Retention: connector.Retention{Days: 30, KeepLast: 5},
		Access:    []string{"apikey:1", "oid:t/o"}}
	body := formBody(configForm(cfg), string(cfg.Kind))
	if got := body["scopes"].(connector.Scopes); !reflect.DeepEqual(got, cfg.Scopes) {
		t.Errorf("scopes after the form: %+v, want %+v", got, cfg.Scopes)
	}
	if got := body["access"].([]string); !reflect.DeepEqual(got, cfg.Access) {
		t.Errorf("access after the form: %v", got)
	}
	keepUnshown(body, cfg)
	if got := body["schedule"].(connector.Schedule); got != cfg.Schedule {
		t.Errorf("schedule after a save: %+v", got)
	}
	if _, sent := body["retention"]; sent {
		t.Error("an unchanged retention was sent (an operator would be refused)")
	}
	form := configForm(cfg)
	form.Set("retention_days", "60")
	body = formBody(form, string(cfg.Kind))
	keepUnshown(body, cfg)
	if got := body["retention"].(connector.Retention); got != (connector.Retention{Days: 60, KeepLast: 5}) {
		t.Errorf("retention after changing days: %+v", got)
	}
}
