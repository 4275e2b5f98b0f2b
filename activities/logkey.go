package activities

import (
	"encoding/json"
	"strings"
	"time"
)

// Activity-log records are stored under a key of their time and id, so a
// log snapshot is partitioned by time: records sort chronologically, a new
// run's records land after the ones already stored (late arrivals within
// the overlap just before them), and the tree chunks and packs holding
// earlier hours are never written again; every later snapshot shares them.
// A time range is read by scanning from LogKey(start, "").
//
// The time is fixed-width UTC with seven fractional digits (Graph sends
// from none to seven), so keys sort as times do.
const logKeyLayout = "2006-01-02T15:04:05.0000000Z"

// LogKey is the snapshot key of the activity-log record id at time at.
func LogKey(at time.Time, id string) string {
	return at.UTC().Format(logKeyLayout) + "_" + id
}

// SplitLogKey returns the time and the Graph id in a log key.
func SplitLogKey(key string) (time.Time, string, bool) {
	ts, id, ok := strings.Cut(key, "_")
	if !ok {
		return time.Time{}, "", false
	}
	at, err := time.Parse(logKeyLayout, ts)
	return at, id, err == nil
}

// recordTime is a record's time field; a record without a readable one
// sorts first rather than failing the run.
func recordTime(ms []member, field string) time.Time {
	var ts string
	if v, ok := find(ms, field); ok && json.Unmarshal(v, &ts) == nil {
		if at, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			return at.UTC()
		}
	}
	return time.Time{}
}
