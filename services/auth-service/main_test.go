package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"example.com/platform/libs/go/platform/config"
	"example.com/platform/libs/go/platform/logging"
)

func testEnv() map[string]string {
	return map[string]string{"PORT": "0", "TOKEN_SECRET": strings.Repeat("s", 32), "TOKEN_TTL": "5m"}
}

func TestNewServerConfigErrors(t *testing.T) {
	log := logging.New(&bytes.Buffer{}, logging.Error)
	env := testEnv()
	delete(env, "TOKEN_SECRET")
	if _, err := newServer(config.FromMap(env), log); err == nil || !strings.Contains(err.Error(), "TOKEN_SECRET") {
		t.Errorf("missing secret: err = %v", err)
	}
	env = testEnv()
	env["TOKEN_SECRET"] = "short"
	if _, err := newServer(config.FromMap(env), log); err == nil {
		t.Error("short secret accepted")
	}
	env = testEnv()
	env["PORT"] = "http"
	if _, err := newServer(config.FromMap(env), log); err == nil {
		t.Error("bad port accepted")
	}
}

func TestServeEndToEnd(t *testing.T) {
	var logs bytes.Buffer
	srv, err := newServer(config.FromMap(testEnv()), logging.New(&logs, logging.Info))
	if err != nil {
		t.Fatal(err)
	}
	if srv.addr != ":0" {
		t.Errorf("addr = %q", srv.addr)
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
	if code := get(t, base+"/healthz", nil); code != 200 {
		t.Errorf("healthz = %d", code)
	}
	var ver map[string]string
	get(t, base+"/version", &ver)
	if ver["version"] != version || ver["service"] != "auth-service" {
		t.Errorf("version = %v", ver)
	}

	resp, err := http.Post(base+"/v1/token", "application/json", strings.NewReader(`{"subject":"alice","roles":["analyst"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var issued struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expires_in"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&issued)
	resp.Body.Close()
	if resp.StatusCode != 200 || issued.ExpiresIn != 300 || resp.Header.Get("X-Request-Id") == "" {
		t.Fatalf("issue = %d %+v", resp.StatusCode, issued)
	}
	resp, err = http.Post(base+"/v1/verify", "application/json", strings.NewReader(`{"token":"`+issued.Token+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]interface{}
	_ = json.NewDecoder(resp.Body).Decode(&claims)
	resp.Body.Close()
	if resp.StatusCode != 200 || claims["iss"] != "auth-service" || claims["sub"] != "alice" {
		t.Errorf("verify = %d %v", resp.StatusCode, claims)
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
	if srv.ready.Ready() {
		t.Error("still ready after shutdown")
	}
	if !strings.Contains(logs.String(), `"msg":"listening"`) || !strings.Contains(logs.String(), `"path":"/v1/token"`) {
		t.Errorf("expected startup and access logs, got %s", logs.String())
	}
}

func TestRunReturnsServeError(t *testing.T) {
	srv, err := newServer(config.FromMap(testEnv()), logging.New(&bytes.Buffer{}, logging.Error))
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ln.Close() // Serve fails immediately on a closed listener
	if err := srv.run(context.Background(), ln); err == nil {
		t.Error("expected an error from a closed listener")
	}
}

func get(t *testing.T, url string, into interface{}) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if into != nil {
		_ = json.NewDecoder(resp.Body).Decode(into)
	}
	return resp.StatusCode
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

func TestStartExitCodes(t *testing.T) {
	log := logging.New(&bytes.Buffer{}, logging.Error)
	if code := start(context.Background(), config.FromMap(map[string]string{}), log); code != 2 {
		t.Errorf("missing config: exit %d, want 2", code)
	}
	env := testEnv()
	env["PORT"] = "-1"
	if code := start(context.Background(), config.FromMap(env), log); code != 1 {
		t.Errorf("unlistenable port: exit %d, want 1", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // already asked to stop: serve, then drain cleanly
	if code := start(ctx, config.FromMap(testEnv()), log); code != 0 {
		t.Errorf("clean shutdown: exit %d, want 0", code)
	}
}
