package store

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"example.com/platform/services/siem/internal/event"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func ev(sec int, typ string, kv ...string) event.Event {
	e := event.Event{Time: t0.Add(time.Duration(sec) * time.Second), Source: "test", Type: typ}
	for i := 0; i+1 < len(kv); i += 2 {
		switch kv[i] {
		case "src_ip":
			e.SrcIP = kv[i+1]
		case "user":
			e.User = kv[i+1]
		default:
			if e.Fields == nil {
				e.Fields = map[string]string{}
			}
			e.Fields[kv[i]] = kv[i+1]
		}
	}
	return e
}

// secs lists the events' times as seconds after t0.
func secs(events []event.Event) []int {
	out := []int{}
	for _, e := range events {
		out = append(out, int(e.Time.Sub(t0)/time.Second))
	}
	return out
}

func TestAddKeepsTimeOrder(t *testing.T) {
	s := New(10)
	for _, sec := range []int{5, 1, 9, 3, 5, 0} {
		if _, ok := s.Add(ev(sec, "x")); !ok {
			t.Fatalf("add %d dropped", sec)
		}
	}
	got := s.Search(Query{Ascending: true})
	if want := []int{0, 1, 3, 5, 5, 9}; !reflect.DeepEqual(secs(got), want) {
		t.Errorf("order = %v, want %v", secs(got), want)
	}
	// equal times keep arrival order
	if got[3].Seq >= got[4].Seq {
		t.Errorf("ties out of arrival order: %d, %d", got[3].Seq, got[4].Seq)
	}
	if got[0].ID != "evt-000000000006" {
		t.Errorf("id = %s", got[0].ID)
	}
}

func TestCapacityEvictsOldest(t *testing.T) {
	s := New(3)
	for _, sec := range []int{10, 20, 30} {
		s.Add(ev(sec, "x"))
	}
	if _, ok := s.Add(ev(25, "x")); !ok { // evicts 10
		t.Fatal("in-range event dropped")
	}
	if _, ok := s.Add(ev(40, "x")); !ok { // evicts 20
		t.Fatal("newest event dropped")
	}
	if _, ok := s.Add(ev(5, "x")); ok { // older than everything held: dropped
		t.Fatal("too-old event kept")
	}
	if _, ok := s.Add(ev(25, "x")); !ok { // equal to the oldest: goes after it, evicts it
		t.Fatal("event equal to the oldest dropped")
	}
	if got := secs(s.Search(Query{Ascending: true})); !reflect.DeepEqual(got, []int{25, 30, 40}) {
		t.Errorf("held = %v", got)
	}
	st := s.Stats()
	if st.Events != 3 || st.Capacity != 3 || st.Evicted != 3 || st.Dropped != 1 ||
		!st.Oldest.Equal(t0.Add(25*time.Second)) || !st.Newest.Equal(t0.Add(40*time.Second)) {
		t.Errorf("stats = %+v", st)
	}
	if New(0).capacity != 1 {
		t.Error("capacity below 1 not clamped")
	}
}

func TestEvictionCompacts(t *testing.T) {
	s := New(4)
	for sec := 0; sec < 25; sec++ {
		s.Add(ev(sec, "x"))
		if sec == 13 {
			s.Add(ev(11, "late")) // a late event amid evictions
		}
		if len(s.buf) > 2*s.capacity || s.head >= s.capacity {
			t.Fatalf("after %d: buf %d head %d not compacted", sec, len(s.buf), s.head)
		}
		if got := len(s.Search(Query{})); got != min(sec+1, 4) {
			t.Fatalf("after %d: holding %d", sec, got)
		}
	}
	if got := secs(s.Search(Query{Ascending: true})); !reflect.DeepEqual(got, []int{21, 22, 23, 24}) {
		t.Errorf("held = %v", got)
	}
	if st := s.Stats(); st.Evicted != 22 || st.Dropped != 0 {
		t.Errorf("stats = %+v", st)
	}
	// evicted slots no longer reference their events
	for i := 0; i < s.head; i++ {
		if s.buf[i].Type != "" {
			t.Errorf("slot %d still holds an evicted event", i)
		}
	}
}

