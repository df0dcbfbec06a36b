package engine

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"example.com/platform/services/threat-detection/internal/rules"
)

var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

const bruteforce = `{"id":"bf","title":"Brute force","severity":"high",
  "match":{"all":[{"field":"action","op":"eq","value":"login"},{"field":"outcome","op":"eq","value":"failure"}]},
  "threshold":{"count":5,"window":"60s","group_by":["user"]}}`

func mustRules(t *testing.T, js ...string) []*rules.Rule {
	t.Helper()
	var all []*rules.Rule
	for i, j := range js {
		rs, err := rules.Parse(fmt.Sprintf("r%d.json", i), []byte(j))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rs...)
	}
	return all
}

func failed(user string, at time.Time) rules.Event {
	return rules.Event{"action": "login", "outcome": "failure", "user": user, "time": at.Format(time.RFC3339Nano)}
}

func feed(t *testing.T, e *Engine, evs ...rules.Event) []Alert {
	t.Helper()
	var out []Alert
	for _, ev := range evs {
		a, err := e.Process(ev)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a...)
	}
	return out
}

func TestFiveFailuresInWindowFireOnce(t *testing.T) {
	e := New(mustRules(t, bruteforce), "time", nil)
	var alerts []Alert
	for i := 0; i < 4; i++ {
		alerts = append(alerts, feed(t, e, failed("alice", t0.Add(time.Duration(i)*10*time.Second)))...)
	}
	if len(alerts) != 0 {
		t.Fatalf("fired after 4 events: %+v", alerts)
	}
	alerts = feed(t, e, failed("alice", t0.Add(40*time.Second)))
	want := []Alert{{RuleID: "bf", Title: "Brute force", Severity: "high", Time: t0.Add(40 * time.Second),
		Group: map[string]string{"user": "alice"}, Count: 5, FirstSeen: t0}}
	if !reflect.DeepEqual(alerts, want) {
		t.Fatalf("alerts = %+v\nwant %+v", alerts, want)
	}
	// the window was reset: the 6th failure alone does not fire again
	if a := feed(t, e, failed("alice", t0.Add(45*time.Second))); len(a) != 0 {
		t.Errorf("re-fired immediately: %+v", a)
	}
	if e.Groups("bf") != 1 {
		t.Errorf("groups = %d", e.Groups("bf"))
	}
}

func TestWindowBoundary(t *testing.T) {
	// the window ending at t covers (t-60s, t]: 60s apart is outside
	e := New(mustRules(t, bruteforce), "time", nil)
	evs := []rules.Event{}
	for _, s := range []int{0, 15, 30, 45, 60} {
		evs = append(evs, failed("bob", t0.Add(time.Duration(s)*time.Second)))
	}
	if a := feed(t, e, evs...); len(a) != 0 {
		t.Errorf("events spanning exactly the window fired: %+v", a)
	}
	e = New(mustRules(t, bruteforce), "time", nil)
	evs = evs[:0]
	for _, ms := range []int{0, 15000, 30000, 45000, 59999} {
		evs = append(evs, failed("bob", t0.Add(time.Duration(ms)*time.Millisecond)))
	}
	if a := feed(t, e, evs...); len(a) != 1 || a[0].Count != 5 {
		t.Errorf("events within the window did not fire: %+v", a)
	}
}

func TestSlidingWindowDropsOldEvents(t *testing.T) {
	e := New(mustRules(t, bruteforce), "time", nil)
	// 4 early failures, then a gap, then 4 more: never 5 within 60s
	var a []Alert
	for i := 0; i < 4; i++ {
		a = append(a, feed(t, e, failed("carol", t0.Add(time.Duration(i)*time.Second)))...)
	}
	for i := 0; i < 4; i++ {
		a = append(a, feed(t, e, failed("carol", t0.Add(2*time.Minute+time.Duration(i)*time.Second)))...)
	}
	if len(a) != 0 {
		t.Errorf("stale events counted: %+v", a)
	}
	// one more within the second burst's window fires with 5 (not 9)
	a = feed(t, e, failed("carol", t0.Add(2*time.Minute+10*time.Second)))
	if len(a) != 1 || a[0].Count != 5 || !a[0].FirstSeen.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("alerts = %+v", a)
	}
}

