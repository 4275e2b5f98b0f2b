package retention

import (
	"fmt"
	"testing"
	"time"
)

func TestApply(t *testing.T) {
	base := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	// 60 daily snapshots, plus a second one on the newest day.
	var snaps []Snapshot
	for i := range 60 {
		snaps = append(snaps, Snapshot{ID: fmt.Sprint(i), Time: base.AddDate(0, 0, -i)})
	}
	snaps = append(snaps, Snapshot{ID: "extra", Time: base.Add(-time.Hour)})

	cases := []struct {
		name string
		p    Policy
		kept int
	}{
		{"empty keeps all", Policy{}, 61},
		{"last 1 keeps newest only", Policy{KeepLast: 1}, 1},
		{"last 5", Policy{KeepLast: 5}, 5},
		{"within 7 days", Policy{KeepWithinDays: 7}, 9}, // days 0..7 plus extra
		{"daily 7", Policy{KeepDaily: 7}, 7},
		{"weekly 4", Policy{KeepWeekly: 4}, 4},
		{"monthly 3", Policy{KeepMonthly: 3}, 3},
		{"yearly 5", Policy{KeepYearly: 5}, 1},
		{"daily 7 + monthly 3 overlap", Policy{KeepDaily: 7, KeepMonthly: 3}, 9},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds := Apply(snaps, c.p)
			kept := 0
			for _, d := range ds {
				if d.Keep {
					kept++
				}
			}
			if kept != c.kept {
				t.Fatalf("kept %d, want %d", kept, c.kept)
			}
			if !ds[0].Keep || ds[0].ID != "0" {
				t.Fatalf("newest not kept: %+v", ds[0])
			}
		})
	}
}

func TestApplyNone(t *testing.T) {
	if ds := Apply(nil, Policy{KeepLast: 1}); len(ds) != 0 {
		t.Fatalf("got %d decisions", len(ds))
	}
}
