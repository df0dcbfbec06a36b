// Package scan turns scanner output into host observations. Two inputs are
// understood: nmap's grepable format (-oG), with an optional "MAC:" field
// that our sweep wrapper appends, and a JSON list of host/port
// observations from agents and cloud inventories.
package scan

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Port is one open port on a host.
type Port struct {
	Number  int    `json:"port"`
	Proto   string `json:"proto"`
	Service string `json:"service,omitempty"`
}

// Observation says that a host was seen at a time, with what it showed.
type Observation struct {
	IP       netip.Addr
	MAC      string // normalised (lower-case, colon-separated) or ""
	Hostname string
	Ports    []Port
	SeenAt   time.Time // zero when the source gave no time
}

// NormaliseMAC returns mac in canonical lower-case colon form. An empty
// input, the all-zero address (what many tools print when they do not
// know) and the broadcast address yield "" with no error; anything else
// that is not an EUI-48 or EUI-64 address is an error.
func NormaliseMAC(mac string) (string, error) {
	mac = strings.TrimSpace(mac)
	if mac == "" {
		return "", nil
	}
	hw, err := net.ParseMAC(mac)
	if err != nil || (len(hw) != 6 && len(hw) != 8) {
		return "", fmt.Errorf("invalid MAC address %q", mac)
	}
	zero, bcast := true, true
	for _, b := range hw {
		zero = zero && b == 0x00
		bcast = bcast && b == 0xff
	}
	if zero || bcast {
		return "", nil
	}
	return hw.String(), nil
}

func parseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("invalid IP address %q", s)
	}
	return a.Unmap().WithZone(""), nil
}

// ParseGrepable reads nmap -oG output. Each "Host:" line is one
// observation; hosts reported "Status: Down" are skipped, comments (#)
// and blank lines ignored. Only open ports are kept ("open|filtered" is
// not evidence of a listening service).
func ParseGrepable(r io.Reader) ([]Observation, error) {
	var out []Observation
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		obs, keep, err := parseHostLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", lineNo, err)
		}
		if keep {
			out = append(out, obs)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// parseHostLine parses `Host: 10.0.0.5 (web1)<TAB>Status: Up` and
// `Host: 10.0.0.5 ()<TAB>Ports: 22/open/tcp//ssh///, ...<TAB>MAC: ...`.
func parseHostLine(line string) (Observation, bool, error) {
	var obs Observation
	fields := strings.Split(line, "\t")
	head := strings.TrimSpace(fields[0])
	if !strings.HasPrefix(head, "Host:") {
		return obs, false, fmt.Errorf("expected \"Host:\", got %q", head)
	}
	head = strings.TrimSpace(strings.TrimPrefix(head, "Host:"))
	addr, name := head, ""
	if i := strings.IndexByte(head, ' '); i >= 0 {
		addr, name = head[:i], strings.TrimSpace(head[i+1:])
		if !strings.HasPrefix(name, "(") || !strings.HasSuffix(name, ")") {
			return obs, false, fmt.Errorf("malformed hostname %q", name)
		}
		name = name[1 : len(name)-1]
	}
	ip, err := parseIP(addr)
	if err != nil {
		return obs, false, err
	}
	obs.IP, obs.Hostname = ip, name
	for _, f := range fields[1:] {
		key, val, ok := strings.Cut(f, ":")
		if !ok {
			continue // nmap adds free-form fields ("Ignored State: ..."); be lenient
		}
		val = strings.TrimSpace(val)
		switch strings.TrimSpace(key) {
		case "Status":
			if !strings.EqualFold(val, "up") {
				return obs, false, nil
			}
		case "Ports":
			ports, err := parsePorts(val)
			if err != nil {
				return obs, false, err
			}
			obs.Ports = ports
		case "MAC":
			if obs.MAC, err = NormaliseMAC(val); err != nil {
				return obs, false, err
			}
		}
	}
	return obs, true, nil
}

// parsePorts parses "22/open/tcp//ssh//OpenSSH 8.9/, 53/open/udp//domain///".
// Fields: port/state/protocol/owner/service/rpc info/version.
func parsePorts(s string) ([]Port, error) {
	var ports []Port
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		parts := strings.Split(entry, "/")
		if len(parts) < 3 {
			return nil, fmt.Errorf("malformed port entry %q", entry)
		}
		n, err := strconv.Atoi(parts[0])
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("invalid port number in %q", entry)
		}
		proto := strings.ToLower(parts[2])
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return nil, fmt.Errorf("unknown protocol in %q", entry)
		}
		if parts[1] != "open" {
			continue
		}
		p := Port{Number: n, Proto: proto}
		if len(parts) > 4 {
			p.Service = parts[4]
		}
		ports = append(ports, p)
	}
	return ports, nil
}

// jsonObservation is one element of the JSON input.
type jsonObservation struct {
	IP       string    `json:"ip"`
	MAC      string    `json:"mac"`
	Hostname string    `json:"hostname"`
	Port     int       `json:"port"`
	Proto    string    `json:"proto"`
	Service  string    `json:"service"`
	SeenAt   time.Time `json:"seen_at"`
}

// ParseJSON reads a JSON array of host/port observations:
//
//	[{"ip":"10.0.0.5","mac":"AA-BB-CC-00-11-22","hostname":"web1",
//	  "port":443,"proto":"tcp","service":"https","seen_at":"2024-05-01T10:00:00Z"}]
//
// "port" 0 or absent records the host alone; "proto" defaults to tcp.
// Errors name the offending element.
func ParseJSON(data []byte) ([]Observation, error) {
	var raw []jsonObservation
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("invalid JSON observations: %v", err)
	}
	out := make([]Observation, 0, len(raw))
	for i, r := range raw {
		ip, err := parseIP(r.IP)
		if err != nil {
			return nil, fmt.Errorf("observation %d: %v", i, err)
		}
		mac, err := NormaliseMAC(r.MAC)
		if err != nil {
			return nil, fmt.Errorf("observation %d: %v", i, err)
		}
		obs := Observation{IP: ip, MAC: mac, Hostname: strings.TrimSpace(r.Hostname)}
		if !r.SeenAt.IsZero() {
			obs.SeenAt = r.SeenAt.UTC()
		}
		if r.Port != 0 {
			if r.Port < 0 || r.Port > 65535 {
				return nil, fmt.Errorf("observation %d: port %d out of range", i, r.Port)
			}
			proto := strings.ToLower(r.Proto)
			if proto == "" {
				proto = "tcp"
			}
			if proto != "tcp" && proto != "udp" && proto != "sctp" {
				return nil, fmt.Errorf("observation %d: unknown protocol %q", i, r.Proto)
			}
			obs.Ports = []Port{{Number: r.Port, Proto: proto, Service: r.Service}}
		}
		out = append(out, obs)
	}
	return out, nil
}
