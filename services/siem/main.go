// Command siem ingests normalised security events, keeps the most recent
// ones in a bounded time-ordered store, correlates them across sources
// into alerts and searches them.
//
//	POST /v1/events  {"events":[...]} (application/json) or one event per line
//	                 (application/x-ndjson) -> 200 {"accepted":n,"rejected":[...],"alerts":[...]}
//	GET  /v1/search  ?from=&to= (RFC 3339) or ?last=15m, &limit=, &order=asc|desc,
//	                 any other parameter filters a field: ?type=login&src_ip=10.0.0.5
//	                 (repeat it or separate values with commas for "any of")
//	GET  /v1/alerts  ?rule=&limit=
//	GET  /v1/rules, /v1/stats
//
// `siem -check-rules FILE...` validates rule files and exits.
//
// Environment:
//
//	PORT            listen port (default 8087)
//	STORE_CAPACITY  events held in memory (default 100000)
//	MAX_ALERTS      alerts held in memory (default 1000)
//	MAX_BATCH       events per ingest request (default 5000)
//	RULES_FILE      correlation rules (JSON); default: the built-in rules/default.json
//	LOG_LEVEL       debug|info|warn|error (default info)
package main

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
	"example.com/platform/services/siem/internal/correlate"
	"example.com/platform/services/siem/internal/event"
	"example.com/platform/services/siem/internal/store"
)

// version is stamped at build time: -ldflags "-X main.version=0.1.0".
var version = "dev"

const (
	service        = "siem"
	maxSearchLimit = 1000
)

//go:embed rules/default.json
var defaultRules []byte

func main() {
	check := flag.Bool("check-rules", false, "validate the rule files given as arguments and exit")
	flag.Parse()
	if *check {
		os.Exit(checkRules(flag.Args(), os.Stdout))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := start(ctx, config.New(), logging.FromEnv(service))
	stop()
	os.Exit(code)
}

// checkRules validates rule files, reporting each; it returns the exit code.
func checkRules(paths []string, out io.Writer) int {
	if len(paths) == 0 {
		fmt.Fprintln(out, "usage: siem -check-rules FILE...")
		return 2
	}
	code := 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err == nil {
			var rules []correlate.Rule
			if rules, err = correlate.ParseRules(data); err == nil {
				fmt.Fprintf(out, "ok   %s: %d rules\n", p, len(rules))
				continue
			}
		}
		fmt.Fprintf(out, "FAIL %s: %v\n", p, err)
		code = 1
	}
	return code
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
	store    *store.Store
	engine   *correlate.Engine
	maxBatch int
	now      func() time.Time
}

// newServer builds the service from configuration without listening.
func newServer(cfg *config.Loader, log *logging.Logger) (*server, error) {
	port := cfg.Int("PORT", 8087)
	capacity := cfg.Int("STORE_CAPACITY", 100000)
	maxAlerts := cfg.Int("MAX_ALERTS", 1000)
	maxBatch := cfg.Int("MAX_BATCH", 5000)
	rulesFile := cfg.String("RULES_FILE", "")
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	if capacity < 1 || maxAlerts < 1 || maxBatch < 1 {
		return nil, errors.New("STORE_CAPACITY, MAX_ALERTS and MAX_BATCH must be positive")
	}
	data := defaultRules
	if rulesFile != "" {
		var err error
		if data, err = os.ReadFile(rulesFile); err != nil {
			return nil, fmt.Errorf("RULES_FILE: %w", err)
		}
	}
	rules, err := correlate.ParseRules(data)
	if err != nil {
		return nil, err
	}

	st := store.New(capacity)
	s := &server{
		addr: fmt.Sprintf(":%d", port), ready: &health.Flag{}, log: log,
		store: st, engine: correlate.NewEngine(rules, maxAlerts), maxBatch: maxBatch, now: time.Now,
	}
	mux := http.NewServeMux()
	health.Register(mux, s.ready.Check)
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"service": service, "version": version})
	})
	mux.HandleFunc("/v1/events", s.ingest)
	mux.HandleFunc("/v1/search", get(s.search))
	mux.HandleFunc("/v1/alerts", get(s.alerts))
	mux.HandleFunc("/v1/rules", get(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]interface{}{"rules": s.engine.Rules()})
	}))
	mux.HandleFunc("/v1/stats", get(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.store.Stats())
	}))
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
	s.log.Info("listening", "addr", ln.Addr().String(), "version", version, "rules", len(s.engine.Rules()))
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

type rejection struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

