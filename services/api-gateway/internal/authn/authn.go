// Package authn verifies the platform's HS256 bearer tokens at the edge.
//
// Design choice: the gateway verifies tokens locally with its own copy of
// the verification half of auth-service's internal/token package, using
// the same TOKEN_SECRET. That keeps the auth-service off the hot path (no
// network hop per request) and lets traffic with valid tokens flow while
// auth-service is being redeployed. Issuance stays in auth-service only.
// The shared wire format is pinned by the same reference vector in both
// test suites.
package authn

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Errors returned by Verify.
var (
	ErrMissing   = errors.New("authn: missing bearer token")
	ErrMalformed = errors.New("authn: malformed token")
	ErrAlgorithm = errors.New("authn: unsupported algorithm")
	ErrSignature = errors.New("authn: invalid signature")
	ErrExpired   = errors.New("authn: token expired")
	ErrNotYet    = errors.New("authn: token not yet valid")
	ErrClaims    = errors.New("authn: invalid claims")
)

// Claims are the verified token claims.
type Claims struct {
	Subject   string   `json:"sub"`
	Roles     []string `json:"roles"`
	Issuer    string   `json:"iss"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	ExpiresAt int64    `json:"exp"`
}

// Verifier checks tokens signed with a shared HS256 secret.
type Verifier struct {
	key    []byte
	issuer string
	leeway time.Duration
	now    func() time.Time
}

// NewVerifier returns a verifier; issuer "" accepts any issuer.
func NewVerifier(secret []byte, issuer string, leeway time.Duration, now func() time.Time) (*Verifier, error) {
	if len(secret) < 32 {
		return nil, errors.New("authn: secret must be at least 32 bytes")
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{key: append([]byte(nil), secret...), issuer: issuer, leeway: leeway, now: now}, nil
}

var enc = base64.RawURLEncoding

// Verify checks a compact HS256 token and returns its claims.
func (v *Verifier) Verify(tok string) (Claims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return Claims{}, ErrMalformed
	}
	var h struct {
		Alg  string   `json:"alg"`
		Typ  string   `json:"typ"`
		Crit []string `json:"crit"`
	}
	hb, err := enc.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &h) != nil {
		return Claims{}, ErrMalformed
	}
	if h.Alg != "HS256" {
		return Claims{}, ErrAlgorithm
	}
	if (h.Typ != "" && !strings.EqualFold(h.Typ, "JWT")) || len(h.Crit) > 0 {
		return Claims{}, ErrMalformed
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return Claims{}, ErrMalformed
	}
	m := hmac.New(sha256.New, v.key)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return Claims{}, ErrSignature
	}
	var c Claims
	pb, err := enc.DecodeString(parts[1])
	if err != nil || json.Unmarshal(pb, &c) != nil {
		return Claims{}, ErrMalformed
	}
	if strings.TrimSpace(c.Subject) == "" || c.ExpiresAt == 0 || (v.issuer != "" && c.Issuer != v.issuer) {
		return Claims{}, ErrClaims
	}
	now := v.now().Unix()
	leeway := int64(v.leeway / time.Second)
	if now >= c.ExpiresAt+leeway {
		return Claims{}, ErrExpired
	}
	if (c.NotBefore != 0 && now+leeway < c.NotBefore) || (c.IssuedAt != 0 && now+leeway < c.IssuedAt) {
		return Claims{}, ErrNotYet
	}
	return c, nil
}

// BearerToken extracts the token from an "Authorization: Bearer <t>"
// header (scheme case-insensitive).
func BearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", ErrMissing
	}
	return strings.TrimSpace(tok), nil
}

type ctxKey struct{}

// FromContext returns the claims stored by Middleware.
func FromContext(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(ctxKey{}).(Claims)
	return c, ok
}

// Identity headers the gateway sets for upstreams. Any client-sent
// values are removed first so they cannot be spoofed.
const (
	SubjectHeader = "X-Auth-Subject"
	RolesHeader   = "X-Auth-Roles"
)

// Middleware requires a valid bearer token unless public(r) is true. On
// success the claims are put in the context and in the identity headers.
func (v *Verifier) Middleware(public func(*http.Request) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r = r.Clone(r.Context())
			r.Header.Del(SubjectHeader)
			r.Header.Del(RolesHeader)
			if public != nil && public(r) {
				next.ServeHTTP(w, r)
				return
			}
			tok, err := BearerToken(r)
			var c Claims
			if err == nil {
				c, err = v.Verify(tok)
			}
			if err != nil {
				msg := "invalid token"
				switch err {
				case ErrMissing:
					msg = "missing bearer token"
				case ErrExpired:
					msg = "token expired"
				}
				w.Header().Set("WWW-Authenticate", `Bearer realm="platform"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
				return
			}
			r.Header.Set(SubjectHeader, c.Subject)
			r.Header.Set(RolesHeader, strings.Join(c.Roles, ","))
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, c)))
		})
	}
}
