// Package engine runs compiled rules over a stream of events and returns
// alerts. Rules without a threshold alert on every matching event; rules
// with one count matching events per group (the values of its group_by
// fields) in a sliding window and alert when the count is reached, e.g.
// five failed logins for one user within 60 seconds.
package engine

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"example.com/platform/services/threat-detection/internal/rules"
)

// Alert is what a rule produces.
type Alert struct {
	RuleID    string            `json:"rule_id"`
	Title     string            `json:"title"`
	Severity  string            `json:"severity"`
	Time      time.Time         `json:"time"`
	Group     map[string]string `json:"group,omitempty"`
	Count     int               `json:"count"`
	FirstSeen time.Time         `json:"first_seen"`
}

// MaxGroups bounds the groups one rule tracks; past it, groups whose
// newest event has left the window are dropped.
const MaxGroups = 10000

// Engine evaluates rules. It is safe for concurrent use.
type Engine struct {
	mu        sync.Mutex
	rules     []*rules.Rule
	windows   map[string]map[string][]time.Time // rule id -> group key -> sorted times
	timeField string
	now       func() time.Time
}

// New returns an engine over rs. Event times come from timeField (RFC
// 3339); events without one are stamped with now.
func New(rs []*rules.Rule, timeField string, now func() time.Time) *Engine {
	if now == nil {
		now = time.Now
	}
	return &Engine{rules: rs, windows: map[string]map[string][]time.Time{}, timeField: timeField, now: now}
}

// Rules returns the loaded rules.
func (e *Engine) Rules() []*rules.Rule { return e.rules }

// EventTime reads the event's time field.
func (e *Engine) EventTime(ev rules.Event) (time.Time, error) {
	v, ok := ev.Lookup(e.timeField)
	if !ok || v == nil {
		return e.now().UTC(), nil
	}
	s, isStr := v.(string)
	if !isStr {
		return time.Time{}, fmt.Errorf("%s must be an RFC 3339 string", e.timeField)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %v", e.timeField, err)
	}
	return t.UTC(), nil
}

// Process evaluates every rule against ev and returns the alerts it
// triggers, in rule order.
func (e *Engine) Process(ev rules.Event) ([]Alert, error) {
	at, err := e.EventTime(ev)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var alerts []Alert
	for _, r := range e.rules {
		if !r.Matches(ev) {
			continue
		}
		if r.Threshold == nil {
			alerts = append(alerts, Alert{RuleID: r.ID, Title: r.Title, Severity: r.Severity, Time: at, Count: 1, FirstSeen: at})
			continue
		}
		if a, fired := e.count(r, ev, at); fired {
			alerts = append(alerts, a)
		}
	}
	return alerts, nil
}

// count adds a matching event to its group's window and fires when the
// window (at - window, at] holds threshold.count events. Firing empties
// the group, so a sustained attack alerts once per count events rather
// than on every event after the first alert. An event that arrives after
// its group's window has moved past it is too late to count.
func (e *Engine) count(r *rules.Rule, ev rules.Event, at time.Time) (Alert, bool) {
	th := r.Threshold
	group := map[string]string{}
	keyParts := make([]string, len(th.GroupBy))
	for i, f := range th.GroupBy {
		v, ok := ev.Lookup(f)
		if !ok || v == nil {
			return Alert{}, false // cannot attribute the event to a group
		}
		s := fmt.Sprint(v)
		group[f] = s
		keyParts[i] = fmt.Sprintf("%d:%s", len(s), s) // length-prefixed: no separator collisions
	}
	key := strings.Join(keyParts, "|")
	groups := e.windows[r.ID]
	if groups == nil {
		groups = map[string][]time.Time{}
		e.windows[r.ID] = groups
	}
	times := groups[key]
	if n := len(times); n > 0 && !at.After(times[n-1].Add(-th.Window.Duration)) {
		return Alert{}, false
	}
	i := sort.Search(len(times), func(i int) bool { return times[i].After(at) })
	times = append(times, time.Time{})
	copy(times[i+1:], times[i:])
	times[i] = at
	// keep only what the newest event's window still covers
	newest := times[len(times)-1]
	start := sort.Search(len(times), func(i int) bool { return times[i].After(newest.Add(-th.Window.Duration)) })
	times = times[start:]
	if len(times) >= th.Count {
		delete(groups, key)
		if len(group) == 0 {
			group = nil
		}
		return Alert{
			RuleID: r.ID, Title: r.Title, Severity: r.Severity, Time: newest,
			Group: group, Count: len(times), FirstSeen: times[0],
		}, true
	}
	groups[key] = times
	if len(groups) > MaxGroups {
		for k, ts := range groups {
			if !ts[len(ts)-1].After(at.Add(-th.Window.Duration)) {
				delete(groups, k)
			}
		}
	}
	return Alert{}, false
}

// Groups returns how many groups rule id is tracking (for tests and
// metrics).
func (e *Engine) Groups(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.windows[id])
}
