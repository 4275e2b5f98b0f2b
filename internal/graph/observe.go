package graph

import (
	"context"
	"net/http"
)

// Observer sees every HTTP attempt of a call, below the SDK's retry
// middleware: the SDK hides its retries and the waits before them, which
// callers still want to count (429s, time spent waiting).
//
// Attempt is called before each attempt and Response after each one that
// got a response, on the calling goroutine of that request.
type Observer interface {
	Attempt(req *http.Request)
	Response(resp *http.Response)
}

type observerKey struct{}

// WithObserver returns a context whose Graph requests report to o.
func WithObserver(ctx context.Context, o Observer) context.Context {
	return context.WithValue(ctx, observerKey{}, o)
}

// observingTransport reports attempts to the Observer of the request's
// context, if any.
type observingTransport struct{ next http.RoundTripper }

func (t observingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	o, _ := req.Context().Value(observerKey{}).(Observer)
	if o == nil {
		return t.next.RoundTrip(req)
	}
	o.Attempt(req)
	resp, err := t.next.RoundTrip(req)
	if resp != nil {
		o.Response(resp)
	}
	return resp, err
}
