package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"example.com/platform/libs/go/platform/config"
	"example.com/platform/libs/go/platform/logging"
	"example.com/platform/services/api-gateway/internal/router"
)

var secret = strings.Repeat("k", 32)

func sign(payload string) string {
	enc := base64.RawURLEncoding
	s := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(s))
	return s + "." + enc.EncodeToString(m.Sum(nil))
}

func validToken() string {
	exp := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	return sign(`{"sub":"alice","roles":["analyst","responder"],"iss":"auth-service","exp":` + exp + `}`)
}

// echo is a fake upstream that reports what it received.
func echo(name string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"upstream":   name,
			"path":       r.URL.Path,
			"query":      r.URL.RawQuery,
			"host":       r.Host,
			"subject":    r.Header.Get("X-Auth-Subject"),
			"roles":      r.Header.Get("X-Auth-Roles"),
			"request_id": r.Header.Get("X-Request-Id"),
			"fwd_host":   r.Header.Get("X-Forwarded-Host"),
			"body":       string(body),
		})
	}))
}

type harness struct {
	handler http.Handler
	auth    *httptest.Server
	ba      *httptest.Server
	fe      *httptest.Server
	logs    *bytes.Buffer
}

func newHarness(t *testing.T, extra map[string]string) *harness {
	t.Helper()
	h := &harness{auth: echo("auth"), ba: echo("analysis"), fe: echo("frontend"), logs: &bytes.Buffer{}}
	t.Cleanup(func() { h.auth.Close(); h.ba.Close(); h.fe.Close() })
	env := map[string]string{
		"PORT": "0", "TOKEN_SECRET": secret,
		"AUTH_URL": h.auth.URL, "ANALYSIS_URL": h.ba.URL + "/", "FRONTEND_URL": h.fe.URL,
		"ROUTES": "/intel=" + h.ba.URL + "/intel?src=gw,public:/status=" + h.ba.URL + "/status",
	}
	for k, v := range extra {
		env[k] = v
	}
	srv, err := newServer(config.FromMap(env), logging.New(h.logs, logging.Debug))
	if err != nil {
		t.Fatal(err)
	}
	h.handler = srv.http.Handler
	return h
}

func (h *harness) do(method, path, token string, hdr map[string]string) (int, map[string]string, http.Header) {
	req := httptest.NewRequest(method, path, strings.NewReader(`{"x":1}`))
	req.RemoteAddr = "192.0.2.10:40000"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	var m map[string]string
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, m, rec.Header()
}

func TestRoutingAndRewriting(t *testing.T) {
	h := newHarness(t, nil)
	tok := validToken()
	cases := []struct {
		path, token, upstream, upPath, query string
	}{
		{"/auth/token", "", "auth", "/v1/token", ""},
		{"/auth/verify", "", "auth", "/v1/verify", ""},
		{"/analysis/score", tok, "analysis", "/v1/score", ""},
		{"/analysis/score?user=bob", tok, "analysis", "/v1/score", "user=bob"},
		{"/intel/iocs?limit=5", tok, "analysis", "/intel/iocs", "src=gw&limit=5"},
		{"/intel", tok, "analysis", "/intel", "src=gw"},
		{"/status", "", "analysis", "/status", ""},
		{"/", "", "frontend", "/", ""},
		{"/assets/app.js", "", "frontend", "/assets/app.js", ""},
		{"/authz", "", "frontend", "/authz", ""},
	}
	for _, c := range cases {
		code, body, _ := h.do("POST", c.path, c.token, nil)
		if code != 200 {
			t.Errorf("%s: status %d %v", c.path, code, body)
			continue
		}
		if body["upstream"] != c.upstream || body["path"] != c.upPath || body["query"] != c.query {
			t.Errorf("%s -> %s %s ?%s; want %s %s ?%s", c.path, body["upstream"], body["path"], body["query"], c.upstream, c.upPath, c.query)
		}
		if body["body"] != `{"x":1}` {
			t.Errorf("%s: body not forwarded: %q", c.path, body["body"])
		}
		if body["fwd_host"] != "example.com" || body["host"] == "example.com" {
			t.Errorf("%s: host=%q fwd_host=%q", c.path, body["host"], body["fwd_host"])
		}
	}
}

func TestAuthRequiredOnProtectedRoutes(t *testing.T) {
	h := newHarness(t, nil)
	for _, path := range []string{"/analysis/score", "/intel/x"} {
		if code, body, hdr := h.do("GET", path, "", nil); code != 401 || body["error"] != "missing bearer token" || hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("%s without token: %d %v", path, code, body)
		}
	}
	expired := sign(`{"sub":"alice","iss":"auth-service","exp":1000}`)
	if code, body, _ := h.do("GET", "/analysis/score", expired, nil); code != 401 || body["error"] != "token expired" {
		t.Errorf("expired: %d %v", code, body)
	}
	wrongIss := sign(`{"sub":"alice","iss":"evil","exp":9999999999}`)
	if code, _, _ := h.do("GET", "/analysis/score", wrongIss, nil); code != 401 {
		t.Errorf("wrong issuer: %d", code)
	}
}

func TestIdentityHeadersAndRequestID(t *testing.T) {
	h := newHarness(t, nil)
	spoof := map[string]string{"X-Auth-Subject": "root", "X-Auth-Roles": "admin", "X-Request-Id": "req-42"}
	_, body, hdr := h.do("GET", "/analysis/score", validToken(), spoof)
	if body["subject"] != "alice" || body["roles"] != "analyst,responder" {
		t.Errorf("identity = %q %q", body["subject"], body["roles"])
	}
	if body["request_id"] != "req-42" || hdr.Get("X-Request-Id") != "req-42" {
		t.Errorf("request id upstream=%q response=%q", body["request_id"], hdr.Get("X-Request-Id"))
	}
	_, body, _ = h.do("GET", "/auth/verify", "", spoof)
	if body["subject"] != "" || body["roles"] != "" {
		t.Errorf("spoofed identity reached public upstream: %v", body)
	}
}

