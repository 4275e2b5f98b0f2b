package api

import (
	"testing"

	"github.com/entravault/entravault/internal/connector"
)

func TestRetentionShrinks(t *testing.T) {
	type r = connector.Retention
	for _, tc := range []struct {
		name      string
		old, next r
		want      bool
	}{
		{"same", r{Days: 30}, r{Days: 30}, false},
		{"longer", r{Days: 30}, r{Days: 90}, false},
		{"a rule added", r{Days: 30}, r{Days: 30, KeepMonthly: 12}, false},
		{"to keep everything", r{Days: 30}, r{}, false},
		{"fewer days", r{Days: 30}, r{Days: 7}, true},
		{"days replaced by keep_last 1", r{Days: 30}, r{KeepLast: 1}, true},
		{"a rule dropped", r{Days: 30, KeepYearly: 5}, r{Days: 365}, true},
		{"each keep rule lowered", r{KeepLast: 5, KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 12, KeepYearly: 3}, r{KeepLast: 4, KeepDaily: 7, KeepWeekly: 4, KeepMonthly: 12, KeepYearly: 3}, true},
		{"weekly lowered", r{KeepWeekly: 4}, r{KeepWeekly: 3, KeepDaily: 30}, true},
		{"monthly lowered", r{KeepMonthly: 12}, r{KeepMonthly: 11}, true},
		{"yearly lowered", r{KeepYearly: 2}, r{KeepYearly: 1}, true},
		{"daily lowered", r{KeepDaily: 2}, r{KeepDaily: 1}, true},
		{"from keeping everything", r{}, r{Days: 3650}, true},
	} {
		if got := retentionShrinks(tc.old, tc.next); got != tc.want {
			t.Errorf("%s: retentionShrinks(%+v, %+v) = %v, want %v", tc.name, tc.old, tc.next, got, tc.want)
		}
	}
}
