package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"example.com/platform/libs/go/platform/config"
	"example.com/platform/libs/go/platform/logging"
)

func newTestServer(t *testing.T, env map[string]string) (*server, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	if env == nil {
		env = map[string]string{"PORT": "0"}
	}
	s, err := newServer(config.FromMap(env), logging.New(&logs, logging.Info))
	if err != nil {
		t.Fatal(err)
	}
	return s, &logs
}

func call(s *server, method, path, body, ctype string) (int, map[string]interface{}, http.Header) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	s.http.Handler.ServeHTTP(rec, req)
	var m map[string]interface{}
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, m, rec.Header()
}

func inspect(t *testing.T, s *server, text string, redact bool) map[string]interface{} {
	t.Helper()
	body, _ := json.Marshal(inspectRequest{Text: text, Redact: redact})
	code, m, _ := call(s, "POST", "/v1/inspect", string(body), "application/json")
	if code != 200 {
		t.Fatalf("inspect: %d %v", code, m)
	}
	return m
}

func TestInspect(t *testing.T) {
	s, logs := newTestServer(t, nil)
	text := "Hi, my card is 4111 1111 1111 1111 and SSN 536-22-1234."
	m := inspect(t, s, text, true)
	if m["action"] != "warn" || m["redacted"] != "Hi, my card is **** **** **** 1111 and SSN ***-**-****." {
		t.Errorf("response = %v", m)
	}
	counts := m["counts"].(map[string]interface{})
	if counts["credit_card"] != 1.0 || counts["us_ssn"] != 1.0 {
		t.Errorf("counts = %v", counts)
	}
	findings := m["findings"].([]interface{})
	card := findings[0].(map[string]interface{})
	if card["type"] != "credit_card" || card["detail"] != "visa" || card["start"] != 15.0 || card["end"] != 34.0 ||
		card["masked"] != "**** **** **** 1111" {
		t.Errorf("card finding = %v", card)
	}
	if _, leaked := card["match"]; leaked {
		t.Error("raw match serialised")
	}
	if strings.Contains(logs.String(), "4111") || strings.Contains(logs.String(), "536-22") {
		t.Errorf("content leaked into logs: %s", logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"sensitive content"`) || !strings.Contains(logs.String(), `"action":"warn"`) {
		t.Errorf("decision not logged: %s", logs.String())
	}
}

func TestInspectCleanAndBlock(t *testing.T) {
	s, _ := newTestServer(t, nil)
	m := inspect(t, s, "quarterly numbers attached", false)
	if m["action"] != "allow" || len(m["findings"].([]interface{})) != 0 || len(m["reasons"].([]interface{})) != 0 {
		t.Errorf("clean = %v", m)
	}
	if _, ok := m["redacted"]; ok {
		t.Error("redacted returned without being asked for")
	}
	m = inspect(t, s, "deploy with AKIAIOSFODNN7EXAMPLE", false)
	if m["action"] != "block" {
		t.Errorf("secret = %v", m)
	}
}

func TestInspectPolicyFromEnv(t *testing.T) {
	s, _ := newTestServer(t, map[string]string{"DLP_POLICY": "credit_card=block:1"})
	if m := inspect(t, s, "4111111111111111", false); m["action"] != "block" {
		t.Errorf("env policy not applied: %v", m)
	}
	code, m, _ := call(s, "GET", "/v1/policy", "", "")
	if code != 200 || !strings.Contains(m["policy"].(string), "credit_card=block:1;") {
		t.Errorf("policy = %d %v", code, m)
	}
}

func TestInspectErrors(t *testing.T) {
	s, _ := newTestServer(t, map[string]string{"MAX_CONTENT_BYTES": "16"})
	cases := []struct {
		method, path, body, ctype string
		code                      int
		errSub                    string
	}{
		{"GET", "/v1/inspect", "", "", 405, "method"},
		{"POST", "/v1/policy", "", "", 405, "method"},
		{"POST", "/v1/inspect", `{"text":"a"}`, "text/plain", 415, "content-type"},
		{"POST", "/v1/inspect", `{"txt":"a"}`, "application/json", 400, "invalid JSON"},
		{"POST", "/v1/inspect", `{"text":"a"}{}`, "", 400, "invalid JSON"},
		{"POST", "/v1/inspect", `{"text":"12345678901234567"}`, "", 413, "longer than 16"},
		{"POST", "/v1/inspect", `{"text":"` + strings.Repeat("a", 2000) + `"}`, "", 413, "too large"},
	}
	for _, c := range cases {
		code, m, _ := call(s, c.method, c.path, c.body, c.ctype)
		if code != c.code || !strings.Contains(m["error"].(string), c.errSub) {
			t.Errorf("%s %s %q: %d %v, want %d %q", c.method, c.path, c.body, code, m, c.code, c.errSub)
		}
	}
	// escaped text counts by its decoded length: 16 bytes fit
	if code, m, _ := call(s, "POST", "/v1/inspect", `{"text":"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"}`, ""); code != 200 {
		t.Errorf("escaped text: %d %v", code, m)
	}
}

func TestNewServerConfigErrors(t *testing.T) {
	log := logging.New(&bytes.Buffer{}, logging.Error)
	for _, env := range []map[string]string{
		{"PORT": "http"}, {"MAX_CONTENT_BYTES": "0"}, {"DLP_POLICY": "passport=block:1"},
	} {
		if _, err := newServer(config.FromMap(env), log); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
}

func TestServeEndToEnd(t *testing.T) {
	s, logs := newTestServer(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	waitFor(t, base+"/readyz", 200)
	resp, err := http.Get(base + "/version")
	if err != nil {
		t.Fatal(err)
	}
	var ver map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&ver)
	resp.Body.Close()
	if ver["service"] != service || ver["version"] != version {
		t.Errorf("version = %v", ver)
	}
	resp, err = http.Post(base+"/v1/inspect", "application/json", strings.NewReader(`{"text":"IBAN GB82 WEST 1234 5698 7654 32"}`))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]interface{}
	_ = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if resp.StatusCode != 200 || m["action"] != "warn" || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("inspect = %d %v", resp.StatusCode, m)
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
	if s.ready.Ready() {
		t.Error("still ready after shutdown")
	}
	if !strings.Contains(logs.String(), `"msg":"listening"`) {
		t.Errorf("no startup log: %s", logs.String())
	}
}

func TestRunReturnsServeError(t *testing.T) {
	s, _ := newTestServer(t, nil)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ln.Close()
	if err := s.run(context.Background(), ln); err == nil {
		t.Error("expected an error from a closed listener")
	}
}

func TestStartExitCodes(t *testing.T) {
	log := logging.New(&bytes.Buffer{}, logging.Error)
	if code := start(context.Background(), config.FromMap(map[string]string{"DLP_POLICY": "x"}), log); code != 2 {
		t.Errorf("bad config: exit %d, want 2", code)
	}
	if code := start(context.Background(), config.FromMap(map[string]string{"PORT": "-1"}), log); code != 1 {
		t.Errorf("unlistenable port: exit %d, want 1", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if code := start(ctx, config.FromMap(map[string]string{"PORT": "0"}), log); code != 0 {
		t.Errorf("clean shutdown: exit %d, want 0", code)
	}
}

func waitFor(t *testing.T, url string, code int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == code {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never returned %d", url, code)
}
