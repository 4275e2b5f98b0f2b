package devstack

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(killTestWorkerEnv); spec != "" {
		runTestWorker(spec) // a worker process for TestWorkerKilledMidRun
		return
	}
	os.Exit(m.Run())
}
