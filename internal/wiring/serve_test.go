package wiring

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestSlowAndIdleClientsCannotHoldTheServer is the slowloris attack: more
// clients than the server takes connect and send nothing, or a header
// and then nothing. They are cut off, and a real request still gets
// through within the header timeout.
func TestSlowAndIdleClientsCannotHoldTheServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "ok")
	})
	limits := ServerLimits{ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 600 * time.Millisecond, IdleTimeout: 300 * time.Millisecond, MaxConns: 8}
	go func() { done <- ServeWithLimits(ctx, ln, h, slog.New(slog.DiscardHandler), limits) }()
	defer func() { cancel(); <-done }()
	addr := ln.Addr().String()

	var slow []net.Conn
	for i := range 3 * limits.MaxConns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if i%2 == 1 { // a header, then a body that never comes
			_, _ = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
		}
		slow = append(slow, c)
	}
	start := time.Now()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("a real request behind %d slow clients: %v", len(slow), err)
	}
	resp.Body.Close()
	t.Logf("served after %v behind %d slow clients", time.Since(start).Round(time.Millisecond), len(slow))
	for i, c := range slow[:limits.MaxConns] {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Errorf("slow client %d was not disconnected: %v", i, err)
		}
	}
	// An idle keep-alive connection is closed after IdleTimeout.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Errorf("an idle keep-alive connection stayed open: %v", err)
	}
}
