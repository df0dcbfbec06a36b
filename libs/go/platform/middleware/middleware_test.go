package middleware

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"example.com/platform/libs/go/platform/logging"
)

func TestRequestIDGeneratedAndPropagated(t *testing.T) {
	var seen string
	h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = RequestIDFrom(r.Context())
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if len(seen) != 32 {
		t.Fatalf("generated id %q, want 32 hex chars", seen)
	}
	if rec.Header().Get(RequestIDHeader) != seen {
		t.Error("response header does not echo the id")
	}
}

func TestRequestIDReusesValidIncoming(t *testing.T) {
	cases := []struct {
		in    string
		reuse bool
	}{
		{"abc-123_X.y", true},
		{"", false},
		{"has space", false},
		{"evil\"}\n{", false},
		{strings.Repeat("a", 65), false},
	}
	for _, c := range cases {
		var seen, header string
		h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = RequestIDFrom(r.Context())
			header = r.Header.Get(RequestIDHeader)
		}))
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set(RequestIDHeader, c.in)
		h.ServeHTTP(httptest.NewRecorder(), req)
		if (seen == c.in) != c.reuse {
			t.Errorf("incoming %q: got id %q, reuse=%v", c.in, seen, c.reuse)
		}
		if header != seen {
			t.Errorf("downstream header %q != context id %q", header, seen)
		}
		if req.Header.Get(RequestIDHeader) != c.in {
			t.Error("middleware must not mutate the caller's request")
		}
	}
}

func TestRequestIDFromEmptyContext(t *testing.T) {
	if got := RequestIDFrom(httptest.NewRequest("GET", "/", nil).Context()); got != "" {
		t.Errorf("got %q", got)
	}
}

func lastRecord(t *testing.T, buf *bytes.Buffer) map[string]interface{} {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var m map[string]interface{}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("bad log line: %q", buf.String())
	}
	return m
}

func TestAccessLog(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, logging.Debug)
	h := Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		_, _ = w.Write([]byte("hello"))
	}), RequestID, AccessLog(log))
	req := httptest.NewRequest("POST", "/v1/x", nil)
	req.Header.Set(RequestIDHeader, "rid-1")
	h.ServeHTTP(httptest.NewRecorder(), req)
	m := lastRecord(t, &buf)
	if m["status"] != float64(418) || m["bytes"] != float64(5) || m["method"] != "POST" ||
		m["path"] != "/v1/x" || m["request_id"] != "rid-1" {
		t.Errorf("access record = %v", m)
	}
}

func TestAccessLogImplicitStatus(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, logging.Debug)
	for _, h := range []http.HandlerFunc{
		func(w http.ResponseWriter, r *http.Request) {},
		func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("x")) },
	} {
		buf.Reset()
		AccessLog(log)(h).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
		if m := lastRecord(t, &buf); m["status"] != float64(200) {
			t.Errorf("implicit status = %v", m["status"])
		}
	}
}

func TestStatusRecorderKeepsFirstStatusAndFlushes(t *testing.T) {
	inner := httptest.NewRecorder()
	rec := &statusRecorder{ResponseWriter: inner}
	rec.WriteHeader(404)
	rec.WriteHeader(500)
	rec.Flush()
	if rec.status != 404 {
		t.Errorf("status = %d", rec.status)
	}
	if !inner.Flushed {
		t.Error("Flush not forwarded")
	}
}

func TestRecover(t *testing.T) {
	var buf bytes.Buffer
	log := logging.New(&buf, logging.Debug)
	h := Standard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic("kaboom")
	}), log)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/p", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "internal error") {
		t.Errorf("got %d %q", rec.Code, rec.Body.String())
	}
	if !strings.Contains(buf.String(), `"value":"kaboom"`) {
		t.Errorf("panic not logged: %s", buf.String())
	}
	// the access log still records the request, with the 500.
	if m := lastRecord(t, &buf); m["msg"] != "request" || m["status"] != float64(500) {
		t.Errorf("access log after panic = %v", m)
	}
}

func TestRecoverRepanicsAbort(t *testing.T) {
	log := logging.New(&bytes.Buffer{}, logging.Debug)
	h := Recover(log)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want ErrAbortHandler", v)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	t.Error("expected re-panic")
}

func TestChainOrder(t *testing.T) {
	var order []string
	mk := func(name string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				next.ServeHTTP(w, r)
			})
		}
	}
	Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { order = append(order, "h") }),
		mk("a"), mk("b")).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if strings.Join(order, ",") != "a,b,h" {
		t.Errorf("order = %v", order)
	}
}
