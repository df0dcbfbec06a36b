// Command asset-inventory keeps the platform's asset inventory: typed
// assets with an owner and a criticality, searchable with a small filter
// language (see internal/query).
//
// Endpoints:
//
//	GET    /v1/assets[?q=type=server AND criticality>=high] -> {"assets":[...]}
//	POST   /v1/assets        {"name","type","owner","criticality","environment","tags"} -> 201
//	GET    /v1/assets/{id}
//	PUT    /v1/assets/{id}   replaces the asset
//	DELETE /v1/assets/{id}   -> 204
//
// Environment:
//
//	PORT        listen port (default 8083)
//	SEED_FILE   optional JSON array of assets loaded at start-up
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
	"example.com/platform/services/asset-inventory/internal/inventory"
	"example.com/platform/services/asset-inventory/internal/query"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const (
	service = "asset-inventory"
	maxBody = 64 << 10
)

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
	store *inventory.Store
}

// newServer builds the service from configuration without listening.
func newServer(cfg *config.Loader, log *logging.Logger) (*server, error) {
	port := cfg.Int("PORT", 8083)
	seed := cfg.String("SEED_FILE", "")
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	s := &server{
		addr:  fmt.Sprintf(":%d", port),
		ready: &health.Flag{},
		log:   log,
		store: inventory.NewStore(nil),
	}
	if seed != "" {
		if err := s.loadSeed(seed); err != nil {
			return nil, fmt.Errorf("SEED_FILE: %v", err)
		}
	}
	mux := http.NewServeMux()
	health.Register(mux, s.ready.Check)
	mux.HandleFunc("/v1/assets", s.collection)
	mux.HandleFunc("/v1/assets/", s.item)
	s.http = &http.Server{
		Handler:           middleware.Standard(mux, log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	return s, nil
}

func (s *server) loadSeed(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var seed []inventory.Asset
	if err := json.Unmarshal(raw, &seed); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	for i, a := range seed {
		if _, err := s.store.Create(a); err != nil {
			return fmt.Errorf("%s: asset %d: %v", path, i, err)
		}
	}
	s.log.Info("inventory seeded", "assets", len(seed), "file", path)
	return nil
}

func (s *server) collection(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		var q *query.Query
		if src := r.URL.Query().Get("q"); src != "" {
			var err error
			if q, err = query.Compile(src, inventory.Schema); err != nil {
				writeError(w, http.StatusBadRequest, err)
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]interface{}{"assets": s.store.List(q)})
	case http.MethodPost:
		var a inventory.Asset
		if err := decode(w, r, &a); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		created, err := s.store.Create(a)
		if err != nil {
			writeError(w, statusFor(err), err)
			return
		}
		s.log.Info("asset created", "id", created.ID, "name", created.Name, "criticality", created.Criticality)
		w.Header().Set("Location", "/v1/assets/"+created.ID)
		writeJSON(w, http.StatusCreated, created)
	default:
		w.Header().Set("Allow", "GET, POST")
		writeError(w, http.StatusMethodNotAllowed, errors.New("method not allowed"))
	}
}

func (s *server) item(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/v1/assets/")
	if id == "" || strings.Contains(id, "/") {
		writeError(w, http.StatusNotFound, inventory.ErrNotFound)
		return
	}
	var (
		a   inventory.Asset
		err error
	)
	switch r.Method {
	case http.MethodGet:
		a, err = s.store.Get(id)
	case http.MethodPut:
		var in inventory.Asset
		if err := decode(w, r, &in); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		a, err = s.store.Update(id, in)
	case http.MethodDelete:
		if err := s.store.Delete(id); err != nil {
			writeError(w, statusFor(err), err)
			return
		}
		s.log.Info("asset deleted", "id", id)
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "GET, PUT, DELETE")
		writeError(w, http.StatusMethodNotAllowed, errors.New("method not allowed"))
		return
	}
	if err != nil {
		writeError(w, statusFor(err), err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func statusFor(err error) int {
	var ve *inventory.ValidationError
	switch {
	case errors.Is(err, inventory.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, inventory.ErrConflict):
		return http.StatusConflict
	case errors.As(err, &ve):
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

func decode(w http.ResponseWriter, r *http.Request, v interface{}) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errors.New("content-type must be application/json")
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return errors.New("body too large")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %v", err)
	}
	if dec.More() {
		return errors.New("invalid JSON body: trailing data")
	}
	return nil
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

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
