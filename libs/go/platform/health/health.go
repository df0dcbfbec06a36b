// Package health provides liveness and readiness HTTP handlers.
//
// /healthz always answers 200 {"status":"ok"} while the process can serve
// HTTP. /readyz answers 200 {"status":"ready"} when the readiness function
// returns nil and 503 {"status":"unavailable","error":...} otherwise.
package health

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
)

// ReadyFunc reports why the service is not ready, or nil when it is.
type ReadyFunc func() error

// Liveness answers every request with 200 {"status":"ok"}.
func Liveness() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// Readiness answers 200 when ready returns nil, else 503. A nil ready
// function means always ready.
func Readiness(ready ReadyFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			if err := ready(); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{
					"status": "unavailable", "error": err.Error(),
				})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// Register mounts /healthz and /readyz on mux.
func Register(mux *http.ServeMux, ready ReadyFunc) {
	mux.Handle("/healthz", Liveness())
	mux.Handle("/readyz", Readiness(ready))
}

// Flag is a concurrency-safe readiness switch, e.g. flipped to ready
// after warm-up and back to not ready when draining for shutdown.
type Flag struct {
	ready int32
}

// Set marks the flag ready or not.
func (f *Flag) Set(ready bool) {
	var v int32
	if ready {
		v = 1
	}
	atomic.StoreInt32(&f.ready, v)
}

// Ready reports the current state.
func (f *Flag) Ready() bool { return atomic.LoadInt32(&f.ready) == 1 }

// Check is a ReadyFunc over the flag.
func (f *Flag) Check() error {
	if f.Ready() {
		return nil
	}
	return errNotReady
}

type notReady struct{}

func (notReady) Error() string { return "not ready" }

var errNotReady error = notReady{}

func writeJSON(w http.ResponseWriter, status int, body interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
