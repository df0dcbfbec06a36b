package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
		env = map[string]string{"SCAN_MIN_PORTS": "10", "EXFIL_MIN_BYTES": "1000000"}
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

const epoch = 1714564800

// scanCSV is a 20-port scan from 10.0.0.66 plus one bad record.
func scanCSV() string {
	var b strings.Builder
	b.WriteString("start,src_ip,dst_ip,src_port,dst_port,proto,bytes,packets\n")
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, "%d,10.0.0.66,10.0.0.5,40000,%d,6,60,1\n", epoch+i, i+1)
	}
	b.WriteString("yesterday,10.0.0.66,10.0.0.5,40000,1,6,60,1\n")
	return b.String()
}

// beaconNDJSON is 8 check-ins a minute apart to an external host.
func beaconNDJSON() string {
	var b strings.Builder
	for i := 0; i < 8; i++ {
		fmt.Fprintf(&b, `{"ts":%d,"sa":"10.0.0.8","da":"203.0.113.50","dp":443,"pr":"tcp","ibyt":400}`+"\n", epoch+60*i)
	}
	return b.String()
}

func kinds(m map[string]interface{}) string {
	var out []string
	for _, f := range m["findings"].([]interface{}) {
		out = append(out, f.(map[string]interface{})["kind"].(string))
	}
	return strings.Join(out, ",")
}

func TestIngestAndFindings(t *testing.T) {
	s, _ := newTestServer(t, nil)
	code, m, _ := call(s, "POST", "/v1/flows", scanCSV(), "text/csv")
	if code != 200 || m["accepted"] != 20.0 || m["buffered"] != 20.0 || len(m["rejected"].([]interface{})) != 1 {
		t.Fatalf("csv: %d %v", code, m)
	}
	code, m, _ = call(s, "POST", "/v1/flows", beaconNDJSON(), "application/x-ndjson")
	if code != 200 || m["accepted"] != 8.0 || m["buffered"] != 28.0 {
		t.Fatalf("ndjson: %d %v", code, m)
	}
	exfil := fmt.Sprintf(`[{"start":%d,"end":%d,"src_ip":"10.0.0.4","dst_ip":"198.51.100.9","dst_port":443,"bytes":5000000}]`, epoch, epoch+30)
	if code, m, _ = call(s, "POST", "/v1/flows", exfil, "application/json"); code != 200 || m["accepted"] != 1.0 {
		t.Fatalf("json: %d %v", code, m)
	}

	code, m, _ = call(s, "GET", "/v1/findings", "", "")
	if code != 200 || m["flows"] != 29.0 || kinds(m) != "port_scan,beaconing,exfiltration" {
		t.Fatalf("findings: %d %v", code, m)
	}
	code, m, _ = call(s, "GET", "/v1/findings?kind=beaconing", "", "")
	if code != 200 || kinds(m) != "beaconing" {
		t.Errorf("kind filter: %d %v", code, m)
	}
	f := m["findings"].([]interface{})[0].(map[string]interface{})
	metrics := f["metrics"].(map[string]interface{})
	if f["src_ip"] != "10.0.0.8" || f["dst_ip"] != "203.0.113.50" || metrics["interval_seconds"] != 60.0 || metrics["connections"] != 8.0 {
		t.Errorf("beacon finding = %v", f)
	}

	code, m, _ = call(s, "GET", "/v1/hosts?limit=2", "", "")
	hosts := m["hosts"].([]interface{})
	if code != 200 || m["total"] != 6.0 || len(hosts) != 2 || hosts[0].(map[string]interface{})["ip"] != "10.0.0.4" {
		t.Errorf("hosts: %d %v", code, m)
	}
	code, m, _ = call(s, "GET", "/v1/hosts/::ffff:10.0.0.66", "", "")
	if code != 200 || m["ip"] != "10.0.0.66" || m["dst_ports"] != 20.0 || m["flows_out"] != 20.0 || m["internal"] != true {
		t.Errorf("host: %d %v", code, m)
	}
	if code, _, _ = call(s, "GET", "/v1/hosts/10.9.9.9", "", ""); code != 404 {
		t.Errorf("unknown host: %d", code)
	}
	if code, _, _ = call(s, "GET", "/v1/hosts/nope", "", ""); code != 400 {
		t.Errorf("bad host: %d", code)
	}
}

