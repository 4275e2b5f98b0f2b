// Command entravault is the one binary of Entravault: the dev stack, the
// production api and worker roles, the tenant simulator and client commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

type command struct {
	run     func(ctx context.Context, args []string) error
	summary string
}

var commands = map[string]command{
	"dev":        {cmdDev, "run everything on this machine: Temporal server and UI, worker, API, storage, simulated tenant"},
	"api":        {cmdAPI, "run the REST API against a Temporal cluster"},
	"worker":     {cmdWorker, "run the Temporal worker that backs up tenants"},
	"simulate":   {cmdSimulate, "run the simulated tenant (Graph + Entra sign-in) alone"},
	"repo":       {cmdRepo, "inspect, verify and prune the snapshot repository"},
	"apikey":     {cmdAPIKey, "create, list and revoke API keys"},
	"snapshots":  {cmdSnapshots, "browse, compare and export snapshots through the API"},
	"restore":    {cmdRestore, "plan, apply and follow restores through the API"},
	"connectors": {cmdConnectors, "create, list, show, update, delete, run, verify connectors and renew consent through the API"},
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// askedForHelp prints a command's usage when args name no subcommand or
// ask for help.
func askedForHelp(args []string, usage string, stderr io.Writer) bool {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		return true
	}
	return false
}

func run(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage()
		return 2
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "entravault: unknown command %q\n\n", args[0])
		usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintf(os.Stderr, "entravault %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: entravault <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'entravault <command> -h' for its flags. Every flag can also be set as ENTRAVAULT_<FLAG_NAME>.")
}
