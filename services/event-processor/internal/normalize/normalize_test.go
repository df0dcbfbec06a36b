package normalize

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var received = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

func testNormalizer() *Normalizer {
	berlin := time.FixedZone("CEST", 2*3600)
	return &Normalizer{Now: func() time.Time { return received.In(berlin) }, Local: berlin}
}

func one(t *testing.T, raw string) Event {
	t.Helper()
	evs, err := testNormalizer().Normalize([]byte(raw))
	if err != nil {
		t.Fatalf("Normalize(%q): %v", raw, err)
	}
	if len(evs) != 1 {
		t.Fatalf("got %d events", len(evs))
	}
	if evs[0].Time.Location() != time.UTC {
		t.Errorf("time %v is not UTC", evs[0].Time)
	}
	return evs[0]
}

func TestLabel(t *testing.T) {
	want := []string{"info", "info", "low", "low", "medium", "medium", "medium", "high", "high", "critical", "critical"}
	for sev, w := range want {
		if got := Label(sev); got != w {
			t.Errorf("Label(%d) = %s, want %s", sev, got, w)
		}
	}
}

func TestSyslogRFC5424(t *testing.T) {
	ev := one(t, `<34>1 2003-10-11T22:14:15.003-07:00 mymachine.example.com su 4711 ID47 [exampleSDID@32473 iut="3" eventSource="Application" user="lonvick"][origin src="192.0.2.7" outcome="failed"] `+"\ufeff"+`'su root' failed for lonvick on /dev/pts/8`)
	want := Event{
		Time:   time.Date(2003, 10, 12, 5, 14, 15, 3e6, time.UTC),
		Format: FormatSyslog, Host: "mymachine.example.com", Source: "su", Action: "ID47",
		Outcome: "failure", Severity: 8, SeverityLabel: "high", User: "lonvick", SrcIP: "192.0.2.7",
		Message: "'su root' failed for lonvick on /dev/pts/8",
		Fields: map[string]string{
			"facility": "auth", "procid": "4711",
			"exampleSDID@32473.iut": "3", "exampleSDID@32473.eventSource": "Application",
			"exampleSDID@32473.user": "lonvick", "origin.src": "192.0.2.7", "origin.outcome": "failed",
		},
	}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("got  %+v\nwant %+v", ev, want)
	}
}

func TestSyslogNilFieldsAndSeverities(t *testing.T) {
	ev := one(t, "<165>1 - - - - - -")
	if !ev.Time.Equal(received) || ev.Fields["time_source"] != "received" {
		t.Errorf("nil timestamp should use the receive time: %+v", ev)
	}
	if ev.Host != "" || ev.Source != "" || ev.Action != "" || ev.Message != "" || ev.Fields["facility"] != "local4" {
		t.Errorf("nil fields = %+v", ev)
	}
	if ev.Severity != 2 || ev.SeverityLabel != "low" { // 165 = local4.notice
		t.Errorf("severity = %d %s", ev.Severity, ev.SeverityLabel)
	}
	for pri, sev := range map[string]int{"0": 10, "1": 9, "2": 8, "3": 7, "4": 5, "5": 2, "6": 1, "7": 0, "191": 0, "190": 1, "184": 10} {
		if got := one(t, "<"+pri+">1 2024-01-01T00:00:00Z h a - - - m").Severity; got != sev {
			t.Errorf("PRI %s: severity %d, want %d", pri, got, sev)
		}
	}
	if got := one(t, "<13>1 2024-01-01T00:00:00Z h a - - - hello world").Message; got != "hello world" {
		t.Errorf("message = %q", got)
	}
	if got := one(t, "<13>1 2024-01-01T00:00:00.123456+05:30 h a - - [x@1 a=\"b\"]").Time; !got.Equal(time.Date(2023, 12, 31, 18, 30, 0, 123456e3, time.UTC)) {
		t.Errorf("time = %v", got)
	}
}

