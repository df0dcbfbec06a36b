// Package integration checks api-gateway against a real auth-service, both running as
// processes. isect's `integration` stage starts them on free loopback ports, waits for
// their health endpoints and passes the ports in ISECT_PORT_AUTH and ISECT_PORT_GATEWAY;
// without them (a plain `go test ./...`) the tests skip.
package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func ports(t *testing.T) (gateway, auth string) {
	t.Helper()
	gateway, auth = os.Getenv("ISECT_PORT_GATEWAY"), os.Getenv("ISECT_PORT_AUTH")
	if gateway == "" || auth == "" {
		t.Skip("run by isect's integration stage: ISECT_PORT_GATEWAY and ISECT_PORT_AUTH are not set")
	}
	return gateway, auth
}

var client = &http.Client{Timeout: 5 * time.Second}

// issue gets a signed token from auth-service through the gateway's public /auth route.
func issue(t *testing.T, gateway string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"subject": "alice", "roles": []string{"analyst"}})
	resp, err := client.Post("http://127.0.0.1:"+gateway+"/auth/token", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("issue token: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("issue token: status %d", resp.StatusCode)
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		t.Fatalf("issue token: bad body (%v)", err)
	}
	return out.Token
}

// get calls the gateway's protected /secure route (proxied to auth-service) with a token.
func get(t *testing.T, gateway, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+gateway+"/secure/healthz", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET /secure/healthz: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestGatewayAcceptsATokenSignedByAuthService(t *testing.T) {
	gateway, _ := ports(t)
	if code := get(t, gateway, issue(t, gateway)); code != http.StatusOK {
		t.Fatalf("signed token: got %d, want 200", code)
	}
}

func TestGatewayRejectsAMissingToken(t *testing.T) {
	gateway, _ := ports(t)
	if code := get(t, gateway, ""); code != http.StatusUnauthorized {
		t.Fatalf("no token: got %d, want 401", code)
	}
}

func TestGatewayRejectsAnUnsignedToken(t *testing.T) {
	gateway, _ := ports(t)
	signed := strings.Split(issue(t, gateway), ".")
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	for name, token := range map[string]string{
		"alg none":          header + "." + signed[1] + ".",
		"signature removed": signed[0] + "." + signed[1] + ".",
		"other key":         signed[0] + "." + signed[1] + "." + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)),
	} {
		if code := get(t, gateway, token); code != http.StatusUnauthorized {
			t.Errorf("%s: got %d, want 401", name, code)
		}
	}
}

func TestAuthServiceIsHealthyBehindTheGateway(t *testing.T) {
	_, auth := ports(t)
	resp, err := client.Get("http://127.0.0.1:" + auth + "/readyz")
	if err != nil {
		t.Fatalf("auth readyz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("auth readyz: %d", resp.StatusCode)
	}
}
