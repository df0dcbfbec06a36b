package correlate

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"example.com/platform/services/siem/internal/event"
	"example.com/platform/services/siem/internal/store"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

var scanThenLogin = Rule{
	Name: "scan-then-login", Severity: "critical", Key: "src_ip", Window: Duration(10 * time.Minute),
	Stages: []Stage{
		{Match: map[string]string{"type": "port_scan"}},
		{Match: map[string]string{"type": "login", "outcome": "success"}},
	},
}

var bruteForce = Rule{
	Name: "brute-force-success", Severity: "high", Key: "user", Window: Duration(5 * time.Minute),
	Stages: []Stage{
		{Match: map[string]string{"type": "login", "outcome": "failure"}, Count: 3},
		{Match: map[string]string{"type": "login", "outcome": "success"}},
	},
}

var sweep = Rule{
	Name: "sweep", Severity: "high", Key: "src_ip", Window: Duration(time.Minute),
	Stages: []Stage{{Match: map[string]string{"outcome": "deny"}, Distinct: "dst_port", Count: 3}},
}

// seq builds a time-ordered event list from "sec:type[:outcome[:port]]" specs.
func seq(specs ...string) []event.Event {
	var out []event.Event
	for i, s := range specs {
		p := strings.Split(s, ":")
		sec, _ := strconv.Atoi(p[0])
		e := event.Event{ID: "e" + strconv.Itoa(i), Time: at(sec), Source: "test", Type: p[1], SrcIP: "10.0.0.9", User: "alice"}
		if len(p) > 2 {
			e.Outcome = p[2]
		}
		if len(p) > 3 {
			e.DstPort, _ = strconv.Atoi(p[3])
		}
		out = append(out, e)
	}
	return out
}

func ids(alerts []Alert) [][]string {
	out := [][]string{}
	for _, a := range alerts {
		out = append(out, a.Events)
	}
	return out
}

