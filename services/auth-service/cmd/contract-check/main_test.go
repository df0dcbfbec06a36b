package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRealContractPasses(t *testing.T) {
	var out bytes.Buffer
	if err := run(filepath.Join("..", "..", "api", "token.contract.json"), &out); err != nil {
		t.Fatalf("contract failed: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "cases ok") {
		t.Errorf("output = %s", out.String())
	}
}

func writeContract(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDriftIsDetected(t *testing.T) {
	issue := `{"method":"POST","path":"/v1/token","body":{"subject":"a"}}`
	cases := []struct {
		name, contract, want string
	}{
		{"wrong status",
			`{"cases":[{"name":"x","request":` + issue + `,"response":{"status":201,"body":{}}}]}`,
			"status 200, want 201"},
		{"missing field",
			`{"cases":[{"name":"x","request":` + issue + `,"response":{"status":200,"body":{"token":"string","token_type":"string","expires_at":"integer","expires_in":"integer","refresh":"string"}}}]}`,
			`missing field "refresh"`},
		{"unlisted field",
			`{"cases":[{"name":"x","request":` + issue + `,"response":{"status":200,"body":{"token":"string","token_type":"string","expires_at":"integer"}}}]}`,
			`unexpected field "expires_in"`},
		{"wrong type",
			`{"cases":[{"name":"x","request":` + issue + `,"response":{"status":200,"body":{"token":"integer","token_type":"string","expires_at":"integer","expires_in":"integer"}}}]}`,
			`field "token": got string`},
		{"literal mismatch",
			`{"cases":[{"name":"x","request":` + issue + `,"response":{"status":200,"body":{"token":"string","token_type":"=MAC","expires_at":"integer","expires_in":"integer"}}}]}`,
			`want "MAC"`},
		{"unknown type",
			`{"cases":[{"name":"x","request":` + issue + `,"response":{"status":200,"body":{"token":"uuid","token_type":"string","expires_at":"integer","expires_in":"integer"}}}]}`,
			`unknown type "uuid"`},
		{"undefined variable",
			`{"cases":[{"name":"x","request":{"method":"POST","path":"/v1/verify","body":{"token":"${nope}"}},"response":{"status":401,"body":{"error":"string"}}}]}`,
			"undefined variable"},
		{"capture non-string",
			`{"cases":[{"name":"x","request":` + issue + `,"response":{"status":200,"body":{"token":"string","token_type":"string","expires_at":"integer","expires_in":"integer"}},"capture":{"t":"expires_at"}}]}`,
			"not a string"},
		{"non-json response",
			`{"cases":[{"name":"x","request":{"path":"/nowhere"},"response":{"status":404,"body":{}}}]}`,
			"not a JSON object"},
		{"no cases", `{"cases":[]}`, "no cases"},
		{"unknown contract key", `{"cases":[],"extra":1}`, "unknown field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(writeContract(t, c.contract), &out)
			if err == nil {
				t.Fatalf("expected failure, output:\n%s", out.String())
			}
			if !strings.Contains(err.Error()+out.String(), c.want) {
				t.Errorf("want %q in:\n%v\n%s", c.want, err, out.String())
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	if err := run(filepath.Join(t.TempDir(), "absent.json"), &bytes.Buffer{}); err == nil {
		t.Error("expected error")
	}
}

func TestMatchType(t *testing.T) {
	cases := []struct {
		v    interface{}
		spec string
		ok   bool
	}{
		{"s", "string", true},
		{1.5, "number", true},
		{1.5, "integer", false},
		{float64(3), "integer", true},
		{true, "boolean", true},
		{"true", "boolean", false},
		{map[string]interface{}{}, "object", true},
		{[]interface{}{1.0}, "array", true},
		{[]interface{}{"a", "b"}, "string[]", true},
		{[]interface{}{"a", 1.0}, "string[]", false},
		{"x", "string[]", false},
		{"Bearer", "=Bearer", true},
		{"bearer", "=Bearer", false},
	}
	for _, c := range cases {
		if err := matchType(c.v, c.spec); (err == nil) != c.ok {
			t.Errorf("matchType(%v, %q) = %v, want ok=%v", c.v, c.spec, err, c.ok)
		}
	}
}

func TestOptionalFields(t *testing.T) {
	shape := map[string]string{"a": "string", "b": "integer?"}
	if err := matchShape(map[string]interface{}{"a": "x"}, shape); err != nil {
		t.Errorf("absent optional: %v", err)
	}
	if err := matchShape(map[string]interface{}{"a": "x", "b": "y"}, shape); err == nil {
		t.Error("optional field of the wrong type accepted")
	}
}
