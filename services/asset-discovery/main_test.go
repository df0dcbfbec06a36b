package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"example.com/platform/libs/go/platform/config"
	"example.com/platform/libs/go/platform/logging"
)

func testEnv() map[string]string {
	return map[string]string{"PORT": "0", "SCOPE": "10.0.0.0/8, 2001:db8::/32", "MAX_BODY": "4096"}
}

func TestNewServerConfigErrors(t *testing.T) {
	log := logging.New(io.Discard, logging.Error)
	for name, env := range map[string]map[string]string{
		"bad port":  {"PORT": "http"},
		"bad scope": {"SCOPE": "10.0.0.1/8"},
		"empty":     {"SCOPE": " , "},
		"max body":  {"MAX_BODY": "0"},
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
	if code, _ := call(t, "GET", base+"/healthz", "", ""); code != 200 {
		t.Errorf("healthz = %d", code)
	}

	grep := "Host: 10.0.0.5 (web1)\tPorts: 22/open/tcp//ssh///\tMAC: aa:bb:cc:00:11:22\n" +
		"Host: 192.168.1.1 ()\tStatus: Up\n"
	code, body := call(t, "POST", base+"/v1/observations", "text/plain", grep)
	if code != 200 || body["received"] != 2.0 || body["created"] != 1.0 || body["out_of_scope"] != 1.0 {
		t.Fatalf("grepable submit = %d %v", code, body)
	}
	js := `[{"ip":"10.0.0.77","mac":"AA-BB-CC-00-11-22","port":443,"service":"https"},{"ip":"2001:db8::5"}]`
	code, body = call(t, "POST", base+"/v1/observations", "application/json; charset=utf-8", js)
	if code != 200 || body["updated"] != 1.0 || body["created"] != 1.0 {
		t.Fatalf("json submit = %d %v", code, body)
	}

	code, body = call(t, "GET", base+"/v1/assets", "", "")
	list, _ := body["assets"].([]interface{})
	if code != 200 || len(list) != 2 {
		t.Fatalf("assets = %d %v", code, body)
	}
	first := list[0].(map[string]interface{})
	if ips := first["ips"].([]interface{}); len(ips) != 2 || first["mac"] != "aa:bb:cc:00:11:22" {
		t.Errorf("deduplicated asset = %v", first)
	}
	_, body = call(t, "GET", base+"/v1/assets?cidr=2001:db8::/64", "", "")
	if list := body["assets"].([]interface{}); len(list) != 1 {
		t.Errorf("cidr filter = %v", body)
	}

	for _, c := range []struct {
		method, path, ct, body string
		want                   int
	}{
		{"GET", "/v1/observations", "", "", 405},
		{"POST", "/v1/assets", "", "", 405},
		{"GET", "/v1/assets?cidr=10.0.0.1/8", "", "", 400},
		{"POST", "/v1/observations", "application/xml", "<x/>", 415},
		{"POST", "/v1/observations", "application/json", "{", 400},
		{"POST", "/v1/observations", "text/plain", "garbage", 400},
		{"POST", "/v1/observations", "text/plain", strings.Repeat("#", 8192), 413},
	} {
		if code, _ := call(t, c.method, base+c.path, c.ct, c.body); code != c.want {
			t.Errorf("%s %s (%s) = %d, want %d", c.method, c.path, c.ct, code, c.want)
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
	if srv.ready.Ready() {
		t.Error("still ready after shutdown")
	}
	if !strings.Contains(logs.String(), `"msg":"observations recorded"`) {
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
	if code := start(context.Background(), config.FromMap(map[string]string{"SCOPE": "x"}), log); code != 2 {
		t.Errorf("bad config: exit %d, want 2", code)
	}
	env := testEnv()
	env["PORT"] = "-1"
	if code := start(context.Background(), config.FromMap(env), log); code != 1 {
		t.Errorf("unlistenable port: exit %d, want 1", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if code := start(ctx, config.FromMap(testEnv()), log); code != 0 {
		t.Errorf("clean shutdown: exit %d, want 0", code)
	}
}

func call(t *testing.T, method, url, ct, body string) (int, map[string]interface{}) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
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
	var m map[string]interface{}
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
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
