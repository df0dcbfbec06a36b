// Package token issues and verifies HMAC-SHA256 signed tokens in the JWT
// compact form (RFC 7519 with the HS256 algorithm of RFC 7518):
//
//	base64url(header) "." base64url(payload) "." base64url(signature)
//
// Only HS256 is accepted. Verification checks the algorithm before the
// signature, compares signatures in constant time, and only then trusts
// the payload's exp / nbf / iat claims.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// MinSecretLen is the shortest accepted key: HS256 keys must be at least
// as long as the hash output (RFC 7518 section 3.2).
const MinSecretLen = 32

// Verification errors. Every error returned by Verify wraps one of these.
var (
	ErrMalformed    = errors.New("token: malformed")
	ErrAlgorithm    = errors.New("token: unsupported algorithm")
	ErrSignature    = errors.New("token: invalid signature")
	ErrExpired      = errors.New("token: expired")
	ErrNotYetValid  = errors.New("token: not yet valid")
	ErrIssuedFuture = errors.New("token: issued in the future")
	ErrClaims       = errors.New("token: invalid claims")
)

// Claims is the token payload.
type Claims struct {
	Subject   string   `json:"sub"`
	Roles     []string `json:"roles,omitempty"`
	Issuer    string   `json:"iss,omitempty"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf,omitempty"`
	ExpiresAt int64    `json:"exp"`
}

// HasRole reports whether the claims carry role.
func (c Claims) HasRole(role string) bool {
	for _, r := range c.Roles {
		if r == role {
			return true
		}
	}
	return false
}

type header struct {
	Alg  string   `json:"alg"`
	Typ  string   `json:"typ,omitempty"`
	Crit []string `json:"crit,omitempty"`
}

var enc = base64.RawURLEncoding

// Signer issues and verifies tokens with one shared secret.
type Signer struct {
	key    []byte
	ttl    time.Duration
	issuer string
	leeway time.Duration
	now    func() time.Time
}

// Option configures a Signer.
type Option func(*Signer)

// WithTTL sets the lifetime of issued tokens (default 15 minutes).
func WithTTL(d time.Duration) Option { return func(s *Signer) { s.ttl = d } }

// WithIssuer sets the "iss" claim of issued tokens; when set, Verify also
// requires tokens to carry that issuer.
func WithIssuer(iss string) Option { return func(s *Signer) { s.issuer = iss } }

// WithLeeway tolerates clock skew between issuer and verifier.
func WithLeeway(d time.Duration) Option { return func(s *Signer) { s.leeway = d } }

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(s *Signer) { s.now = now } }

// NewSigner returns a Signer for secret, which must be at least
// MinSecretLen bytes.
func NewSigner(secret []byte, opts ...Option) (*Signer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("token: secret is %d bytes, need at least %d", len(secret), MinSecretLen)
	}
	s := &Signer{
		key: append([]byte(nil), secret...),
		ttl: 15 * time.Minute,
		now: time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	if s.ttl <= 0 {
		return nil, errors.New("token: ttl must be positive")
	}
	if s.leeway < 0 {
		return nil, errors.New("token: leeway must not be negative")
	}
	return s, nil
}

// TTL returns the lifetime of issued tokens.
func (s *Signer) TTL() time.Duration { return s.ttl }

// Issue creates claims for subject and roles valid from now for the TTL,
// and returns them signed.
func (s *Signer) Issue(subject string, roles []string) (string, Claims, error) {
	now := s.now().Unix()
	c := Claims{
		Subject:   subject,
		Roles:     roles,
		Issuer:    s.issuer,
		IssuedAt:  now,
		NotBefore: now,
		ExpiresAt: now + int64(s.ttl/time.Second),
	}
	tok, err := s.Sign(c)
	return tok, c, err
}

// Sign serialises and signs arbitrary claims. The subject must be set and
// exp must be after iat.
func (s *Signer) Sign(c Claims) (string, error) {
	if err := c.validate(); err != nil {
		return "", err
	}
	h, err := json.Marshal(header{Alg: "HS256", Typ: "JWT"})
	if err != nil {
		return "", err
	}
	p, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(p)
	return signing + "." + enc.EncodeToString(s.mac(signing)), nil
}

func (s *Signer) mac(signing string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(signing))
	return m.Sum(nil)
}

func (c Claims) validate() error {
	if strings.TrimSpace(c.Subject) == "" {
		return fmt.Errorf("%w: missing sub", ErrClaims)
	}
	if c.ExpiresAt == 0 {
		return fmt.Errorf("%w: missing exp", ErrClaims)
	}
	if c.IssuedAt != 0 && c.ExpiresAt <= c.IssuedAt {
		return fmt.Errorf("%w: exp is not after iat", ErrClaims)
	}
	return nil
}

// Verify checks the token's form, algorithm, signature and time claims and
// returns its claims.
func (s *Signer) Verify(tok string) (Claims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return Claims{}, fmt.Errorf("%w: want 3 non-empty segments", ErrMalformed)
	}
	hb, err := enc.DecodeString(parts[0])
	if err != nil {
		return Claims{}, fmt.Errorf("%w: header encoding", ErrMalformed)
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return Claims{}, fmt.Errorf("%w: header json", ErrMalformed)
	}
	// Compare exactly: "none", "None", "HS512", "RS256"... are all refused,
	// so a forged header can never select a weaker or different check.
	if h.Alg != "HS256" {
		return Claims{}, fmt.Errorf("%w: %q", ErrAlgorithm, h.Alg)
	}
	if h.Typ != "" && !strings.EqualFold(h.Typ, "JWT") {
		return Claims{}, fmt.Errorf("%w: typ %q", ErrMalformed, h.Typ)
	}
	if len(h.Crit) > 0 {
		return Claims{}, fmt.Errorf("%w: unsupported crit header", ErrMalformed)
	}
	sig, err := enc.DecodeString(parts[2])
	if err != nil {
		return Claims{}, fmt.Errorf("%w: signature encoding", ErrMalformed)
	}
	if !hmac.Equal(sig, s.mac(parts[0]+"."+parts[1])) {
		return Claims{}, ErrSignature
	}
	pb, err := enc.DecodeString(parts[1])
	if err != nil {
		return Claims{}, fmt.Errorf("%w: payload encoding", ErrMalformed)
	}
	var c Claims
	if err := json.Unmarshal(pb, &c); err != nil {
		return Claims{}, fmt.Errorf("%w: payload json", ErrMalformed)
	}
	if err := c.validate(); err != nil {
		return Claims{}, err
	}
	if s.issuer != "" && c.Issuer != s.issuer {
		return Claims{}, fmt.Errorf("%w: issuer %q", ErrClaims, c.Issuer)
	}
	now := s.now().Unix()
	leeway := int64(s.leeway / time.Second)
	if now >= c.ExpiresAt+leeway {
		return Claims{}, ErrExpired
	}
	if c.NotBefore != 0 && now+leeway < c.NotBefore {
		return Claims{}, ErrNotYetValid
	}
	if c.IssuedAt != 0 && now+leeway < c.IssuedAt {
		return Claims{}, ErrIssuedFuture
	}
	return c, nil
}
