// Command data-loss-prevention inspects outbound content for sensitive
// data and decides whether it may leave.
//
//	POST /v1/inspect {"text":"...","redact":true}
//	             -> 200 {"action":"allow|warn|block","reasons":[...],"counts":{...},
//	                     "findings":[{"type","start","end","detail","masked"}],"redacted":"..."}
//	GET  /v1/policy  -> 200 {"policy":"credit_card=warn:1,block:5; ..."}
//
// Findings carry masked samples only: the service never echoes the
// sensitive values it found, and never logs content.
//
// Environment:
//
//	PORT               listen port (default 8086)
//	DLP_POLICY         overrides per detector, e.g. "credit_card=warn:1,block:3; iban=block:0"
//	MAX_CONTENT_BYTES  largest text accepted (default 1048576)
//	LOG_LEVEL          debug|info|warn|error (default info)
package main

import (
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
	"example.com/platform/services/data-loss-prevention/internal/detect"
	"example.com/platform/services/data-loss-prevention/internal/policy"
)

// version is stamped at build time: -ldflags "-X main.version=0.1.0".
var version = "dev"

const service = "data-loss-prevention"

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
	policy   policy.Policy
	maxBytes int
}

// newServer builds the service from configuration without listening.
func newServer(cfg *config.Loader, log *logging.Logger) (*server, error) {
	port := cfg.Int("PORT", 8086)
	rules := cfg.String("DLP_POLICY", "")
	maxBytes := cfg.Int("MAX_CONTENT_BYTES", 1<<20)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	if maxBytes < 1 {
		return nil, fmt.Errorf("MAX_CONTENT_BYTES must be positive, got %d", maxBytes)
	}
	pol, err := policy.Parse(rules, policy.Default(), detect.Detectors)
	if err != nil {
		return nil, err
	}
	s := &server{addr: fmt.Sprintf(":%d", port), ready: &health.Flag{}, log: log, policy: pol, maxBytes: maxBytes}
	mux := http.NewServeMux()
	health.Register(mux, s.ready.Check)
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"service": service, "version": version})
	})
	mux.HandleFunc("/v1/inspect", s.inspect)
	mux.HandleFunc("/v1/policy", s.showPolicy)
	s.http = &http.Server{
		Handler:           middleware.Standard(mux, log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	return s, nil
}

// run serves on ln until ctx is cancelled, then drains: readiness flips
// to 503 first, then in-flight requests get up to 10 seconds to finish.
func (s *server) run(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(ln) }()
	s.ready.Set(true)
	s.log.Info("listening", "addr", ln.Addr().String(), "version", version, "policy", s.policy.String())
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

type inspectRequest struct {
	Text   string `json:"text"`
	Redact bool   `json:"redact"`
}

type inspectResponse struct {
	policy.Decision
	Counts   map[string]int   `json:"counts"`
	Findings []detect.Finding `json:"findings"`
	Redacted *string          `json:"redacted,omitempty"`
}

func (s *server) inspect(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "content-type must be application/json")
		return
	}
	// JSON escaping can grow text up to 6x ("\u0000"); the text limit is
	// checked after decoding.
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, int64(s.maxBytes)*6+1024))
	dec.DisallowUnknownFields()
	var req inspectRequest
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		writeError(w, http.StatusBadRequest, "invalid JSON body")
		return
	}
	if dec.Decode(&struct{}{}) != io.EOF {
		writeError(w, http.StatusBadRequest, "invalid JSON body")
		return
	}
	if len(req.Text) > s.maxBytes {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("text longer than %d bytes", s.maxBytes))
		return
	}

	findings := detect.Scan(req.Text)
	counts := detect.Count(findings)
	resp := inspectResponse{Decision: s.policy.Evaluate(counts), Counts: counts, Findings: findings}
	if req.Redact {
		red := detect.Redact(req.Text, findings)
		resp.Redacted = &red
	}
	if resp.Action != policy.Allow {
		// counts and reasons only: logging content would itself be a leak
		s.log.Warn("sensitive content", "action", resp.Action.String(), "counts", counts,
			"request_id", middleware.RequestIDFrom(r.Context()))
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *server) showPolicy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"policy": s.policy.String()})
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
