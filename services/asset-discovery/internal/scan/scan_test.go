package scan

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNormaliseMAC(t *testing.T) {
	cases := []struct {
		in, want string
		err      bool
	}{
		{"AA:BB:CC:00:11:22", "aa:bb:cc:00:11:22", false},
		{"aa-bb-cc-00-11-22", "aa:bb:cc:00:11:22", false},
		{"aabb.cc00.1122", "aa:bb:cc:00:11:22", false},
		{"02:00:5e:10:00:00:00:01", "02:00:5e:10:00:00:00:01", false},
		{"", "", false},
		{"  ", "", false},
		{"00:00:00:00:00:00", "", false},
		{"FF:FF:FF:FF:FF:FF", "", false},
		{"aa:bb:cc:00:11", "", true},
		{"zz:bb:cc:00:11:22", "", true},
		{"00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01", "", true}, // 20-byte IPoIB
	}
	for _, c := range cases {
		got, err := NormaliseMAC(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("NormaliseMAC(%q) = %q, %v; want %q, err=%v", c.in, got, err, c.want, c.err)
		}
	}
}

const grepable = "# Nmap 7.94 scan initiated as: nmap -oG - 10.0.0.0/24\n" +
	"Host: 10.0.0.5 (web1.corp)\tStatus: Up\n" +
	"Host: 10.0.0.5 (web1.corp)\tPorts: 22/open/tcp//ssh//OpenSSH 8.9p1/, 80/closed/tcp//http///, 443/open/tcp//https///, 53/open|filtered/udp//domain///\tIgnored State: filtered (997)\tMAC: 00-1A-2B-3C-4D-5E\n" +
	"Host: 10.0.0.6 ()\tStatus: Down\n" +
	"\n" +
	"Host: 2001:db8::10 ()\tPorts: 161/open/udp//snmp///\r\n" +
	"# Nmap done: 256 IP addresses (2 hosts up) scanned\n"

func TestParseGrepable(t *testing.T) {
	obs, err := ParseGrepable(strings.NewReader(grepable))
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 3 {
		t.Fatalf("got %d observations, want 3 (down host skipped): %+v", len(obs), obs)
	}
	if obs[0].IP.String() != "10.0.0.5" || obs[0].Hostname != "web1.corp" || len(obs[0].Ports) != 0 {
		t.Errorf("status line = %+v", obs[0])
	}
	wantPorts := []Port{{22, "tcp", "ssh"}, {443, "tcp", "https"}}
	if !reflect.DeepEqual(obs[1].Ports, wantPorts) {
		t.Errorf("ports = %+v, want %+v (only open ones)", obs[1].Ports, wantPorts)
	}
	if obs[1].MAC != "00:1a:2b:3c:4d:5e" {
		t.Errorf("mac = %q", obs[1].MAC)
	}
	if obs[2].IP.String() != "2001:db8::10" || obs[2].Hostname != "" ||
		!reflect.DeepEqual(obs[2].Ports, []Port{{161, "udp", "snmp"}}) {
		t.Errorf("ipv6 host = %+v", obs[2])
	}
	if !obs[0].SeenAt.IsZero() {
		t.Error("grepable input has no per-host time")
	}
}

func TestParseGrepableErrors(t *testing.T) {
	cases := map[string]string{
		"Nmap scan report for x":                       "line 1: expected \"Host:\"",
		"Host: 10.0.0.300 ()\tStatus: Up":              "invalid IP",
		"Host: 10.0.0.1 web1\tStatus: Up":              "malformed hostname",
		"Host: 10.0.0.1 ()\tPorts: 22/open":            "malformed port entry",
		"Host: 10.0.0.1 ()\tPorts: 0/open/tcp//":       "invalid port number",
		"Host: 10.0.0.1 ()\tPorts: 70000/open/tcp////": "invalid port number",
		"Host: 10.0.0.1 ()\tPorts: ssh/open/tcp////":   "invalid port number",
		"Host: 10.0.0.1 ()\tPorts: 22/open/icmp////":   "unknown protocol",
		"Host: 10.0.0.1 ()\tMAC: nope":                 "invalid MAC",
		"# ok\nHost: 10.0.0.1 ()\nHost: x ()":          "line 3:",
	}
	for in, want := range cases {
		_, err := ParseGrepable(strings.NewReader(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseGrepable(%q) err = %v, want %q", in, err, want)
		}
	}
}

func TestParseGrepableMappedAndBare(t *testing.T) {
	obs, err := ParseGrepable(strings.NewReader("Host: ::ffff:10.0.0.9\tPorts: 8080/open/TCP//http-proxy///, \tjunk"))
	if err != nil {
		t.Fatal(err)
	}
	if obs[0].IP.String() != "10.0.0.9" || !reflect.DeepEqual(obs[0].Ports, []Port{{8080, "tcp", "http-proxy"}}) {
		t.Errorf("obs = %+v", obs[0])
	}
}

func TestParseJSON(t *testing.T) {
	in := `[
	 {"ip":"10.0.0.5","mac":"AA-BB-CC-00-11-22","hostname":" web1 ","port":443,"service":"https","seen_at":"2024-05-01T12:00:00+02:00"},
	 {"ip":"2001:db8::1","port":53,"proto":"UDP"},
	 {"ip":"10.0.0.7"}
	]`
	obs, err := ParseJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 3 {
		t.Fatalf("len = %d", len(obs))
	}
	o := obs[0]
	if o.IP.String() != "10.0.0.5" || o.MAC != "aa:bb:cc:00:11:22" || o.Hostname != "web1" ||
		!reflect.DeepEqual(o.Ports, []Port{{443, "tcp", "https"}}) {
		t.Errorf("obs[0] = %+v", o)
	}
	if want := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC); !o.SeenAt.Equal(want) || o.SeenAt.Location() != time.UTC {
		t.Errorf("seen_at = %v, want %v in UTC", o.SeenAt, want)
	}
	if !reflect.DeepEqual(obs[1].Ports, []Port{{53, "udp", ""}}) {
		t.Errorf("obs[1].Ports = %+v", obs[1].Ports)
	}
	if obs[2].Ports != nil || !obs[2].SeenAt.IsZero() {
		t.Errorf("host-only observation = %+v", obs[2])
	}
}

func TestParseJSONErrors(t *testing.T) {
	cases := map[string]string{
		`{"ip":"10.0.0.1"}`:                        "invalid JSON",
		`[{"ip":"10.0.0.1","extra":1}]`:            "invalid JSON",
		`[{"ip":"10.0.0.1"},{"ip":"nope"}]`:        "observation 1: invalid IP",
		`[{"ip":"10.0.0.1","mac":"xx"}]`:           "observation 0: invalid MAC",
		`[{"ip":"10.0.0.1","port":65536}]`:         "out of range",
		`[{"ip":"10.0.0.1","port":-1}]`:            "out of range",
		`[{"ip":"10.0.0.1","port":1,"proto":"x"}]`: "unknown protocol",
	}
	for in, want := range cases {
		_, err := ParseJSON([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseJSON(%s) err = %v, want %q", in, err, want)
		}
	}
	if obs, err := ParseJSON([]byte(`[{"ip":"10.0.0.1","port":65535}]`)); err != nil || obs[0].Ports[0].Number != 65535 {
		t.Errorf("port 65535 rejected: %v", err)
	}
}
