// Package store keeps the most recent events in memory, ordered by event
// time (not arrival time: sources deliver late and out of order), with a
// hard capacity. When full, the oldest event is evicted; an event older
// than everything held by a full store is dropped instead.
package store

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"example.com/platform/services/siem/internal/event"
)

// Store is safe for concurrent use.
//
// Events live in buf[head:], sorted by (Time, Seq). Evicting the oldest
// just advances head; the dead prefix is compacted away once it is as long
// as the capacity, so eviction is amortised O(1). Inserting an in-order
// event appends; a late one shifts only the newer events after it.
type Store struct {
	mu       sync.RWMutex
	buf      []event.Event
	head     int
	capacity int
	seq      uint64
	evicted  uint64
	dropped  uint64
}

// New returns a store holding at most capacity events.
func New(capacity int) *Store {
	if capacity < 1 {
		capacity = 1
	}
	return &Store{capacity: capacity, buf: make([]event.Event, 0, min(capacity, 4096))}
}

// Add stores a normalised event, assigning its ID and arrival sequence,
// and returns the stored copy. ok is false if the store was full and the
// event older than all it holds.
func (s *Store) Add(e event.Event) (stored event.Event, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	e.Seq = s.seq
	e.ID = fmt.Sprintf("evt-%012d", e.Seq)
	live := s.buf[s.head:]
	// insert after every event with time <= e.Time (arrival order breaks ties)
	i := sort.Search(len(live), func(i int) bool { return live[i].Time.After(e.Time) })
	if len(live) == s.capacity {
		if i == 0 {
			s.dropped++
			return e, false
		}
		s.buf[s.head] = event.Event{} // release the evicted event's memory
		s.head++
		s.evicted++
		i--
	}
	pos := s.head + i
	s.buf = append(s.buf, event.Event{})
	copy(s.buf[pos+1:], s.buf[pos:])
	s.buf[pos] = e
	if s.head >= s.capacity {
		n := copy(s.buf, s.buf[s.head:])
		for k := n; k < len(s.buf); k++ {
			s.buf[k] = event.Event{}
		}
		s.buf, s.head = s.buf[:n], 0
	}
	return e, true
}

// Query selects events. From is inclusive and To exclusive; zero times
// are unbounded. Every filter must match: a field's value must be one of
// the filter's values, and "" matches events where the field is empty or
// missing.
type Query struct {
	From, To  time.Time
	Filters   map[string][]string
	Limit     int  // 0: no limit
	Ascending bool // oldest first; default newest first
}

// Search returns copies of the matching events. With a limit, it returns
// the newest (or, ascending, the oldest) Limit matches.
func (s *Store) Search(q Query) []event.Event {
	match := func(e *event.Event) bool {
		for field, values := range q.Filters {
			got, ok := e.Get(field), false
			for _, want := range values {
				if got == want {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	events := s.buf[s.head:]
	lo, hi := 0, len(events)
	if !q.From.IsZero() {
		lo = sort.Search(len(events), func(i int) bool { return !events[i].Time.Before(q.From) })
	}
	if !q.To.IsZero() {
		hi = sort.Search(len(events), func(i int) bool { return !events[i].Time.Before(q.To) })
	}
	out := []event.Event{}
	if q.Ascending {
		for i := lo; i < hi && (q.Limit <= 0 || len(out) < q.Limit); i++ {
			if match(&events[i]) {
				out = append(out, copyEvent(events[i]))
			}
		}
	} else {
		for i := hi - 1; i >= lo && (q.Limit <= 0 || len(out) < q.Limit); i-- {
			if match(&events[i]) {
				out = append(out, copyEvent(events[i]))
			}
		}
	}
	return out
}

// copyEvent copies the Fields map so callers cannot mutate stored events.
func copyEvent(e event.Event) event.Event {
	if e.Fields != nil {
		f := make(map[string]string, len(e.Fields))
		for k, v := range e.Fields {
			f[k] = v
		}
		e.Fields = f
	}
	return e
}

// Stats describes the store's contents.
type Stats struct {
	Events   int       `json:"events"`
	Capacity int       `json:"capacity"`
	Evicted  uint64    `json:"evicted"`
	Dropped  uint64    `json:"dropped"`
	Oldest   time.Time `json:"oldest,omitempty"`
	Newest   time.Time `json:"newest,omitempty"`
}

// Stats returns counters and the time span held.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	events := s.buf[s.head:]
	st := Stats{Events: len(events), Capacity: s.capacity, Evicted: s.evicted, Dropped: s.dropped}
	if n := len(events); n > 0 {
		st.Oldest, st.Newest = events[0].Time, events[n-1].Time
	}
	return st
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}
