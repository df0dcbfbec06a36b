// Command network-security-monitoring analyses NetFlow-like flow records:
// per-host traffic statistics, port scans, beaconing and exfiltration.
//
//	POST /v1/flows    flows as text/csv (header row), application/json (array)
//	                  or application/x-ndjson -> 200 {"accepted","rejected":[...],"buffered"}
//	POST /v1/analyze  the same bodies, analysed on their own without being kept
//	                  -> 200 {"flows","rejected","findings"}
//	GET  /v1/findings ?kind=port_scan|beaconing|exfiltration -> findings over the buffered flows
//	GET  /v1/hosts    ?limit=50 -> hosts by bytes sent; /v1/hosts/<ip> -> one host
//
// Environment:
//
//	PORT                    listen port (default 8088)
//	BUFFER_CAPACITY         flows kept for analysis (default 200000)
//	MAX_BODY_BYTES          largest upload (default 33554432)
//	SCAN_WINDOW             port-scan window (default 60s)
//	SCAN_MIN_PORTS          distinct ports in a window that make a scan (default 50)
//	BEACON_MIN_CONNECTIONS  connections needed to call a series a beacon (default 6)
//	BEACON_MIN_INTERVAL     shortest beacon interval (default 10s)
//	BEACON_MAX_JITTER       largest MAD/median interval ratio (default 0.1)
//	EXFIL_MIN_BYTES         bytes to one external host that count as exfiltration (default 104857600)
//	EXFIL_MIN_RATIO         minimum sent/received ratio for exfiltration (default 3)
//	INTERNAL_NETWORKS       CIDRs (default 10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7)
//	LOG_LEVEL               debug|info|warn|error (default info)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"example.com/platform/libs/go/platform/config"
	"example.com/platform/libs/go/platform/health"
	"example.com/platform/libs/go/platform/logging"
	"example.com/platform/libs/go/platform/middleware"
	"example.com/platform/services/network-security-monitoring/internal/flow"
)

// version is stamped at build time: -ldflags "-X main.version=0.1.0".
var version = "dev"

const (
	service     = "network-security-monitoring"
	maxRejected = 100 // record errors reported per request
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
	addr    string
	http    *http.Server
	ready   *health.Flag
	log     *logging.Logger
	buffer  *flow.Buffer
	cfg     flow.Config
	maxBody int64
}

// loadConfig reads the detector thresholds.
func loadConfig(cfg *config.Loader) (flow.Config, error) {
	c := flow.DefaultConfig()
	c.ScanWindow = cfg.Duration("SCAN_WINDOW", c.ScanWindow)
	c.ScanMinPorts = cfg.Int("SCAN_MIN_PORTS", c.ScanMinPorts)
	c.BeaconMinConns = cfg.Int("BEACON_MIN_CONNECTIONS", c.BeaconMinConns)
	c.BeaconMinInterval = cfg.Duration("BEACON_MIN_INTERVAL", c.BeaconMinInterval)
	c.BeaconMaxJitter = cfg.Float("BEACON_MAX_JITTER", c.BeaconMaxJitter)
	exfil := cfg.Int("EXFIL_MIN_BYTES", int(c.ExfilMinBytes))
	c.ExfilMinRatio = cfg.Float("EXFIL_MIN_RATIO", c.ExfilMinRatio)
	nets := cfg.List("INTERNAL_NETWORKS", nil)
	if err := cfg.Err(); err != nil {
		return c, err
	}
	if exfil < 1 {
		return c, fmt.Errorf("EXFIL_MIN_BYTES must be positive")
	}
	c.ExfilMinBytes = uint64(exfil)
	if nets != nil {
		c.Internal = nil
		for _, n := range nets {
			p, err := netip.ParsePrefix(n)
			if err != nil {
				return c, fmt.Errorf("INTERNAL_NETWORKS: %q is not a CIDR", n)
			}
			c.Internal = append(c.Internal, p.Masked())
		}
	}
	return c, c.Validate()
}

