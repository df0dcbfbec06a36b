// Package scope parses the CIDR ranges a discovery deployment is allowed
// to record (IPv4 and IPv6) and answers membership questions.
package scope

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// Scope is a set of IPv4 and IPv6 prefixes. The zero Scope contains
// nothing.
type Scope struct {
	prefixes []netip.Prefix
}

// ParsePrefix parses one CIDR ("10.0.0.0/8", "2001:db8::/32") or a bare
// address, which is taken as a single-host prefix (/32 or /128).
// IPv4-mapped IPv6 input ("::ffff:10.0.0.0/104") is reduced to its IPv4
// form. A prefix with host bits set ("10.0.0.1/24") is rejected rather
// than silently widened, because it usually means a typo.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("scope: %q is not an address or CIDR", s)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("scope: %q: zoned addresses are not allowed", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("scope: %q is not a valid CIDR", s)
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("scope: %q: mapped prefix shorter than /96", s)
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("scope: %q has host bits set (did you mean %s?)", s, m)
	}
	return p, nil
}

// Parse builds a Scope from CIDR strings. Blank entries are ignored;
// duplicates and prefixes covered by a wider one are dropped.
func Parse(specs []string) (*Scope, error) {
	var ps []netip.Prefix
	for _, s := range specs {
		if strings.TrimSpace(s) == "" {
			continue
		}
		p, err := ParsePrefix(s)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	// widest first, so a covered prefix is always seen after its cover
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Addr().Is4() != ps[j].Addr().Is4() {
			return ps[i].Addr().Is4()
		}
		if ps[i].Bits() != ps[j].Bits() {
			return ps[i].Bits() < ps[j].Bits()
		}
		return ps[i].Addr().Less(ps[j].Addr())
	})
	sc := &Scope{}
	for _, p := range ps {
		covered := false
		for _, q := range sc.prefixes {
			if q.Bits() <= p.Bits() && q.Contains(p.Addr()) {
				covered = true
				break
			}
		}
		if !covered {
			sc.prefixes = append(sc.prefixes, p)
		}
	}
	return sc, nil
}

// Contains reports whether addr is inside any prefix. IPv4-mapped IPv6
// addresses match IPv4 prefixes; zones are ignored.
func (s *Scope) Contains(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	for _, p := range s.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Prefixes returns the normalised prefixes.
func (s *Scope) Prefixes() []netip.Prefix {
	return append([]netip.Prefix(nil), s.prefixes...)
}

// String lists the prefixes comma-separated.
func (s *Scope) String() string {
	parts := make([]string, len(s.prefixes))
	for i, p := range s.prefixes {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}
