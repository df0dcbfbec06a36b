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
	return map[string]string{"PORT": "0", "MAX_BATCH": "5", "MAX_BODY": "8192", "DEFAULT_TZ": "Europe/Berlin"}
}

func TestNewServerConfigErrors(t *testing.T) {
	log := logging.New(io.Discard, logging.Error)
	for name, env := range map[string]map[string]string{
		"bad port":  {"PORT": "http"},
		"bad batch": {"MAX_BATCH": "0"},
		"bad body":  {"MAX_BODY": "-5"},
		"bad tz":    {"DEFAULT_TZ": "Mars/Olympus"},
	} {
		if _, err := newServer(config.FromMap(env), log); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

type batchResult struct {
	Received   int `json:"received"`
	Normalized int `json:"normalized"`
	Events     []struct {
		Time    time.Time `json:"time"`
		Format  string    `json:"format"`
		User    string    `json:"user"`
		Outcome string    `json:"outcome"`
	} `json:"events"`
	Errors []struct {
		Index int    `json:"index"`
		Error string `json:"error"`
	} `json:"errors"`
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

	body := `{"events":[
	  "<38>1 2024-05-01T10:00:00+02:00 bastion sshd 77 - [auth@1 user=\"root\" outcome=\"failed\"] Failed password",
	  "CEF:0|Acme|FW|1|10|Deny|5|rt=May 01 2024 10:00:00 act=deny suser=eve",
	  {"eventVersion":"1.08","eventTime":"2024-05-01T08:00:00Z","eventName":"ConsoleLogin","userIdentity":{"userName":"alice"}},
	  "garbage",
	  {"nope":1}
	]}`
	code, raw := post(t, base+"/v1/events:batch", "application/json", body)
	var res batchResult
	if err := json.Unmarshal(raw, &res); err != nil || code != 200 {
		t.Fatalf("batch = %d %s", code, raw)
	}
	if res.Received != 5 || res.Normalized != 3 || len(res.Errors) != 2 || res.Errors[0].Index != 3 || res.Errors[1].Index != 4 {
		t.Fatalf("batch result = %+v", res)
	}
	want := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC) // all three happened at 08:00 UTC
	for i, ev := range res.Events {
		if !ev.Time.Equal(want) {
			t.Errorf("event %d time = %v, want %v", i, ev.Time, want)
		}
	}
	if res.Events[0].User != "root" || res.Events[0].Outcome != "failure" || res.Events[1].Format != "cef" || res.Events[2].User != "alice" {
		t.Errorf("events = %+v", res.Events)
	}
	if !bytes.Contains(raw, []byte(`"time":"2024-05-01T08:00:00Z"`)) {
		t.Errorf("times must serialise in UTC: %s", raw)
	}

	ndjson := "CEF:0|v|p|1|s|n|5|suser=bob\n\n" + `{"eventVersion":"1.08","eventTime":"2024-05-01T08:00:00Z","eventName":"GetObject"}` + "\n"
	code, raw = post(t, base+"/v1/events:batch", "application/x-ndjson", ndjson)
	res = batchResult{}
	_ = json.Unmarshal(raw, &res)
	if code != 200 || res.Received != 2 || res.Normalized != 2 || len(res.Errors) != 0 {
		t.Errorf("ndjson = %d %s", code, raw)
	}

	for _, c := range []struct {
		ct, body string
		want     int
	}{
		{"application/json", `{"events":"x"}`, 400},
		{"application/json", `{"evts":[]}`, 400},
		{"application/xml", `<e/>`, 415},
		{"text/plain", strings.Repeat("CEF:0|v|p|1|s|n|5|\n", 6), 413},
		{"text/plain", strings.Repeat("x", 9000), 413},
		{"text/plain", strings.Repeat("y", 8000), 200},
	} {
		if code, raw := post(t, base+"/v1/events:batch", c.ct, c.body); code != c.want {
			t.Errorf("%s %.40q = %d %s, want %d", c.ct, c.body, code, raw, c.want)
		}
	}
	if resp, err := http.Get(base + "/v1/events:batch"); err != nil || resp.StatusCode != 405 {
		t.Errorf("GET batch: %v %v", resp, err)
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
	if !strings.Contains(logs.String(), `"msg":"batch normalised"`) {
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
	if code := start(context.Background(), config.FromMap(map[string]string{"DEFAULT_TZ": "x/y"}), log); code != 2 {
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

func post(t *testing.T, target, ct, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", target, strings.NewReader(body))
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
