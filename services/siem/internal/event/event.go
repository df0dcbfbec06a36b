// Package event defines the SIEM's normalised event: the common shape every
// log source (IDS, firewall, auth, EDR) is mapped to before ingestion, so
// that search and correlation can join them on the same field names.
package event

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Limits on one event, so a noisy or hostile source cannot bloat the store.
const (
	MaxFields     = 32
	MaxValueBytes = 1024
	MaxFutureSkew = 5 * time.Minute
)

// Event is one normalised log event.
type Event struct {
	ID      string            `json:"id,omitempty"` // assigned by the store
	Time    time.Time         `json:"time"`
	Source  string            `json:"source"` // the log source: "ids", "auth", "firewall", ...
	Type    string            `json:"type"`   // what happened: "port_scan", "login", ...
	Outcome string            `json:"outcome,omitempty"`
	Host    string            `json:"host,omitempty"`
	User    string            `json:"user,omitempty"`
	SrcIP   string            `json:"src_ip,omitempty"`
	DstIP   string            `json:"dst_ip,omitempty"`
	DstPort int               `json:"dst_port,omitempty"`
	Message string            `json:"message,omitempty"`
	Fields  map[string]string `json:"fields,omitempty"`

	Seq uint64 `json:"-"` // arrival order, breaks ties between equal times
}

// Normalise validates e and puts it in canonical form: names trimmed and
// lower-cased, IP addresses in canonical text form (IPv4-mapped IPv6
// unmapped), time in UTC. A missing time becomes now; a time more than
// MaxFutureSkew ahead of now is rejected.
func (e *Event) Normalise(now time.Time) error {
	e.Source = strings.ToLower(strings.TrimSpace(e.Source))
	e.Type = strings.ToLower(strings.TrimSpace(e.Type))
	e.Outcome = strings.ToLower(strings.TrimSpace(e.Outcome))
	e.Host = strings.ToLower(strings.TrimSpace(e.Host))
	e.User = strings.TrimSpace(e.User)
	if e.Source == "" {
		return fmt.Errorf("source is required")
	}
	if e.Type == "" {
		return fmt.Errorf("type is required")
	}
	if e.Time.IsZero() {
		e.Time = now
	}
	e.Time = e.Time.UTC()
	if e.Time.After(now.Add(MaxFutureSkew)) {
		return fmt.Errorf("time %s is in the future", e.Time.Format(time.RFC3339))
	}
	for _, ip := range []*string{&e.SrcIP, &e.DstIP} {
		if *ip == "" {
			continue
		}
		addr, err := netip.ParseAddr(strings.TrimSpace(*ip))
		if err != nil {
			return fmt.Errorf("invalid IP address %q", *ip)
		}
		*ip = addr.Unmap().String()
	}
	if e.DstPort < 0 || e.DstPort > 65535 {
		return fmt.Errorf("dst_port %d out of range", e.DstPort)
	}
	if len(e.Fields) > MaxFields {
		return fmt.Errorf("more than %d fields", MaxFields)
	}
	for k, v := range e.Fields {
		if k == "" || len(k) > 64 || len(v) > MaxValueBytes {
			return fmt.Errorf("field %q: names must be 1-64 bytes, values at most %d", k, MaxValueBytes)
		}
		if _, builtin := builtins[k]; builtin {
			return fmt.Errorf("field %q shadows a built-in field", k)
		}
	}
	if len(e.Message) > 4*MaxValueBytes {
		return fmt.Errorf("message longer than %d bytes", 4*MaxValueBytes)
	}
	return nil
}

var builtins = map[string]func(e *Event) string{
	"id":       func(e *Event) string { return e.ID },
	"source":   func(e *Event) string { return e.Source },
	"type":     func(e *Event) string { return e.Type },
	"outcome":  func(e *Event) string { return e.Outcome },
	"host":     func(e *Event) string { return e.Host },
	"user":     func(e *Event) string { return e.User },
	"src_ip":   func(e *Event) string { return e.SrcIP },
	"dst_ip":   func(e *Event) string { return e.DstIP },
	"dst_port": func(e *Event) string { return portString(e.DstPort) },
}

func portString(p int) string {
	if p == 0 {
		return ""
	}
	return strconv.Itoa(p)
}

// Get returns a field's value by name: a built-in field ("src_ip",
// "type", ...) or an entry of Fields. Missing fields are "".
func (e *Event) Get(field string) string {
	if get, ok := builtins[field]; ok {
		return get(e)
	}
	return e.Fields[field]
}

// Before orders events by time, then arrival.
func (e *Event) Before(o *Event) bool {
	if !e.Time.Equal(o.Time) {
		return e.Time.Before(o.Time)
	}
	return e.Seq < o.Seq
}
