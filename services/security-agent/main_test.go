package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"example.com/platform/libs/go/platform/config"
	"example.com/platform/libs/go/platform/logging"
	"example.com/platform/services/security-agent/internal/report"
)

// fakeHost lays out a host root with /proc facts and watched files.
func fakeHost(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"proc/sys/kernel/hostname":  "web-01\n",
		"proc/sys/kernel/osrelease": "6.1.0\n",
		"etc/os-release":            "PRETTY_NAME=\"Debian GNU/Linux 12\"\n",
		"proc/uptime":               "100.5 50.0\n",
		"proc/cpuinfo":              "processor : 0\n",
		"proc/meminfo":              "MemTotal: 1000 kB\nMemAvailable: 500 kB\n",
		"proc/loadavg":              "0.1 0.2 0.3 1/100 42\n",
		"etc/passwd":                "root:x:0:0::/root:/bin/bash\n",
		"etc/ssh/sshd_config":       "PermitRootLogin no\n",
	}
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func env(root string, extra ...string) map[string]string {
	m := map[string]string{"PORT": "0", "HOST_ROOT": root, "FIM_PATHS": "/etc/passwd,/etc/ssh", "REPORT_INTERVAL": "50ms"}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i]] = extra[i+1]
	}
	return m
}

func TestNewServerConfigErrors(t *testing.T) {
	log := logging.New(io.Discard, logging.Error)
	root := fakeHost(t)
	corrupt := filepath.Join(t.TempDir(), "base.json")
	if err := os.WriteFile(corrupt, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string]map[string]string{
		"bad port":        env(root, "PORT", "x"),
		"bad interval":    env(root, "REPORT_INTERVAL", "0"),
		"bad retries":     env(root, "REPORT_RETRIES", "-1"),
		"missing path":    env(root, "FIM_PATHS", "/etc/nope"),
		"corrupt base":    env(root, "BASELINE_FILE", corrupt),
		"unwritable base": env(root, "BASELINE_FILE", filepath.Join(root, "no", "dir", "b.json")),
		"no identity":     env(t.TempDir(), "FIM_PATHS", "/"),
	} {
		if _, err := newServer(config.FromMap(e), log); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

type collector struct {
	mu      sync.Mutex
	reports []report.Report
	auth    string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var rep report.Report
	_ = json.NewDecoder(r.Body).Decode(&rep)
	c.mu.Lock()
	c.reports = append(c.reports, rep)
	c.auth = r.Header.Get("Authorization")
	c.mu.Unlock()
}

func (c *collector) last() (report.Report, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.reports) == 0 {
		return report.Report{}, 0
	}
	return c.reports[len(c.reports)-1], len(c.reports)
}

func TestAgentEndToEnd(t *testing.T) {
	root := fakeHost(t)
	baseline := filepath.Join(t.TempDir(), "baseline.json")
	coll := &collector{}
	endpoint := httptest.NewServer(coll)
	defer endpoint.Close()
	var logs bytes.Buffer
	log := logging.New(&logs, logging.Info)
	e := env(root, "BASELINE_FILE", baseline, "REPORT_URL", endpoint.URL, "REPORT_TOKEN", "tok")
	srv, err := newServer(config.FromMap(e), log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(baseline); err != nil {
		t.Fatalf("baseline not written: %v", err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.run(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	waitFor(t, base+"/readyz", 200)

	st := getStatus(t, base)
	if st.AgentID != "web-01" || st.Facts.OS != "Debian GNU/Linux 12" || st.FIM.Files != 2 || len(st.FIM.Changes) != 0 {
		t.Errorf("status = %+v", st)
	}

	// tamper with a watched file: the next check reports it
	if err := os.WriteFile(filepath.Join(root, "etc/ssh/sshd_config"), []byte("PermitRootLogin yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		rep, _ := coll.last()
		if len(rep.FIM.Changes) == 1 {
			if c := rep.FIM.Changes[0]; c.Path != "etc/ssh/sshd_config" || c.Kind != "modified" || rep.AgentID != "web-01" {
				t.Errorf("change = %+v", c)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no change reported; last = %+v", rep)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st = getStatus(t, base)
	if st.LastReport == nil || !st.LastReport.OK || st.LastReport.Attempts != 1 {
		t.Errorf("last report = %+v", st.LastReport)
	}
	coll.mu.Lock()
	if coll.auth != "Bearer tok" {
		t.Errorf("auth = %q", coll.auth)
	}
	coll.mu.Unlock()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("agent did not shut down")
	}
	if srv.ready.Ready() {
		t.Error("still ready after shutdown")
	}

	// a restart loads the saved baseline, so the change is still reported
	srv2, err := newServer(config.FromMap(e), logging.New(io.Discard, logging.Error))
	if err != nil {
		t.Fatal(err)
	}
	srv2.agent.check(context.Background())
	if st := srv2.agent.snapshot(); len(st.FIM.Changes) != 1 {
		t.Errorf("after restart: changes = %+v", st.FIM.Changes)
	}
	if !strings.Contains(logs.String(), `"msg":"file integrity change"`) || !strings.Contains(logs.String(), `"msg":"baseline taken"`) {
		t.Errorf("logs = %s", logs.String())
	}
}

func TestCheckRecordsFailures(t *testing.T) {
	root := fakeHost(t)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad token", http.StatusUnauthorized)
	}))
	defer endpoint.Close()
	srv, err := newServer(config.FromMap(env(root, "REPORT_URL", endpoint.URL)), logging.New(io.Discard, logging.Error))
	if err != nil {
		t.Fatal(err)
	}
	// a watched directory disappears: the scan error is reported, not fatal
	if err := os.RemoveAll(filepath.Join(root, "etc/ssh")); err != nil {
		t.Fatal(err)
	}
	srv.agent.check(context.Background())
	st := srv.agent.snapshot()
	if st.LastReport == nil || st.LastReport.OK || !strings.Contains(st.LastReport.Error, "401") {
		t.Errorf("last report = %+v", st.LastReport)
	}
	if !strings.Contains(st.FIM.Error, "/etc/ssh") || st.FIM.Changes == nil {
		t.Errorf("fim = %+v", st.FIM)
	}
}

func TestRunReturnsServeError(t *testing.T) {
	srv, err := newServer(config.FromMap(env(fakeHost(t))), logging.New(io.Discard, logging.Error))
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ln.Close()
	if err := srv.run(context.Background(), ln); err == nil {
		t.Error("expected an error from a closed listener")
	}
}

func TestStartExitCodes(t *testing.T) {
	log := logging.New(io.Discard, logging.Error)
	root := fakeHost(t)
	if code := start(context.Background(), config.FromMap(env(root, "FIM_PATHS", "/nope")), log); code != 2 {
		t.Errorf("bad config: exit %d, want 2", code)
	}
	if code := start(context.Background(), config.FromMap(env(root, "PORT", "-1")), log); code != 1 {
		t.Errorf("unlistenable port: exit %d, want 1", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if code := start(ctx, config.FromMap(env(root, "AGENT_ID", "explicit")), log); code != 0 {
		t.Errorf("clean shutdown: exit %d, want 0", code)
	}
}

func getStatus(t *testing.T, base string) status {
	t.Helper()
	resp, err := http.Get(base + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func waitFor(t *testing.T, target string, code int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(target); err == nil {
			resp.Body.Close()
			if resp.StatusCode == code {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never returned %d", target, code)
}
