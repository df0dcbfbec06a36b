// Command auth-service issues and verifies the platform's HS256 bearer
// tokens.
//
// Environment:
//
//	PORT           listen port (default 8081)
//	TOKEN_SECRET   HMAC key, at least 32 bytes (required)
//	TOKEN_TTL      token lifetime (default 15m)
//	TOKEN_ISSUER   "iss" claim (default auth-service)
//	TOKEN_LEEWAY   tolerated clock skew (default 30s)
//	ISSUE_API_KEY  if set, callers of /v1/token must send it in X-Api-Key
//	LOG_LEVEL      debug|info|warn|error (default info)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	"example.com/platform/services/auth-service/internal/api"
	"example.com/platform/services/auth-service/internal/token"
)

// version is stamped at build time: -ldflags "-X main.version=0.1.0".
var version = "dev"

const service = "auth-service"

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
	addr  string
	http  *http.Server
	ready *health.Flag
	log   *logging.Logger
}

// newServer builds the service from configuration without listening.
func newServer(cfg *config.Loader, log *logging.Logger) (*server, error) {
	port := cfg.Int("PORT", 8081)
	secret := cfg.RequiredString("TOKEN_SECRET")
	ttl := cfg.Duration("TOKEN_TTL", 15*time.Minute)
	issuer := cfg.String("TOKEN_ISSUER", service)
	leeway := cfg.Duration("TOKEN_LEEWAY", 30*time.Second)
	apiKey := cfg.String("ISSUE_API_KEY", "")
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	signer, err := token.NewSigner([]byte(secret),
		token.WithTTL(ttl), token.WithIssuer(issuer), token.WithLeeway(leeway))
	if err != nil {
		return nil, err
	}

	ready := &health.Flag{}
	mux := http.NewServeMux()
	health.Register(mux, ready.Check)
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"service": service, "version": version})
	})
	mux.Handle("/v1/", api.New(signer, api.Options{IssueAPIKey: apiKey, Log: log}))

	return &server{
		addr: fmt.Sprintf(":%d", port),
		http: &http.Server{
			Handler:           middleware.Standard(mux, log),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       60 * time.Second,
		},
		ready: ready,
		log:   log,
	}, nil
}

// run serves on ln until ctx is cancelled, then drains: readiness flips
// to 503 first so load balancers stop routing, then in-flight requests
// get up to 10 seconds to finish.
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
