// Package api implements auth-service's HTTP endpoints:
//
//	POST /v1/token  {"subject":"alice","roles":["analyst"]}
//	             -> 200 {"token":"...","token_type":"Bearer","expires_at":<unix>,"expires_in":<seconds>}
//	POST /v1/verify {"token":"..."}
//	             -> 200 {"sub":"alice","roles":[...],"iat":..,"nbf":..,"exp":..} or 401 {"error":"..."}
//
// The shapes are pinned by api/token.contract.json and checked by
// cmd/contract-check.
package api

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"example.com/platform/libs/go/platform/logging"
	"example.com/platform/services/auth-service/internal/token"
)

const (
	maxBody      = 16 << 10
	maxRoles     = 32
	maxSubject   = 128
	apiKeyHeader = "X-Api-Key"
)

var roleRE = regexp.MustCompile(`^[a-z][a-z0-9_:-]{0,63}$`)

// Options configures the handler.
type Options struct {
	// IssueAPIKey, when set, must be presented in X-Api-Key to call
	// /v1/token, so only trusted callers (the login flow) mint tokens.
	IssueAPIKey string
	Log         *logging.Logger
}

// Handler serves the token endpoints.
type Handler struct {
	signer *token.Signer
	opts   Options
	mux    *http.ServeMux
}

// New returns the endpoints' handler.
func New(signer *token.Signer, opts Options) *Handler {
	if opts.Log == nil {
		opts.Log = logging.New(io.Discard, logging.Error)
	}
	h := &Handler{signer: signer, opts: opts, mux: http.NewServeMux()}
	h.mux.HandleFunc("/v1/token", post(h.issue))
	h.mux.HandleFunc("/v1/verify", post(h.verify))
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// TokenRequest is the body of POST /v1/token.
type TokenRequest struct {
	Subject string   `json:"subject"`
	Roles   []string `json:"roles"`
}

// TokenResponse is the 200 body of POST /v1/token.
type TokenResponse struct {
	Token     string `json:"token"`
	TokenType string `json:"token_type"`
	ExpiresAt int64  `json:"expires_at"`
	ExpiresIn int64  `json:"expires_in"`
}

// VerifyRequest is the body of POST /v1/verify.
type VerifyRequest struct {
	Token string `json:"token"`
}

// ClaimsResponse is the 200 body of POST /v1/verify. Unlike the token
// payload, roles is always present (possibly empty).
type ClaimsResponse struct {
	Subject   string   `json:"sub"`
	Roles     []string `json:"roles"`
	Issuer    string   `json:"iss,omitempty"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf,omitempty"`
	ExpiresAt int64    `json:"exp"`
}

// ErrorResponse is every non-2xx body.
type ErrorResponse struct {
	Error string `json:"error"`
}

func post(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, ErrorResponse{"method not allowed"})
			return
		}
		fn(w, r)
	}
}

func (h *Handler) issue(w http.ResponseWriter, r *http.Request) {
	if h.opts.IssueAPIKey != "" {
		got := r.Header.Get(apiKeyHeader)
		if subtle.ConstantTimeCompare([]byte(got), []byte(h.opts.IssueAPIKey)) != 1 {
			writeJSON(w, http.StatusUnauthorized, ErrorResponse{"invalid api key"})
			return
		}
	}
	var req TokenRequest
	if err := decode(w, r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, ErrorResponse{err.Error()})
		return
	}
	roles, err := normalise(req)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, ErrorResponse{err.Error()})
		return
	}
	tok, claims, err := h.signer.Issue(strings.TrimSpace(req.Subject), roles)
	if err != nil {
		h.opts.Log.Error("issue failed", "error", err)
		writeJSON(w, http.StatusInternalServerError, ErrorResponse{"could not issue token"})
		return
	}
	h.opts.Log.Info("token issued", "sub", claims.Subject, "roles", roles)
	writeJSON(w, http.StatusOK, TokenResponse{
		Token:     tok,
		TokenType: "Bearer",
		ExpiresAt: claims.ExpiresAt,
		ExpiresIn: claims.ExpiresAt - claims.IssuedAt,
	})
}

func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	var req VerifyRequest
	if err := decode(w, r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, ErrorResponse{err.Error()})
		return
	}
	claims, err := h.signer.Verify(req.Token)
	if err != nil {
		h.opts.Log.Info("token rejected", "reason", err)
		writeJSON(w, http.StatusUnauthorized, ErrorResponse{publicReason(err)})
		return
	}
	resp := ClaimsResponse{
		Subject:   claims.Subject,
		Roles:     claims.Roles,
		Issuer:    claims.Issuer,
		IssuedAt:  claims.IssuedAt,
		NotBefore: claims.NotBefore,
		ExpiresAt: claims.ExpiresAt,
	}
	if resp.Roles == nil {
		resp.Roles = []string{}
	}
	writeJSON(w, http.StatusOK, resp)
}

// publicReason maps verification errors to a short message that does not
// help an attacker distinguish more than expired/invalid.
func publicReason(err error) string {
	switch {
	case errors.Is(err, token.ErrExpired):
		return "token expired"
	case errors.Is(err, token.ErrNotYetValid), errors.Is(err, token.ErrIssuedFuture):
		return "token not yet valid"
	}
	return "invalid token"
}

// normalise validates the subject and roles and returns the roles in
// request order with duplicates removed.
func normalise(req TokenRequest) ([]string, error) {
	sub := strings.TrimSpace(req.Subject)
	if sub == "" {
		return nil, errors.New("subject is required")
	}
	if len(sub) > maxSubject {
		return nil, fmt.Errorf("subject longer than %d bytes", maxSubject)
	}
	if len(req.Roles) > maxRoles {
		return nil, fmt.Errorf("more than %d roles", maxRoles)
	}
	seen := make(map[string]bool, len(req.Roles))
	roles := make([]string, 0, len(req.Roles))
	for _, r := range req.Roles {
		if !roleRE.MatchString(r) {
			return nil, fmt.Errorf("invalid role %q", r)
		}
		if !seen[r] {
			seen[r] = true
			roles = append(roles, r)
		}
	}
	return roles, nil
}

func decode(w http.ResponseWriter, r *http.Request, v interface{}) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errors.New("content-type must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("invalid JSON body")
	}
	// exactly one JSON value: trailing data means a confused client.
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return errors.New("invalid JSON body")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
