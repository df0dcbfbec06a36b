package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func fixed() time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC) }

func decodeLines(t *testing.T, buf *bytes.Buffer) []map[string]interface{} {
	t.Helper()
	var out []map[string]interface{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]interface{}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestParseLevel(t *testing.T) {
	cases := []struct {
		in      string
		want    Level
		wantErr bool
	}{
		{"debug", Debug, false},
		{"INFO", Info, false},
		{"", Info, false},
		{" warn ", Warn, false},
		{"warning", Warn, false},
		{"error", Error, false},
		{"verbose", Info, true},
	}
	for _, c := range cases {
		got, err := ParseLevel(c.in)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v, err=%v", c.in, got, err, c.want, c.wantErr)
		}
	}
}

func TestLevelString(t *testing.T) {
	for lvl, want := range map[Level]string{Debug: "debug", Info: "info", Warn: "warn", Error: "error", Level(9): "level(9)"} {
		if got := lvl.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(lvl), got, want)
		}
	}
}

func TestFiltersBelowMinimum(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Warn)
	l.SetClock(fixed)
	l.Debug("d")
	l.Info("i")
	l.Warn("w")
	l.Error("e")
	recs := decodeLines(t, &buf)
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2: %s", len(recs), buf.String())
	}
	if recs[0]["level"] != "warn" || recs[1]["level"] != "error" {
		t.Errorf("unexpected levels: %v", recs)
	}
	if !l.Enabled(Error) || l.Enabled(Info) || l.Level() != Warn {
		t.Error("Enabled/Level disagree with minimum")
	}
}

func TestRecordShape(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Debug).With("service", "auth")
	l.SetClock(fixed)
	l.Info("issued", "subject", "alice", "count", 3, "err", errors.New("boom"), "msg", "shadow")
	recs := decodeLines(t, &buf)
	if len(recs) != 1 {
		t.Fatalf("want 1 record, got %d", len(recs))
	}
	r := recs[0]
	want := map[string]interface{}{
		"ts": "2024-01-02T03:04:05Z", "level": "info", "msg": "issued",
		"service": "auth", "subject": "alice", "count": float64(3), "err": "boom",
		"field.msg": "shadow",
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("field %q = %v, want %v", k, r[k], v)
		}
	}
}

func TestWithDoesNotLeakIntoParent(t *testing.T) {
	var buf bytes.Buffer
	parent := New(&buf, Debug)
	parent.SetClock(fixed)
	_ = parent.With("a", 1)
	child := parent.With("b", 2)
	parent.Info("p")
	child.Info("c")
	recs := decodeLines(t, &buf)
	if _, ok := recs[0]["b"]; ok {
		t.Error("child field leaked into parent")
	}
	if _, ok := recs[1]["a"]; ok {
		t.Error("sibling field leaked into child")
	}
	if recs[1]["b"] != float64(2) {
		t.Error("child field missing")
	}
}

func TestBadKeys(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Debug)
	l.Info("x", 42, "v", "dangling")
	r := decodeLines(t, &buf)[0]
	if r["!badkey"] != "dangling" {
		t.Errorf("!badkey = %v", r["!badkey"])
	}
}

func TestUnmarshalableValue(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, Debug)
	l.Error("bad", "ch", make(chan int))
	r := decodeLines(t, &buf)[0]
	if r["msg"] != "bad" || r["log_error"] == nil {
		t.Errorf("fallback record wrong: %v", r)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("LOG_LEVEL", "error")
	l := FromEnv("svc")
	if l.Level() != Error {
		t.Errorf("level = %v, want error", l.Level())
	}
	t.Setenv("LOG_LEVEL", "nonsense")
	// Redirect stderr to capture the warning about the bad level.
	r, w, _ := os.Pipe()
	old := os.Stderr
	os.Stderr = w
	l = FromEnv("svc")
	os.Stderr = old
	w.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(r)
	if l.Level() != Info {
		t.Errorf("fallback level = %v, want info", l.Level())
	}
	if !strings.Contains(buf.String(), "invalid LOG_LEVEL") {
		t.Errorf("expected warning, got %q", buf.String())
	}
}
