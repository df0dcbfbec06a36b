package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"example.com/platform/libs/go/platform/logging"
	"example.com/platform/services/auth-service/internal/token"
)

var t0 = time.Unix(1700000000, 0)

func newHandler(t *testing.T, opts Options) (*Handler, *time.Time) {
	t.Helper()
	now := t0
	s, err := token.NewSigner([]byte(strings.Repeat("k", 32)), token.WithTTL(10*time.Minute),
		token.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	return New(s, opts), &now
}

func do(h http.Handler, method, path, body string, hdr map[string]string) (int, map[string]interface{}) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var m map[string]interface{}
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, m
}

func TestIssueAndVerify(t *testing.T) {
	h, _ := newHandler(t, Options{})
	code, body := do(h, "POST", "/v1/token", `{"subject":" alice ","roles":["analyst","analyst","soc:tier-1"]}`, nil)
	if code != 200 {
		t.Fatalf("issue: %d %v", code, body)
	}
	if body["token_type"] != "Bearer" || body["expires_in"] != float64(600) || body["expires_at"] != float64(t0.Unix()+600) {
		t.Errorf("issue body = %v", body)
	}
	tok, _ := body["token"].(string)
	code, claims := do(h, "POST", "/v1/verify", `{"token":"`+tok+`"}`, nil)
	if code != 200 {
		t.Fatalf("verify: %d %v", code, claims)
	}
	if claims["sub"] != "alice" {
		t.Errorf("sub = %v (subject should be trimmed)", claims["sub"])
	}
	roles, _ := claims["roles"].([]interface{})
	if len(roles) != 2 || roles[0] != "analyst" || roles[1] != "soc:tier-1" {
		t.Errorf("roles = %v, want deduplicated [analyst soc:tier-1]", claims["roles"])
	}
}

func TestVerifyWithoutRolesReturnsEmptyList(t *testing.T) {
	h, _ := newHandler(t, Options{})
	_, body := do(h, "POST", "/v1/token", `{"subject":"svc"}`, nil)
	_, claims := do(h, "POST", "/v1/verify", `{"token":"`+body["token"].(string)+`"}`, nil)
	if roles, ok := claims["roles"].([]interface{}); !ok || len(roles) != 0 {
		t.Errorf("roles = %#v, want []", claims["roles"])
	}
}

func TestVerifyRejections(t *testing.T) {
	h, now := newHandler(t, Options{})
	_, body := do(h, "POST", "/v1/token", `{"subject":"alice","roles":["analyst"]}`, nil)
	tok := body["token"].(string)

	code, b := do(h, "POST", "/v1/verify", `{"token":"a.b.c"}`, nil)
	if code != 401 || b["error"] != "invalid token" {
		t.Errorf("garbage: %d %v", code, b)
	}
	parts := strings.Split(tok, ".")
	code, b = do(h, "POST", "/v1/verify", `{"token":"`+parts[0]+"."+parts[1]+"x."+parts[2]+`"}`, nil)
	if code != 401 || b["error"] != "invalid token" {
		t.Errorf("tampered: %d %v", code, b)
	}
	*now = t0.Add(11 * time.Minute)
	code, b = do(h, "POST", "/v1/verify", `{"token":"`+tok+`"}`, nil)
	if code != 401 || b["error"] != "token expired" {
		t.Errorf("expired: %d %v", code, b)
	}
	*now = t0.Add(-time.Minute)
	code, b = do(h, "POST", "/v1/verify", `{"token":"`+tok+`"}`, nil)
	if code != 401 || b["error"] != "token not yet valid" {
		t.Errorf("future: %d %v", code, b)
	}
}

func TestIssueValidation(t *testing.T) {
	h, _ := newHandler(t, Options{})
	many := `"r0"` + strings.Repeat(`,"r0"`, maxRoles)
	cases := []struct {
		name, body, ctype string
		code              int
		errSub            string
	}{
		{"no subject", `{"roles":["a"]}`, "", 400, "subject is required"},
		{"blank subject", `{"subject":"   "}`, "", 400, "subject is required"},
		{"long subject", `{"subject":"` + strings.Repeat("s", maxSubject+1) + `"}`, "", 400, "subject longer"},
		{"bad role", `{"subject":"a","roles":["Admin"]}`, "", 400, "invalid role"},
		{"empty role", `{"subject":"a","roles":[""]}`, "", 400, "invalid role"},
		{"too many roles", `{"subject":"a","roles":[` + many + `]}`, "", 400, "more than"},
		{"unknown field", `{"subject":"a","admin":true}`, "", 400, "invalid JSON"},
		{"not json", `subject=a`, "", 400, "invalid JSON"},
		{"trailing data", `{"subject":"a"}{"subject":"b"}`, "", 400, "invalid JSON"},
		{"trailing brace", `{"subject":"a"}}`, "", 400, "invalid JSON"},
		{"too large", `{"subject":"` + strings.Repeat("s", maxBody) + `"}`, "", 400, "invalid JSON"},
		{"wrong content type", `{"subject":"a"}`, "text/plain", 400, "content-type"},
		{"json with charset", `{"subject":"a"}`, "application/json; charset=utf-8", 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := map[string]string{}
			if c.ctype != "" {
				hdr["Content-Type"] = c.ctype
			}
			code, b := do(h, "POST", "/v1/token", c.body, hdr)
			if code != c.code {
				t.Fatalf("code = %d, want %d (%v)", code, c.code, b)
			}
			if c.errSub != "" && !strings.Contains(b["error"].(string), c.errSub) {
				t.Errorf("error = %q, want it to contain %q", b["error"], c.errSub)
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	h, _ := newHandler(t, Options{})
	req := httptest.NewRequest("GET", "/v1/token", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 405 || rec.Header().Get("Allow") != "POST" {
		t.Errorf("GET /v1/token = %d allow=%q", rec.Code, rec.Header().Get("Allow"))
	}
}

func TestVerifyBadBody(t *testing.T) {
	h, _ := newHandler(t, Options{})
	if code, _ := do(h, "POST", "/v1/verify", `{"tok":"x"}`, nil); code != 400 {
		t.Errorf("code = %d", code)
	}
}

func TestIssueAPIKey(t *testing.T) {
	var logs bytes.Buffer
	h, _ := newHandler(t, Options{IssueAPIKey: "let-me-in", Log: logging.New(&logs, logging.Debug)})
	body := `{"subject":"alice"}`
	if code, _ := do(h, "POST", "/v1/token", body, nil); code != 401 {
		t.Errorf("missing key: %d", code)
	}
	if code, _ := do(h, "POST", "/v1/token", body, map[string]string{"X-Api-Key": "let-me-i"}); code != 401 {
		t.Errorf("wrong key: %d", code)
	}
	if code, _ := do(h, "POST", "/v1/token", body, map[string]string{"X-Api-Key": "let-me-in"}); code != 200 {
		t.Errorf("right key: %d", code)
	}
	if !strings.Contains(logs.String(), `"msg":"token issued"`) {
		t.Errorf("issue not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), "eyJ") {
		t.Error("a token leaked into the logs")
	}
}
