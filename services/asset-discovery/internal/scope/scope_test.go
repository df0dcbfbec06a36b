package scope

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParsePrefix(t *testing.T) {
	cases := []struct {
		in, want, err string
	}{
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: " 192.168.1.0/24 ", want: "192.168.1.0/24"},
		{in: "10.1.2.3", want: "10.1.2.3/32"},
		{in: "2001:db8::/32", want: "2001:db8::/32"},
		{in: "2001:db8::1", want: "2001:db8::1/128"},
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"},
		{in: "::ffff:10.0.0.7", want: "10.0.0.7/32"},
		{in: "0.0.0.0/0", want: "0.0.0.0/0"},
		{in: "::/0", want: "::/0"},
		{in: "10.0.0.1/24", err: "host bits set (did you mean 10.0.0.0/24?)"},
		{in: "2001:db8::1/64", err: "host bits set"},
		{in: "10.0.0.0/33", err: "not a valid CIDR"},
		{in: "10.0.0/8", err: "not a valid CIDR"},
		{in: "::ffff:0:0/80", err: "shorter than /96"},
		{in: "fe80::1%eth0", err: "zoned"},
		{in: "example.com", err: "not an address"},
		{in: "", err: "not an address"},
	}
	for _, c := range cases {
		p, err := ParsePrefix(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParsePrefix(%q) err = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || p.String() != c.want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", c.in, p, err, c.want)
		}
	}
}

func TestContains(t *testing.T) {
	s, err := Parse([]string{"10.0.0.0/8", "192.168.1.0/24", "2001:db8::/32", "", "172.16.5.4"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ip   string
		want bool
	}{
		{"10.0.0.0", true},
		{"10.255.255.255", true},
		{"11.0.0.0", false},
		{"9.255.255.255", false},
		{"192.168.1.0", true},
		{"192.168.1.255", true},
		{"192.168.2.0", false},
		{"192.168.0.255", false},
		{"172.16.5.4", true},
		{"172.16.5.5", false},
		{"::ffff:10.1.2.3", true}, // IPv4-mapped matches the IPv4 prefix
		{"::ffff:11.1.2.3", false},
		{"2001:db8::1", true},
		{"2001:db8:ffff:ffff::1", true},
		{"2001:db9::1", false},
		{"::a00:1", false}, // IPv4-compatible is not IPv4
		{"fe80::1%eth0", false},
	}
	for _, c := range cases {
		a := netip.MustParseAddr(c.ip)
		if got := s.Contains(a); got != c.want {
			t.Errorf("Contains(%s) = %v, want %v", c.ip, got, c.want)
		}
	}
	if s.Contains(netip.Addr{}) {
		t.Error("invalid address contained")
	}
	if (&Scope{}).Contains(netip.MustParseAddr("10.0.0.1")) {
		t.Error("empty scope contains an address")
	}
}

func TestContainsZonedInsideScope(t *testing.T) {
	s, _ := Parse([]string{"fe80::/10"})
	if !s.Contains(netip.MustParseAddr("fe80::1%eth0")) {
		t.Error("zone should be ignored for membership")
	}
}

func TestParseDropsCoveredPrefixes(t *testing.T) {
	s, err := Parse([]string{"10.1.0.0/16", "2001:db8:1::/48", "10.0.0.0/8", "10.0.0.0/8", "10.1.2.3", "192.168.0.0/16", "2001:db8::/32", "::/0"})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "10.0.0.0/8,192.168.0.0/16,::/0" {
		t.Errorf("String() = %q", got)
	}
	if len(s.Prefixes()) != 3 {
		t.Errorf("Prefixes() = %v", s.Prefixes())
	}
	// ::/0 does not swallow IPv4 prefixes
	if !s.Contains(netip.MustParseAddr("10.9.9.9")) || s.Contains(netip.MustParseAddr("8.8.8.8")) {
		t.Error("IPv4 membership wrong next to ::/0")
	}
}

func TestParseAdjacentPrefixesKept(t *testing.T) {
	s, err := Parse([]string{"10.0.1.0/24", "10.0.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "10.0.0.0/24,10.0.1.0/24" {
		t.Errorf("String() = %q", got)
	}
}

func TestParseError(t *testing.T) {
	if _, err := Parse([]string{"10.0.0.0/8", "bogus"}); err == nil {
		t.Error("bad entry accepted")
	}
}
