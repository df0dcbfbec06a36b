// Package facts collects host facts from /proc and /etc/os-release
// through an fs.FS rooted at the host's "/", so tests inject a
// fstest.MapFS instead of reading the machine they run on.
package facts

import (
	"bufio"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"strings"
)

// Facts describes the host. A fact whose source is missing or malformed
// stays zero and the reason is listed in Errors: one unreadable file does
// not hide the rest.
type Facts struct {
	Hostname       string     `json:"hostname"`
	Kernel         string     `json:"kernel"`
	OS             string     `json:"os"`
	UptimeSeconds  float64    `json:"uptime_seconds"`
	CPUs           int        `json:"cpus"`
	MemTotalKB     uint64     `json:"mem_total_kb"`
	MemAvailableKB uint64     `json:"mem_available_kb"`
	Load           [3]float64 `json:"load"`
	Errors         []string   `json:"errors,omitempty"`
}

// Collect reads every fact from fsys.
func Collect(fsys fs.FS) Facts {
	var f Facts
	steps := []struct {
		path  string
		parse func(string) error
	}{
		{"proc/sys/kernel/hostname", func(s string) error { f.Hostname = strings.TrimSpace(s); return nonEmpty(f.Hostname) }},
		{"proc/sys/kernel/osrelease", func(s string) error { f.Kernel = strings.TrimSpace(s); return nonEmpty(f.Kernel) }},
		{"etc/os-release", func(s string) (err error) { f.OS, err = osName(s); return }},
		{"proc/uptime", func(s string) (err error) { f.UptimeSeconds, err = uptime(s); return }},
		{"proc/cpuinfo", func(s string) (err error) { f.CPUs, err = cpus(s); return }},
		{"proc/meminfo", func(s string) (err error) { f.MemTotalKB, f.MemAvailableKB, err = meminfo(s); return }},
		{"proc/loadavg", func(s string) (err error) { f.Load, err = loadavg(s); return }},
	}
	for _, st := range steps {
		b, err := fs.ReadFile(fsys, st.path)
		if err == nil {
			err = st.parse(string(b))
		}
		if err != nil {
			f.Errors = append(f.Errors, fmt.Sprintf("/%s: %v", st.path, err))
		}
	}
	return f
}

func nonEmpty(s string) error {
	if s == "" {
		return fmt.Errorf("empty")
	}
	return nil
}

// osName reads os-release(5): PRETTY_NAME, else NAME and VERSION_ID.
// Values may be unquoted, 'single-quoted' or "double-quoted" with
// backslash escapes.
func osName(s string) (string, error) {
	vals := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		vals[k] = unquote(v)
	}
	if p := vals["PRETTY_NAME"]; p != "" {
		return p, nil
	}
	name := strings.TrimSpace(vals["NAME"] + " " + vals["VERSION_ID"])
	if name == "" {
		return "", fmt.Errorf("no PRETTY_NAME or NAME")
	}
	return name, nil
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0 {
				i++
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
	return v
}

// uptime reads the first field of /proc/uptime ("350735.47 234388.90").
func uptime(s string) (float64, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return 0, fmt.Errorf("empty")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil || !finite(v) {
		return 0, fmt.Errorf("bad uptime %q", fields[0])
	}
	return v, nil
}

// cpus counts "processor : N" entries.
func cpus(s string) (int, error) {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, _, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "processor" {
			n++
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("no processor entries")
	}
	return n, nil
}

// meminfo returns MemTotal and MemAvailable in kB. Kernels before 3.14
// have no MemAvailable; it is then estimated as MemFree+Buffers+Cached.
func meminfo(s string) (total, avail uint64, err error) {
	vals := map[string]uint64{}
	for _, line := range strings.Split(s, "\n") {
		k, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, perr := strconv.ParseUint(fields[0], 10, 64)
		if perr != nil {
			return 0, 0, fmt.Errorf("bad value for %s: %q", k, fields[0])
		}
		if len(fields) > 1 && fields[1] != "kB" {
			return 0, 0, fmt.Errorf("unexpected unit %q for %s", fields[1], k)
		}
		vals[k] = v
	}
	total, ok := vals["MemTotal"]
	if !ok {
		return 0, 0, fmt.Errorf("no MemTotal")
	}
	avail, ok = vals["MemAvailable"]
	if !ok {
		avail = vals["MemFree"] + vals["Buffers"] + vals["Cached"]
	}
	if avail > total {
		avail = total
	}
	return total, avail, nil
}

// loadavg reads the 1, 5 and 15 minute load averages.
func loadavg(s string) ([3]float64, error) {
	var out [3]float64
	fields := strings.Fields(s)
	if len(fields) < 3 {
		return out, fmt.Errorf("want 3 load averages, got %d fields", len(fields))
	}
	for i := range out {
		v, err := strconv.ParseFloat(fields[i], 64)
		if err != nil || !finite(v) {
			return out, fmt.Errorf("bad load average %q", fields[i])
		}
		out[i] = v
	}
	return out, nil
}

// finite reports a usable non-negative number (ParseFloat accepts NaN and Inf).
func finite(v float64) bool { return v >= 0 && !math.IsInf(v, 0) }
