// Command asset-discovery records the hosts that network scans and agents
// observe, deduplicated by MAC and IP, limited to the configured scope.
//
// Endpoints:
//
//	POST /v1/observations  nmap -oG text (text/plain) or a JSON list of
//	                       host/port observations (application/json)
//	                       -> {"received":n,"out_of_scope":n,"created":n,"updated":n}
//	GET  /v1/assets[?cidr=10.0.0.0/24] -> {"assets":[...]}
//
// Environment:
//
//	PORT        listen port (default 8082)
//	SCOPE       CIDRs whose hosts are recorded (default 0.0.0.0/0,::/0)
//	MAX_BODY    largest accepted request body in bytes (default 4194304)
//	LOG_LEVEL   debug|info|warn|error (default info)
package main

import (
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

	"example.com/platform/libs/go/platform/config"
	"example.com/platform/libs/go/platform/health"
	"example.com/platform/libs/go/platform/logging"
	"example.com/platform/libs/go/platform/middleware"
	"example.com/platform/services/asset-discovery/internal/assets"
	"example.com/platform/services/asset-discovery/internal/scan"
	"example.com/platform/services/asset-discovery/internal/scope"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const service = "asset-discovery"

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
	addr    string
	http    *http.Server
	ready   *health.Flag
	log     *logging.Logger
	scope   *scope.Scope
	reg     *assets.Registry
	maxBody int64
}

// newServer builds the service from configuration without listening.
func newServer(cfg *config.Loader, log *logging.Logger) (*server, error) {
	port := cfg.Int("PORT", 8082)
	cidrs := cfg.List("SCOPE", []string{"0.0.0.0/0", "::/0"})
	maxBody := cfg.Int("MAX_BODY", 4<<20)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	sc, err := scope.Parse(cidrs)
	if err != nil {
		return nil, err
	}
	if len(sc.Prefixes()) == 0 {
		return nil, errors.New("SCOPE: no CIDR given")
	}
	if maxBody <= 0 {
		return nil, errors.New("MAX_BODY: must be positive")
	}
	s := &server{
		addr:    fmt.Sprintf(":%d", port),
		ready:   &health.Flag{},
		log:     log,
		scope:   sc,
		reg:     assets.New(nil),
		maxBody: int64(maxBody),
	}
	mux := http.NewServeMux()
	health.Register(mux, s.ready.Check)
	mux.HandleFunc("/v1/observations", s.observations)
	mux.HandleFunc("/v1/assets", s.listAssets)
	s.http = &http.Server{
		Handler:           middleware.Standard(mux, log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	return s, nil
}

type submitResult struct {
	Received   int `json:"received"`
	OutOfScope int `json:"out_of_scope"`
	Created    int `json:"created"`
	Updated    int `json:"updated"`
}

func (s *server) observations(w http.ResponseWriter, r *http.Request) {
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
	var obs []scan.Observation
	switch ct {
	case "application/json":
		obs, err = scan.ParseJSON(body)
	case "text/plain", "":
		obs, err = scan.ParseGrepable(bytes.NewReader(body))
	default:
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "use application/json or text/plain"})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	res := submitResult{Received: len(obs)}
	for _, o := range obs {
		if !s.scope.Contains(o.IP) {
			res.OutOfScope++
			continue
		}
		if _, outcome := s.reg.Observe(o); outcome == assets.Created {
			res.Created++
		} else {
			res.Updated++
		}
	}
	s.log.Info("observations recorded", "received", res.Received, "created", res.Created,
		"updated", res.Updated, "out_of_scope", res.OutOfScope)
	writeJSON(w, http.StatusOK, res)
}

func (s *server) listAssets(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
		return
	}
	var filter *scope.Scope
	if c := r.URL.Query().Get("cidr"); c != "" {
		var err error
		if filter, err = scope.Parse([]string{c}); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
	}
	var list []assets.Asset
	if filter != nil {
		list = s.reg.List(filter.Contains)
	} else {
		list = s.reg.List(nil)
	}
	writeJSON(w, http.StatusOK, map[string]interface{}{"assets": list})
}

// run serves on ln until ctx is cancelled, then drains: readiness flips
// to 503 first, then in-flight requests get up to 10 seconds to finish.
func (s *server) run(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(ln) }()
	s.ready.Set(true)
	s.log.Info("listening", "addr", ln.Addr().String(), "version", version, "scope", s.scope.String())
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
