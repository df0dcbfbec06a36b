// Package middleware holds the HTTP middleware every platform service
// uses: request IDs, access logging and panic recovery.
package middleware

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
	"time"

	"example.com/platform/libs/go/platform/logging"
)

// RequestIDHeader carries the request id between services.
const RequestIDHeader = "X-Request-Id"

type ctxKey struct{}

// validID limits accepted incoming ids to a safe, bounded alphabet so a
// client cannot inject arbitrary text into logs.
var validID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// NewID returns a random 16-byte hex id.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "0000000000000000"
	}
	return hex.EncodeToString(b[:])
}

// RequestIDFrom returns the request id stored in ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// WithRequestID stores id in ctx.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// RequestID reuses a well-formed incoming X-Request-Id or generates one,
// stores it in the request context and echoes it on the response.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validID.MatchString(id) {
			id = NewID()
		}
		// Clone so the id reaches upstream calls (e.g. a reverse proxy)
		// without mutating the caller's request headers.
		r2 := r.Clone(WithRequestID(r.Context(), id))
		r2.Header.Set(RequestIDHeader, id)
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r2)
	})
}

// statusRecorder captures the status code and body size.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Flush lets streaming handlers (e.g. a reverse proxy) flush through.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// AccessLog logs one record per request with method, path, status, size,
// duration and request id.
func AccessLog(log *logging.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			next.ServeHTTP(rec, r)
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			log.Info("request",
				"method", r.Method,
				"path", r.URL.Path,
				"status", rec.status,
				"bytes", rec.bytes,
				"duration_ms", float64(time.Since(start).Microseconds())/1000,
				"request_id", RequestIDFrom(r.Context()),
				"remote", r.RemoteAddr,
			)
		})
	}
}

// Recover turns a handler panic into a logged 500 instead of a dropped
// connection. http.ErrAbortHandler is re-panicked, as net/http expects.
func Recover(log *logging.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("panic", "value", v, "path", r.URL.Path,
					"request_id", RequestIDFrom(r.Context()))
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`{"error":"internal error"}` + "\n"))
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// Chain applies middleware so the first listed runs outermost.
func Chain(h http.Handler, mws ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// Standard wraps h in the usual stack: request id, access log, recovery.
func Standard(h http.Handler, log *logging.Logger) http.Handler {
	return Chain(h, RequestID, AccessLog(log), Recover(log))
}
