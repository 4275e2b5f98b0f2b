package activities

import (
	"context"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
)

// keepAliveEvery is how often a long activity re-sends its last heartbeat
// while a call blocks (throttling can hold one Graph request for a minute),
// so a short heartbeat timeout fires only for a lost worker.
const keepAliveEvery = 5 * time.Second

// heartbeats sends an activity's heartbeats and repeats the last one in
// the background until stopped. Repeating keeps its details: they are
// the resume point, and a heartbeat without them would erase it.
type heartbeats struct {
	mu      sync.Mutex
	details any
	set     bool
}

// record sends details now and remembers them for the keep-alive.
func (h *heartbeats) record(ctx context.Context, details any) {
	h.mu.Lock()
	h.details, h.set = details, true
	h.mu.Unlock()
	activity.RecordHeartbeat(ctx, details)
}

// keepAlive repeats the last heartbeat every keepAliveEvery until stop;
// before the first one, it sends initial (the resume point at the start),
// so a first Graph call slower than the timeout is not taken for a lost
// worker. (Heartbeating at once instead would spend the SDK's first send,
// which it then throttles to 0.8 × the timeout, on a heartbeat without
// progress.)
func (h *heartbeats) keepAlive(ctx context.Context, initial any) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(keepAliveEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				h.mu.Lock()
				details, set := h.details, h.set
				h.mu.Unlock()
				if !set {
					details = initial
				}
				activity.RecordHeartbeat(ctx, details)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
