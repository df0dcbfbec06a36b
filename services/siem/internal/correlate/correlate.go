// Package correlate raises alerts when events from different sources form
// a known attack pattern: a sequence of stages, joined on a key field
// (the same source IP, the same user), completed within a time window.
//
// For example "a port scan followed by a successful login from the same
// IP within 10 minutes":
//
//	{"name": "scan-then-login", "key": "src_ip", "window": "10m", "stages": [
//	  {"match": {"type": "port_scan"}},
//	  {"match": {"type": "login", "outcome": "success"}}]}
//
// A stage may need several events ("count": 5 failed logins) or several
// distinct values of a field ("distinct": "dst_port", "count": 20: a scan
// seen as raw firewall denies). Stages complete in order: an event only
// counts towards a stage after the previous stage has completed, and the
// whole sequence must fit in the window that starts at its first event.
package correlate

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"example.com/platform/services/siem/internal/event"
)

// Stage is one step of a rule.
type Stage struct {
	Match    map[string]string `json:"match"`
	Count    int               `json:"count,omitempty"`    // events (or distinct values) needed; default 1
	Distinct string            `json:"distinct,omitempty"` // count distinct values of this field instead
}

func (st Stage) matches(e *event.Event) bool {
	for field, want := range st.Match {
		if e.Get(field) != want {
			return false
		}
	}
	return true
}

func (st Stage) need() int {
	if st.Count < 1 {
		return 1
	}
	return st.Count
}

// Duration is a time.Duration written as "10m" in JSON.
type Duration time.Duration

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("window must be a duration string like \"10m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("window: %v", err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Rule is a correlation rule.
type Rule struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Severity    string   `json:"severity"`
	Key         string   `json:"key"`
	Window      Duration `json:"window"`
	Stages      []Stage  `json:"stages"`
}

var severities = map[string]bool{"low": true, "medium": true, "high": true, "critical": true}

// Validate reports the first problem with a rule.
func (r Rule) Validate() error {
	switch {
	case strings.TrimSpace(r.Name) == "":
		return fmt.Errorf("rule without a name")
	case !severities[r.Severity]:
		return fmt.Errorf("rule %s: severity %q (want low, medium, high or critical)", r.Name, r.Severity)
	case r.Key == "":
		return fmt.Errorf("rule %s: key is required", r.Name)
	case r.Window <= 0:
		return fmt.Errorf("rule %s: window must be positive", r.Name)
	case len(r.Stages) == 0:
		return fmt.Errorf("rule %s: at least one stage is required", r.Name)
	}
	for i, st := range r.Stages {
		if len(st.Match) == 0 {
			return fmt.Errorf("rule %s: stage %d matches every event", r.Name, i)
		}
		if st.Count < 0 {
			return fmt.Errorf("rule %s: stage %d: count must not be negative", r.Name, i)
		}
	}
	return nil
}

// ParseRules reads a JSON array of rules and validates each; names must
// be unique.
func ParseRules(data []byte) ([]Rule, error) {
	var rules []Rule
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rules); err != nil {
		return nil, fmt.Errorf("rules: %v", err)
	}
	names := map[string]bool{}
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			return nil, err
		}
		if names[r.Name] {
			return nil, fmt.Errorf("rule %s defined twice", r.Name)
		}
		names[r.Name] = true
	}
	return rules, nil
}

