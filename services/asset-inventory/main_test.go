package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.com/platform/libs/go/platform/config"
	"example.com/platform/libs/go/platform/logging"
)

func writeSeed(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "seed.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const seed = `[
 {"name":"db-01","type":"database","owner":"bob@corp.com","criticality":"critical","tags":["pci"]},
 {"name":"lt-01","type":"workstation","owner":"carol@corp.com","criticality":"low"}
]`

func TestNewServerConfigErrors(t *testing.T) {
	log := logging.New(io.Discard, logging.Error)
	for name, env := range map[string]map[string]string{
		"bad port":     {"PORT": "http"},
		"missing seed": {"SEED_FILE": filepath.Join(t.TempDir(), "nope.json")},
		"bad json":     {"SEED_FILE": writeSeed(t, "{")},
		"bad asset":    {"SEED_FILE": writeSeed(t, `[{"name":"x"}]`)},
	} {
		if _, err := newServer(config.FromMap(env), log); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestServeEndToEnd(t *testing.T) {
	var logs bytes.Buffer
	env := map[string]string{"PORT": "0", "SEED_FILE": writeSeed(t, seed)}
	srv, err := newServer(config.FromMap(env), logging.New(&logs, logging.Info))
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
	if code, _, _ := call(t, "GET", base+"/healthz", ""); code != 200 {
		t.Errorf("healthz = %d", code)
	}

	code, body, hdr := call(t, "POST", base+"/v1/assets",
		`{"name":"web-01","type":"server","owner":"alice@corp.com","criticality":"high","tags":["pci"]}`)
	if code != 201 || body["id"] != "ast-000003" || hdr.Get("Location") != "/v1/assets/ast-000003" {
		t.Fatalf("create = %d %v %v", code, body, hdr)
	}
	q := "/v1/assets?q=" + url.QueryEscape("criticality>=high AND tag=pci")
	code, body, _ = call(t, "GET", base+q, "")
	if list, _ := body["assets"].([]interface{}); code != 200 || len(list) != 2 {
		t.Errorf("query = %d %v", code, body)
	}
	code, body, _ = call(t, "GET", base+"/v1/assets?q=colour%3Dred", "")
	if code != 400 || !strings.Contains(body["error"].(string), "unknown field") {
		t.Errorf("bad query = %d %v", code, body)
	}
	code, body, _ = call(t, "GET", base+"/v1/assets", "")
	if list, _ := body["assets"].([]interface{}); code != 200 || len(list) != 3 {
		t.Errorf("list = %d %v", code, body)
	}

	code, body, _ = call(t, "PUT", base+"/v1/assets/ast-000003",
		`{"name":"web-01","type":"server","owner":"alice@corp.com","criticality":"critical"}`)
	if code != 200 || body["criticality"] != "critical" {
		t.Errorf("update = %d %v", code, body)
	}
	if code, body, _ = call(t, "GET", base+"/v1/assets/ast-000003", ""); code != 200 || body["name"] != "web-01" {
		t.Errorf("get = %d %v", code, body)
	}
	if code, _, _ = call(t, "DELETE", base+"/v1/assets/ast-000003", ""); code != 204 {
		t.Errorf("delete = %d", code)
	}

	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/v1/assets/ast-000003", "", 404},
		{"DELETE", "/v1/assets/ast-000003", "", 404},
		{"GET", "/v1/assets/", "", 404},
		{"GET", "/v1/assets/a/b", "", 404},
		{"PATCH", "/v1/assets/ast-000001", "", 405},
		{"DELETE", "/v1/assets", "", 405},
		{"POST", "/v1/assets", `{"name":"x","bogus":1}`, 400},
		{"POST", "/v1/assets", `{"name":"x"} {}`, 400},
		{"POST", "/v1/assets", `{"name":"x"}`, 422},
		{"POST", "/v1/assets", `{"name":"db-01","type":"server","owner":"a@b.c","criticality":"low"}`, 409},
		{"PUT", "/v1/assets/ast-000001", `[`, 400},
		{"PUT", "/v1/assets/ast-000404", `{"name":"zz","type":"server","owner":"a@b.c","criticality":"low"}`, 404},
		{"POST", "/v1/assets", `{"name":"` + strings.Repeat("a", 70<<10) + `"}`, 400},
	} {
		if code, _, _ := call(t, c.method, base+c.path, c.body); code != c.want {
			t.Errorf("%s %s = %d, want %d", c.method, c.path, code, c.want)
		}
	}
	req, _ := http.NewRequest("POST", base+"/v1/assets", strings.NewReader("name=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 400 {
		t.Errorf("form body accepted: %v", err)
	} else {
		resp.Body.Close()
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
	if !strings.Contains(logs.String(), `"msg":"inventory seeded"`) || !strings.Contains(logs.String(), `"msg":"asset created"`) {
		t.Errorf("expected logs, got %s", logs.String())
	}
}

func TestStatusFor(t *testing.T) {
	if statusFor(io.EOF) != 500 {
		t.Error("unknown error should be 500")
	}
}

func TestRunReturnsServeError(t *testing.T) {
	srv, err := newServer(config.FromMap(map[string]string{"PORT": "0"}), logging.New(io.Discard, logging.Error))
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
	if code := start(context.Background(), config.FromMap(map[string]string{"PORT": "x"}), log); code != 2 {
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

func call(t *testing.T, method, target, body string) (int, map[string]interface{}, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]interface{}
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header
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