type ingestResponse struct {
	Accepted int               `json:"accepted"`
	Rejected []rejection       `json:"rejected"`
	Alerts   []correlate.Alert `json:"alerts"`
}

func (s *server) ingest(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	body := http.MaxBytesReader(w, r.Body, int64(s.maxBatch)*8<<10)
	var raws []json.RawMessage
	var err error
	switch ct := r.Header.Get("Content-Type"); {
	case strings.HasPrefix(ct, "application/x-ndjson"):
		raws, err = readNDJSON(body, s.maxBatch)
	case ct == "" || strings.HasPrefix(ct, "application/json"):
		var batch struct {
			Events []json.RawMessage `json:"events"`
		}
		dec := json.NewDecoder(body)
		dec.DisallowUnknownFields()
		if err = dec.Decode(&batch); err != nil || batch.Events == nil {
			err = errors.New(`body must be {"events":[...]}`)
		}
		raws = batch.Events
	default:
		writeError(w, http.StatusUnsupportedMediaType, "content-type must be application/json or application/x-ndjson")
		return
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(raws) > s.maxBatch {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("at most %d events per request", s.maxBatch))
		return
	}

	resp := ingestResponse{Rejected: []rejection{}, Alerts: []correlate.Alert{}}
	now := s.now()
	for i, raw := range raws {
		var e event.Event
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			resp.Rejected = append(resp.Rejected, rejection{i, "invalid event: " + err.Error()})
			continue
		}
		e.ID = "" // assigned by the store
		if err := e.Normalise(now); err != nil {
			resp.Rejected = append(resp.Rejected, rejection{i, err.Error()})
			continue
		}
		stored, ok := s.store.Add(e)
		if !ok {
			resp.Rejected = append(resp.Rejected, rejection{i, "older than every event held by the full store"})
			continue
		}
		resp.Accepted++
		resp.Alerts = append(resp.Alerts, s.engine.Process(stored)...)
	}
	for _, a := range resp.Alerts {
		s.log.Warn("correlation alert", "rule", a.Rule, "severity", a.Severity, a.Key, a.Value, "events", len(a.Events))
	}
	writeJSON(w, http.StatusOK, resp)
}

// readNDJSON splits a body into lines, skipping blank ones.
func readNDJSON(r io.Reader, max int) ([]json.RawMessage, error) {
	var out []json.RawMessage
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if len(out) == max {
			return append(out, nil), nil // the caller reports the limit
		}
		out = append(out, append(json.RawMessage(nil), line...))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading body: %v", err)
	}
	return out, nil
}

func (s *server) search(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r.URL.Query(), s.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	events := s.store.Search(q)
	writeJSON(w, http.StatusOK, map[string]interface{}{"count": len(events), "events": events})
}

// parseQuery turns search parameters into a store query.
func parseQuery(v url.Values, now time.Time) (store.Query, error) {
	q := store.Query{Limit: 100, Filters: map[string][]string{}}
	for key, vals := range v {
		val := vals[len(vals)-1]
		var err error
		switch key {
		case "from", "to":
			var t time.Time
			if t, err = time.Parse(time.RFC3339Nano, val); err == nil {
				if key == "from" {
					q.From = t
				} else {
					q.To = t
				}
			}
		case "last":
			var d time.Duration
			if d, err = time.ParseDuration(val); err == nil && d <= 0 {
				err = errors.New("must be positive")
			}
			q.From = now.Add(-d)
		case "limit":
			if q.Limit, err = strconv.Atoi(val); err == nil && (q.Limit < 1 || q.Limit > maxSearchLimit) {
				err = fmt.Errorf("must be 1-%d", maxSearchLimit)
			}
		case "order":
			if val != "asc" && val != "desc" {
				err = errors.New(`must be "asc" or "desc"`)
			}
			q.Ascending = val == "asc"
		default:
			for _, item := range vals {
				for _, alt := range strings.Split(item, ",") {
					q.Filters[key] = append(q.Filters[key], strings.TrimSpace(alt))
				}
			}
		}
		if err != nil {
			return q, fmt.Errorf("%s: %v", key, err)
		}
	}
	if v.Has("last") && v.Has("from") {
		return q, errors.New("give either last or from, not both")
	}
	return q, nil
}

func (s *server) alerts(w http.ResponseWriter, r *http.Request) {
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxSearchLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit: must be 1-%d", maxSearchLimit))
			return
		}
		limit = n
	}
	alerts := s.engine.Alerts(r.URL.Query().Get("rule"), limit)
	writeJSON(w, http.StatusOK, map[string]interface{}{"count": len(alerts), "alerts": alerts})
}

func get(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
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
