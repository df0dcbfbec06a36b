package fim

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

const (
	shaHello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" // sha256("hello")
	shaEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

func tree() fstest.MapFS {
	return fstest.MapFS{
		"etc/passwd":                {Data: []byte("hello"), Mode: 0o644},
		"etc/ssh/sshd_config":       {Data: []byte("PermitRootLogin no\n"), Mode: 0o600},
		"etc/ssh/moduli":            {Data: []byte(""), Mode: 0o644},
		"etc/ssh/keys/host_ed25519": {Data: []byte("key"), Mode: 0o600},
		"etc/ssh/sshd_config.swp":   {Data: []byte("junk"), Mode: 0o600},
		"etc/ssh/cache/x":           {Data: []byte("junk"), Mode: 0o600},
		"etc/ssh/link":              {Data: []byte("etc/passwd"), Mode: fs.ModeSymlink | 0o777},
		"var/log/syslog":            {Data: []byte("not watched")},
	}
}

func TestScan(t *testing.T) {
	s := Scanner{FS: tree(), Paths: []string{"/etc/passwd", "etc/ssh/", " /etc/ssh "}, Exclude: []string{"*.swp", "etc/ssh/cache"}}
	snap, err := s.Scan()
	if err != nil {
		t.Fatal(err)
	}
	want := Snapshot{
		"etc/passwd":                {SHA256: shaHello, Size: 5, Mode: 0o644},
		"etc/ssh/sshd_config":       {SHA256: "", Size: 19, Mode: 0o600},
		"etc/ssh/moduli":            {SHA256: shaEmpty, Size: 0, Mode: 0o644},
		"etc/ssh/keys/host_ed25519": {SHA256: "", Size: 3, Mode: 0o600},
	}
	if len(snap) != len(want) {
		t.Fatalf("paths = %v", keys(snap))
	}
	for p, w := range want {
		got, ok := snap[p]
		if !ok || got.Size != w.Size || got.Mode != w.Mode || len(got.SHA256) != 64 || (w.SHA256 != "" && got.SHA256 != w.SHA256) {
			t.Errorf("%s = %+v, want %+v", p, got, w)
		}
	}
}

func keys(s Snapshot) []string {
	var out []string
	for k := range s {
		out = append(out, k)
	}
	return out
}

func TestScanWholeFSAndMissingPath(t *testing.T) {
	snap, err := Scanner{FS: tree(), Paths: []string{"/"}}.Scan()
	if err != nil || len(snap) != 7 {
		t.Errorf("root scan = %d files, %v", len(snap), err)
	}
	_, err = Scanner{FS: tree(), Paths: []string{"/etc/shadow"}}.Scan()
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "/etc/shadow") {
		t.Errorf("missing path: %v", err)
	}
}

func TestDiff(t *testing.T) {
	base := Snapshot{
		"a": {SHA256: "1", Size: 1, Mode: 0o644},
		"b": {SHA256: "2", Size: 1, Mode: 0o644},
		"c": {SHA256: "3", Size: 1, Mode: 0o644},
		"d": {SHA256: "4", Size: 1, Mode: 0o644},
		"e": {SHA256: "5", Size: 1, Mode: 0o600},
		"f": {SHA256: "6", Size: 1, Mode: 0o600},
	}
	cur := Snapshot{
		"a": {SHA256: "1", Size: 1, Mode: 0o644},                // unchanged
		"b": {SHA256: "X", Size: 1, Mode: 0o644},                // content
		"c": {SHA256: "3", Size: 1, Mode: 0o666},                // mode only
		"e": {SHA256: "Y", Size: 2, Mode: 0o777},                // content and mode: modified wins
		"f": {Size: 1, Mode: 0o600, Error: "permission denied"}, // became unreadable
		"g": {SHA256: "7", Size: 1, Mode: 0o644},                // new
	}
	got := Diff(base, cur)
	var summary []string
	for _, c := range got {
		summary = append(summary, c.Path+":"+c.Kind)
	}
	want := []string{"b:modified", "c:permissions", "d:removed", "e:modified", "f:modified", "g:added"}
	if !reflect.DeepEqual(summary, want) {
		t.Fatalf("diff = %v, want %v", summary, want)
	}
	if got[2].Old == nil || got[2].New != nil || got[5].Old != nil || got[5].New.SHA256 != "7" {
		t.Errorf("old/new pointers wrong: %+v %+v", got[2], got[5])
	}
	if got[0].Old.SHA256 != "2" || got[0].New.SHA256 != "X" {
		t.Errorf("modified entry = %+v / %+v", got[0].Old, got[0].New)
	}
	if d := Diff(base, base); len(d) != 0 || d == nil {
		t.Errorf("self diff = %#v, want empty non-nil", d)
	}
}

