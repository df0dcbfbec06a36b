// Package fim is the agent's file-integrity monitor: it hashes the files
// under the configured paths (SHA-256) into a snapshot and diffs a
// snapshot against a baseline, reporting added, removed, modified and
// permission-changed files.
package fim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// Entry is what the monitor knows about one file. Unreadable files keep
// their size and mode and carry Error instead of a hash, so a file that
// becomes unreadable shows up as a change rather than vanishing.
type Entry struct {
	SHA256 string      `json:"sha256,omitempty"`
	Size   int64       `json:"size"`
	Mode   fs.FileMode `json:"mode"`
	Error  string      `json:"error,omitempty"`
}

// Snapshot maps slash-separated paths (relative to the scanned fs) to
// entries.
type Snapshot map[string]Entry

// Change kinds.
const (
	Added       = "added"
	Removed     = "removed"
	Modified    = "modified"    // content (or readability) changed
	Permissions = "permissions" // only the mode changed
)

// Change is one difference between a baseline and a snapshot.
type Change struct {
	Path string `json:"path"`
	Kind string `json:"kind"`
	Old  *Entry `json:"old,omitempty"`
	New  *Entry `json:"new,omitempty"`
}

// Scanner hashes files in an fs.FS.
type Scanner struct {
	FS      fs.FS
	Paths   []string // files or directories; "/etc/ssh" and "etc/ssh" are the same
	Exclude []string // path.Match patterns against the full path or the base name
}

// Scan walks every configured path. Directories are walked recursively;
// symlinks and other non-regular files are skipped. A configured path that
// does not exist is an error: silently monitoring nothing is worse.
func (s Scanner) Scan() (Snapshot, error) {
	snap := Snapshot{}
	for _, p := range s.Paths {
		root := strings.Trim(path.Clean("/"+strings.TrimSpace(p)), "/")
		if root == "" {
			root = "."
		}
		err := fs.WalkDir(s.FS, root, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				if name == root {
					return err
				}
				snap[name] = Entry{Error: errText(err)} // an unreadable directory
				return nil
			}
			if s.excluded(name) {
				if d.IsDir() && name != root {
					return fs.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			snap[name] = s.hash(name)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("fim: %s: %w", p, err)
		}
	}
	return snap, nil
}

func (s Scanner) excluded(name string) bool {
	for _, pat := range s.Exclude {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
		if ok, _ := path.Match(pat, path.Base(name)); ok {
			return true
		}
	}
	return false
}

func (s Scanner) hash(name string) Entry {
	f, err := s.FS.Open(name)
	if err != nil {
		return Entry{Error: errText(err)}
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return Entry{Error: errText(err)}
	}
	e := Entry{Size: info.Size(), Mode: info.Mode()}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		e.Error = errText(err)
		return e
	}
	e.SHA256 = hex.EncodeToString(h.Sum(nil))
	return e
}

// errText keeps the reason without the path, which the snapshot key holds.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Diff returns the changes from base to cur, ordered by path.
func Diff(base, cur Snapshot) []Change {
	changes := []Change{}
	for p, old := range base {
		old := old
		now, ok := cur[p]
		if !ok {
			changes = append(changes, Change{Path: p, Kind: Removed, Old: &old})
			continue
		}
		switch {
		case old.SHA256 != now.SHA256 || old.Size != now.Size || old.Error != now.Error:
			changes = append(changes, Change{Path: p, Kind: Modified, Old: &old, New: &now})
		case old.Mode != now.Mode:
			changes = append(changes, Change{Path: p, Kind: Permissions, Old: &old, New: &now})
		}
	}
	for p, now := range cur {
		now := now
		if _, ok := base[p]; !ok {
			changes = append(changes, Change{Path: p, Kind: Added, New: &now})
		}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes
}

// Save writes the snapshot as JSON, atomically (write then rename), with
// owner-only permissions: the baseline tells an attacker what is watched.
func Save(file string, snap Snapshot) error {
	b, err := json.MarshalIndent(snap, "", "  ")
	if err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// Load reads a snapshot written by Save.
func Load(file string) (Snapshot, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var snap Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return nil, fmt.Errorf("fim: baseline %s: %v", file, err)
	}
	if snap == nil {
		snap = Snapshot{}
	}
	return snap, nil
}
