// Package flow parses NetFlow-like flow records and analyses them: per-host
// statistics and detectors for port scans, beaconing and exfiltration.
//
// Records come as CSV with a header row, a JSON array of objects or
// newline-delimited JSON. Field names follow the usual exporters' spellings
// (nfdump, NetFlow v5, Zeek-like): see aliases. A record is one direction
// of a conversation: Bytes and Packets went from Src to Dst.
package flow

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Flow is one unidirectional flow record.
type Flow struct {
	Start   time.Time  `json:"start"`
	End     time.Time  `json:"end"`
	Src     netip.Addr `json:"src_ip"`
	Dst     netip.Addr `json:"dst_ip"`
	SrcPort uint16     `json:"src_port"`
	DstPort uint16     `json:"dst_port"`
	Proto   string     `json:"proto"`
	Bytes   uint64     `json:"bytes"`
	Packets uint64     `json:"packets"`
}

// aliases maps accepted field names (lower case) to canonical ones.
var aliases = map[string]string{
	"start": "start", "ts": "start", "start_time": "start", "first_switched": "start", "stime": "start", "first": "start",
	"end": "end", "end_time": "end", "last_switched": "end", "etime": "end", "last": "end",
	"src_ip": "src_ip", "srcaddr": "src_ip", "sa": "src_ip", "src": "src_ip", "source_ip": "src_ip",
	"dst_ip": "dst_ip", "dstaddr": "dst_ip", "da": "dst_ip", "dst": "dst_ip", "destination_ip": "dst_ip",
	"src_port": "src_port", "srcport": "src_port", "sp": "src_port",
	"dst_port": "dst_port", "dstport": "dst_port", "dp": "dst_port",
	"proto": "proto", "protocol": "proto", "pr": "proto",
	"bytes": "bytes", "octets": "bytes", "doctets": "bytes", "ibyt": "bytes", "in_bytes": "bytes",
	"packets": "packets", "pkts": "packets", "dpkts": "packets", "ipkt": "packets", "in_pkts": "packets",
}

var protoNames = map[string]string{"1": "icmp", "6": "tcp", "17": "udp", "58": "icmp6"}

// RecordError reports one bad record; Record is 1-based (the CSV header
// is not counted).
type RecordError struct {
	Record int    `json:"record"`
	Error  string `json:"error"`
}

// FromFields builds a flow from canonical-or-alias field names. Start,
// src_ip and dst_ip are required; a missing end equals start.
func FromFields(fields map[string]string) (Flow, error) {
	canon := make(map[string]string, len(fields))
	for k, v := range fields {
		if c, ok := aliases[strings.ToLower(strings.TrimSpace(k))]; ok {
			canon[c] = strings.TrimSpace(v)
		}
	}
	var f Flow
	var err error
	if f.Start, err = parseTime(canon["start"]); err != nil {
		return f, fmt.Errorf("start: %v", err)
	}
	f.End = f.Start
	if canon["end"] != "" {
		if f.End, err = parseTime(canon["end"]); err != nil {
			return f, fmt.Errorf("end: %v", err)
		}
		if f.End.Before(f.Start) {
			return f, errors.New("end is before start")
		}
	}
	for _, a := range []struct {
		name string
		dst  *netip.Addr
	}{{"src_ip", &f.Src}, {"dst_ip", &f.Dst}} {
		addr, err := netip.ParseAddr(canon[a.name])
		if err != nil {
			return f, fmt.Errorf("%s: %q is not an IP address", a.name, canon[a.name])
		}
		*a.dst = addr.Unmap()
	}
	for _, p := range []struct {
		name string
		dst  *uint16
	}{{"src_port", &f.SrcPort}, {"dst_port", &f.DstPort}} {
		if v := canon[p.name]; v != "" {
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil {
				return f, fmt.Errorf("%s: %q is not a port", p.name, v)
			}
			*p.dst = uint16(n)
		}
	}
	for _, c := range []struct {
		name string
		dst  *uint64
	}{{"bytes", &f.Bytes}, {"packets", &f.Packets}} {
		if v := canon[c.name]; v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return f, fmt.Errorf("%s: %q is not a non-negative integer", c.name, v)
			}
			*c.dst = n
		}
	}
	f.Proto = strings.ToLower(canon["proto"])
	if name, ok := protoNames[f.Proto]; ok {
		f.Proto = name
	}
	return f, nil
}

