package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/entravault/entravault/internal/tenantsim"
)

const simulateUsage = `usage: entravault simulate [flags]

Runs the tenant simulator alone: Microsoft Graph v1.0 over plain HTTP and
Entra sign-in over HTTPS (self-signed CA in --data), for rehearsing backups
and restores offline. Demo credentials are written to <data>/tenant.json and
served at GET <graph-addr>/_sim/credentials. The tenant is saved as it
changes to <data>/simulator/state.json and continues there after a restart
(--persist=false for a fresh tenant every run).

Flags (also ENTRAVAULT_<FLAG>, e.g. ENTRAVAULT_GRAPH_ADDR):
`

// cmdSimulate runs the simulator until ctx is cancelled.
func cmdSimulate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, simulateUsage); fs.PrintDefaults() }
	var o tenantsim.Options
	data := fs.String("data", ".data", "data folder; the simulator uses <data>/simulator")
	fs.Int64Var(&o.Seed, "seed", 1, "seed of the synthetic tenant")
	fs.IntVar(&o.Users, "users", 200, "number of users")
	fs.IntVar(&o.Groups, "groups", 0, "number of groups (0 = users/10)")
	fs.IntVar(&o.AdministrativeUnits, "administrative-units", 0, "number of administrative units (0 = users/200, at least 3)")
	fs.IntVar(&o.Applications, "applications", 0, "number of applications (0 = users/100, at least 5)")
	fs.IntVar(&o.LogsPerDay, "logs-per-day", 50, "sign-in and audit records per day over the last 30 days")
	fs.BoolVar(&o.Premium, "premium", false, "license the tenant with Entra ID P1/P2 (sign-in logs readable)")
	fs.IntVar(&o.Tenants, "tenants", 1, "tenants to serve at the same addresses: the first as the flags above say, the others nearly empty, with the same applications")
	fs.IntVar(&o.OtherTenantUsers, "other-tenant-users", 20, "users of each tenant after the first")
	fs.StringVar(&o.GraphAddr, "graph-addr", tenantsim.DefaultGraphAddr, "Graph listen address (plain HTTP)")
	fs.StringVar(&o.LoginAddr, "login-addr", tenantsim.DefaultLoginAddr, "sign-in listen address (HTTPS)")
	fs.DurationVar(&o.DeltaTokenMaxAge, "delta-token-max-age", 0, "delta token lifetime (0 = 7 days)")
	fs.BoolVar(&o.DeltaExpiredGone, "delta-expired-gone", false, "answer expired delta tokens with 410 Gone + Location")
	fs.BoolVar(&o.Throttle.Disabled, "no-throttling", false, "disable simulated throttling")
	persist := fs.Bool("persist", true, "keep the tenant (consents, churn, delta state) across restarts and kills in <data>/simulator/state.json; --persist=false starts a fresh tenant each run")
	fs.BoolVar(&o.ConsentRequired, "consent-required", false, "backup app has no granted roles until an admin consents")
	if err := simApplyEnv(fs); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	o.DataDir = filepath.Join(*data, "simulator")
	if *persist {
		o.StateFile = filepath.Join(o.DataDir, "state.json")
	}
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	sim, err := tenantsim.New(o)
	if err != nil {
		return err
	}
	if err := sim.Start(); err != nil {
		return err
	}
	defer sim.Close()
	c := sim.Credentials()
	fmt.Fprintf(os.Stderr, "Graph:      %s\nAuthority:  %s\nTenant:     %s (%s)\n", c.GraphURL, c.AuthorityHost, c.TenantID, c.TenantDomain)
	for _, o := range c.Tenants {
		fmt.Fprintf(os.Stderr, "Tenant:     %s (%s)\n", o.TenantID, o.TenantDomain)
	}
	fmt.Fprintf(os.Stderr, "Credentials: %s\n", filepath.Join(sim.DataDir(), tenantsim.CredentialsFile))
	<-ctx.Done()
	return nil
}

// simApplyEnv sets each flag from ENTRAVAULT_<NAME> (dashes as underscores)
// before parsing, so command-line flags still win.
func simApplyEnv(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		key := "ENTRAVAULT_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(key); ok && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", key, e)
			}
		}
	})
	return err
}