func TestGroupsAreIndependent(t *testing.T) {
	e := New(mustRules(t, bruteforce), "time", nil)
	var a []Alert
	for i := 0; i < 8; i++ {
		user := []string{"dave", "erin"}[i%2]
		a = append(a, feed(t, e, failed(user, t0.Add(time.Duration(i)*time.Second)))...)
	}
	if len(a) != 0 {
		t.Errorf("groups mixed: %+v", a)
	}
	// events without the group_by field cannot be attributed
	noUser := rules.Event{"action": "login", "outcome": "failure", "time": t0.Format(time.RFC3339)}
	nullUser := rules.Event{"action": "login", "outcome": "failure", "user": nil}
	for i := 0; i < 10; i++ {
		if a := feed(t, e, noUser, nullUser); len(a) != 0 {
			t.Fatalf("ungrouped events fired: %+v", a)
		}
	}
	if e.Groups("bf") != 2 {
		t.Errorf("groups = %d", e.Groups("bf"))
	}
}

func TestGroupKeyHasNoSeparatorCollisions(t *testing.T) {
	r := mustRules(t, `{"id":"g2","title":"t","severity":"low","match":{"field":"x","op":"exists","value":true},
	  "threshold":{"count":2,"window":"1m","group_by":["a","b"]}}`)
	e := New(r, "time", func() time.Time { return t0 })
	a := feed(t, e, rules.Event{"x": 1, "a": "p|1:q", "b": "r"}, rules.Event{"x": 1, "a": "p", "b": "q|1:r"})
	if len(a) != 0 {
		t.Errorf("different groups collided: %+v", a)
	}
	a = feed(t, e, rules.Event{"x": 1, "a": "p", "b": "q|1:r"})
	if len(a) != 1 || !reflect.DeepEqual(a[0].Group, map[string]string{"a": "p", "b": "q|1:r"}) {
		t.Errorf("alerts = %+v", a)
	}
}

func TestOutOfOrderAndLateEvents(t *testing.T) {
	e := New(mustRules(t, bruteforce), "time", nil)
	// arrive shuffled but all within 60s: fires on the fifth, reporting the earliest
	order := []int{30, 10, 50, 0, 20}
	var a []Alert
	for _, s := range order {
		a = append(a, feed(t, e, failed("frank", t0.Add(time.Duration(s)*time.Second)))...)
	}
	if len(a) != 1 || !a[0].FirstSeen.Equal(t0) || !a[0].Time.Equal(t0.Add(50*time.Second)) {
		t.Errorf("alerts = %+v", a)
	}
	// an event older than the newest minus the window is too late to count
	e = New(mustRules(t, bruteforce), "time", nil)
	feed(t, e, failed("gina", t0.Add(5*time.Minute)))
	for i := 0; i < 6; i++ {
		if a := feed(t, e, failed("gina", t0.Add(time.Duration(i)*time.Second))); len(a) != 0 {
			t.Fatalf("late events fired: %+v", a)
		}
	}
}

func TestPerEventRulesAndOrder(t *testing.T) {
	rs := mustRules(t,
		`{"id":"root","title":"Root","severity":"critical","match":{"field":"user","op":"eq","value":"root"}}`,
		bruteforce,
		`{"id":"any-fail","title":"Fail","severity":"low","match":{"field":"outcome","op":"eq","value":"failure"}}`)
	e := New(rs, "time", nil)
	a := feed(t, e, failed("root", t0))
	if len(a) != 2 || a[0].RuleID != "root" || a[1].RuleID != "any-fail" || a[0].Count != 1 || a[0].Group != nil {
		t.Errorf("alerts = %+v", a)
	}
	if len(e.Rules()) != 3 {
		t.Errorf("Rules() = %d", len(e.Rules()))
	}
}

func TestEventTime(t *testing.T) {
	e := New(nil, "ts", func() time.Time { return t0.In(time.FixedZone("X", 3600)) })
	cases := []struct {
		ev   rules.Event
		want time.Time
		err  string
	}{
		{rules.Event{}, t0, ""},
		{rules.Event{"ts": nil}, t0, ""},
		{rules.Event{"ts": "2024-05-01T12:00:00+02:00"}, t0, ""},
		{rules.Event{"ts": "2024-05-01T10:00:00.5Z"}, t0.Add(500 * time.Millisecond), ""},
		{rules.Event{"ts": 1714557600}, time.Time{}, "must be an RFC 3339 string"},
		{rules.Event{"ts": "yesterday"}, time.Time{}, "ts:"},
	}
	for _, c := range cases {
		got, err := e.EventTime(c.ev)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%v: err = %v", c.ev, err)
			}
			if _, perr := e.Process(c.ev); perr == nil {
				t.Errorf("%v: Process accepted a bad time", c.ev)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("%v: %v, %v; want %v UTC", c.ev, got, err, c.want)
		}
	}
	if New(nil, "time", nil).now == nil {
		t.Error("nil clock not defaulted")
	}
}

