package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"example.com/platform/libs/go/platform/config"
	"example.com/platform/libs/go/platform/logging"
)

var now = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

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
	s.now = func() time.Time { return now }
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

func ts(min float64) string {
	return now.Add(time.Duration(min * float64(time.Minute))).Format(time.RFC3339)
}

func TestScanThenLoginAcrossSources(t *testing.T) {
	s, logs := newTestServer(t, nil)
	body := fmt.Sprintf(`{"events":[
		{"time":%q,"source":"ids","type":"port_scan","src_ip":"203.0.113.7","dst_ip":"10.0.0.5"},
		{"time":%q,"source":"auth","type":"login","outcome":"failure","src_ip":"203.0.113.7","user":"root"}
	]}`, ts(-30), ts(-25))
	code, m, _ := call(s, "POST", "/v1/events", body, "application/json")
	if code != 200 || m["accepted"] != 2.0 || len(m["alerts"].([]interface{})) != 0 {
		t.Fatalf("first batch: %d %v", code, m)
	}
	// the successful login arrives as NDJSON from another shipper, 8 minutes after the scan
	nd := fmt.Sprintf("{\"time\":%q,\"source\":\"vpn\",\"type\":\"login\",\"outcome\":\"success\",\"src_ip\":\"203.0.113.7\",\"user\":\"root\"}\n\n", ts(-22))
	code, m, _ = call(s, "POST", "/v1/events", nd, "application/x-ndjson")
	if code != 200 || m["accepted"] != 1.0 {
		t.Fatalf("ndjson: %d %v", code, m)
	}
	alerts := m["alerts"].([]interface{})
	if len(alerts) != 1 {
		t.Fatalf("alerts = %v", alerts)
	}
	a := alerts[0].(map[string]interface{})
	if a["rule"] != "scan-then-login" || a["severity"] != "critical" || a["value"] != "203.0.113.7" ||
		len(a["events"].([]interface{})) != 2 {
		t.Errorf("alert = %v", a)
	}
	if !strings.Contains(logs.String(), `"msg":"correlation alert"`) || !strings.Contains(logs.String(), `"src_ip":"203.0.113.7"`) {
		t.Errorf("alert not logged: %s", logs.String())
	}
	code, m, _ = call(s, "GET", "/v1/alerts?rule=scan-then-login&limit=5", "", "")
	if code != 200 || m["count"] != 1.0 {
		t.Errorf("alerts endpoint: %d %v", code, m)
	}
	code, m, _ = call(s, "GET", "/v1/stats", "", "")
	if code != 200 || m["events"] != 3.0 || m["capacity"] != 100000.0 {
		t.Errorf("stats: %d %v", code, m)
	}
	code, m, _ = call(s, "GET", "/v1/rules", "", "")
	if code != 200 || len(m["rules"].([]interface{})) != 4 {
		t.Errorf("rules: %d %v", code, m)
	}
}

func TestIngestRejectsIndividually(t *testing.T) {
	s, _ := newTestServer(t, map[string]string{"STORE_CAPACITY": "2"})
	body := fmt.Sprintf(`{"events":[
		{"time":%q,"source":"fw","type":"deny"},
		{"source":"fw"},
		{"time":%q,"source":"fw","type":"deny","colour":"red"},
		{"time":%q,"source":"fw","type":"deny","src_ip":"nope"},
		"not an object",
		{"time":%q,"source":"fw","type":"deny"},
		{"time":%q,"source":"fw","type":"deny"}
	]}`, ts(-5), ts(-5), ts(-5), ts(-4), ts(-60))
	code, m, _ := call(s, "POST", "/v1/events", body, "")
	if code != 200 || m["accepted"] != 2.0 {
		t.Fatalf("%d %v", code, m)
	}
	var got []string
	for _, r := range m["rejected"].([]interface{}) {
		rj := r.(map[string]interface{})
		got = append(got, fmt.Sprintf("%v:%v", rj["index"], rj["error"]))
	}
	want := []string{"1:type is required", "2:invalid event", "3:invalid IP", "4:invalid event", "6:older than every event"}
	if len(got) != len(want) {
		t.Fatalf("rejected = %v", got)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("rejected[%d] = %q, want prefix %q", i, got[i], want[i])
		}
	}
}

func TestIngestErrors(t *testing.T) {
	s, _ := newTestServer(t, map[string]string{"MAX_BATCH": "2"})
	three := `{"source":"a","type":"b"}` + "\n" + `{"source":"a","type":"b"}` + "\n" + `{"source":"a","type":"b"}`
	cases := []struct {
		method, body, ctype string
		code                int
		errSub              string
	}{
		{"GET", "", "", 405, "method"},
		{"POST", `{"source":"a","type":"b"}`, "application/json", 400, `{"events":[...]}`},
		{"POST", `{"events":null}`, "application/json", 400, `{"events":[...]}`},
		{"POST", `[`, "application/json", 400, `{"events":[...]}`},
		{"POST", `{"events":[{},{},{}]}`, "application/json", 413, "at most 2"},
		{"POST", three, "application/x-ndjson", 413, "at most 2"},
		{"POST", `x`, "text/plain", 415, "content-type"},
		{"POST", strings.Repeat("x", 2<<20), "application/x-ndjson", 400, "reading body"},
	}
	for _, c := range cases {
		code, m, _ := call(s, c.method, "/v1/events", c.body, c.ctype)
		if code != c.code || !strings.Contains(m["error"].(string), c.errSub) {
			t.Errorf("%s %.40q: %d %v, want %d %q", c.method, c.body, code, m, c.code, c.errSub)
		}
	}
}

