// Command api-gateway is the platform's edge: it routes requests by path
// prefix to upstream services, requires a valid bearer token on
// non-public routes and rate-limits each client IP.
//
// Tokens are verified locally (internal/authn, a copy of auth-service's
// verification logic) with the shared TOKEN_SECRET rather than by calling
// auth-service's /v1/verify on every request.
//
// Environment:
//
//	PORT              listen port (default 8080)
//	TOKEN_SECRET      HS256 key shared with auth-service (required)
//	TOKEN_ISSUER      required "iss" claim (default auth-service)
//	TOKEN_LEEWAY      tolerated clock skew (default 30s)
//	AUTH_URL          auth-service base URL; /auth/* -> $AUTH_URL/v1/* (public)
//	ANALYSIS_URL      behavioral-analysis base URL; /analysis/* -> $ANALYSIS_URL/v1/*
//	FRONTEND_URL      optional; / -> $FRONTEND_URL (public)
//	ROUTES            extra routes "prefix=url,public:prefix=url"
//	RATE_LIMIT_RPS    requests per second per client IP (default 20)
//	RATE_LIMIT_BURST  burst per client IP (default 40)
//	UPSTREAM_TIMEOUT  time to wait for upstream response headers (default 15s)
//	LOG_LEVEL         debug|info|warn|error (default info)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"example.com/platform/libs/go/platform/config"
	"example.com/platform/libs/go/platform/health"
	"example.com/platform/libs/go/platform/logging"
	"example.com/platform/libs/go/platform/middleware"
	"example.com/platform/services/api-gateway/internal/authn"
	"example.com/platform/services/api-gateway/internal/ratelimit"
	"example.com/platform/services/api-gateway/internal/router"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const service = "api-gateway"

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

// routesFromConfig builds the route table from the well-known service
// URLs plus any extra ROUTES.
func routesFromConfig(cfg *config.Loader) ([]router.Route, error) {
	var routes []router.Route
	add := func(name, prefix, base, suffix string, public bool) error {
		u, err := url.Parse(strings.TrimSuffix(base, "/") + suffix)
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		routes = append(routes, router.Route{Name: name, Prefix: prefix, Target: u, Public: public})
		return nil
	}
	if err := add("auth", "/auth", cfg.String("AUTH_URL", "http://localhost:8081"), "/v1", true); err != nil {
		return nil, err
	}
	if err := add("analysis", "/analysis", cfg.String("ANALYSIS_URL", "http://localhost:8000"), "/v1", false); err != nil {
		return nil, err
	}
	if fe := cfg.String("FRONTEND_URL", ""); fe != "" {
		if err := add("frontend", "/", fe, "", true); err != nil {
			return nil, err
		}
	}
	extra, err := router.ParseSpec(cfg.String("ROUTES", ""))
	if err != nil {
		return nil, err
	}
	return append(routes, extra...), nil
}

// newServer builds the gateway from configuration without listening.
func newServer(cfg *config.Loader, log *logging.Logger) (*server, error) {
	port := cfg.Int("PORT", 8080)
	secret := cfg.RequiredString("TOKEN_SECRET")
	issuer := cfg.String("TOKEN_ISSUER", "auth-service")
	leeway := cfg.Duration("TOKEN_LEEWAY", 30*time.Second)
	rps := cfg.Float("RATE_LIMIT_RPS", 20)
	burst := cfg.Int("RATE_LIMIT_BURST", 40)
	upstreamTimeout := cfg.Duration("UPSTREAM_TIMEOUT", 15*time.Second)
	routes, routeErr := routesFromConfig(cfg)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	if routeErr != nil {
		return nil, routeErr
	}
	table, err := router.New(routes)
	if err != nil {
		return nil, err
	}
	verifier, err := authn.NewVerifier([]byte(secret), issuer, leeway, nil)
	if err != nil {
		return nil, err
	}
	limiter, err := ratelimit.New(rps, burst)
	if err != nil {
		return nil, err
	}

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.ResponseHeaderTimeout = upstreamTimeout
	gw := newGateway(table, transport, log)

	ready := &health.Flag{}
	mux := http.NewServeMux()
	health.Register(mux, ready.Check)
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"service": service, "version": version})
	})
	isPublic := func(r *http.Request) bool {
		route, _, ok := table.Match(r.URL.Path)
		return ok && route.Public
	}
	mux.Handle("/", middleware.Chain(gw,
		limiter.Middleware(ratelimit.ClientIP),
		verifier.Middleware(isPublic),
	))

	for _, rt := range table.Routes() {
		log.Info("route", "name", rt.Name, "prefix", rt.Prefix, "target", rt.Target.String(), "public", rt.Public)
	}
	return &server{
		addr: fmt.Sprintf(":%d", port),
		http: &http.Server{
			Handler:           middleware.Standard(mux, log),
			ReadHeaderTimeout: 5 * time.Second,
			IdleTimeout:       90 * time.Second,
		},
		ready: ready,
		log:   log,
	}, nil
}

// gateway proxies each request to the upstream of its route.
type gateway struct {
	table   *router.Table
	proxies map[string]*httputil.ReverseProxy
}

func newGateway(table *router.Table, transport http.RoundTripper, log *logging.Logger) *gateway {
	g := &gateway{table: table, proxies: map[string]*httputil.ReverseProxy{}}
	for _, rt := range table.Routes() {
		rt := rt
		g.proxies[rt.Prefix] = &httputil.ReverseProxy{
			Director:  director(rt),
			Transport: transport,
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
				log.Warn("upstream error", "route", rt.Name, "error", err,
					"request_id", middleware.RequestIDFrom(r.Context()))
				writeJSON(w, http.StatusBadGateway, map[string]string{"error": "bad gateway"})
			},
		}
	}
	return g
}

// director rewrites an incoming request for the route's upstream. The
// path is cleaned exactly as it was for matching and authorisation, so
// the upstream sees the path the gateway authorised.
func director(rt router.Route) func(*http.Request) {
	target := rt.Target
	return func(req *http.Request) {
		origHost := req.Host
		req.URL.Scheme = target.Scheme
		req.URL.Host = target.Host
		req.URL.Path = rt.Rewrite(router.Clean(req.URL.Path))
		req.URL.RawPath = ""
		switch {
		case target.RawQuery == "":
		case req.URL.RawQuery == "":
			req.URL.RawQuery = target.RawQuery
		default:
			req.URL.RawQuery = target.RawQuery + "&" + req.URL.RawQuery
		}
		req.Host = target.Host
		req.Header.Set("X-Forwarded-Host", origHost)
		if _, ok := req.Header["User-Agent"]; !ok {
			req.Header.Set("User-Agent", "") // don't let Go add its own
		}
	}
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, _, ok := g.table.Match(r.URL.Path)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no route"})
		return
	}
	g.proxies[route.Prefix].ServeHTTP(w, r)
}

// run serves on ln until ctx is cancelled, then drains.
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
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