func TestAnalyzeIsStateless(t *testing.T) {
	s, logs := newTestServer(t, nil)
	code, m, _ := call(s, "POST", "/v1/analyze", scanCSV(), "text/csv; charset=utf-8")
	if code != 200 || m["flows"] != 20.0 || kinds(m) != "port_scan" || len(m["rejected"].([]interface{})) != 1 {
		t.Fatalf("analyze: %d %v", code, m)
	}
	if held, _ := s.buffer.Len(); held != 0 {
		t.Errorf("analyze buffered %d flows", held)
	}
	if !strings.Contains(logs.String(), `"msg":"network finding"`) || !strings.Contains(logs.String(), `"kind":"port_scan"`) {
		t.Errorf("finding not logged: %s", logs.String())
	}
	code, m, _ = call(s, "POST", "/v1/analyze", `{"ts":1,"sa":"10.0.0.1","da":"10.0.0.2"}`, "application/json")
	if code != 200 || kinds(m) != "" || len(m["rejected"].([]interface{})) != 0 {
		t.Errorf("quiet batch: %d %v", code, m)
	}
}

func TestRequestErrors(t *testing.T) {
	s, _ := newTestServer(t, map[string]string{"MAX_BODY_BYTES": "4096"})
	var many strings.Builder
	many.WriteString("start,src_ip,dst_ip\n")
	for i := 0; i < maxRejected+5; i++ {
		many.WriteString("x,y,z\n")
	}
	cases := []struct {
		method, path, body, ctype string
		code                      int
		errSub                    string
	}{
		{"GET", "/v1/flows", "", "", 405, "method"},
		{"POST", "/v1/findings", "", "", 405, "method"},
		{"POST", "/v1/flows", "a,b", "text/plain", 415, "content-type"},
		{"POST", "/v1/flows", "", "text/csv", 400, "csv header"},
		{"POST", "/v1/flows", "[{", "application/json", 400, "json"},
		{"POST", "/v1/flows", strings.Repeat(" ", 5000) + "[]", "application/json", 413, "larger than 4096"},
		{"POST", "/v1/flows", "start,src_ip\n" + strings.Repeat("1,10.0.0.1\n", 500), "text/csv", 413, "larger than 4096"},
		{"GET", "/v1/findings?kind=worm", "", "", 400, "kind must be"},
		{"GET", "/v1/hosts?limit=0", "", "", 400, "limit"},
	}
	for _, c := range cases {
		code, m, _ := call(s, c.method, c.path, c.body, c.ctype)
		if code != c.code || !strings.Contains(m["error"].(string), c.errSub) {
			t.Errorf("%s %s: %d %v, want %d %q", c.method, c.path, code, m, c.code, c.errSub)
		}
	}
	code, m, _ := call(s, "POST", "/v1/flows", many.String(), "text/csv")
	if code != 200 || len(m["rejected"].([]interface{})) != maxRejected {
		t.Errorf("rejected list not capped: %d %d", code, len(m["rejected"].([]interface{})))
	}
}

func TestConfig(t *testing.T) {
	log := logging.New(&bytes.Buffer{}, logging.Error)
	s, err := newServer(config.FromMap(map[string]string{
		"SCAN_WINDOW": "2m", "SCAN_MIN_PORTS": "200", "BEACON_MIN_CONNECTIONS": "10", "BEACON_MIN_INTERVAL": "30s",
		"BEACON_MAX_JITTER": "0.05", "EXFIL_MIN_BYTES": "5000", "EXFIL_MIN_RATIO": "10", "INTERNAL_NETWORKS": "10.1.2.3/16, 2001:db8::/32",
	}), log)
	if err != nil {
		t.Fatal(err)
	}
	c := s.cfg
	if c.ScanWindow != 2*time.Minute || c.ScanMinPorts != 200 || c.BeaconMinConns != 10 || c.BeaconMinInterval != 30*time.Second ||
		c.BeaconMaxJitter != 0.05 || c.ExfilMinBytes != 5000 || c.ExfilMinRatio != 10 || len(c.Internal) != 2 ||
		c.Internal[0].String() != "10.1.0.0/16" {
		t.Errorf("config = %+v", c)
	}
	for _, env := range []map[string]string{
		{"PORT": "x"}, {"SCAN_WINDOW": "soon"}, {"SCAN_MIN_PORTS": "1"}, {"EXFIL_MIN_BYTES": "0"},
		{"BEACON_MAX_JITTER": "2"}, {"INTERNAL_NETWORKS": "10.0.0.0"}, {"BUFFER_CAPACITY": "0"}, {"MAX_BODY_BYTES": "-1"},
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
	resp, err = http.Post(base+"/v1/flows", "text/csv", strings.NewReader(scanCSV()))
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
