// Command event-processor normalises raw security events (RFC 5424
// syslog, CEF, AWS CloudTrail and Google Cloud audit logs) into one schema
// with UTC timestamps (see internal/normalize).
//
// Endpoints:
//
//	POST /v1/events:batch  application/json {"events":["<syslog or CEF line>", {<cloud audit JSON>}, ...]}
//	                       or text/plain / application/x-ndjson, one event per line
//	                       -> {"received":n,"normalized":n,"events":[...],"errors":[{"index":i,"error":"..."}]}
//
// One bad event does not fail the batch: it is reported in "errors" by its
// index and the others are still normalised.
//
// Environment:
//
//	PORT         listen port (default 8084)
//	MAX_BATCH    most events per request (default 1000)
//	MAX_BODY     largest request body in bytes (default 8388608)
//	DEFAULT_TZ   IANA zone of CEF times written without one (default UTC)
//	LOG_LEVEL    debug|info|warn|error (default info)
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
	_ "time/tzdata" // DEFAULT_TZ must resolve in minimal containers too

	"example.com/platform/libs/go/platform/config"
	"example.com/platform/libs/go/platform/health"
	"example.com/platform/libs/go/platform/logging"
	"example.com/platform/libs/go/platform/middleware"
	"example.com/platform/services/event-processor/internal/normalize"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const service = "event-processor"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := start(ctx, config.New(), logging.FromEnv(service))
	stop()
	os.Exit(code)
}

// start configures, listens and serves until ctx ends; it returns the
// process exit code (2 for bad configuration).
func start(ctx context.Context, cfg *config.Loader, log *logging.Logger) int {
	srv, err := newServer(cfg, log)
	if err != nil {
		log.Error("invalid configuration", "error", err)
		return 2
	}
	ln, err := net.Listen("tcp", srv.addr)
	if err != nil {
		log.Error("listen failed", "error", err)
		return 1
	}
	if err := srv.run(ctx, ln); err != nil {
		log.Error("server stopped", "error", err)
		return 1
	}
	return 0
}

type server struct {
	addr     string
	http     *http.Server
	ready    *health.Flag
	log      *logging.Logger
	norm     *normalize.Normalizer
	maxBatch int
	maxBody  int64
}

// newServer builds the service from configuration without listening.
func newServer(cfg *config.Loader, log *logging.Logger) (*server, error) {
	port := cfg.Int("PORT", 8084)
	maxBatch := cfg.Int("MAX_BATCH", 1000)
	maxBody := cfg.Int("MAX_BODY", 8<<20)
	tz := cfg.String("DEFAULT_TZ", "UTC")
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	if maxBatch <= 0 || maxBody <= 0 {
		return nil, errors.New("MAX_BATCH and MAX_BODY must be positive")
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("DEFAULT_TZ: %v", err)
	}
	norm := normalize.New()
	norm.Local = loc
	s := &server{
		addr:     fmt.Sprintf(":%d", port),
		ready:    &health.Flag{},
		log:      log,
		norm:     norm,
		maxBatch: maxBatch,
		maxBody:  int64(maxBody),
	}
	mux := http.NewServeMux()
	health.Register(mux, s.ready.Check)
	mux.HandleFunc("/v1/events:batch", s.batch)
	s.http = &http.Server{
		Handler:           middleware.Standard(mux, log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	return s, nil
}

type itemError struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

type batchResponse struct {
	Received   int               `json:"received"`
	Normalized int               `json:"normalized"`
	Events     []normalize.Event `json:"events"`
	Errors     []itemError       `json:"errors"`
}

func (s *server) batch(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body too large"})
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var items [][]byte
	switch ct {
	case "application/json":
		var req struct {
			Events []json.RawMessage `json:"events"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON body: " + err.Error()})
			return
		}
		for _, raw := range req.Events {
			var line string
			if json.Unmarshal(raw, &line) == nil {
				raw = []byte(line) // a string item is a syslog or CEF line
			}
			items = append(items, raw)
		}
	case "text/plain", "application/x-ndjson", "":
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 64<<10), int(s.maxBody))
		for sc.Scan() {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				items = append(items, append([]byte(nil), line...))
			}
		}
		if err := sc.Err(); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
	default:
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "use application/json, application/x-ndjson or text/plain"})
		return
	}
	if len(items) > s.maxBatch {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("more than %d events", s.maxBatch)})
		return
	}
	resp := batchResponse{Received: len(items), Events: []normalize.Event{}, Errors: []itemError{}}
	for i, item := range items {
		evs, err := s.norm.Normalize(item)
		if err != nil {
			resp.Errors = append(resp.Errors, itemError{i, err.Error()})
			continue
		}
		resp.Events = append(resp.Events, evs...)
	}
	resp.Normalized = len(resp.Events)
	s.log.Info("batch normalised", "received", resp.Received, "normalized", resp.Normalized, "errors", len(resp.Errors))
	writeJSON(w, http.StatusOK, resp)
}

// run serves on ln until ctx is cancelled, then drains: readiness flips
// to 503 first, then in-flight requests get up to 10 seconds to finish.
func (s *server) run(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(ln) }()
	s.ready.Set(true)
	s.log.Info("listening", "addr", ln.Addr().String(), "version", version)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.ready.Set(false)
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.http.Shutdown(shutdown); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
