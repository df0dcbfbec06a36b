package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultsWhenUnset(t *testing.T) {
	c := FromMap(map[string]string{"EMPTY": "   "})
	if got := c.String("NOPE", "d"); got != "d" {
		t.Errorf("String = %q", got)
	}
	if got := c.String("EMPTY", "d"); got != "d" {
		t.Errorf("blank value should fall back to default, got %q", got)
	}
	if got := c.Int("NOPE", 7); got != 7 {
		t.Errorf("Int = %d", got)
	}
	if got := c.Float("NOPE", 1.5); got != 1.5 {
		t.Errorf("Float = %v", got)
	}
	if got := c.Duration("NOPE", time.Minute); got != time.Minute {
		t.Errorf("Duration = %v", got)
	}
	if got := c.Bool("NOPE", true); !got {
		t.Error("Bool default lost")
	}
	if got := c.List("NOPE", []string{"x"}); !reflect.DeepEqual(got, []string{"x"}) {
		t.Errorf("List = %v", got)
	}
	if err := c.Err(); err != nil {
		t.Errorf("unexpected error %v", err)
	}
}

func TestParsesValues(t *testing.T) {
	c := FromMap(map[string]string{
		"S": " hello ", "I": "42", "F": "0.25", "D": "1m30s", "DS": "15",
		"B1": "yes", "B0": "OFF", "L": "a, b,,c ",
	})
	if got := c.String("S", ""); got != "hello" {
		t.Errorf("String = %q", got)
	}
	if got := c.Int("I", 0); got != 42 {
		t.Errorf("Int = %d", got)
	}
	if got := c.Float("F", 0); got != 0.25 {
		t.Errorf("Float = %v", got)
	}
	if got := c.Duration("D", 0); got != 90*time.Second {
		t.Errorf("Duration = %v", got)
	}
	if got := c.Duration("DS", 0); got != 15*time.Second {
		t.Errorf("bare-seconds Duration = %v", got)
	}
	if !c.Bool("B1", false) || c.Bool("B0", true) {
		t.Error("Bool parsing wrong")
	}
	if got := c.List("L", nil); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("List = %v", got)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("unexpected error %v", err)
	}
}

func TestCollectsAllProblems(t *testing.T) {
	c := FromMap(map[string]string{"I": "x", "F": "y", "D": "soon", "B": "maybe"})
	if got := c.Int("I", 3); got != 3 {
		t.Errorf("bad Int should return default, got %d", got)
	}
	c.Float("F", 0)
	c.Duration("D", 0)
	c.Bool("B", false)
	c.RequiredString("SECRET")
	err := c.Err()
	if err == nil {
		t.Fatal("expected error")
	}
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Problems) != 5 {
		t.Fatalf("want 5 problems, got %v", err)
	}
	for _, key := range []string{"I:", "F:", "D:", "B:", "SECRET: required"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not mention %q", err, key)
		}
	}
}

func TestRequiredPresent(t *testing.T) {
	c := FromMap(map[string]string{"SECRET": "s3cr3t"})
	if got := c.RequiredString("SECRET"); got != "s3cr3t" {
		t.Errorf("got %q", got)
	}
	if c.Err() != nil {
		t.Error("unexpected error")
	}
}

func TestNewReadsProcessEnv(t *testing.T) {
	t.Setenv("ISECT_CONFIG_TEST", "99")
	if got := New().Int("ISECT_CONFIG_TEST", 0); got != 99 {
		t.Errorf("got %d", got)
	}
}
