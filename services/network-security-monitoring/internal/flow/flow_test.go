package flow

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func TestFromFields(t *testing.T) {
	f, err := FromFields(map[string]string{
		"First": "1714564800.25", " LAST ": "2024-05-01T12:00:05Z", "srcaddr": "::ffff:10.0.0.5", "dstaddr": "2001:DB8::1",
		"srcport": "51515", "dstport": "443", "protocol": "6", "dOctets": "1500", "dPkts": "3", "ignored": "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Flow{
		Start: t0.Add(250 * time.Millisecond), End: t0.Add(5 * time.Second),
		Src: netip.MustParseAddr("10.0.0.5"), Dst: netip.MustParseAddr("2001:db8::1"),
		SrcPort: 51515, DstPort: 443, Proto: "tcp", Bytes: 1500, Packets: 3,
	}
	if f != want {
		t.Errorf("got  %+v\nwant %+v", f, want)
	}
	// minimal record: end defaults to start, counters to 0
	f, err = FromFields(map[string]string{"ts": "2024-05-01 12:00:00.5", "sa": "10.0.0.1", "da": "10.0.0.2", "pr": "UDP"})
	if err != nil || !f.End.Equal(f.Start) || !f.Start.Equal(t0.Add(500*time.Millisecond)) || f.Proto != "udp" || f.Bytes != 0 {
		t.Errorf("minimal = %+v, %v", f, err)
	}
}

func TestFromFieldsErrors(t *testing.T) {
	base := func() map[string]string {
		return map[string]string{"start": "1714564800", "src_ip": "10.0.0.1", "dst_ip": "10.0.0.2"}
	}
	cases := []struct{ key, value, errSub string }{
		{"start", "", "start: required"},
		{"start", "yesterday", "not a time"},
		{"start", "-5", "out of range"},
		{"start", "NaN", "out of range"},
		{"end", "later", "end:"},
		{"end", "1714564799", "before start"},
		{"src_ip", "10.0.0", "src_ip"},
		{"dst_ip", "", "dst_ip"},
		{"dst_port", "65536", "not a port"},
		{"src_port", "-1", "not a port"},
		{"bytes", "-1", "bytes"},
		{"packets", "1.5", "packets"},
	}
	for _, c := range cases {
		m := base()
		m[c.key] = c.value
		if _, err := FromFields(m); err == nil || !strings.Contains(err.Error(), c.errSub) {
			t.Errorf("%s=%q: err = %v, want %q", c.key, c.value, err, c.errSub)
		}
	}
}

func TestParseCSV(t *testing.T) {
	in := `# exported by nfdump
ts,te,sa,da,sp,dp,pr,ibyt,ipkt
2024-05-01T12:00:00Z,2024-05-01T12:00:01Z,10.0.0.5,198.51.100.7,50000,443,6,1200,4
2024-05-01T12:00:02Z,,10.0.0.5,198.51.100.7,50001,443,tcp,800,2
bad,,10.0.0.5,198.51.100.7,1,2,tcp,1,1
2024-05-01T12:00:03Z,,10.0.0.5
2024-05-01T12:00:04Z,,"10.0.0.5,198.51.100.7,1,2,tcp,1,1
`
	// "te" is not a known alias, so end defaults to start
	flows, errs, err := ParseCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 2 || flows[0].Bytes != 1200 || flows[1].Proto != "tcp" || !flows[0].End.Equal(flows[0].Start) {
		t.Errorf("flows = %+v", flows)
	}
	if len(errs) != 3 || errs[0].Record != 3 || !strings.Contains(errs[0].Error, "start") ||
		errs[1].Record != 4 || !strings.Contains(errs[1].Error, "3 fields, header has 9") ||
		errs[2].Record != 5 {
		t.Errorf("errors = %+v", errs)
	}
	if _, _, err := ParseCSV(strings.NewReader("")); err == nil {
		t.Error("empty csv accepted")
	}
	if _, _, err := ParseCSV(iotest.TimeoutReader(strings.NewReader("start,src_ip,dst_ip\n"))); err == nil {
		// the header is read, then the reader fails
		t.Error("read error not reported")
	}
}

func TestParseJSON(t *testing.T) {
	array := `[
		{"start": 1714564800, "src_ip": "10.0.0.5", "dst_ip": "198.51.100.7", "dst_port": 53, "proto": 17, "bytes": 90, "packets": 1, "tags": ["dns"], "note": null},
		{"start": "2024-05-01T12:00:01Z", "src_ip": "10.0.0.5", "dst_ip": "nope"},
		[1, 2]
	]`
	flows, errs, err := ParseJSON(strings.NewReader(array))
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 1 || flows[0].Proto != "udp" || flows[0].DstPort != 53 || flows[0].Bytes != 90 || !flows[0].Start.Equal(t0) {
		t.Errorf("flows = %+v", flows)
	}
	if len(errs) != 2 || errs[0].Record != 2 || errs[1].Record != 3 || errs[1].Error != "not a JSON object" {
		t.Errorf("errs = %+v", errs)
	}

	ndjson := "\n {\"ts\":1714564800,\"sa\":\"10.0.0.1\",\"da\":\"10.0.0.2\"}\n{\"ts\":1714564801,\"sa\":\"10.0.0.1\",\"da\":\"10.0.0.3\"}\n"
	flows, errs, err = ParseJSON(strings.NewReader(ndjson))
	if err != nil || len(flows) != 2 || len(errs) != 0 {
		t.Errorf("ndjson: %d flows, %v, %v", len(flows), errs, err)
	}
	for _, bad := range []string{"", "   \n", "[{", `{"a":1} {`} {
		if _, _, err := ParseJSON(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestBuffer(t *testing.T) {
	b := NewBuffer(3)
	mk := func(n int) Flow { return Flow{Bytes: uint64(n)} }
	b.Add([]Flow{mk(1), mk(2)})
	if held, ev := b.Len(); held != 2 || ev != 0 {
		t.Errorf("len = %d/%d", held, ev)
	}
	b.Add([]Flow{mk(3), mk(4), mk(5)})
	got := b.Snapshot()
	if len(got) != 3 || got[0].Bytes != 3 || got[1].Bytes != 4 || got[2].Bytes != 5 {
		t.Errorf("snapshot = %+v", got)
	}
	if _, ev := b.Len(); ev != 2 {
		t.Errorf("evicted = %d", ev)
	}
	got[0].Bytes = 99
	if b.Snapshot()[0].Bytes != 3 {
		t.Error("snapshot aliases the buffer")
	}
	if NewBuffer(0).cap != 1 {
		t.Error("capacity not clamped")
	}
}

func TestPeekNonSpaceError(t *testing.T) {
	if _, _, err := ParseJSON(iotest.ErrReader(errors.New("boom"))); err == nil {
		t.Error("reader error not reported")
	}
}
