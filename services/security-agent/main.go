// Command security-agent runs on every host: it collects host facts from
// /proc, checks the integrity of configured files against a baseline and
// reports both to the collection endpoint at a fixed interval. Its HTTP
// server exposes health and the latest status.
//
// Endpoints:
//
//	GET /v1/status -> {"agent_id","version","last_run","facts","fim","last_report"}
//
// Environment:
//
//	PORT             listen port (default 8086)
//	AGENT_ID         identity in reports (default: the host name)
//	HOST_ROOT        where the host's / is mounted (default /)
//	FIM_PATHS        files and directories to watch (default /etc/passwd,/etc/group,/etc/hosts)
//	FIM_EXCLUDE      glob patterns to skip, e.g. *.swp
//	BASELINE_FILE    where the baseline is kept; created from the first scan
//	                 when missing (default: in memory only)
//	REPORT_URL       collection endpoint; unset means no reporting
//	REPORT_TOKEN     bearer token for REPORT_URL
//	REPORT_INTERVAL  time between checks (default 60s)
//	REPORT_RETRIES   retries of a failed report (default 3)
//	LOG_LEVEL        debug|info|warn|error (default info)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"example.com/platform/libs/go/platform/config"
	"example.com/platform/libs/go/platform/health"
	"example.com/platform/libs/go/platform/logging"
	"example.com/platform/libs/go/platform/middleware"
	"example.com/platform/services/security-agent/internal/facts"
	"example.com/platform/services/security-agent/internal/fim"
	"example.com/platform/services/security-agent/internal/report"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

const service = "security-agent"

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

// lastReport is how the latest report went.
type lastReport struct {
	Time     time.Time `json:"time"`
	OK       bool      `json:"ok"`
	Attempts int       `json:"attempts"`
	Error    string    `json:"error,omitempty"`
}

// status is what /v1/status shows.
type status struct {
	AgentID    string           `json:"agent_id"`
	Version    string           `json:"version"`
	LastRun    time.Time        `json:"last_run"`
	Facts      facts.Facts      `json:"facts"`
	FIM        report.FIMResult `json:"fim"`
	LastReport *lastReport      `json:"last_report,omitempty"`
}

// agent does the periodic work.
type agent struct {
	id       string
	host     fs.FS
	scanner  fim.Scanner
	baseline fim.Snapshot
	client   *report.Client // nil: no reporting
	interval time.Duration
	log      *logging.Logger

	mu     sync.Mutex
	status status
}

// check collects facts, diffs the files against the baseline and sends
// the report; the status keeps the outcome.
func (a *agent) check(ctx context.Context) {
	now := time.Now().UTC()
	f := facts.Collect(a.host)
	res := report.FIMResult{Changes: []fim.Change{}}
	if snap, err := a.scanner.Scan(); err != nil {
		res.Error = err.Error()
	} else {
		res.Files = len(snap)
		res.Changes = fim.Diff(a.baseline, snap)
	}
	for _, c := range res.Changes {
		a.log.Warn("file integrity change", "path", "/"+c.Path, "kind", c.Kind)
	}
	st := status{AgentID: a.id, Version: version, LastRun: now, Facts: f, FIM: res}
	if a.client != nil {
		attempts, err := a.client.Send(ctx, report.Report{AgentID: a.id, Version: version, Time: now, Facts: f, FIM: res})
		st.LastReport = &lastReport{Time: time.Now().UTC(), OK: err == nil, Attempts: attempts}
		if err != nil {
			st.LastReport.Error = err.Error()
			a.log.Error("report failed", "error", err, "attempts", attempts)
		}
	}
	a.mu.Lock()
	a.status = st
	a.mu.Unlock()
}

func (a *agent) snapshot() status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}

type server struct {
	addr  string
	http  *http.Server
	ready *health.Flag
	log   *logging.Logger
	agent *agent
}

// newServer configures the agent and takes or loads the baseline, without
// listening.
func newServer(cfg *config.Loader, log *logging.Logger) (*server, error) {
	port := cfg.Int("PORT", 8086)
	id := cfg.String("AGENT_ID", "")
	root := cfg.String("HOST_ROOT", "/")
	paths := cfg.List("FIM_PATHS", []string{"/etc/passwd", "/etc/group", "/etc/hosts"})
	exclude := cfg.List("FIM_EXCLUDE", nil)
	baselineFile := cfg.String("BASELINE_FILE", "")
	url := cfg.String("REPORT_URL", "")
	token := cfg.String("REPORT_TOKEN", "")
	interval := cfg.Duration("REPORT_INTERVAL", time.Minute)
	retries := cfg.Int("REPORT_RETRIES", 3)
	if err := cfg.Err(); err != nil {
		return nil, err
	}
	if interval <= 0 || retries < 0 {
		return nil, errors.New("REPORT_INTERVAL must be positive and REPORT_RETRIES not negative")
	}
	a := &agent{
		host:     os.DirFS(root),
		interval: interval,
		log:      log,
	}
	a.scanner = fim.Scanner{FS: a.host, Paths: paths, Exclude: exclude}
	if id == "" {
		id = facts.Collect(a.host).Hostname
	}
	if id == "" {
		return nil, errors.New("AGENT_ID: not set and the host name is unknown")
	}
	a.id = id
	base, err := loadBaseline(a.scanner, baselineFile, log)
	if err != nil {
		return nil, err
	}
	a.baseline = base
	if url != "" {
		a.client = &report.Client{URL: url, Token: token, Retries: retries, Backoff: time.Second}
	}
	s := &server{addr: fmt.Sprintf(":%d", port), ready: &health.Flag{}, log: log, agent: a}
	mux := http.NewServeMux()
	health.Register(mux, s.ready.Check)
	mux.HandleFunc("/v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(a.snapshot())
	})
	s.http = &http.Server{
		Handler:           middleware.Standard(mux, log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	return s, nil
}

// loadBaseline reads the baseline file, or scans now and saves the scan
// as the baseline when the file does not exist yet.
func loadBaseline(sc fim.Scanner, file string, log *logging.Logger) (fim.Snapshot, error) {
	if file != "" {
		base, err := fim.Load(file)
		if err == nil {
			log.Info("baseline loaded", "file", file, "files", len(base))
			return base, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("BASELINE_FILE: %v", err)
		}
	}
	base, err := sc.Scan()
	if err != nil {
		return nil, fmt.Errorf("FIM_PATHS: %v", err)
	}
	if file != "" {
		if err := fim.Save(file, base); err != nil {
			return nil, fmt.Errorf("BASELINE_FILE: %v", err)
		}
	}
	log.Info("baseline taken", "file", file, "files", len(base))
	return base, nil
}

// run serves on ln and checks the host every interval until ctx is
// cancelled. /readyz turns ready once the first check has finished.
func (s *server) run(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String(), "version", version, "agent_id", s.agent.id)

	loopCtx, stopLoop := context.WithCancel(ctx)
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		tick := time.NewTicker(s.agent.interval)
		defer tick.Stop()
		for {
			s.agent.check(loopCtx)
			s.ready.Set(true)
			select {
			case <-loopCtx.Done():
				return
			case <-tick.C:
			}
		}
	}()

	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	stopLoop()
	<-loopDone
	s.ready.Set(false)
	if serveErr != nil {
		return serveErr
	}
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
