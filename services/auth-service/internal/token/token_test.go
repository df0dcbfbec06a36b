package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	// t0 is the fixed "now" of most tests: 2023-11-14T22:13:20Z.
	t0 = time.Unix(1700000000, 0)
)

// vector was produced by an independent implementation (Python hmac +
// base64) for secret, so it pins the wire format byte for byte.
const vector = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." +
	"eyJzdWIiOiJhbGljZSIsInJvbGVzIjpbImFuYWx5c3QiXSwiaXNzIjoiYXV0aC1zZXJ2aWNlIiwiaWF0IjoxNzAwMDAwMDAwLCJuYmYiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDkwMH0." +
	"8OENcmxEmlHJQEy8Kn6o225QXfk892JiQ4Rx4zrLuq4"

func clockAt(t time.Time) func() time.Time { return func() time.Time { return t } }

func mustSigner(t *testing.T, opts ...Option) *Signer {
	t.Helper()
	s, err := NewSigner(secret, append([]Option{WithClock(clockAt(t0))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// forge builds a token from raw header and payload JSON, signed with key;
// a nil key leaves the signature segment as sig.
func forge(headerJSON, payloadJSON string, key []byte, sig string) string {
	signing := enc.EncodeToString([]byte(headerJSON)) + "." + enc.EncodeToString([]byte(payloadJSON))
	if key != nil {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(signing))
		sig = enc.EncodeToString(m.Sum(nil))
	}
	return signing + "." + sig
}

func TestIssueMatchesKnownVector(t *testing.T) {
	s := mustSigner(t, WithIssuer("auth-service"))
	tok, c, err := s.Issue("alice", []string{"analyst"})
	if err != nil {
		t.Fatal(err)
	}
	if tok != vector {
		t.Fatalf("token differs from the reference vector:\n got %s\nwant %s", tok, vector)
	}
	want := Claims{Subject: "alice", Roles: []string{"analyst"}, Issuer: "auth-service",
		IssuedAt: 1700000000, NotBefore: 1700000000, ExpiresAt: 1700000900}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("claims = %+v, want %+v", c, want)
	}
}

func TestRoundTrip(t *testing.T) {
	s := mustSigner(t, WithTTL(time.Hour))
	tok, _, err := s.Issue("bob", []string{"admin", "analyst"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Subject != "bob" || !c.HasRole("admin") || c.HasRole("root") || c.ExpiresAt != t0.Unix()+3600 {
		t.Errorf("claims = %+v", c)
	}
	if s.TTL() != time.Hour {
		t.Errorf("TTL = %v", s.TTL())
	}
}

func TestVerifyTable(t *testing.T) {
	const hdr = `{"alg":"HS256","typ":"JWT"}`
	now := t0.Unix()
	valid := forge(hdr, `{"sub":"alice","roles":["analyst"],"iat":1700000000,"exp":1700000900}`, secret, "")
	segs := strings.Split(valid, ".")
	adminPayload := enc.EncodeToString([]byte(`{"sub":"alice","roles":["admin"],"iat":1700000000,"exp":1700000900}`))
	ts := func(d int64) string { return strconv.FormatInt(now+d, 10) }

	cases := []struct {
		name    string
		tok     string
		opts    []Option
		wantErr error
	}{
		{"valid", valid, nil, nil},
		{"reference vector", vector, []Option{WithIssuer("auth-service")}, nil},

		// structure
		{"empty", "", nil, ErrMalformed},
		{"two segments", segs[0] + "." + segs[1], nil, ErrMalformed},
		{"four segments", valid + ".x", nil, ErrMalformed},
		{"empty signature", segs[0] + "." + segs[1] + ".", nil, ErrMalformed},
		{"header not base64url", "!!." + segs[1] + "." + segs[2], nil, ErrMalformed},
		{"header padded", segs[0] + "=." + segs[1] + "." + segs[2], nil, ErrMalformed},
		{"header not json", enc.EncodeToString([]byte("nope")) + "." + segs[1] + "." + segs[2], nil, ErrMalformed},
		{"signature std base64", segs[0] + "." + segs[1] + ".a+b/", nil, ErrMalformed},
		{"payload not base64url", signRaw(segs[0], "e30="), nil, ErrMalformed},
		{"payload not json", forge(hdr, `{"sub":`, secret, ""), nil, ErrMalformed},
		{"typ not JWT", forge(`{"alg":"HS256","typ":"JWS"}`, `{"sub":"a","exp":1700000900}`, secret, ""), nil, ErrMalformed},
		{"crit header", forge(`{"alg":"HS256","crit":["exp"]}`, `{"sub":"a","exp":1700000900}`, secret, ""), nil, ErrMalformed},

		// algorithm confusion: even a correct HMAC must not rescue a wrong alg
		{"alg none unsigned", forge(`{"alg":"none"}`, `{"sub":"a","exp":1700000900}`, nil, "AA"), nil, ErrAlgorithm},
		{"alg none signed", forge(`{"alg":"none"}`, `{"sub":"a","exp":1700000900}`, secret, ""), nil, ErrAlgorithm},
		{"alg None", forge(`{"alg":"None"}`, `{"sub":"a","exp":1700000900}`, secret, ""), nil, ErrAlgorithm},
		{"alg hs256 lower", forge(`{"alg":"hs256"}`, `{"sub":"a","exp":1700000900}`, secret, ""), nil, ErrAlgorithm},
		{"alg HS512", forge(`{"alg":"HS512"}`, `{"sub":"a","exp":1700000900}`, secret, ""), nil, ErrAlgorithm},
		{"alg missing", forge(`{"typ":"JWT"}`, `{"sub":"a","exp":1700000900}`, secret, ""), nil, ErrAlgorithm},

		// integrity
		{"tampered payload", segs[0] + "." + adminPayload + "." + segs[2], nil, ErrSignature},
		{"tampered header", enc.EncodeToString([]byte(`{"alg":"HS256"}`)) + "." + segs[1] + "." + segs[2], nil, ErrSignature},
		{"wrong key", forge(hdr, `{"sub":"a","exp":1700000900}`, []byte("another-secret-another-secret-xx"), ""), nil, ErrSignature},
		{"truncated signature", segs[0] + "." + segs[1] + "." + segs[2][:20], nil, ErrSignature},
		{"signature of other token", segs[0] + "." + segs[1] + "." + strings.Split(vector, ".")[2], nil, ErrSignature},

		// claims
		{"missing sub", forge(hdr, `{"exp":1700000900}`, secret, ""), nil, ErrClaims},
		{"blank sub", forge(hdr, `{"sub":"  ","exp":1700000900}`, secret, ""), nil, ErrClaims},
		{"missing exp", forge(hdr, `{"sub":"a"}`, secret, ""), nil, ErrClaims},
		{"exp before iat", forge(hdr, `{"sub":"a","iat":1700000900,"exp":1700000000}`, secret, ""), nil, ErrClaims},
		{"issuer required", valid, []Option{WithIssuer("auth-service")}, ErrClaims},

		// time
		{"expired", forge(hdr, `{"sub":"a","exp":`+ts(-1)+`}`, secret, ""), nil, ErrExpired},
		{"expires exactly now", forge(hdr, `{"sub":"a","exp":`+ts(0)+`}`, secret, ""), nil, ErrExpired},
		{"expires in 1s", forge(hdr, `{"sub":"a","exp":`+ts(1)+`}`, secret, ""), nil, nil},
		{"expired within leeway", forge(hdr, `{"sub":"a","exp":`+ts(-5)+`}`, secret, ""), []Option{WithLeeway(10 * time.Second)}, nil},
		{"expired beyond leeway", forge(hdr, `{"sub":"a","exp":`+ts(-10)+`}`, secret, ""), []Option{WithLeeway(10 * time.Second)}, ErrExpired},
		{"nbf in future", forge(hdr, `{"sub":"a","nbf":`+ts(1)+`,"exp":`+ts(60)+`}`, secret, ""), nil, ErrNotYetValid},
		{"nbf now", forge(hdr, `{"sub":"a","nbf":`+ts(0)+`,"exp":`+ts(60)+`}`, secret, ""), nil, nil},
		{"nbf within leeway", forge(hdr, `{"sub":"a","nbf":`+ts(5)+`,"exp":`+ts(60)+`}`, secret, ""), []Option{WithLeeway(10 * time.Second)}, nil},
		{"iat in future", forge(hdr, `{"sub":"a","iat":`+ts(30)+`,"exp":`+ts(60)+`}`, secret, ""), nil, ErrIssuedFuture},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := mustSigner(t, c.opts...)
			claims, err := s.Verify(c.tok)
			if c.wantErr == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if claims.Subject == "" {
					t.Error("claims not returned")
				}
				return
			}
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if !reflect.DeepEqual(claims, Claims{}) {
				t.Errorf("claims leaked on error: %+v", claims)
			}
		})
	}
}

func TestExpiryOverTime(t *testing.T) {
	now := t0
	s, err := NewSigner(secret, WithTTL(time.Minute), WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.Issue("carol", nil)
	if err != nil {
		t.Fatal(err)
	}
	now = t0.Add(59 * time.Second)
	if _, err := s.Verify(tok); err != nil {
		t.Errorf("at 59s: %v", err)
	}
	now = t0.Add(60 * time.Second)
	if _, err := s.Verify(tok); !errors.Is(err, ErrExpired) {
		t.Errorf("at 60s: err = %v, want expired", err)
	}
}

func TestSignRejectsBadClaims(t *testing.T) {
	s := mustSigner(t)
	for name, c := range map[string]Claims{
		"no subject":     {ExpiresAt: 10},
		"no exp":         {Subject: "a"},
		"exp before iat": {Subject: "a", IssuedAt: 10, ExpiresAt: 5},
	} {
		if _, err := s.Sign(c); !errors.Is(err, ErrClaims) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, _, err := s.Issue("", nil); !errors.Is(err, ErrClaims) {
		t.Errorf("Issue with empty subject: err = %v", err)
	}
}

func TestNewSignerValidation(t *testing.T) {
	if _, err := NewSigner([]byte("short")); err == nil {
		t.Error("short secret accepted")
	}
	if _, err := NewSigner(secret, WithTTL(0)); err == nil {
		t.Error("zero ttl accepted")
	}
	if _, err := NewSigner(secret, WithLeeway(-time.Second)); err == nil {
		t.Error("negative leeway accepted")
	}
}

func TestSignerCopiesSecret(t *testing.T) {
	key := append([]byte(nil), secret...)
	s, err := NewSigner(key, WithClock(clockAt(t0)))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _ := s.Issue("dave", nil)
	key[0] ^= 0xff // caller reuses its buffer
	if _, err := s.Verify(tok); err != nil {
		t.Errorf("signer affected by caller mutating the secret: %v", err)
	}
}

// signRaw signs already-encoded segments, so a test can present a
// correctly signed token whose segments are themselves invalid.
func signRaw(h64, p64 string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(h64 + "." + p64))
	return h64 + "." + p64 + "." + enc.EncodeToString(m.Sum(nil))
}
