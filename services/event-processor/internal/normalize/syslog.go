package normalize

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// syslogSeverity maps RFC 5424 severities (0 emergency .. 7 debug) onto
// the 0-10 scale.
var syslogSeverity = [8]int{10, 9, 8, 7, 5, 2, 1, 0}

var facilities = [24]string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "audit", "alert", "clock",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

// syslog parses an RFC 5424 line:
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]
//
// "-" stands for a missing header field. Structured data
// [id k="v" ...] is flattened into Fields as "id.k"; parameters named
// user, src, dst, action and outcome (in any element) fill the schema's
// fields. A MSG starting with "CEF:" is parsed as CEF.
func (n *Normalizer) syslog(line string) (Event, error) {
	fail := func(format string, args ...interface{}) (Event, error) {
		return Event{}, fmt.Errorf("syslog: "+format, args...)
	}
	end := strings.IndexByte(line, '>')
	if end < 2 || end > 4 {
		return fail("malformed PRI")
	}
	pri, err := strconv.Atoi(line[1:end])
	if err != nil || pri < 0 || pri > 191 || (len(line[1:end]) > 1 && line[1] == '0') {
		return fail("invalid PRI %q", line[1:end])
	}
	rest := line[end+1:]
	var hdr [6]string // version, timestamp, hostname, app, procid, msgid
	for i := range hdr {
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 {
			return fail("truncated header")
		}
		hdr[i], rest = rest[:sp], rest[sp+1:]
		if hdr[i] == "" {
			return fail("empty header field %d", i+1)
		}
	}
	if hdr[0] != "1" {
		return fail("unsupported version %q (only RFC 5424 version 1)", hdr[0])
	}
	ev := Event{Format: FormatSyslog, Fields: map[string]string{}}
	ev.Severity = syslogSeverity[pri%8]
	ev.Fields["facility"] = facilities[pri/8]
	if hdr[1] == "-" {
		ev.Time = n.received()
		ev.Fields["time_source"] = "received"
	} else {
		t, err := parseRFC3339(hdr[1])
		if err != nil {
			return fail("invalid timestamp %q", hdr[1])
		}
		ev.Time = t
	}
	nilable := func(s string) string {
		if s == "-" {
			return ""
		}
		return s
	}
	ev.Host, ev.Source, ev.Action = nilable(hdr[2]), nilable(hdr[3]), nilable(hdr[5])
	if p := nilable(hdr[4]); p != "" {
		ev.Fields["procid"] = p
	}
	msg, err := parseSD(rest, ev.Fields)
	if err != nil {
		return fail("%v", err)
	}
	msg = strings.TrimPrefix(msg, "\ufeff")
	if strings.HasPrefix(msg, "CEF:") {
		return n.cef(msg, ev.Time, ev.Host)
	}
	ev.Message = msg
	for _, f := range []struct {
		key string
		dst *string
	}{{"user", &ev.User}, {"action", &ev.Action}, {"outcome", &ev.Outcome}} {
		if v := sdParam(ev.Fields, f.key); v != "" {
			*f.dst = v
		}
	}
	ev.SrcIP, ev.DstIP = ip(sdParam(ev.Fields, "src")), ip(sdParam(ev.Fields, "dst"))
	ev.Outcome = normaliseOutcome(ev.Outcome)
	finish(&ev)
	return ev, nil
}

// parseRFC3339 accepts RFC 3339 timestamps with at most 6 fractional
// digits, as RFC 5424 requires.
func parseRFC3339(s string) (time.Time, error) {
	if dot := strings.IndexByte(s, '.'); dot >= 0 {
		digits := 0
		for i := dot + 1; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			digits++
		}
		if digits == 0 || digits > 6 {
			return time.Time{}, errors.New("bad fraction")
		}
	}
	return time.Parse(time.RFC3339Nano, s)
}

// sdParam finds "<id>.<name>" among the flattened structured data; when
// several elements carry it, the first SD-ID in sort order wins, so the
// result does not depend on map order.
func sdParam(fields map[string]string, name string) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if i := strings.LastIndexByte(k, '.'); i > 0 && k[i+1:] == name {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	sort.Strings(keys)
	return fields[keys[0]]
}

// parseSD parses STRUCTURED-DATA at the start of s into fields and returns
// the MSG after it.
func parseSD(s string, fields map[string]string) (string, error) {
	if s == "-" || strings.HasPrefix(s, "- ") {
		if len(s) > 2 {
			return s[2:], nil
		}
		return "", nil
	}
	if !strings.HasPrefix(s, "[") {
		return "", errors.New("structured data must be \"-\" or start with \"[\"")
	}
	i := 0
	for i < len(s) && s[i] == '[' {
		i++
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != ']' {
			j++
		}
		id := s[i:j]
		if id == "" || j >= len(s) {
			return "", errors.New("malformed SD-ELEMENT")
		}
		i = j
		for i < len(s) && s[i] == ' ' {
			i++
			eq := strings.IndexByte(s[i:], '=')
			if eq <= 0 || i+eq+1 >= len(s) || s[i+eq+1] != '"' {
				return "", fmt.Errorf("malformed SD-PARAM in [%s]", id)
			}
			name := s[i : i+eq]
			i += eq + 2
			var val strings.Builder
			for {
				if i >= len(s) {
					return "", fmt.Errorf("unterminated value of %s.%s", id, name)
				}
				c := s[i]
				if c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\' || s[i+1] == ']') {
					val.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '"' {
					break
				}
				val.WriteByte(c)
			}
			fields[id+"."+name] = val.String()
		}
		if i >= len(s) || s[i] != ']' {
			return "", fmt.Errorf("unterminated SD-ELEMENT [%s", id)
		}
		i++
	}
	if i == len(s) {
		return "", nil
	}
	if s[i] != ' ' {
		return "", errors.New("expected a space after structured data")
	}
	return s[i+1:], nil
}

// normaliseOutcome folds the many spellings of success and failure.
func normaliseOutcome(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "success", "succeeded", "successful", "ok", "allow", "allowed", "accept", "accepted", "pass":
		return "success"
	case "failure", "fail", "failed", "deny", "denied", "reject", "rejected", "block", "blocked", "drop", "dropped", "error":
		return "failure"
	}
	return ""
}