func TestSearchEndpoint(t *testing.T) {
	s, _ := newTestServer(t, nil)
	var lines []string
	for i, typ := range []string{"login", "logout", "login", "port_scan", "login"} {
		lines = append(lines, fmt.Sprintf(`{"time":%q,"source":"auth","type":%q,"user":"u%d","fields":{"app":"vpn"}}`, ts(float64(i-10)), typ, i%2))
	}
	if code, m, _ := call(s, "POST", "/v1/events", strings.Join(lines, "\n"), "application/x-ndjson"); code != 200 || m["accepted"] != 5.0 {
		t.Fatalf("ingest: %d %v", code, m)
	}
	users := func(m map[string]interface{}) string {
		var out []string
		for _, e := range m["events"].([]interface{}) {
			ev := e.(map[string]interface{})
			out = append(out, ev["type"].(string)+"/"+ev["user"].(string))
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		query, want string
	}{
		{"", "login/u0,port_scan/u1,login/u0,logout/u1,login/u0"},
		{"type=login", "login/u0,login/u0,login/u0"},
		{"type=login&order=asc&limit=1", "login/u0"},
		{"type=logout,port_scan", "port_scan/u1,logout/u1"},
		{"type=logout&type=port_scan&user=u1", "port_scan/u1,logout/u1"},
		{"app=vpn&limit=2", "login/u0,port_scan/u1"},
		{"from=" + url.QueryEscape(ts(-9)) + "&to=" + url.QueryEscape(ts(-7)), "login/u0,logout/u1"},
		{"last=7m30s", "login/u0,port_scan/u1"},
	}
	for _, c := range cases {
		code, m, _ := call(s, "GET", "/v1/search?"+c.query, "", "")
		if code != 200 {
			t.Errorf("%s: %d %v", c.query, code, m)
			continue
		}
		if got := users(m); got != c.want {
			t.Errorf("%s: got %s, want %s", c.query, got, c.want)
		}
	}
}

func TestSearchErrors(t *testing.T) {
	s, _ := newTestServer(t, nil)
	for _, q := range []string{"from=yesterday", "to=1", "last=-5m", "last=soon", "limit=0", "limit=1001",
		"limit=x", "order=up", "last=5m&from=" + url.QueryEscape(ts(-1))} {
		if code, m, _ := call(s, "GET", "/v1/search?"+q, "", ""); code != 400 {
			t.Errorf("%s: %d %v", q, code, m)
		}
	}
	for _, q := range []string{"limit=0", "limit=x"} {
		if code, _, _ := call(s, "GET", "/v1/alerts?"+q, "", ""); code != 400 {
			t.Errorf("alerts %s: %d", q, code)
		}
	}
	if code, _, h := call(s, "POST", "/v1/search", "", ""); code != 405 || h.Get("Allow") != "GET" {
		t.Errorf("POST search: %d", code)
	}
}

func TestRulesFileConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "rules.json")
	os.WriteFile(good, []byte(`[{"name":"r","severity":"low","key":"user","window":"1m","stages":[{"match":{"type":"x"}}]}]`), 0o600)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`[{"name":"r"}]`), 0o600)
	log := logging.New(&bytes.Buffer{}, logging.Error)

	s, err := newServer(config.FromMap(map[string]string{"RULES_FILE": good}), log)
	if err != nil || len(s.engine.Rules()) != 1 {
		t.Fatalf("custom rules: %v", err)
	}
	for _, env := range []map[string]string{
		{"RULES_FILE": bad}, {"RULES_FILE": filepath.Join(dir, "missing.json")},
		{"PORT": "x"}, {"STORE_CAPACITY": "0"}, {"MAX_BATCH": "-1"},
	} {
		if _, err := newServer(config.FromMap(env), log); err == nil {
			t.Errorf("%v accepted", env)
		}
	}

	var out bytes.Buffer
	if code := checkRules([]string{"rules/default.json", good}, &out); code != 0 {
		t.Errorf("check good: %d %s", code, out.String())
	}
	if !strings.Contains(out.String(), "ok   rules/default.json: 4 rules") {
		t.Errorf("output: %s", out.String())
	}
	out.Reset()
	if code := checkRules([]string{good, bad, filepath.Join(dir, "missing.json")}, &out); code != 1 ||
		strings.Count(out.String(), "FAIL") != 2 {
		t.Errorf("check bad: %d %s", code, out.String())
	}
	if code := checkRules(nil, &out); code != 2 {
		t.Errorf("no args: %d", code)
	}
}

func TestServeEndToEnd(t *testing.T) {
	s, logs := newTestServer(t, nil)
	s.now = time.Now
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
	resp, err = http.Post(base+"/v1/events", "application/json", strings.NewReader(`{"events":[{"source":"edr","type":"malware_detected","host":"ws-1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("ingest = %d", resp.StatusCode)
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
