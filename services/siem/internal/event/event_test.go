package event

import (
	"strings"
	"testing"
	"time"
)

var now = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func TestNormalise(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	e := Event{
		Time: time.Date(2024, 5, 1, 13, 0, 0, 0, cet), Source: " IDS ", Type: "Port_Scan", Outcome: " Success",
		Host: "WEB-01", User: " alice ", SrcIP: " ::ffff:10.0.0.5", DstIP: "2001:DB8::1", DstPort: 22,
	}
	if err := e.Normalise(now); err != nil {
		t.Fatal(err)
	}
	want := Event{
		Time: now, Source: "ids", Type: "port_scan", Outcome: "success", Host: "web-01", User: "alice",
		SrcIP: "10.0.0.5", DstIP: "2001:db8::1", DstPort: 22,
	}
	if e.Time.Location() != time.UTC || !e.Time.Equal(want.Time) {
		t.Errorf("time = %v", e.Time)
	}
	e.Time = want.Time
	if e.Source != want.Source || e.Type != want.Type || e.Outcome != want.Outcome || e.Host != want.Host ||
		e.User != want.User || e.SrcIP != want.SrcIP || e.DstIP != want.DstIP {
		t.Errorf("got %+v\nwant %+v", e, want)
	}
}

func TestNormaliseDefaultsTime(t *testing.T) {
	e := Event{Source: "auth", Type: "login"}
	if err := e.Normalise(now); err != nil || !e.Time.Equal(now) {
		t.Errorf("time = %v, err %v", e.Time, err)
	}
	// just inside the tolerated clock skew
	e = Event{Source: "auth", Type: "login", Time: now.Add(MaxFutureSkew)}
	if err := e.Normalise(now); err != nil {
		t.Errorf("skew at the limit rejected: %v", err)
	}
}

func TestNormaliseErrors(t *testing.T) {
	many := map[string]string{}
	for i := 0; i <= MaxFields; i++ {
		many[strings.Repeat("f", i+1)] = "v"
	}
	cases := []struct {
		e      Event
		errSub string
	}{
		{Event{Type: "login"}, "source is required"},
		{Event{Source: " ", Type: "login"}, "source is required"},
		{Event{Source: "auth"}, "type is required"},
		{Event{Source: "auth", Type: "login", Time: now.Add(MaxFutureSkew + time.Second)}, "future"},
		{Event{Source: "auth", Type: "login", SrcIP: "10.0.0.256"}, "invalid IP"},
		{Event{Source: "auth", Type: "login", DstIP: "example.com"}, "invalid IP"},
		{Event{Source: "fw", Type: "deny", DstPort: 65536}, "out of range"},
		{Event{Source: "fw", Type: "deny", DstPort: -1}, "out of range"},
		{Event{Source: "fw", Type: "deny", Fields: many}, "more than"},
		{Event{Source: "fw", Type: "deny", Fields: map[string]string{"": "v"}}, "1-64 bytes"},
		{Event{Source: "fw", Type: "deny", Fields: map[string]string{strings.Repeat("k", 65): "v"}}, "1-64 bytes"},
		{Event{Source: "fw", Type: "deny", Fields: map[string]string{"k": strings.Repeat("v", MaxValueBytes+1)}}, "1-64 bytes"},
		{Event{Source: "fw", Type: "deny", Fields: map[string]string{"src_ip": "1.2.3.4"}}, "shadows"},
		{Event{Source: "fw", Type: "deny", Message: strings.Repeat("m", 4*MaxValueBytes+1)}, "message longer"},
	}
	for _, c := range cases {
		e := c.e
		if err := e.Normalise(now); err == nil || !strings.Contains(err.Error(), c.errSub) {
			t.Errorf("%+v: err = %v, want %q", c.e, err, c.errSub)
		}
	}
}

func TestGet(t *testing.T) {
	e := Event{ID: "evt-1", Source: "fw", Type: "deny", Outcome: "deny", Host: "h", User: "u",
		SrcIP: "1.2.3.4", DstIP: "5.6.7.8", DstPort: 443, Fields: map[string]string{"rule": "r9"}}
	want := map[string]string{
		"id": "evt-1", "source": "fw", "type": "deny", "outcome": "deny", "host": "h", "user": "u",
		"src_ip": "1.2.3.4", "dst_ip": "5.6.7.8", "dst_port": "443", "rule": "r9", "missing": "",
	}
	for field, v := range want {
		if got := e.Get(field); got != v {
			t.Errorf("Get(%s) = %q, want %q", field, got, v)
		}
	}
	if got := (&Event{}).Get("dst_port"); got != "" {
		t.Errorf("unset port = %q, want empty", got)
	}
}

func TestBefore(t *testing.T) {
	a := Event{Time: now, Seq: 2}
	b := Event{Time: now, Seq: 3}
	c := Event{Time: now.Add(-time.Second), Seq: 9}
	if !a.Before(&b) || b.Before(&a) {
		t.Error("equal times must order by arrival")
	}
	if !c.Before(&a) || a.Before(&c) {
		t.Error("earlier time must come first regardless of arrival")
	}
}