func TestDotDotCannotEscapePublicRoute(t *testing.T) {
	h := newHarness(t, nil)
	// ServeMux answers unclean paths with a redirect; either way the
	// protected upstream must not be reached without a token.
	code, body, _ := h.do("GET", "/auth/../analysis/score", "", nil)
	if code == 200 {
		t.Errorf("reached upstream via dot-dot: %v", body)
	}
}

func TestDirectorCleansPath(t *testing.T) {
	// Below ServeMux (which redirects unclean paths) the gateway itself
	// must authorise and forward the cleaned path.
	target, _ := url.Parse("http://analysis:8000/v1?src=gw")
	table, err := router.New([]router.Route{
		{Name: "auth", Prefix: "/auth", Target: target, Public: true},
		{Name: "analysis", Prefix: "/analysis", Target: target},
	})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/x?a=1", nil)
	req.URL.Path = "/auth/../analysis/score"
	req.URL.RawPath = "/auth/..%2Fanalysis/score"
	rt, cleaned, ok := table.Match(req.URL.Path)
	if !ok || rt.Name != "analysis" || cleaned != "/analysis/score" {
		t.Fatalf("matched %q %q", rt.Name, cleaned)
	}
	director(rt)(req)
	if req.URL.String() != "http://analysis:8000/v1/score?src=gw&a=1" || req.Host != "analysis:8000" {
		t.Errorf("director produced %s (host %s)", req.URL, req.Host)
	}
	if ua, ok := req.Header["User-Agent"]; !ok || ua[0] != "" {
		t.Errorf("User-Agent = %v", ua)
	}
}

func TestNoRouteWithoutFrontend(t *testing.T) {
	h := newHarness(t, map[string]string{"FRONTEND_URL": ""})
	if code, body, _ := h.do("GET", "/nowhere", validToken(), nil); code != 404 || body["error"] != "no route" {
		t.Errorf("got %d %v", code, body)
	}
	if code, _, _ := h.do("GET", "/nowhere", "", nil); code != 401 {
		t.Errorf("unauthenticated unknown path should be 401, got %d", code)
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, map[string]string{"RATE_LIMIT_RPS": "0.001", "RATE_LIMIT_BURST": "2"})
	for i := 0; i < 2; i++ {
		if code, _, _ := h.do("GET", "/auth/x", "", nil); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	code, body, hdr := h.do("GET", "/auth/x", "", nil)
	if code != 429 || hdr.Get("Retry-After") == "" {
		t.Errorf("third request: %d %v", code, body)
	}
	if code, _, _ := h.do("GET", "/healthz", "", nil); code != 200 {
		t.Errorf("health checks must not be rate limited: %d", code)
	}
}

func TestBadGateway(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	h := newHarness(t, map[string]string{"AUTH_URL": dead})
	if code, body, _ := h.do("GET", "/auth/token", "", nil); code != 502 || body["error"] != "bad gateway" {
		t.Errorf("got %d %v", code, body)
	}
	if !strings.Contains(h.logs.String(), `"msg":"upstream error"`) {
		t.Error("upstream error not logged")
	}
}

func TestConfigErrors(t *testing.T) {
	log := logging.New(io.Discard, logging.Error)
	cases := map[string]map[string]string{
		"missing secret": {},
		"short secret":   {"TOKEN_SECRET": "short"},
		"bad rps":        {"TOKEN_SECRET": secret, "RATE_LIMIT_RPS": "0"},
		"bad burst":      {"TOKEN_SECRET": secret, "RATE_LIMIT_BURST": "x"},
		"bad routes":     {"TOKEN_SECRET": secret, "ROUTES": "/x"},
		"bad route url":  {"TOKEN_SECRET": secret, "ROUTES": "/x=ftp://y"},
		"bad auth url":   {"TOKEN_SECRET": secret, "AUTH_URL": "http://a b:%zz"},
		"bad ba url":     {"TOKEN_SECRET": secret, "ANALYSIS_URL": "http://a b:%zz"},
		"bad fe url":     {"TOKEN_SECRET": secret, "FRONTEND_URL": "http://a b:%zz"},
		"clash":          {"TOKEN_SECRET": secret, "ROUTES": "/auth=http://other"},
	}
	for name, env := range cases {
		if _, err := newServer(config.FromMap(env), log); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestServeAndShutdown(t *testing.T) {
	log := logging.New(io.Discard, logging.Error)
	env := map[string]string{"PORT": "0", "TOKEN_SECRET": secret}
	if code := start(context.Background(), config.FromMap(map[string]string{}), log); code != 2 {
		t.Errorf("bad config exit = %d", code)
	}
	if code := start(context.Background(), config.FromMap(map[string]string{"PORT": "-1", "TOKEN_SECRET": secret}), log); code != 1 {
		t.Errorf("bad port exit = %d", code)
	}

	srv, err := newServer(config.FromMap(env), log)
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
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get(base + "/version")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if v["service"] != "api-gateway" || v["version"] != version {
		t.Errorf("version = %v", v)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if code := start(ctx, config.FromMap(env), log); code != 0 {
		t.Errorf("clean shutdown exit = %d", code)
	}
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closed.Close()
	if err := srv.run(context.Background(), closed); err == nil {
		t.Error("run on closed listener succeeded")
	}
}