// Alert is a completed rule match.
type Alert struct {
	ID       string    `json:"id"`
	Rule     string    `json:"rule"`
	Severity string    `json:"severity"`
	Key      string    `json:"key"`
	Value    string    `json:"value"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	Events   []string  `json:"events"`
	Summary  string    `json:"summary"`
}

// Evaluate finds the rule's matches in events, which must share the key
// value and be sorted by time. Each candidate first event starts a window;
// after a match, the search resumes after its last event, so one burst of
// activity raises one alert.
func (r Rule) Evaluate(events []event.Event) []Alert {
	var alerts []Alert
	window := time.Duration(r.Window)
	for i := 0; i < len(events); i++ {
		if !r.Stages[0].matches(&events[i]) {
			continue
		}
		deadline := events[i].Time.Add(window)
		stage, count := 0, 0
		distinct := map[string]bool{}
		var used []int
		j := i
		for ; j < len(events) && !events[j].Time.After(deadline); j++ {
			st := r.Stages[stage]
			e := &events[j]
			if !st.matches(e) {
				continue
			}
			if st.Distinct != "" {
				v := e.Get(st.Distinct)
				if v == "" || distinct[v] {
					continue
				}
				distinct[v] = true
			}
			count++
			used = append(used, j)
			if count < st.need() {
				continue
			}
			stage, count = stage+1, 0
			distinct = map[string]bool{}
			if stage == len(r.Stages) {
				break
			}
		}
		if stage == len(r.Stages) {
			alerts = append(alerts, r.alert(events, used))
			i = j // resume after the match
			continue
		}
		if j == len(events) {
			// The events ran out before the window did. A later start sees
			// a subset of these events and completes each stage no earlier,
			// so it cannot match either: stop rather than go quadratic.
			break
		}
	}
	return alerts
}

func (r Rule) alert(events []event.Event, used []int) Alert {
	first, last := events[used[0]], events[used[len(used)-1]]
	ids := make([]string, len(used))
	for k, idx := range used {
		ids[k] = events[idx].ID
	}
	value := first.Get(r.Key)
	return Alert{
		// one alert per rule and completing event, however often the
		// sequence is re-evaluated as late events arrive
		ID:       r.Name + ":" + last.ID,
		Rule:     r.Name,
		Severity: r.Severity,
		Key:      r.Key,
		Value:    value,
		First:    first.Time,
		Last:     last.Time,
		Events:   ids,
		Summary: fmt.Sprintf("%s: %d events from %s=%s within %s", r.Name, len(used), r.Key, value,
			last.Time.Sub(first.Time).Round(time.Second)),
	}
}

// Engine evaluates rules as events arrive and keeps the most recent
// alerts. It is safe for concurrent use.
//
// For each rule it indexes, by key value, the recent events that match one
// of the rule's stages, so evaluating a rule costs a few events, not a scan
// of the store. Events more than two windows older than the newest event
// seen are pruned: a source may deliver up to a window late and still
// complete a sequence.
type Engine struct {
	rules  []Rule
	mu     sync.Mutex
	recent map[indexKey][]event.Event // time-ordered
	newest time.Time
	added  int
	alerts []Alert // oldest first, at most max
	seen   map[string]bool
	max    int
}

type indexKey struct {
	rule  int
	value string
}

// Limits on the index: a sweep of stale keys every sweepEvery events, and
// at most maxPerKey events per rule and key value (a flood from one
// address keeps its newest events).
const (
	sweepEvery = 4096
	maxPerKey  = 1000
)

// NewEngine returns an engine for rules keeping at most maxAlerts alerts.
func NewEngine(rules []Rule, maxAlerts int) *Engine {
	if maxAlerts < 1 {
		maxAlerts = 1
	}
	return &Engine{rules: rules, recent: map[indexKey][]event.Event{}, seen: map[string]bool{}, max: maxAlerts}
}

// Rules returns the engine's rules.
func (en *Engine) Rules() []Rule { return en.rules }

// Process indexes e (which must carry its store-assigned ID and Seq) for
// every rule it takes part in, evaluates those rules over the indexed
// events sharing e's key value within a window either side of it (so a
// late-arriving first stage still completes a sequence), and returns the
// alerts not raised before.
func (en *Engine) Process(e event.Event) []Alert {
	en.mu.Lock()
	defer en.mu.Unlock()
	if e.Time.After(en.newest) {
		en.newest = e.Time
	}
	var fresh []Alert
	for ri, r := range en.rules {
		value := e.Get(r.Key)
		if value == "" || !r.involves(&e) {
			continue
		}
		w := time.Duration(r.Window)
		k := indexKey{ri, value}
		list := insert(en.recent[k], e)
		list = prune(list, en.newest.Add(-2*w))
		if len(list) > maxPerKey {
			list = append(list[:0:0], list[len(list)-maxPerKey:]...)
		}
		en.recent[k] = list
		lo := sort.Search(len(list), func(i int) bool { return !list[i].Time.Before(e.Time.Add(-w)) })
		hi := sort.Search(len(list), func(i int) bool { return list[i].Time.After(e.Time.Add(w)) })
		for _, a := range r.Evaluate(list[lo:hi]) {
			if en.record(a) {
				fresh = append(fresh, a)
			}
		}
	}
	if en.added++; en.added%sweepEvery == 0 {
		en.sweep()
	}
	return fresh
}

// insert adds e in (Time, Seq) order unless an event with its ID is there.
func insert(list []event.Event, e event.Event) []event.Event {
	i := sort.Search(len(list), func(i int) bool { return e.Before(&list[i]) })
	for j := i - 1; j >= 0 && list[j].Time.Equal(e.Time); j-- {
		if list[j].ID == e.ID {
			return list
		}
	}
	list = append(list, event.Event{})
	copy(list[i+1:], list[i:])
	list[i] = e
	return list
}

// prune drops events before horizon.
func prune(list []event.Event, horizon time.Time) []event.Event {
	i := sort.Search(len(list), func(i int) bool { return !list[i].Time.Before(horizon) })
	if i == 0 {
		return list
	}
	return append(list[:0:0], list[i:]...)
}

// sweep prunes every indexed key and forgets the empty ones.
func (en *Engine) sweep() {
	for k, list := range en.recent {
		list = prune(list, en.newest.Add(-2*time.Duration(en.rules[k.rule].Window)))
		if len(list) == 0 {
			delete(en.recent, k)
		} else {
			en.recent[k] = list
		}
	}
}

func (r Rule) involves(e *event.Event) bool {
	for _, st := range r.Stages {
		if st.matches(e) {
			return true
		}
	}
	return false
}

// record keeps a new alert, evicting the oldest beyond the limit; it
// returns false for an alert already raised. en.mu must be held.
func (en *Engine) record(a Alert) bool {
	if en.seen[a.ID] {
		return false
	}
	en.seen[a.ID] = true
	en.alerts = append(en.alerts, a)
	if len(en.alerts) > en.max {
		delete(en.seen, en.alerts[0].ID)
		en.alerts = append(en.alerts[:0:0], en.alerts[1:]...)
	}
	return true
}

// Alerts returns up to limit alerts (0: all), the most recently raised
// first, optionally only those of one rule.
func (en *Engine) Alerts(rule string, limit int) []Alert {
	en.mu.Lock()
	defer en.mu.Unlock()
	out := []Alert{}
	for i := len(en.alerts) - 1; i >= 0 && (limit <= 0 || len(out) < limit); i-- {
		if rule == "" || en.alerts[i].Rule == rule {
			out = append(out, en.alerts[i])
		}
	}
	return out
}
