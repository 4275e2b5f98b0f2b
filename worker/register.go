package worker

import (
	"time"

	"go.temporal.io/sdk/activity"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/workflows"
)

// Deps are the clients the product's activities use.
type Deps struct {
	Graph activities.GraphFactory
	// RestoreGraph is the restore application (writes); nil: Graph.
	RestoreGraph activities.GraphFactory
	Repo         *repository.Repository
	// CheckpointEvery bounds the work a killed worker loses (default 10 s).
	CheckpointEvery time.Duration
}

// Product registers Entravault's workflows and activities.
func Product(d Deps) func(sdkworker.Registry) {
	return func(r sdkworker.Registry) {
		r.RegisterWorkflowWithOptions(workflows.ConnectorWorkflow, workflow.RegisterOptions{Name: workflows.ConnectorWorkflowName})
		r.RegisterWorkflow(workflows.ScopeBackupWorkflow)
		r.RegisterWorkflow(workflows.RetentionWorkflow)
		r.RegisterActivityWithOptions(&activities.Verifier{Graph: d.Graph, Restore: d.RestoreGraph}, activity.RegisterOptions{})
		r.RegisterActivityWithOptions(&activities.Backup{Graph: d.Graph, Repo: d.Repo, FullResyncEvery: 7 * 24 * time.Hour, CheckpointEvery: d.CheckpointEvery}, activity.RegisterOptions{})
		r.RegisterActivityWithOptions(&activities.Retention{Repo: d.Repo}, activity.RegisterOptions{})
		r.RegisterWorkflowWithOptions(workflows.RestoreWorkflow, workflow.RegisterOptions{Name: workflows.RestoreWorkflowName})
		r.RegisterActivityWithOptions(&activities.Restore{Graph: d.Graph, Writer: d.RestoreGraph, Repo: d.Repo, CheckpointEvery: d.CheckpointEvery}, activity.RegisterOptions{})
		r.RegisterWorkflow(workflows.DirectorySearchWorkflow)
		r.RegisterActivityWithOptions(&activities.Directory{Graph: d.Graph}, activity.RegisterOptions{})
	}
}

// Registry is where workflows and activities are registered.
type Registry = sdkworker.Registry
