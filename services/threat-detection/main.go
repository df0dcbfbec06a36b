// Command threat-detection matches normalised events (event-processor's
// schema) against the detection rules in RULES_DIR and returns alerts,
// including time-window aggregations such as "5 failed logins in 60s per
// user" (see internal/rules and internal/engine).
//
// Endpoints:
//
//	POST /v1/events  one event object or an array of them
//	                 -> {"processed":n,"alerts":[...],"errors":[{"index":i,"error":"..."}]}
//	GET  /v1/rules   -> {"rules":[{"id","title","severity","threshold"}]}
//
// Environment:
//
//	PORT        listen port (default 8085)
//	RULES_DIR   directory of *.json rule files (default rules)
//	TIME_FIELD  event field holding its RFC 3339 time (default time)
//	MAX_BATCH   most events per request (default 1000)
//	MAX_BODY    largest request body in bytes (default 8388608)
//	LOG_LEVEL   debug|info|warn|error (default info)
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"example.com/platform/libs/go/platform/config"
	"example.com/platform/libs/go/platform/health"
	"example.com/platform/libs/go/platform/logging"
	"example.com/platform/libs/go/platform/middleware"
	"example.com/platform/services/threat-detection/internal/engine"
	"example.com/platform/services/threat-detection/internal/rules"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const service = "threat-detection"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := start(ctx, config.New(), logging.FromEnv(service))
	stop()
	os.Exit(code)
}

// start configures, listens and serves until ctx ends; it returns the
// process exit code (2 for bad configuration or rules).
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
	engine   *engine.Engine
	maxBatch int
	maxBody  int64
}

// newServer loads the rules and builds the service without listening.
func newServer(cfg *config.Loader, log *logging.Logger) (*server, error) {
	port := cfg.Int("PORT", 8085)
	dir := cfg.String("RULES_DIR", "rules")
	timeField := cfg.String("TIME_FIELD", "time")
	maxBatch := cfg.Int("MAX_BATCH", 1000)
	maxBody := cfg.Int("MAX_BODY", 8<<20)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	if maxBatch <= 0 || maxBody <= 0 {
		return nil, errors.New("MAX_BATCH and MAX_BODY must be positive")
	}
	rs, err := rules.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("RULES_DIR: %v", err)
	}
	s := &server{
		addr:     fmt.Sprintf(":%d", port),
		ready:    &health.Flag{},
		log:      log,
		engine:   engine.New(rs, timeField, nil),
		maxBatch: maxBatch,
		maxBody:  int64(maxBody),
	}
	mux := http.NewServeMux()
	health.Register(mux, s.ready.Check)
	mux.HandleFunc("/v1/events", s.events)
	mux.HandleFunc("/v1/rules", s.listRules)
	s.http = &http.Server{
		Handler:           middleware.Standard(mux, log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	log.Info("rules loaded", "count", len(rs), "dir", dir)
	return s, nil
}

type itemError struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

func (s *server) events(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "content-type must be application/json"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "body too large"})
		return
	}
	body = bytes.TrimSpace(body)
	var batch []rules.Event
	if len(body) > 0 && body[0] == '[' {
		err = json.Unmarshal(body, &batch)
	} else {
		var one rules.Event
		err = json.Unmarshal(body, &one)
		batch = []rules.Event{one}
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid JSON: " + err.Error()})
		return
	}
	if len(batch) > s.maxBatch {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("more than %d events", s.maxBatch)})
		return
	}
	alerts := []engine.Alert{}
	errs := []itemError{}
	for i, ev := range batch {
		if ev == nil {
			errs = append(errs, itemError{i, "event must be an object"})
			continue
		}
		a, err := s.engine.Process(ev)
		if err != nil {
			errs = append(errs, itemError{i, err.Error()})
			continue
		}
		alerts = append(alerts, a...)
	}
	for _, a := range alerts {
		s.log.Warn("alert", "rule", a.RuleID, "severity", a.Severity, "count", a.Count, "group", a.Group)
	}
	writeJSON(w, http.StatusOK, map[string]interface{}{"processed": len(batch) - len(errs), "alerts": alerts, "errors": errs})
}

func (s *server) listRules(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
		return
	}
	type summary struct {
		ID        string           `json:"id"`
		Title     string           `json:"title"`
		Severity  string           `json:"severity"`
		Threshold *rules.Threshold `json:"threshold,omitempty"`
	}
	out := []summary{}
	for _, rule := range s.engine.Rules() {
		out = append(out, summary{rule.ID, rule.Title, rule.Severity, rule.Threshold})
	}
	writeJSON(w, http.StatusOK, map[string]interface{}{"rules": out})
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
