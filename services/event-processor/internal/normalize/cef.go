package normalize

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// cefLabelSeverity maps CEF's severity words to the top of their band.
var cefLabelSeverity = map[string]int{"low": 3, "medium": 6, "high": 8, "very-high": 10}

var cefKeyRE = regexp.MustCompile(`^[A-Za-z0-9_.\[\]-]+$`)

// cefTimeLayouts are the rt/start/end formats CEF allows besides epoch
// milliseconds. Times without a zone are in the Normalizer's Local zone.
var cefTimeLayouts = []string{
	"Jan 2 2006 15:04:05.000 -0700",
	"Jan 2 2006 15:04:05 -0700",
	"Jan 2 2006 15:04:05.000",
	"Jan 2 2006 15:04:05",
	time.RFC3339Nano,
}

// cef parses "CEF:Version|Vendor|Product|Version|SignatureID|Name|Severity|Extension".
// fallbackTime and fallbackHost come from an enclosing syslog header.
func (n *Normalizer) cef(s string, fallbackTime time.Time, fallbackHost string) (Event, error) {
	fail := func(format string, args ...interface{}) (Event, error) {
		return Event{}, fmt.Errorf("cef: "+format, args...)
	}
	hdr, ext, err := splitCEFHeader(strings.TrimPrefix(s, "CEF:"))
	if err != nil {
		return fail("%v", err)
	}
	if hdr[0] != "0" && hdr[0] != "1" {
		return fail("unsupported version %q", hdr[0])
	}
	sev, err := cefSeverity(hdr[6])
	if err != nil {
		return fail("%v", err)
	}
	kv, err := parseExtension(ext)
	if err != nil {
		return fail("%v", err)
	}
	ev := Event{
		Format:   FormatCEF,
		Source:   strings.TrimSpace(hdr[1] + " " + hdr[2]),
		Action:   hdr[5],
		Message:  hdr[5],
		Severity: sev,
		Fields:   map[string]string{"signature_id": hdr[4], "product_version": hdr[3]},
	}
	for k, v := range kv {
		ev.Fields[k] = v
	}
	switch {
	case kv["rt"] != "":
		ev.Time, err = n.cefTime(kv["rt"])
	case kv["start"] != "":
		ev.Time, err = n.cefTime(kv["start"])
	case !fallbackTime.IsZero():
		ev.Time = fallbackTime
	default:
		ev.Time = n.received()
		ev.Fields["time_source"] = "received"
	}
	if err != nil {
		return fail("%v", err)
	}
	ev.Host = firstOf(kv["dvchost"], kv["dhost"], fallbackHost)
	ev.User = firstOf(kv["suser"], kv["duser"])
	ev.Action = firstOf(kv["act"], ev.Action)
	ev.Message = firstOf(kv["msg"], ev.Message)
	ev.SrcIP, ev.DstIP = ip(kv["src"]), ip(kv["dst"])
	// devices that log no outcome still say what they did: act=deny is a failure
	ev.Outcome = normaliseOutcome(firstOf(kv["outcome"], kv["act"]))
	finish(&ev)
	return ev, nil
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// splitCEFHeader splits the seven header fields at unescaped pipes,
// unescaping \| and \\, and returns the raw extension.
func splitCEFHeader(s string) ([7]string, string, error) {
	var hdr [7]string
	var cur strings.Builder
	field := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == '|' || s[i+1] == '\\') {
			cur.WriteByte(s[i+1])
			i++
			continue
		}
		if c == '|' {
			hdr[field] = cur.String()
			cur.Reset()
			field++
			if field == 7 {
				return hdr, s[i+1:], nil
			}
			continue
		}
		cur.WriteByte(c)
	}
	return hdr, "", fmt.Errorf("header has %d of 7 fields", field)
}

func cefSeverity(s string) (int, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 10 {
			return 0, fmt.Errorf("severity %d outside 0-10", n)
		}
		return n, nil
	}
	if n, ok := cefLabelSeverity[strings.ToLower(s)]; ok {
		return n, nil
	}
	return 0, fmt.Errorf("invalid severity %q", s)
}

// parseExtension parses "k1=v1 k2=a value with spaces k3=v3". A value
// runs to the space before the next key; \= \\ \n \r are unescaped. An
// unescaped '=' that is not preceded by a valid key stays in the value.
func parseExtension(s string) (map[string]string, error) {
	out := map[string]string{}
	s = strings.TrimLeft(s, " ")
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	type pair struct{ keyStart, eq int }
	var pairs []pair
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] != '=' {
			continue
		}
		// the key is the word before '='; a "word" that reaches back over an
		// earlier '=' contains it and fails the key pattern
		ks := strings.LastIndexByte(s[:i], ' ') + 1
		if cefKeyRE.MatchString(s[ks:i]) {
			pairs = append(pairs, pair{ks, i})
		}
	}
	if len(pairs) == 0 || pairs[0].keyStart != 0 {
		return nil, errors.New("extension must start with key=value")
	}
	for i, p := range pairs {
		end := len(s)
		if i+1 < len(pairs) {
			end = pairs[i+1].keyStart - 1
		}
		out[s[p.keyStart:p.eq]] = unescapeExt(strings.TrimRight(s[p.eq+1:end], " "))
	}
	return out, nil
}

func unescapeExt(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			switch v[i+1] {
			case '=', '\\':
				b.WriteByte(v[i+1])
				i++
				continue
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			case 'r':
				b.WriteByte('\r')
				i++
				continue
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// cefTime parses epoch milliseconds or one of cefTimeLayouts. A trailing
// "UTC", "GMT" or "Z" zone name is taken as UTC.
func (n *Normalizer) cefTime(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	loc := n.Local
	if loc == nil {
		loc = time.UTC
	}
	for _, z := range []string{" UTC", " GMT", " Z"} {
		if strings.HasSuffix(v, z) {
			v, loc = strings.TrimSuffix(v, z), time.UTC
			break
		}
	}
	for _, layout := range cefTimeLayouts {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised time %q", v)
}