func TestGroupSweepBoundsMemory(t *testing.T) {
	e := New(mustRules(t, bruteforce), "time", nil)
	for i := 0; i < MaxGroups; i++ {
		feed(t, e, failed(fmt.Sprintf("u%d", i), t0))
	}
	if e.Groups("bf") != MaxGroups {
		t.Fatalf("groups = %d", e.Groups("bf"))
	}
	// a new group an hour later pushes past the limit: the stale ones go
	feed(t, e, failed("late", t0.Add(time.Hour)))
	if g := e.Groups("bf"); g != 1 {
		t.Errorf("groups after sweep = %d, want 1", g)
	}
}

func TestConcurrentProcess(t *testing.T) {
	e := New(mustRules(t, bruteforce), "time", nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				a, _ := e.Process(failed("zed", t0.Add(time.Duration(g*25+i)*time.Millisecond)))
				mu.Lock()
				total += len(a)
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	if total != 20 { // 100 events in one window, reset after every 5
		t.Errorf("alerts = %d, want 20", total)
	}
}

func TestAlertJSON(t *testing.T) {
	b, _ := json.Marshal(Alert{RuleID: "r", Title: "t", Severity: "low", Time: t0, Count: 1, FirstSeen: t0})
	if !strings.Contains(string(b), `"time":"2024-05-01T10:00:00Z"`) || strings.Contains(string(b), `"group"`) {
		t.Errorf("json = %s", b)
	}
}

// TestBundledRules runs the shipped rules over events shaped like
// event-processor's output, so a rule edit that stops detecting fails here.
func TestBundledRules(t *testing.T) {
	rs, err := rules.LoadDir("../../rules")
	if err != nil {
		t.Fatal(err)
	}
	e := New(rs, "time", nil)
	at := func(s int) string { return t0.Add(time.Duration(s) * time.Second).Format(time.RFC3339) }
	fired := map[string]int{}
	process := func(js string) {
		var ev rules.Event
		if err := json.Unmarshal([]byte(js), &ev); err != nil {
			t.Fatal(err)
		}
		for _, a := range feed(t, e, ev) {
			fired[a.RuleID]++
		}
	}
	for i := 0; i < 5; i++ {
		process(`{"time":"` + at(i*5) + `","format":"cloudtrail","action":"ConsoleLogin","outcome":"failure","user":"alice"}`)
	}
	process(`{"time":"` + at(30) + `","format":"cloudtrail","action":"ListBuckets","outcome":"success","fields":{"identity_type":"Root"}}`)
	process(`{"time":"` + at(31) + `","format":"cloudtrail","action":"StopLogging","outcome":"success","user":"mallory"}`)
	process(`{"time":"` + at(32) + `","format":"gcp_audit","action":"google.logging.v2.ConfigServiceV2.DeleteSink"}`)
	process(`{"time":"` + at(33) + `","format":"syslog","user":"bob","message":"powershell.exe -NoP -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA"}`)
	process(`{"time":"` + at(34) + `","format":"syslog","user":"svc-sccm","message":"powershell.exe -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA"}`)
	process(`{"time":"` + at(35) + `","format":"cef","dst_ip":"203.0.113.9","fields":{"out":"2500000000"}}`)
	process(`{"time":"` + at(36) + `","format":"cef","dst_ip":"203.0.113.9","fields":{"out":"999"}}`)
	for i := 0; i < 20; i++ {
		process(`{"time":"` + at(40+i) + `","format":"cef","action":"deny","outcome":"failure","src_ip":"198.51.100.7"}`)
	}
	want := map[string]int{"auth-bruteforce": 1, "cloud-root-activity": 1, "cloud-audit-tampering": 2,
		"encoded-powershell": 1, "large-egress": 1, "port-scan": 1}
	if !reflect.DeepEqual(fired, want) {
		t.Errorf("fired = %v\nwant  %v", fired, want)
	}
}