func TestSyslogStructuredDataEscapes(t *testing.T) {
	ev := one(t, `<13>1 2024-01-01T00:00:00Z h a - - [x@1 q="say \"hi\"" b="back\\slash" br="a\]b" other="c:\temp" empty=""] m`)
	want := map[string]string{"x@1.q": `say "hi"`, "x@1.b": `back\slash`, "x@1.br": "a]b", "x@1.other": `c:\temp`, "x@1.empty": ""}
	for k, v := range want {
		if ev.Fields[k] != v {
			t.Errorf("%s = %q, want %q", k, ev.Fields[k], v)
		}
	}
	if ev.Message != "m" {
		t.Errorf("message = %q", ev.Message)
	}
	// with two elements naming "user", the first SD-ID in order wins, every time
	for i := 0; i < 20; i++ {
		if u := one(t, `<13>1 2024-01-01T00:00:00Z h a - - [zz user="z"][aa user="a"]`).User; u != "a" {
			t.Fatalf("user = %q", u)
		}
	}
	if ev := one(t, `<13>1 2024-01-01T00:00:00Z h a - - [x@1]`); ev.Message != "" || ev.Fields["facility"] != "user" {
		t.Errorf("param-less element = %+v", ev)
	}
}

func TestSyslogErrors(t *testing.T) {
	cases := map[string]string{
		"<>1 - - - - - -":                              "malformed PRI",
		"<1234>1 - - - - - -":                          "malformed PRI",
		"<192>1 - - - - - -":                           "invalid PRI",
		"<01>1 - - - - - -":                            "invalid PRI",
		"<a1>1 - - - - - -":                            "invalid PRI",
		"<13>1 - - -":                                  "truncated header",
		"<13>1  - - - - -":                             "empty header field 2",
		"<13>2 - - - - - -":                            "unsupported version",
		"<13>Oct 11 22:14:15 host su: bsd format":      "unsupported version",
		"<13>1 2024-01-01 h a - - -":                   "invalid timestamp",
		"<13>1 2024-01-01T00:00:00 h a - - -":          "invalid timestamp",
		"<13>1 2024-01-01T00:00:00.1234567Z h a - - -": "invalid timestamp",
		"<13>1 2024-01-01T00:00:00.Z h a - - -":        "invalid timestamp",
		"<13>1 - h a - - x":                            "must be \"-\" or start with \"[\"",
		"<13>1 - h a - - [":                            "malformed SD-ELEMENT",
		"<13>1 - h a - - [x a]":                        "malformed SD-PARAM",
		"<13>1 - h a - - [x a=b]":                      "malformed SD-PARAM",
		"<13>1 - h a - - [x a=\"b]":                    "unterminated value",
		"<13>1 - h a - - [x a=\"b\"":                   "unterminated SD-ELEMENT",
		"<13>1 - h a - - [x a=\"b\"x]":                 "unterminated SD-ELEMENT",
		"<13>1 - h a - - [x a=\"b\"]msg":               "expected a space",
	}
	for in, want := range cases {
		_, err := testNormalizer().Normalize([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "syslog: ") {
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
}

func TestCEF(t *testing.T) {
	ev := one(t, `CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|src=10.0.0.1 dst=2001:db8::2 spt=1232 suser=alice act=blocked outcome=success msg=Worm stopped on host a\=b rt=1700000000123 cs1Label=note cs1=a value with spaces`)
	want := Event{
		Time:   time.UnixMilli(1700000000123).UTC(),
		Format: FormatCEF, Source: "Security threatmanager", Action: "blocked", Outcome: "success",
		Severity: 10, SeverityLabel: "critical", User: "alice", SrcIP: "10.0.0.1", DstIP: "2001:db8::2",
		Message: "Worm stopped on host a=b",
		Fields: map[string]string{
			"signature_id": "100", "product_version": "1.0",
			"src": "10.0.0.1", "dst": "2001:db8::2", "spt": "1232", "suser": "alice", "act": "blocked",
			"outcome": "success", "msg": "Worm stopped on host a=b", "rt": "1700000000123",
			"cs1Label": "note", "cs1": "a value with spaces",
		},
	}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("got  %+v\nwant %+v", ev, want)
	}
}

func TestCEFHeaderEscapesAndDefaults(t *testing.T) {
	ev := one(t, `CEF:0|Pipe\|Corp|Back\\slash|2|sig-1|Login \| failed|Medium|`)
	if ev.Source != `Pipe|Corp Back\slash` || ev.Action != "Login | failed" || ev.Message != "Login | failed" {
		t.Errorf("header = %+v", ev)
	}
	if ev.Severity != 6 || ev.SeverityLabel != "medium" {
		t.Errorf("Medium severity = %d", ev.Severity)
	}
	if !ev.Time.Equal(received) || ev.Fields["time_source"] != "received" {
		t.Errorf("no rt: time = %v", ev.Time)
	}
	for label, sev := range map[string]int{"Low": 3, "HIGH": 8, "Very-High": 10, "0": 0, " 7 ": 7} {
		if got := one(t, "CEF:0|v|p|1|s|n|"+label+"|").Severity; got != sev {
			t.Errorf("severity %q = %d, want %d", label, got, sev)
		}
	}
}

func TestCEFExtensionEdgeCases(t *testing.T) {
	cases := []struct {
		ext  string
		want map[string]string
	}{
		{"", map[string]string{}},
		{"   ", map[string]string{}},
		{"a=1", map[string]string{"a": "1"}},
		{"a=", map[string]string{"a": ""}},
		{"a= b=2", map[string]string{"a": "", "b": "2"}},
		{"request=http://x/?q=1&r=2 b=2", map[string]string{"request": "http://x/?q=1&r=2", "b": "2"}},
		{`msg=line1\nline2\r c=\\d`, map[string]string{"msg": "line1\nline2\r", "c": `\d`}},
		{`msg=not\=a key=v`, map[string]string{"msg": "not=a", "key": "v"}},
		{"msg=1 + 1 = 2 n=3", map[string]string{"msg": "1 + 1 = 2", "n": "3"}},
		{"ad.field[0]=x trailing=y  ", map[string]string{"ad.field[0]": "x", "trailing": "y"}},
		{`path=C:\\dir\\file`, map[string]string{"path": `C:\dir\file`}},
		{`odd=end\`, map[string]string{"odd": `end\`}},
	}
	for _, c := range cases {
		got, err := parseExtension(c.ext)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseExtension(%q) = %v, %v; want %v", c.ext, got, err, c.want)
		}
	}
	for _, bad := range []string{"novalue", "lead text a=1", "=1"} {
		if _, err := parseExtension(bad); err == nil {
			t.Errorf("parseExtension(%q) accepted", bad)
		}
	}
}

func TestCEFTimes(t *testing.T) {
	cases := map[string]time.Time{
		"rt=1700000000000":                     time.Unix(1700000000, 0).UTC(),
		"rt=Sep 19 2024 08:26:10":              time.Date(2024, 9, 19, 6, 26, 10, 0, time.UTC), // Local is UTC+2
		"rt=Sep 09 2024 08:26:10.250":          time.Date(2024, 9, 9, 6, 26, 10, 250e6, time.UTC),
		"rt=Sep 9 2024 08:26:10 UTC":           time.Date(2024, 9, 9, 8, 26, 10, 0, time.UTC),
		"rt=Sep 19 2024 08:26:10 GMT":          time.Date(2024, 9, 19, 8, 26, 10, 0, time.UTC),
		"rt=Sep 19 2024 08:26:10 -0500":        time.Date(2024, 9, 19, 13, 26, 10, 0, time.UTC),
		"rt=Sep 19 2024 08:26:10.000 +0100":    time.Date(2024, 9, 19, 7, 26, 10, 0, time.UTC),
		"rt=2024-09-19T08:26:10+02:00":         time.Date(2024, 9, 19, 6, 26, 10, 0, time.UTC),
		"start=1700000000000":                  time.Unix(1700000000, 0).UTC(),
		"rt=1700000000000 start=1600000000000": time.Unix(1700000000, 0).UTC(), // rt wins
	}
	for ext, want := range cases {
		if got := one(t, "CEF:0|v|p|1|s|n|5|"+ext).Time; !got.Equal(want) {
			t.Errorf("%s: time = %v, want %v", ext, got, want)
		}
	}
	n := &Normalizer{Now: time.Now} // nil Local means UTC
	evs, err := n.Normalize([]byte("CEF:0|v|p|1|s|n|5|rt=Sep 19 2024 08:26:10"))
	if err != nil || !evs[0].Time.Equal(time.Date(2024, 9, 19, 8, 26, 10, 0, time.UTC)) {
		t.Errorf("nil Local: %v %v", evs, err)
	}
}

func TestCEFInsideSyslog(t *testing.T) {
	ev := one(t, `<134>1 2024-03-01T10:00:00Z fw01 asa - - - CEF:0|Cisco|ASA|9.1|106023|Deny tcp|5|src=198.51.100.9 dst=10.0.0.5 act=deny`)
	if ev.Format != FormatCEF || ev.Host != "fw01" || ev.Outcome != "failure" || ev.Action != "deny" ||
		!ev.Time.Equal(time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("syslog-wrapped CEF = %+v", ev)
	}
	ev = one(t, `<134>1 2024-03-01T10:00:00Z fw01 asa - - - CEF:0|Cisco|ASA|9.1|1|n|5|dvchost=fw02 rt=1700000000000`)
	if ev.Host != "fw02" || !ev.Time.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("CEF's own host and time must win: %+v", ev)
	}
	// a BSD-style prefix before CEF is skipped
	ev = one(t, `Sep 19 08:26:10 host CEF:0|Trend|DS|10|4000|Malware|Very-High|duser=bob`)
	if ev.User != "bob" || ev.Severity != 10 {
		t.Errorf("prefixed CEF = %+v", ev)
	}
}

func TestCEFErrors(t *testing.T) {
	cases := map[string]string{
		"CEF:0|a|b|c":                          "header has 3 of 7 fields",
		"CEF:2|v|p|1|s|n|5|":                   "unsupported version",
		"CEF:0|v|p|1|s|n|11|":                  "outside 0-10",
		"CEF:0|v|p|1|s|n|-1|":                  "outside 0-10",
		"CEF:0|v|p|1|s|n|urgent|":              "invalid severity",
		"CEF:0|v|p|1|s|n|5|junk":               "extension must start",
		"CEF:0|v|p|1|s|n|5|rt=yesterday":       "unrecognised time",
		"CEF:0|v|p|1|s|n|5|rt=Sep 19 08:26:10": "unrecognised time",
	}
	for in, want := range cases {
		_, err := testNormalizer().Normalize([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "cef: ") {
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
}

func TestNotIPsAreDropped(t *testing.T) {
	ev := one(t, "CEF:0|v|p|1|s|n|5|src=not-an-ip dst=::ffff:10.0.0.1")
	if ev.SrcIP != "" || ev.DstIP != "10.0.0.1" || ev.Fields["src"] != "not-an-ip" {
		t.Errorf("ips = %q %q", ev.SrcIP, ev.DstIP)
	}
}

func TestUnknownAndEmpty(t *testing.T) {
	for _, in := range []string{"hello world", "xCEF:0|a", "[1,2]", "  "} {
		_, err := testNormalizer().Normalize([]byte(in))
		if err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	if _, err := testNormalizer().Normalize([]byte("plain text")); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("err = %v, want ErrUnknownFormat", err)
	}
	if _, err := testNormalizer().Normalize([]byte(`{"foo":1}`)); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("unknown JSON: err = %v", err)
	}
}

func TestNew(t *testing.T) {
	n := New()
	if n.Local != time.UTC || n.Now == nil {
		t.Errorf("New() = %+v", n)
	}
}

func TestNormaliseOutcome(t *testing.T) {
	for in, want := range map[string]string{
		"Success": "success", " allowed ": "success", "OK": "success",
		"FAILED": "failure", "denied": "failure", "blocked": "failure", "drop": "failure",
		"": "", "unknown": "",
	} {
		if got := normaliseOutcome(in); got != want {
			t.Errorf("normaliseOutcome(%q) = %q, want %q", in, got, want)
		}
	}
}
