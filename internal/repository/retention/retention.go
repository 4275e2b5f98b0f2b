package retention

import (
	"fmt"
	"sort"
	"time"
)

// Policy says what to keep. Zero fields are off; a policy with every field
// zero keeps everything (forgetting all but one snapshot needs KeepLast: 1).
type Policy struct {
	KeepWithinDays int // every snapshot within this many days of the newest
	KeepLast       int
	KeepDaily      int
	KeepWeekly     int
	KeepMonthly    int
	KeepYearly     int
}

// Empty reports whether the policy keeps everything.
func (p Policy) Empty() bool { return p == Policy{} }

// Snapshot is what retention needs to know.
type Snapshot struct {
	ID   string
	Time time.Time
}

// Decision is the outcome for one snapshot.
type Decision struct {
	Snapshot
	Keep    bool
	Reasons []string // why it is kept, e.g. "last", "daily", "newest"
}

// Apply decides for every snapshot of one scope, newest first.
func Apply(snaps []Snapshot, p Policy) []Decision {
	ds := make([]Decision, len(snaps))
	for i, s := range snaps {
		ds[i] = Decision{Snapshot: s}
	}
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].Time.After(ds[j].Time) })
	if len(ds) == 0 {
		return ds
	}
	keep := func(d *Decision, why string) { d.Keep = true; d.Reasons = append(d.Reasons, why) }
	keep(&ds[0], "newest")
	if p.Empty() {
		for i := 1; i < len(ds); i++ {
			keep(&ds[i], "no policy")
		}
		return ds
	}
	newest := ds[0].Time
	buckets := []struct {
		n    int
		name string
		key  func(time.Time) string
	}{
		{p.KeepDaily, "daily", func(t time.Time) string { return t.UTC().Format("2006-01-02") }},
		{p.KeepWeekly, "weekly", func(t time.Time) string { y, w := t.UTC().ISOWeek(); return fmt.Sprintf("%d-%02d", y, w) }},
		{p.KeepMonthly, "monthly", func(t time.Time) string { return t.UTC().Format("2006-01") }},
		{p.KeepYearly, "yearly", func(t time.Time) string { return t.UTC().Format("2006") }},
	}
	for i := range ds {
		d := &ds[i]
		if i < p.KeepLast {
			keep(d, "last")
		}
		if p.KeepWithinDays > 0 && !d.Time.Before(newest.AddDate(0, 0, -p.KeepWithinDays)) {
			keep(d, "within")
		}
	}
	// For each period rule, the newest snapshot of each of the N most recent
	// periods that have snapshots.
	for _, b := range buckets {
		if b.n <= 0 {
			continue
		}
		last, used := "", 0
		for i := range ds {
			k := b.key(ds[i].Time)
			if k == last {
				continue
			}
			last = k
			if used < b.n {
				keep(&ds[i], b.name)
				used++
			}
		}
	}
	return ds
}
