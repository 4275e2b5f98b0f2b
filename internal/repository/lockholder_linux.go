//go:build linux

package repository

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// selfHolder names this process beyond host and PID: the kernel boot, the
// PID namespace and the process's start time. Together they tell a dead
// holder from a live one whose PID was reused, and keep two containers
// that share a hostname from judging each other.
func selfHolder() holderID {
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	ns, _ := os.Readlink("/proc/self/ns/pid")
	start, _ := processStart(os.Getpid())
	return holderID{Boot: strings.TrimSpace(string(boot)), PIDNS: ns, Start: start}
}

// processStart is field 22 of /proc/<pid>/stat: the start time in clock
// ticks since boot. The command name (field 2) may hold spaces and
// parentheses, so fields are counted after its last ')'.
func processStart(pid int) (uint64, error) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	rest := raw[bytes.LastIndexByte(raw, ')')+1:]
	fields := strings.Fields(string(rest))
	const startField = 22 - 3 // fields 1 and 2 precede rest, which starts at field 3
	if len(fields) <= startField {
		return 0, os.ErrInvalid
	}
	return strconv.ParseUint(fields[startField], 10, 64)
}

// holderGone reports whether the process that wrote lf certainly no longer
// runs. Only a holder in this very PID namespace of this boot of this
// host can be judged; any doubt answers false.
func holderGone(lf lockFile, self holderID, host string) bool {
	if lf.Host != host || lf.Boot == "" || lf.PIDNS == "" || lf.Start == 0 ||
		lf.Boot != self.Boot || lf.PIDNS != self.PIDNS || lf.PID <= 0 {
		return false
	}
	start, err := processStart(lf.PID)
	if os.IsNotExist(err) {
		return true
	}
	return err == nil && start != lf.Start // the PID now names another process
}
