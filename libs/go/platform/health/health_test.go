package health

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) (int, map[string]string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s content-type = %q", path, ct)
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s body not JSON: %q", path, rec.Body.String())
	}
	return rec.Code, body
}

func TestLiveness(t *testing.T) {
	code, body := get(t, Liveness(), "/healthz")
	if code != 200 || body["status"] != "ok" {
		t.Errorf("got %d %v", code, body)
	}
}

func TestReadiness(t *testing.T) {
	cases := []struct {
		name   string
		ready  ReadyFunc
		code   int
		status string
	}{
		{"nil func", nil, 200, "ready"},
		{"ready", func() error { return nil }, 200, "ready"},
		{"not ready", func() error { return errors.New("db down") }, 503, "unavailable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := get(t, Readiness(c.ready), "/readyz")
			if code != c.code || body["status"] != c.status {
				t.Errorf("got %d %v", code, body)
			}
			if c.code == 503 && body["error"] != "db down" {
				t.Errorf("error not reported: %v", body)
			}
		})
	}
}

func TestRegisterAndFlag(t *testing.T) {
	var f Flag
	mux := http.NewServeMux()
	Register(mux, f.Check)
	if code, _ := get(t, mux, "/healthz"); code != 200 {
		t.Errorf("healthz = %d", code)
	}
	if code, body := get(t, mux, "/readyz"); code != 503 || body["error"] != "not ready" {
		t.Errorf("readyz before Set = %d %v", code, body)
	}
	f.Set(true)
	if !f.Ready() {
		t.Error("flag not ready after Set(true)")
	}
	if code, _ := get(t, mux, "/readyz"); code != 200 {
		t.Errorf("readyz after Set = %d", code)
	}
	f.Set(false)
	if code, _ := get(t, mux, "/readyz"); code != 503 {
		t.Errorf("readyz after draining = %d", code)
	}
}
