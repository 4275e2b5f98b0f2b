// Package worker wires Entravault's workflows and activities to a Temporal
// worker. Activities are structs built once here with their clients injected;
// workflows reach them through method values.
package worker

import (
	"log/slog"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// Options configure a worker.
type Options struct {
	TaskQueue string
	Logger    *slog.Logger
	// Register adds workflows and activities; the product's set is added by
	// Register, tests may add their own.
	Register []func(worker.Registry)
}

// New returns an unstarted worker polling opts.TaskQueue.
func New(c client.Client, opts Options) worker.Worker {
	w := worker.New(c, opts.TaskQueue, worker.Options{
		// A failed workflow task is a bug to fix and retry from the UI,
		// not a reason to fail the connector for good.
		WorkflowPanicPolicy: worker.BlockWorkflow,
	})
	for _, register := range opts.Register {
		register(w)
	}
	if opts.Logger != nil {
		opts.Logger.Debug("worker configured", "task_queue", opts.TaskQueue)
	}
	return w
}
