package graph

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestThrottleGateHoldsEveryRequest: after one 429 with Retry-After, no
// request of the client, from any goroutine, reaches Graph before that
// time (Graph counts those as early retries).
func TestThrottleGateHoldsEveryRequest(t *testing.T) {
	var first atomic.Bool
	var throttledAt time.Time
	var mu sync.Mutex
	var early atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if first.CompareAndSwap(false, true) {
			mu.Lock()
			throttledAt = time.Now()
			mu.Unlock()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		mu.Lock()
		if time.Since(throttledAt) < time.Second {
			early.Add(1)
		}
		mu.Unlock()
	}))
	defer srv.Close()
	client := &http.Client{Transport: &throttleGate{next: http.DefaultTransport}}
	resp, err := client.Get(srv.URL)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("first request: %v %v", resp, err)
	}
	resp.Body.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, err := client.Get(srv.URL); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if n := early.Load(); n != 0 {
		t.Fatalf("%d requests were sent inside the Retry-After window", n)
	}
}
