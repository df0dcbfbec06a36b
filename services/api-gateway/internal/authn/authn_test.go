package authn

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	t0     = time.Unix(1700000000, 0)
)

// vector is the same reference token auth-service's token tests pin, so
// both sides agree on the wire format.
const vector = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
	"eyJzdWIiOiJhbGljZSIsInJvbGVzIjpbImFuYWx5c3QiXSwiaXNzIjoiYXV0aC1zZXJ2aWNlIiwiaWF0IjoxNzAwMDAwMDAwLCJuYmYiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDkwMH0." +
	"8OENcmxEmlHJQEy8Kn6o225QXfk892JiQ4Rx4zrLuq4"

func forge(header, payload string, key []byte) string {
	s := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return s + "." + enc.EncodeToString(m.Sum(nil))
}

func verifier(t *testing.T, issuer string, leeway time.Duration) *Verifier {
	t.Helper()
	v, err := NewVerifier(secret, issuer, leeway, func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerify(t *testing.T) {
	const hdr = `{"alg":"HS256","typ":"JWT"}`
	at := func(d int64) string { return strconv.FormatInt(t0.Unix()+d, 10) }
	ok := forge(hdr, `{"sub":"a","exp":`+at(60)+`}`, secret)
	segs := strings.Split(ok, ".")
	cases := []struct {
		name    string
		tok     string
		issuer  string
		leeway  time.Duration
		wantErr error
	}{
		{"reference vector", vector, "auth-service", 0, nil},
		{"valid", ok, "", 0, nil},
		{"issuer mismatch", ok, "auth-service", 0, ErrClaims},
		{"two segments", segs[0] + "." + segs[1], "", 0, ErrMalformed},
		{"empty sig", segs[0] + "." + segs[1] + ".", "", 0, ErrMalformed},
		{"bad header", "%%." + segs[1] + "." + segs[2], "", 0, ErrMalformed},
		{"bad sig encoding", segs[0] + "." + segs[1] + ".a+b", "", 0, ErrMalformed},
		{"bad payload json", forge(hdr, `[`, secret), "", 0, ErrMalformed},
		{"typ JWE", forge(`{"alg":"HS256","typ":"JWE"}`, `{"sub":"a","exp":`+at(60)+`}`, secret), "", 0, ErrMalformed},
		{"crit", forge(`{"alg":"HS256","crit":["x"]}`, `{"sub":"a","exp":`+at(60)+`}`, secret), "", 0, ErrMalformed},
		{"alg none", forge(`{"alg":"none"}`, `{"sub":"a","exp":`+at(60)+`}`, secret), "", 0, ErrAlgorithm},
		{"alg RS256", forge(`{"alg":"RS256"}`, `{"sub":"a","exp":`+at(60)+`}`, secret), "", 0, ErrAlgorithm},
		{"tampered payload", segs[0] + "." + enc.EncodeToString([]byte(`{"sub":"root","exp":`+at(60)+`}`)) + "." + segs[2], "", 0, ErrSignature},
		{"wrong key", forge(hdr, `{"sub":"a","exp":`+at(60)+`}`, []byte(strings.Repeat("z", 32))), "", 0, ErrSignature},
		{"no sub", forge(hdr, `{"exp":`+at(60)+`}`, secret), "", 0, ErrClaims},
		{"no exp", forge(hdr, `{"sub":"a"}`, secret), "", 0, ErrClaims},
		{"expired", forge(hdr, `{"sub":"a","exp":`+at(0)+`}`, secret), "", 0, ErrExpired},
		{"expired in leeway", forge(hdr, `{"sub":"a","exp":`+at(-5)+`}`, secret), "", 10 * time.Second, nil},
		{"nbf future", forge(hdr, `{"sub":"a","nbf":`+at(5)+`,"exp":`+at(60)+`}`, secret), "", 0, ErrNotYet},
		{"iat future", forge(hdr, `{"sub":"a","iat":`+at(5)+`,"exp":`+at(60)+`}`, secret), "", 0, ErrNotYet},
		{"nbf in leeway", forge(hdr, `{"sub":"a","nbf":`+at(5)+`,"exp":`+at(60)+`}`, secret), "", 10 * time.Second, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			claims, err := verifier(t, c.issuer, c.leeway).Verify(c.tok)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if err == nil && claims.Subject == "" {
				t.Error("claims missing")
			}
		})
	}
}

func TestNewVerifier(t *testing.T) {
	if _, err := NewVerifier([]byte("short"), "", 0, nil); err == nil {
		t.Error("short secret accepted")
	}
	v, err := NewVerifier(secret, "", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(vector); !errors.Is(err, ErrExpired) {
		t.Errorf("real clock: the 2023 vector must be expired, got %v", err)
	}
}

func TestBearerToken(t *testing.T) {
	cases := map[string]string{
		"Bearer abc":    "abc",
		"bearer  abc  ": "abc",
		"BEARER abc":    "abc",
		"Basic abc":     "",
		"Bearer":        "",
		"Bearer   ":     "",
		"":              "",
		"abc":           "",
	}
	for hdr, want := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		if hdr != "" {
			r.Header.Set("Authorization", hdr)
		}
		got, err := BearerToken(r)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("BearerToken(%q) = %q, %v; want %q", hdr, got, err, want)
		}
	}
}

