// Command contract-check runs auth-service's HTTP handlers in-process
// against a JSON contract (default api/token.contract.json) and exits 1
// if any response's status or JSON shape differs from it.
//
//	go run ./cmd/contract-check [contract.json]
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"

	"example.com/platform/services/auth-service/internal/api"
	"example.com/platform/services/auth-service/internal/token"
)

// Contract is the file format.
type Contract struct {
	Service     string `json:"service"`
	Description string `json:"description"`
	Cases       []Case `json:"cases"`
}

// Case is one request and the response it must produce.
type Case struct {
	Name    string `json:"name"`
	Request struct {
		Method string          `json:"method"`
		Path   string          `json:"path"`
		Body   json.RawMessage `json:"body"`
	} `json:"request"`
	Response struct {
		Status int               `json:"status"`
		Body   map[string]string `json:"body"`
	} `json:"response"`
	// Capture saves response fields as ${name} variables for later cases.
	Capture map[string]string `json:"capture"`
}

func main() {
	path := "api/token.contract.json"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	if err := run(path, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "contract-check:", err)
		os.Exit(1)
	}
}

// run checks every case in the contract at path and reports each result
// to out. It returns an error naming every failing case.
func run(path string, out io.Writer) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var c Contract
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if len(c.Cases) == 0 {
		return fmt.Errorf("%s: no cases", path)
	}
	signer, err := token.NewSigner([]byte("contract-check-secret-0123456789abcdef"), token.WithIssuer("auth-service"))
	if err != nil {
		return err
	}
	h := api.New(signer, api.Options{})
	vars := map[string]string{}
	var failed []string
	for _, tc := range c.Cases {
		if err := check(h, tc, vars); err != nil {
			fmt.Fprintf(out, "FAIL %s: %v\n", tc.Name, err)
			failed = append(failed, tc.Name)
			continue
		}
		fmt.Fprintf(out, "ok   %s\n", tc.Name)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d cases failed: %s", len(failed), len(c.Cases), strings.Join(failed, "; "))
	}
	fmt.Fprintf(out, "contract %s: %d cases ok\n", c.Service, len(c.Cases))
	return nil
}

func check(h http.Handler, tc Case, vars map[string]string) error {
	body := string(tc.Request.Body)
	for k, v := range vars {
		body = strings.ReplaceAll(body, "${"+k+"}", v)
	}
	if strings.Contains(body, "${") {
		return fmt.Errorf("request uses an undefined variable: %s", body)
	}
	method := tc.Request.Method
	if method == "" {
		method = http.MethodGet
	}
	req := httptest.NewRequest(method, tc.Request.Path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	if rec.Code != tc.Response.Status {
		return fmt.Errorf("status %d, want %d (body %s)", rec.Code, tc.Response.Status, strings.TrimSpace(rec.Body.String()))
	}
	var got map[string]interface{}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		return fmt.Errorf("response is not a JSON object: %q", rec.Body.String())
	}
	if err := matchShape(got, tc.Response.Body); err != nil {
		return err
	}
	for name, field := range tc.Capture {
		s, ok := got[field].(string)
		if !ok {
			return fmt.Errorf("capture %s: field %q is not a string", name, field)
		}
		vars[name] = s
	}
	return nil
}

// matchShape checks that obj has exactly the fields of shape (optional
// ones may be absent) with the declared types.
func matchShape(obj map[string]interface{}, shape map[string]string) error {
	var problems []string
	for _, k := range sortedKeys(obj) {
		if _, ok := shape[k]; !ok {
			problems = append(problems, fmt.Sprintf("unexpected field %q", k))
		}
	}
	keys := make([]string, 0, len(shape))
	for k := range shape {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		spec := shape[k]
		optional := strings.HasSuffix(spec, "?")
		spec = strings.TrimSuffix(spec, "?")
		v, present := obj[k]
		if !present {
			if !optional {
				problems = append(problems, fmt.Sprintf("missing field %q", k))
			}
			continue
		}
		if err := matchType(v, spec); err != nil {
			problems = append(problems, fmt.Sprintf("field %q: %v", k, err))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, ", "))
	}
	return nil
}

func matchType(v interface{}, spec string) error {
	if strings.HasPrefix(spec, "=") {
		if s, ok := v.(string); !ok || s != spec[1:] {
			return fmt.Errorf("got %v, want %q", v, spec[1:])
		}
		return nil
	}
	ok := false
	switch spec {
	case "string":
		_, ok = v.(string)
	case "number":
		_, ok = v.(float64)
	case "integer":
		f, isNum := v.(float64)
		ok = isNum && f == float64(int64(f))
	case "boolean":
		_, ok = v.(bool)
	case "object":
		_, ok = v.(map[string]interface{})
	case "array":
		_, ok = v.([]interface{})
	case "string[]":
		arr, isArr := v.([]interface{})
		ok = isArr
		for _, e := range arr {
			if _, isStr := e.(string); !isStr {
				ok = false
			}
		}
	default:
		return fmt.Errorf("unknown type %q in contract", spec)
	}
	if !ok {
		return fmt.Errorf("got %T %v, want %s", v, v, spec)
	}
	return nil
}

func sortedKeys(m map[string]interface{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
