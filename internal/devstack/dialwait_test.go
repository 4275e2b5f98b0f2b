package devstack

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/entravault/entravault/internal/config"
	"github.com/entravault/entravault/internal/devserver"
	"github.com/entravault/entravault/internal/temporalconn"
)

// TestRolesWaitForTemporal: a role started before its Temporal cluster
// (compose starts them together) keeps trying, and connects once the
// frontend serves, instead of exiting.
func TestRolesWaitForTemporal(t *testing.T) {
	port := freePort(t)
	cfg := config.Temporal{Address: "127.0.0.1:" + itoa(port), Namespace: "default"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type dialed struct {
		err error
		at  time.Time
	}
	done := make(chan dialed, 1)
	go func() {
		cl, err := temporalconn.DialWait(ctx, cfg, slog.New(slog.DiscardHandler))
		if err == nil {
			_, err = cl.CheckHealth(ctx, nil)
			cl.Close()
		}
		done <- dialed{err, time.Now()}
	}()
	select {
	case d := <-done:
		t.Fatalf("DialWait returned with no server listening: %v", d.err)
	case <-time.After(2 * time.Second):
	}
	started := time.Now()
	srv, err := devserver.Start(devserver.Options{GRPCPort: port, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	d := <-done
	if d.err != nil {
		t.Fatalf("DialWait after the server came up: %v", d.err)
	}
	t.Logf("connected %s after the server started", d.at.Sub(started).Round(time.Millisecond))

}
