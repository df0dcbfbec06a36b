package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func dirWith(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const good = `{"id":"%s","title":"t","severity":"low","match":{"field":"x","op":"eq","value":1}}`

func TestBundledRulesPass(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run([]string{"../../rules"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), "rules ok") {
		t.Errorf("stdout = %q", out.String())
	}
}

func TestDefaultDirIsRules(t *testing.T) {
	var out, errs bytes.Buffer
	wd, _ := os.Getwd()
	defer func() { _ = os.Chdir(wd) }()
	if err := os.Chdir("../.."); err != nil {
		t.Fatal(err)
	}
	if code := run(nil, &out, &errs); code != 0 || !strings.HasPrefix(out.String(), "rules: ") {
		t.Errorf("exit %d, out %q, err %q", code, out.String(), errs.String())
	}
}

func TestReportsEveryProblem(t *testing.T) {
	dir := dirWith(t, map[string]string{
		"a.json": strings.Replace(good, "%s", "ok-rule", 1),
		"b.json": `{"id":"bad","title":"t","severity":"low","match":{"field":"x","op":"regex","value":"("}}`,
		"c.json": `{"id":"c1","title":"t","severity":"severe","match":{"field":"x","op":"eq","value":1},"threshold":{"count":1,"window":"1m"}}`,
	})
	var out, errs bytes.Buffer
	if code := run([]string{dir}, &out, &errs); code != 1 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(errs.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "b.json: rule bad: match: x regex") ||
		!strings.Contains(lines[1], `severity "severe"`) || !strings.Contains(lines[2], "threshold.count") {
		t.Errorf("stderr = %s", errs.String())
	}
	if out.Len() != 0 {
		t.Errorf("a failing directory should not report ok: %q", out.String())
	}
}

func TestDuplicateIDsAcrossDirs(t *testing.T) {
	d1 := dirWith(t, map[string]string{"a.json": strings.Replace(good, "%s", "same", 1)})
	d2 := dirWith(t, map[string]string{"b.json": strings.Replace(good, "%s", "same", 1)})
	var out, errs bytes.Buffer
	if code := run([]string{d1, d2}, &out, &errs); code != 1 || !strings.Contains(errs.String(), "id already used in "+d1) {
		t.Errorf("exit %d, stderr %q", code, errs.String())
	}
}

func TestMissingAndBadDirs(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run([]string{t.TempDir()}, &out, &errs); code != 1 || !strings.Contains(errs.String(), "no rule files") {
		t.Errorf("empty dir: exit %d, %q", code, errs.String())
	}
	errs.Reset()
	if code := run([]string{"[bad"}, &out, &errs); code != 1 || !strings.Contains(errs.String(), "syntax error in pattern") {
		t.Errorf("bad pattern: exit %d, %q", code, errs.String())
	}
}