func TestSearch(t *testing.T) {
	s := New(100)
	s.Add(ev(0, "login", "user", "alice", "src_ip", "10.0.0.1"))
	s.Add(ev(10, "logout", "user", "alice"))
	s.Add(ev(20, "login", "user", "bob", "src_ip", "10.0.0.2", "mfa", "yes"))
	s.Add(ev(30, "port_scan", "src_ip", "10.0.0.1"))
	s.Add(ev(40, "login", "user", "alice", "src_ip", "10.0.0.1", "mfa", "no"))

	cases := []struct {
		name string
		q    Query
		want []int
	}{
		{"all newest first", Query{}, []int{40, 30, 20, 10, 0}},
		{"all oldest first", Query{Ascending: true}, []int{0, 10, 20, 30, 40}},
		{"from inclusive", Query{From: t0.Add(20 * time.Second)}, []int{40, 30, 20}},
		{"to exclusive", Query{To: t0.Add(20 * time.Second)}, []int{10, 0}},
		{"range", Query{From: t0.Add(5 * time.Second), To: t0.Add(35 * time.Second)}, []int{30, 20, 10}},
		{"empty range", Query{From: t0.Add(41 * time.Second)}, []int{}},
		{"inverted range", Query{From: t0.Add(30 * time.Second), To: t0.Add(10 * time.Second)}, []int{}},
		{"filter", Query{Filters: map[string][]string{"type": {"login"}}}, []int{40, 20, 0}},
		{"two filters", Query{Filters: map[string][]string{"type": {"login"}, "user": {"alice"}}}, []int{40, 0}},
		{"any of", Query{Filters: map[string][]string{"type": {"logout", "port_scan"}}}, []int{30, 10}},
		{"custom field", Query{Filters: map[string][]string{"mfa": {"no"}}}, []int{40}},
		{"empty matches missing", Query{Filters: map[string][]string{"src_ip": {""}}}, []int{10}},
		{"no match", Query{Filters: map[string][]string{"user": {"mallory"}}}, []int{}},
		{"limit newest", Query{Limit: 2}, []int{40, 30}},
		{"limit oldest", Query{Limit: 2, Ascending: true}, []int{0, 10}},
		{"limit after filter", Query{Limit: 2, Filters: map[string][]string{"src_ip": {"10.0.0.1"}}}, []int{40, 30}},
		{"everything", Query{Limit: 2, From: t0, To: t0.Add(time.Hour), Filters: map[string][]string{"type": {"login"}}, Ascending: true}, []int{0, 20}},
	}
	for _, c := range cases {
		if got := secs(s.Search(c.q)); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSearchReturnsCopies(t *testing.T) {
	s := New(10)
	s.Add(ev(0, "x", "k", "v"))
	got := s.Search(Query{})
	got[0].Fields["k"] = "changed"
	got[0].Type = "changed"
	again := s.Search(Query{})
	if again[0].Fields["k"] != "v" || again[0].Type != "x" {
		t.Errorf("stored event mutated through a search result: %+v", again[0])
	}
}

func TestConcurrentUse(t *testing.T) {
	s := New(500)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				s.Add(ev((i*7+w)%300, fmt.Sprintf("t%d", w)))
				s.Search(Query{Limit: 5, Filters: map[string][]string{"type": {"t1"}}})
			}
		}(w)
	}
	wg.Wait()
	all := s.Search(Query{Ascending: true})
	if len(all) != 500 || s.Stats().Evicted+s.Stats().Dropped != 1100 {
		t.Fatalf("len %d, stats %+v", len(all), s.Stats())
	}
	for i := 1; i < len(all); i++ {
		if all[i].Time.Before(all[i-1].Time) {
			t.Fatalf("out of order at %d", i)
		}
	}
}