func TestMiddleware(t *testing.T) {
	v := verifier(t, "auth-service", 0)
	var seen *http.Request
	h := v.Middleware(func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/public") })(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r }))

	send := func(path, auth string, spoof bool) *httptest.ResponseRecorder {
		seen = nil
		r := httptest.NewRequest("GET", path, nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if spoof {
			r.Header.Set(SubjectHeader, "root")
			r.Header.Set(RolesHeader, "admin")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	errOf := func(rec *httptest.ResponseRecorder) string {
		var m map[string]string
		_ = json.Unmarshal(rec.Body.Bytes(), &m)
		return m["error"]
	}

	rec := send("/private", "", false)
	if rec.Code != 401 || errOf(rec) != "missing bearer token" || rec.Header().Get("WWW-Authenticate") == "" || seen != nil {
		t.Errorf("no token: %d %q", rec.Code, errOf(rec))
	}
	if rec := send("/private", "Bearer x.y.z", false); rec.Code != 401 || errOf(rec) != "invalid token" {
		t.Errorf("bad token: %d %q", rec.Code, errOf(rec))
	}
	expired := forge(`{"alg":"HS256"}`, `{"sub":"a","iss":"auth-service","exp":1}`, secret)
	if rec := send("/private", "Bearer "+expired, false); rec.Code != 401 || errOf(rec) != "token expired" {
		t.Errorf("expired: %d %q", rec.Code, errOf(rec))
	}

	rec = send("/private", "Bearer "+vector, true)
	if rec.Code != 200 || seen == nil {
		t.Fatalf("valid token: %d", rec.Code)
	}
	if seen.Header.Get(SubjectHeader) != "alice" || seen.Header.Get(RolesHeader) != "analyst" {
		t.Errorf("identity headers = %q %q (spoofed values must be replaced)",
			seen.Header.Get(SubjectHeader), seen.Header.Get(RolesHeader))
	}
	if c, ok := FromContext(seen.Context()); !ok || c.Subject != "alice" {
		t.Errorf("claims not in context: %+v", c)
	}

	rec = send("/public/x", "", true)
	if rec.Code != 200 || seen == nil {
		t.Fatalf("public: %d", rec.Code)
	}
	if seen.Header.Get(SubjectHeader) != "" || seen.Header.Get(RolesHeader) != "" {
		t.Error("spoofed identity headers reached a public upstream")
	}
	if _, ok := FromContext(seen.Context()); ok {
		t.Error("public request carries claims")
	}
}
