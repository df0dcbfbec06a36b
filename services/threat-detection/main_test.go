package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.com/platform/libs/go/platform/config"
	"example.com/platform/libs/go/platform/logging"
)

func testEnv() map[string]string {
	return map[string]string{"PORT": "0", "RULES_DIR": "rules", "MAX_BATCH": "50", "MAX_BODY": "65536"}
}

func TestNewServerConfigErrors(t *testing.T) {
	log := logging.New(io.Discard, logging.Error)
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "x.json"), []byte(`{"id":"x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, env := range map[string]map[string]string{
		"bad port":    {"PORT": "http"},
		"bad batch":   {"MAX_BATCH": "0"},
		"bad body":    {"MAX_BODY": "-1"},
		"no rules":    {"RULES_DIR": t.TempDir()},
		"broken rule": {"RULES_DIR": bad},
	} {
		if _, err := newServer(config.FromMap(env), log); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestServeEndToEnd(t *testing.T) {
	var logs bytes.Buffer
	srv, err := newServer(config.FromMap(testEnv()), logging.New(&logs, logging.Info))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.run(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	waitFor(t, base+"/readyz", 200)
	waitFor(t, base+"/healthz", 200)

	var batch []string
	for i := 0; i < 5; i++ {
		batch = append(batch, fmt.Sprintf(`{"time":"2024-05-01T10:00:%02dZ","action":"login","outcome":"failure","user":"alice"}`, i*10))
	}
	batch = append(batch, `{"time":"noon"}`, `null`)
	code, raw := do(t, "POST", base+"/v1/events", "application/json", "["+strings.Join(batch, ",")+"]")
	var res struct {
		Processed int `json:"processed"`
		Alerts    []struct {
			RuleID string            `json:"rule_id"`
			Count  int               `json:"count"`
			Group  map[string]string `json:"group"`
		} `json:"alerts"`
		Errors []struct {
			Index int `json:"index"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &res); err != nil || code != 200 {
		t.Fatalf("events = %d %s", code, raw)
	}
	if res.Processed != 5 || len(res.Alerts) != 1 || res.Alerts[0].RuleID != "auth-bruteforce" ||
		res.Alerts[0].Group["user"] != "alice" || len(res.Errors) != 2 || res.Errors[0].Index != 5 || res.Errors[1].Index != 6 {
		t.Errorf("result = %s", raw)
	}
	code, raw = do(t, "POST", base+"/v1/events", "", `{"format":"cloudtrail","action":"StopLogging"}`)
	if code != 200 || !strings.Contains(string(raw), `"rule_id":"cloud-audit-tampering"`) {
		t.Errorf("single event = %d %s", code, raw)
	}

	code, raw = do(t, "GET", base+"/v1/rules", "", "")
	if code != 200 || !strings.Contains(string(raw), `"threshold":{"count":5,"window":"1m0s","group_by":["user"]}`) {
		t.Errorf("rules = %d %s", code, raw)
	}

	many := "[" + strings.TrimSuffix(strings.Repeat("{},", 51), ",") + "]"
	for _, c := range []struct {
		method, path, ct, body string
		want                   int
	}{
		{"GET", "/v1/events", "", "", 405},
		{"POST", "/v1/rules", "", "", 405},
		{"POST", "/v1/events", "text/plain", "{}", 415},
		{"POST", "/v1/events", "application/json", "", 400},
		{"POST", "/v1/events", "application/json", "[1]", 400},
		{"POST", "/v1/events", "application/json", many, 413},
		{"POST", "/v1/events", "application/json", `{"pad":"` + strings.Repeat("x", 70000) + `"}`, 413},
	} {
		if code, raw := do(t, c.method, base+c.path, c.ct, c.body); code != c.want {
			t.Errorf("%s %s %.30q = %d %s, want %d", c.method, c.path, c.body, code, raw, c.want)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not shut down")
	}
	if !strings.Contains(logs.String(), `"msg":"alert"`) || !strings.Contains(logs.String(), `"msg":"rules loaded"`) {
		t.Errorf("expected logs, got %s", logs.String())
	}
}

func TestRunReturnsServeError(t *testing.T) {
	srv, err := newServer(config.FromMap(testEnv()), logging.New(io.Discard, logging.Error))
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
	if code := start(context.Background(), config.FromMap(map[string]string{"RULES_DIR": t.TempDir()}), log); code != 2 {
		t.Errorf("bad config: exit %d, want 2", code)
	}
	if code := start(context.Background(), config.FromMap(map[string]string{"PORT": "-1"}), log); code != 1 {
		t.Errorf("unlistenable port: exit %d, want 1", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if code := start(ctx, config.FromMap(testEnv()), log); code != 0 {
		t.Errorf("clean shutdown: exit %d, want 0", code)
	}
}

func do(t *testing.T, method, target, ct, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
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
