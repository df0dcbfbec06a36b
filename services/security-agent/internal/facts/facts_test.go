package facts

import (
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func host() fstest.MapFS {
	return fstest.MapFS{
		"proc/sys/kernel/hostname":  file("web-01\n"),
		"proc/sys/kernel/osrelease": file("6.1.0-18-amd64\n"),
		"etc/os-release":            file("# comment\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n"),
		"proc/uptime":               file("350735.47 234388.90\n"),
		"proc/cpuinfo":              file("processor\t: 0\nmodel name\t: Xeon\n\nprocessor\t: 1\nmodel name\t: Xeon\n\nprocessor\t: 2\n"),
		"proc/meminfo":              file("MemTotal:       16318504 kB\nMemFree:          524288 kB\nMemAvailable:    8159252 kB\nHugePages_Total:       0\n"),
		"proc/loadavg":              file("0.52 0.58 0.59 2/1014 12345\n"),
	}
}

func TestCollect(t *testing.T) {
	got := Collect(host())
	want := Facts{
		Hostname: "web-01", Kernel: "6.1.0-18-amd64", OS: "Debian GNU/Linux 12 (bookworm)",
		UptimeSeconds: 350735.47, CPUs: 3, MemTotalKB: 16318504, MemAvailableKB: 8159252,
		Load: [3]float64{0.52, 0.58, 0.59},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestCollectPartial(t *testing.T) {
	fsys := host()
	delete(fsys, "proc/loadavg")
	fsys["proc/uptime"] = file("soon")
	fsys["proc/sys/kernel/hostname"] = file("\n")
	got := Collect(fsys)
	if got.Kernel != "6.1.0-18-amd64" || got.CPUs != 3 {
		t.Errorf("other facts lost: %+v", got)
	}
	if len(got.Errors) != 3 || !strings.HasPrefix(got.Errors[0], "/proc/sys/kernel/hostname: empty") ||
		!strings.Contains(got.Errors[1], `/proc/uptime: bad uptime "soon"`) || !strings.HasPrefix(got.Errors[2], "/proc/loadavg:") {
		t.Errorf("errors = %q", got.Errors)
	}
}

func TestOSName(t *testing.T) {
	cases := []struct {
		in, want string
		err      bool
	}{
		{`PRETTY_NAME="Ubuntu 22.04.4 LTS"`, "Ubuntu 22.04.4 LTS", false},
		{`PRETTY_NAME='Alpine Linux v3.19'`, "Alpine Linux v3.19", false},
		{`PRETTY_NAME=Fedora`, "Fedora", false},
		{`PRETTY_NAME="Say \"hi\" \$HOME \\ \n"`, `Say "hi" $HOME \ \n`, false},
		{"NAME=\"Arch Linux\"\nBUILD_ID=rolling", "Arch Linux", false},
		{"NAME=CentOS\nVERSION_ID=\"7\"", "CentOS 7", false},
		{"PRETTY_NAME=\"\"\nNAME=Gentoo", "Gentoo", false},
		{"garbage line\nID=x", "", true},
		{"", "", true},
		{`PRETTY_NAME="`, `"`, false}, // a lone quote is not a quoted value
	}
	for _, c := range cases {
		got, err := osName(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("osName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestMeminfo(t *testing.T) {
	cases := []struct {
		in           string
		total, avail uint64
		err          string
	}{
		{"MemTotal: 1000 kB\nMemAvailable: 400 kB", 1000, 400, ""},
		// kernels before 3.14: estimate from free + buffers + cached
		{"MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 200 kB\nSwapCached: 999 kB", 1000, 350, ""},
		{"MemTotal: 1000 kB\nMemFree: 900 kB\nCached: 900 kB", 1000, 1000, ""}, // capped at total
		{"MemTotal: 1000 kB\nHugePages_Total: 0\nweird line\nEmpty:", 1000, 0, ""},
		{"MemFree: 1 kB", 0, 0, "no MemTotal"},
		{"MemTotal: lots kB", 0, 0, `bad value for MemTotal: "lots"`},
		{"MemTotal: 1000 MB", 0, 0, `unexpected unit "MB"`},
	}
	for _, c := range cases {
		total, avail, err := meminfo(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("meminfo(%q) err = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || total != c.total || avail != c.avail {
			t.Errorf("meminfo(%q) = %d %d %v; want %d %d", c.in, total, avail, err, c.total, c.avail)
		}
	}
}

func TestSmallParsers(t *testing.T) {
	if _, err := uptime(""); err == nil {
		t.Error("empty uptime accepted")
	}
	for _, bad := range []string{"-1 0", "NaN 0", "Inf 0"} {
		if _, err := uptime(bad); err == nil {
			t.Errorf("uptime(%q) accepted", bad)
		}
	}
	if v, err := uptime("0.00 0.00"); err != nil || v != 0 {
		t.Errorf("zero uptime: %v %v", v, err)
	}
	if _, err := cpus("model name : x\n"); err == nil {
		t.Error("cpuinfo without processors accepted")
	}
	if n, _ := cpus("processor : 0\nprocessors_extra : 1\n  processor   : 1\n"); n != 2 {
		t.Errorf("cpus = %d, want 2", n)
	}
	for _, bad := range []string{"0.1 0.2", "0.1 x 0.3 1/2 3", "0.1 0.2 -0.3"} {
		if _, err := loadavg(bad); err == nil {
			t.Errorf("loadavg(%q) accepted", bad)
		}
	}
}