func TestScanDetectsTampering(t *testing.T) {
	fsys := tree()
	s := Scanner{FS: fsys, Paths: []string{"/etc"}}
	base, _ := s.Scan()
	fsys["etc/passwd"] = &fstest.MapFile{Data: []byte("hellO"), Mode: 0o644} // same size
	fsys["etc/ssh/moduli"].Mode = 0o666
	delete(fsys, "etc/ssh/keys/host_ed25519")
	fsys["etc/cron.d/backdoor"] = &fstest.MapFile{Data: []byte("* * * * * root nc -e /bin/sh")}
	cur, _ := s.Scan()
	var summary []string
	for _, c := range Diff(base, cur) {
		summary = append(summary, c.Path+":"+c.Kind)
	}
	want := []string{"etc/cron.d/backdoor:added", "etc/passwd:modified", "etc/ssh/keys/host_ed25519:removed", "etc/ssh/moduli:permissions"}
	if !reflect.DeepEqual(summary, want) {
		t.Errorf("diff = %v, want %v", summary, want)
	}
}

type failFS struct{ fstest.MapFS }

// Open fails for one file while its directory listing still names it,
// and another file fails halfway through reading.
func (f failFS) Open(name string) (fs.File, error) {
	switch name {
	case "etc/locked":
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	case "etc/bad-disk":
		file, err := f.MapFS.Open(name)
		return badRead{file}, err
	}
	return f.MapFS.Open(name)
}

// ReadDir fails for one directory, as an unreadable directory does.
func (f failFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name == "etc/private" {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrPermission}
	}
	return f.MapFS.ReadDir(name)
}

type badRead struct{ fs.File }

func (badRead) Read([]byte) (int, error) { return 0, errors.New("input/output error") }

func TestOpenErrorIsRecorded(t *testing.T) {
	fsys := failFS{fstest.MapFS{
		"etc/locked":      {Data: []byte("x")},
		"etc/ok":          {Data: []byte("hello")},
		"etc/bad-disk":    {Data: []byte("abc"), Mode: 0o640},
		"etc/private/key": {Data: []byte("k")},
	}}
	snap, err := Scanner{FS: fsys, Paths: []string{"etc"}}.Scan()
	if err != nil {
		t.Fatal(err)
	}
	if snap["etc/locked"].Error != "permission denied" || snap["etc/ok"].SHA256 != shaHello {
		t.Errorf("snap = %+v", snap)
	}
	if e := snap["etc/bad-disk"]; e.Error != "input/output error" || e.Size != 3 || e.Mode != 0o640 || e.SHA256 != "" {
		t.Errorf("read error entry = %+v", e)
	}
	if e, ok := snap["etc/private"]; !ok || e.Error != "permission denied" {
		t.Errorf("unreadable directory = %+v, %v", e, ok)
	}
	if errText(errors.New("plain")) != "plain" {
		t.Error("errText on a plain error")
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "baseline.json")
	snap := Snapshot{"etc/passwd": {SHA256: shaHello, Size: 5, Mode: 0o644}, "etc/x": {Error: "permission denied"}}
	if err := Save(file, snap); err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(file)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("baseline mode = %v", info.Mode())
	}
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Error("temp file left behind")
	}
	got, err := Load(file)
	if err != nil || !reflect.DeepEqual(got, snap) {
		t.Errorf("Load = %+v, %v", got, err)
	}
	if err := os.WriteFile(file, []byte("null"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(file); err != nil || got == nil || len(got) != 0 {
		t.Errorf("null baseline = %#v, %v", got, err)
	}
	if err := os.WriteFile(file, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(file); err == nil || !strings.Contains(err.Error(), "baseline") {
		t.Errorf("corrupt baseline: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "none.json")); !os.IsNotExist(err) {
		t.Errorf("missing baseline: %v", err)
	}
	if err := Save(filepath.Join(dir, "no", "such", "dir.json"), snap); err == nil {
		t.Error("save into a missing directory succeeded")
	}
}