// parseTime accepts RFC 3339, "2006-01-02 15:04:05[.000]" (UTC) and Unix
// seconds with an optional fraction.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("required")
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		if secs < 0 || secs > 1e11 || math.IsNaN(secs) {
			return time.Time{}, fmt.Errorf("%q is out of range", s)
		}
		whole, frac := math.Modf(secs)
		return time.Unix(int64(whole), int64(math.Round(frac*1e6))*1e3).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time", s)
}

// ParseCSV reads CSV with a header row. Bad records are reported, not
// fatal; an unreadable header is.
func ParseCSV(r io.Reader) ([]Flow, []RecordError, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	header, err := cr.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("csv header: %w", err)
	}
	var flows []Flow
	var errs []RecordError
	for n := 1; ; n++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) { // bad quoting: skip the record, keep reading
				errs = append(errs, RecordError{n, err.Error()})
				continue
			}
			return flows, errs, fmt.Errorf("csv: %w", err)
		}
		if len(rec) != len(header) {
			errs = append(errs, RecordError{n, fmt.Sprintf("%d fields, header has %d", len(rec), len(header))})
			continue
		}
		fields := make(map[string]string, len(header))
		for i, h := range header {
			fields[h] = rec[i]
		}
		f, err := FromFields(fields)
		if err != nil {
			errs = append(errs, RecordError{n, err.Error()})
			continue
		}
		flows = append(flows, f)
	}
	return flows, errs, nil
}

// ParseJSON reads a JSON array of objects or newline-delimited objects.
// Values may be strings or numbers.
func ParseJSON(r io.Reader) ([]Flow, []RecordError, error) {
	br := bufio.NewReader(r)
	first, err := peekNonSpace(br)
	if err == io.EOF {
		return nil, nil, errors.New("empty body")
	} else if err != nil {
		return nil, nil, fmt.Errorf("json: %w", err)
	}
	var raws []json.RawMessage
	if first == '[' {
		if err := json.NewDecoder(br).Decode(&raws); err != nil {
			return nil, nil, fmt.Errorf("json: %w", err)
		}
	} else {
		dec := json.NewDecoder(br)
		for {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err == io.EOF {
				break
			} else if err != nil {
				return nil, nil, fmt.Errorf("json: %w", err)
			}
			raws = append(raws, raw)
		}
	}
	var flows []Flow
	var errs []RecordError
	for i, raw := range raws {
		var obj map[string]interface{}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil || obj == nil {
			errs = append(errs, RecordError{i + 1, "not a JSON object"})
			continue
		}
		fields := make(map[string]string, len(obj))
		for k, v := range obj {
			switch v := v.(type) {
			case string:
				fields[k] = v
			case json.Number:
				fields[k] = v.String()
			case nil:
			default:
				fields[k] = fmt.Sprint(v)
			}
		}
		f, err := FromFields(fields)
		if err != nil {
			errs = append(errs, RecordError{i + 1, err.Error()})
			continue
		}
		flows = append(flows, f)
	}
	return flows, errs, nil
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
			return b, br.UnreadByte()
		}
	}
}

// Buffer holds the most recent flows, up to a capacity, in arrival order.
// It is safe for concurrent use.
type Buffer struct {
	mu      sync.Mutex
	flows   []Flow
	next    int // ring position of the oldest flow once full
	cap     int
	evicted uint64
}

// NewBuffer returns a buffer holding at most capacity flows.
func NewBuffer(capacity int) *Buffer {
	if capacity < 1 {
		capacity = 1
	}
	return &Buffer{cap: capacity}
}

// Add appends flows, overwriting the oldest when full.
func (b *Buffer) Add(flows []Flow) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, f := range flows {
		if len(b.flows) < b.cap {
			b.flows = append(b.flows, f)
			continue
		}
		b.flows[b.next] = f
		b.next = (b.next + 1) % b.cap
		b.evicted++
	}
}

// Snapshot returns a copy of the held flows, oldest first.
func (b *Buffer) Snapshot() []Flow {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Flow, 0, len(b.flows))
	out = append(out, b.flows[b.next:]...)
	return append(out, b.flows[:b.next]...)
}

// Len returns the number of flows held and how many were evicted.
func (b *Buffer) Len() (held int, evicted uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.flows), b.evicted
}