// newServer builds the service from configuration without listening.
func newServer(cfg *config.Loader, log *logging.Logger) (*server, error) {
	port := cfg.Int("PORT", 8088)
	capacity := cfg.Int("BUFFER_CAPACITY", 200000)
	maxBody := cfg.Int("MAX_BODY_BYTES", 32<<20)
	fc, err := loadConfig(cfg)
	if err != nil {
		return nil, err
	}
	if capacity < 1 || maxBody < 1 {
		return nil, errors.New("BUFFER_CAPACITY and MAX_BODY_BYTES must be positive")
	}
	s := &server{
		addr: fmt.Sprintf(":%d", port), ready: &health.Flag{}, log: log,
		buffer: flow.NewBuffer(capacity), cfg: fc, maxBody: int64(maxBody),
	}
	mux := http.NewServeMux()
	health.Register(mux, s.ready.Check)
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"service": service, "version": version})
	})
	mux.HandleFunc("/v1/flows", method(http.MethodPost, s.ingest))
	mux.HandleFunc("/v1/analyze", method(http.MethodPost, s.analyze))
	mux.HandleFunc("/v1/findings", method(http.MethodGet, s.findings))
	mux.HandleFunc("/v1/hosts", method(http.MethodGet, s.hosts))
	mux.HandleFunc("/v1/hosts/", method(http.MethodGet, s.host))
	s.http = &http.Server{
		Handler:           middleware.Standard(mux, log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
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

// readFlows parses a request body by its content type. It writes the
// error response itself and returns ok=false on failure.
func (s *server) readFlows(w http.ResponseWriter, r *http.Request) ([]flow.Flow, []flow.RecordError, bool) {
	body := http.MaxBytesReader(w, r.Body, s.maxBody)
	var parse func(io.Reader) ([]flow.Flow, []flow.RecordError, error)
	switch ct := r.Header.Get("Content-Type"); {
	case strings.HasPrefix(ct, "text/csv"):
		parse = flow.ParseCSV
	case strings.HasPrefix(ct, "application/json"), strings.HasPrefix(ct, "application/x-ndjson"):
		parse = flow.ParseJSON
	default:
		writeError(w, http.StatusUnsupportedMediaType, "content-type must be text/csv, application/json or application/x-ndjson")
		return nil, nil, false
	}
	flows, rejected, err := parse(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", s.maxBody))
		} else {
			writeError(w, http.StatusBadRequest, err.Error())
		}
		return nil, nil, false
	}
	if rejected == nil {
		rejected = []flow.RecordError{}
	}
	if len(rejected) > maxRejected {
		rejected = rejected[:maxRejected]
	}
	return flows, rejected, true
}

func (s *server) ingest(w http.ResponseWriter, r *http.Request) {
	flows, rejected, ok := s.readFlows(w, r)
	if !ok {
		return
	}
	s.buffer.Add(flows)
	held, _ := s.buffer.Len()
	writeJSON(w, http.StatusOK, map[string]interface{}{"accepted": len(flows), "rejected": rejected, "buffered": held})
}

func (s *server) analyze(w http.ResponseWriter, r *http.Request) {
	flows, rejected, ok := s.readFlows(w, r)
	if !ok {
		return
	}
	findings := flow.Analyze(flows, s.cfg)
	s.logFindings(findings)
	writeJSON(w, http.StatusOK, map[string]interface{}{"flows": len(flows), "rejected": rejected, "findings": findings})
}

func (s *server) findings(w http.ResponseWriter, r *http.Request) {
	kind := r.URL.Query().Get("kind")
	if kind != "" && kind != flow.PortScan && kind != flow.Beaconing && kind != flow.Exfiltration {
		writeError(w, http.StatusBadRequest, "kind must be port_scan, beaconing or exfiltration")
		return
	}
	snapshot := s.buffer.Snapshot()
	all := flow.Analyze(snapshot, s.cfg)
	out := make([]flow.Finding, 0, len(all))
	for _, f := range all {
		if kind == "" || f.Kind == kind {
			out = append(out, f)
		}
	}
	writeJSON(w, http.StatusOK, map[string]interface{}{"flows": len(snapshot), "findings": out})
}

func (s *server) logFindings(fs []flow.Finding) {
	for _, f := range fs {
		s.log.Warn("network finding", "kind", f.Kind, "severity", f.Severity, "src_ip", f.Src, "dst_ip", f.Dst)
	}
}

func (s *server) hosts(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, "limit must be 1-10000")
			return
		}
		limit = n
	}
	hs := flow.Hosts(s.buffer.Snapshot(), s.cfg)
	total := len(hs)
	if len(hs) > limit {
		hs = hs[:limit]
	}
	writeJSON(w, http.StatusOK, map[string]interface{}{"total": total, "hosts": hs})
}

func (s *server) host(w http.ResponseWriter, r *http.Request) {
	addr, err := netip.ParseAddr(strings.TrimPrefix(r.URL.Path, "/v1/hosts/"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "not an IP address")
		return
	}
	addr = addr.Unmap()
	for _, h := range flow.Hosts(s.buffer.Snapshot(), s.cfg) {
		if h.IP == addr {
			writeJSON(w, http.StatusOK, h)
			return
		}
	}
	writeError(w, http.StatusNotFound, "no flows for this host")
}

func method(m string, fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != m {
			w.Header().Set("Allow", m)
			writeError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		fn(w, r)
	}
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
