// Package api is Entravault's REST API (Echo v4, JSON under /api/v1). Its
// handlers start, signal, update and query Temporal workflows and read the
// snapshot repository; they never talk to Graph themselves.
package api