func TestEvaluate(t *testing.T) {
	cases := []struct {
		name   string
		rule   Rule
		events []event.Event
		want   [][]string
	}{
		{"scan then login", scanThenLogin, seq("0:port_scan", "60:login:success"), [][]string{{"e0", "e1"}}},
		{"login exactly at the window edge", scanThenLogin, seq("0:port_scan", "600:login:success"), [][]string{{"e0", "e1"}}},
		{"login just after the window", scanThenLogin, seq("0:port_scan", "601:login:success"), [][]string{}},
		{"login before the scan", scanThenLogin, seq("0:login:success", "60:port_scan"), [][]string{}},
		{"failed login", scanThenLogin, seq("0:port_scan", "60:login:failure"), [][]string{}},
		{"later scan restarts the window", scanThenLogin, seq("0:port_scan", "500:port_scan", "900:login:success"), [][]string{{"e1", "e2"}}},
		{"one burst, one alert", scanThenLogin, seq("0:port_scan", "10:port_scan", "60:login:success"), [][]string{{"e0", "e2"}}},
		{"two bursts, two alerts", scanThenLogin, seq("0:port_scan", "60:login:success", "70:port_scan", "80:login:success"),
			[][]string{{"e0", "e1"}, {"e2", "e3"}}},
		{"brute force", bruteForce, seq("0:login:failure", "5:login:failure", "9:login:failure", "12:login:success"),
			[][]string{{"e0", "e1", "e2", "e3"}}},
		{"too few failures", bruteForce, seq("0:login:failure", "5:login:failure", "12:login:success"), [][]string{}},
		{"success amid failures does not count early", bruteForce,
			seq("0:login:failure", "1:login:success", "2:login:failure", "3:login:failure", "4:login:success"),
			[][]string{{"e0", "e2", "e3", "e4"}}},
		{"failures spread beyond the window", bruteForce,
			seq("0:login:failure", "200:login:failure", "301:login:failure", "302:login:success"), [][]string{}},
		{"sliding start finds the later window", bruteForce,
			seq("0:login:failure", "200:login:failure", "301:login:failure", "302:login:failure", "303:login:success"),
			[][]string{{"e1", "e2", "e3", "e4"}}},
		{"distinct ports", sweep, seq("0:conn:deny:22", "1:conn:deny:22", "2:conn:deny:80", "3:conn:deny:443"),
			[][]string{{"e0", "e2", "e3"}}},
		{"repeated port is not a sweep", sweep, seq("0:conn:deny:22", "1:conn:deny:22", "2:conn:deny:80", "3:conn:allow:443"), [][]string{}},
		{"events without the distinct field do not count", sweep, seq("0:conn:deny", "1:conn:deny:80", "2:conn:deny:443"), [][]string{}},
		{"no events", scanThenLogin, nil, [][]string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ids(c.rule.Evaluate(c.events)); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestAlertFields(t *testing.T) {
	a := scanThenLogin.Evaluate(seq("0:port_scan", "95:login:success"))[0]
	want := Alert{
		ID: "scan-then-login:e1", Rule: "scan-then-login", Severity: "critical", Key: "src_ip", Value: "10.0.0.9",
		First: at(0), Last: at(95), Events: []string{"e0", "e1"},
		Summary: "scan-then-login: 2 events from src_ip=10.0.0.9 within 1m35s",
	}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("got %+v\nwant %+v", a, want)
	}
}

func TestValidate(t *testing.T) {
	ok := scanThenLogin
	mutate := func(f func(r *Rule)) Rule {
		r := ok
		r.Stages = append([]Stage(nil), ok.Stages...)
		f(&r)
		return r
	}
	cases := []struct {
		rule   Rule
		errSub string
	}{
		{mutate(func(r *Rule) { r.Name = " " }), "without a name"},
		{mutate(func(r *Rule) { r.Severity = "urgent" }), "severity"},
		{mutate(func(r *Rule) { r.Key = "" }), "key is required"},
		{mutate(func(r *Rule) { r.Window = 0 }), "window must be positive"},
		{mutate(func(r *Rule) { r.Stages = nil }), "at least one stage"},
		{mutate(func(r *Rule) { r.Stages[1] = Stage{} }), "stage 1 matches every event"},
		{mutate(func(r *Rule) { r.Stages[0].Count = -1 }), "count must not be negative"},
	}
	for _, c := range cases {
		if err := c.rule.Validate(); err == nil || !strings.Contains(err.Error(), c.errSub) {
			t.Errorf("%+v: err = %v, want %q", c.rule, err, c.errSub)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid rule rejected: %v", err)
	}
}

func TestParseRules(t *testing.T) {
	rules, err := ParseRules([]byte(`[{"name":"r","severity":"low","key":"user","window":"90s",
		"stages":[{"match":{"type":"login"},"count":2}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || time.Duration(rules[0].Window) != 90*time.Second || rules[0].Stages[0].Count != 2 {
		t.Errorf("rules = %+v", rules)
	}
	cases := []struct{ json, errSub string }{
		{`{}`, "rules:"},
		{`[{"name":"r","severity":"low","key":"user","window":10,"stages":[{"match":{"a":"b"}}]}]`, "duration string"},
		{`[{"name":"r","severity":"low","key":"user","window":"soon","stages":[{"match":{"a":"b"}}]}]`, "window:"},
		{`[{"name":"r","severity":"low","key":"user","window":"1m","stages":[{"match":{"a":"b"}}],"extra":1}]`, "unknown field"},
		{`[{"name":"r","severity":"low","key":"user","window":"1m","stages":[]}]`, "at least one stage"},
		{`[{"name":"r","severity":"low","key":"user","window":"1m","stages":[{"match":{"a":"b"}}]},
		   {"name":"r","severity":"low","key":"user","window":"1m","stages":[{"match":{"a":"b"}}]}]`, "defined twice"},
	}
	for _, c := range cases {
		if _, err := ParseRules([]byte(c.json)); err == nil || !strings.Contains(err.Error(), c.errSub) {
			t.Errorf("%s: err = %v, want %q", c.json, err, c.errSub)
		}
	}
}

func TestDefaultRulesFile(t *testing.T) {
	data, err := os.ReadFile("../../rules/default.json")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ParseRules(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) < 3 || rules[0].Name != "scan-then-login" || time.Duration(rules[0].Window) != 10*time.Minute {
		t.Errorf("rules = %+v", rules)
	}
	// durations marshal back as strings
	if b, _ := rules[0].Window.MarshalJSON(); string(b) != `"10m0s"` {
		t.Errorf("window json = %s", b)
	}
}

// ingest normalises, stores and processes events the way the server does.
func ingest(t *testing.T, en *Engine, st *store.Store, events ...event.Event) []Alert {
	t.Helper()
	var alerts []Alert
	for _, e := range events {
		if err := e.Normalise(at(3600)); err != nil {
			t.Fatal(err)
		}
		stored, ok := st.Add(e)
		if !ok {
			t.Fatal("dropped")
		}
		alerts = append(alerts, en.Process(stored)...)
	}
	return alerts
}

func TestEngineAcrossSources(t *testing.T) {
	st := store.New(1000)
	en := NewEngine([]Rule{scanThenLogin, bruteForce}, 100)
	alerts := ingest(t, en, st,
		event.Event{Time: at(0), Source: "ids", Type: "port_scan", SrcIP: "203.0.113.7"},
		event.Event{Time: at(10), Source: "ids", Type: "port_scan", SrcIP: "198.51.100.1"},
		event.Event{Time: at(30), Source: "auth", Type: "login", Outcome: "success", SrcIP: "192.0.2.1", User: "bob"},
	)
	if len(alerts) != 0 {
		t.Fatalf("login from another IP raised %v", alerts)
	}
	alerts = ingest(t, en, st, event.Event{Time: at(120), Source: "vpn", Type: "Login", Outcome: "SUCCESS", SrcIP: "203.0.113.7", User: "alice"})
	if len(alerts) != 1 || alerts[0].Rule != "scan-then-login" || alerts[0].Value != "203.0.113.7" {
		t.Fatalf("alerts = %+v", alerts)
	}
	// re-processing the same event does not raise the alert again
	if again := en.Process(st.Search(store.Query{Limit: 1})[0]); len(again) != 0 {
		t.Errorf("duplicate alert %+v", again)
	}
	if got := en.Alerts("", 0); len(got) != 1 {
		t.Errorf("Alerts = %+v", got)
	}
	if len(en.Rules()) != 2 {
		t.Error("Rules()")
	}
}

func TestEngineLateArrival(t *testing.T) {
	st := store.New(1000)
	en := NewEngine([]Rule{scanThenLogin}, 100)
	// the login is delivered first; the IDS's scan event arrives later but
	// carries an earlier time, and completes the sequence
	if a := ingest(t, en, st, event.Event{Time: at(300), Source: "auth", Type: "login", Outcome: "success", SrcIP: "203.0.113.7"}); len(a) != 0 {
		t.Fatalf("premature alert %+v", a)
	}
	a := ingest(t, en, st, event.Event{Time: at(100), Source: "ids", Type: "port_scan", SrcIP: "203.0.113.7"})
	if len(a) != 1 || !a[0].First.Equal(at(100)) || !a[0].Last.Equal(at(300)) {
		t.Fatalf("late scan: %+v", a)
	}
	// an event without the key field, or one no stage matches, is ignored
	if a := ingest(t, en, st, event.Event{Time: at(301), Source: "ids", Type: "port_scan"},
		event.Event{Time: at(302), Source: "auth", Type: "logout", SrcIP: "203.0.113.7"}); len(a) != 0 {
		t.Errorf("alerts = %+v", a)
	}
}

func TestEngineKeyWithComma(t *testing.T) {
	st := store.New(100)
	en := NewEngine([]Rule{bruteForce}, 10)
	var events []event.Event
	for i := 0; i < 3; i++ {
		events = append(events, event.Event{Time: at(i), Source: "auth", Type: "login", Outcome: "failure", User: "a,b"})
	}
	// "a" and "b" are different users: their events must not count for "a,b"
	events = append(events, event.Event{Time: at(4), Source: "auth", Type: "login", Outcome: "failure", User: "a"})
	alerts := ingest(t, en, st, events...)
	alerts = append(alerts, ingest(t, en, st, event.Event{Time: at(5), Source: "auth", Type: "login", Outcome: "success", User: "a,b"})...)
	if len(alerts) != 1 || len(alerts[0].Events) != 4 || alerts[0].Value != "a,b" {
		t.Errorf("alerts = %+v", alerts)
	}
}

func TestEngineAlertLimit(t *testing.T) {
	st := store.New(100)
	en := NewEngine([]Rule{scanThenLogin}, 2)
	for i := 0; i < 3; i++ {
		ip := "10.0.0." + strconv.Itoa(i+1)
		ingest(t, en, st,
			event.Event{Time: at(i * 10), Source: "ids", Type: "port_scan", SrcIP: ip},
			event.Event{Time: at(i*10 + 1), Source: "auth", Type: "login", Outcome: "success", SrcIP: ip})
	}
	got := en.Alerts("", 0)
	if len(got) != 2 || got[0].Value != "10.0.0.3" || got[1].Value != "10.0.0.2" {
		t.Errorf("alerts = %+v", got)
	}
	if got := en.Alerts("", 1); len(got) != 1 || got[0].Value != "10.0.0.3" {
		t.Errorf("limited = %+v", got)
	}
	if got := en.Alerts("other-rule", 0); len(got) != 0 {
		t.Errorf("filtered = %+v", got)
	}
	if NewEngine(nil, 0).max != 1 {
		t.Error("max alerts below 1 not clamped")
	}
}

func TestEnginePrunesOldEvents(t *testing.T) {
	st := store.New(100)
	en := NewEngine([]Rule{scanThenLogin}, 10)
	ip := "203.0.113.7"
	ingest(t, en, st, event.Event{Time: at(0), Source: "ids", Type: "port_scan", SrcIP: ip})
	// a scan 50 minutes later moves the horizon (2 windows = 20 minutes) past the first scan
	ingest(t, en, st, event.Event{Time: at(3000), Source: "ids", Type: "port_scan", SrcIP: ip})
	if got := len(en.recent[indexKey{0, ip}]); got != 1 {
		t.Fatalf("indexed %d events, want the first one pruned", got)
	}
	// a login delivered very late, inside the first scan's window, no longer correlates
	if a := ingest(t, en, st, event.Event{Time: at(100), Source: "auth", Type: "login", Outcome: "success", SrcIP: ip}); len(a) != 0 {
		t.Errorf("alert from a pruned event: %+v", a)
	}
	// while one inside the horizon still does
	if a := ingest(t, en, st, event.Event{Time: at(3100), Source: "auth", Type: "login", Outcome: "success", SrcIP: ip}); len(a) != 1 {
		t.Errorf("alerts = %+v", a)
	}
}

func TestEngineSweepsStaleKeys(t *testing.T) {
	st := store.New(sweepEvery + 10)
	en := NewEngine([]Rule{scanThenLogin}, 10)
	for i := 0; i < sweepEvery-1; i++ {
		ip := "10." + strconv.Itoa(i/65536) + "." + strconv.Itoa(i/256%256) + "." + strconv.Itoa(i%256)
		ingest(t, en, st, event.Event{Time: at(0), Source: "ids", Type: "port_scan", SrcIP: ip})
	}
	if len(en.recent) != sweepEvery-1 {
		t.Fatalf("keys = %d", len(en.recent))
	}
	// the sweepEvery-th event, an hour later, triggers a sweep of the stale keys
	ingest(t, en, st, event.Event{Time: at(3600), Source: "ids", Type: "port_scan", SrcIP: "192.0.2.1"})
	if len(en.recent) != 1 {
		t.Errorf("keys after sweep = %d, want 1", len(en.recent))
	}
}

func TestEngineFloodIsCapped(t *testing.T) {
	st := store.New(maxPerKey + 100)
	en := NewEngine([]Rule{bruteForce}, 10)
	var events []event.Event
	for i := 0; i < maxPerKey+50; i++ {
		events = append(events, event.Event{Time: t0.Add(time.Duration(i) * time.Millisecond), Source: "auth",
			Type: "login", Outcome: "failure", User: "root"})
	}
	if a := ingest(t, en, st, events...); len(a) != 0 {
		t.Fatalf("alerts from failures only: %d", len(a))
	}
	list := en.recent[indexKey{0, "root"}]
	if len(list) != maxPerKey || list[0].Time != t0.Add(50*time.Millisecond) {
		t.Errorf("indexed %d events from %v", len(list), list[0].Time)
	}
	a := ingest(t, en, st, event.Event{Time: t0.Add(2 * time.Second), Source: "auth", Type: "login", Outcome: "success", User: "root"})
	if len(a) != 1 || len(a[0].Events) != 4 {
		t.Errorf("alerts = %+v", a)
	}
}
