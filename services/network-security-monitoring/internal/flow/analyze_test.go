package flow

import (
	"math"
	"math/rand"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func fl(sec float64, src, dst string, port uint16, bytes uint64) Flow {
	start := t0.Add(time.Duration(sec * float64(time.Second)))
	return Flow{Start: start, End: start.Add(time.Second), Src: ip(src), Dst: ip(dst), DstPort: port, Proto: "tcp", Bytes: bytes, Packets: 1}
}

func testConfig() Config {
	c := DefaultConfig()
	c.ScanMinPorts = 10
	c.ExfilMinBytes = 1000
	return c
}

func kinds(fs []Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Kind+":"+f.Src)
	}
	return strings.Join(out, ",")
}

// scan returns n flows from src to dst on ports 1..n, step seconds apart.
func scan(src, dst string, n int, step float64, offset float64) []Flow {
	var out []Flow
	for i := 0; i < n; i++ {
		out = append(out, fl(offset+float64(i)*step, src, dst, uint16(i+1), 60))
	}
	return out
}

func TestPortScans(t *testing.T) {
	cfg := testConfig()
	cases := []struct {
		name  string
		flows []Flow
		want  string
		ports float64
	}{
		{"fast vertical scan", scan("10.0.0.66", "10.0.0.5", 20, 1, 0), "port_scan:10.0.0.66", 20},
		{"exactly the threshold", scan("10.0.0.66", "10.0.0.5", 10, 1, 0), "port_scan:10.0.0.66", 10},
		{"one port short", scan("10.0.0.66", "10.0.0.5", 9, 1, 0), "", 0},
		// 10 ports over 90s: never 10 inside one 60s window
		{"slow scan stays under", scan("10.0.0.66", "10.0.0.5", 10, 10, 0), "", 0},
		// the window edge is inclusive: 10 ports at 0..60s in steps of 6.67s
		{"window edge inclusive", scan("10.0.0.66", "10.0.0.5", 10, 60.0/9, 0), "port_scan:10.0.0.66", 10},
		{"busy client on one port", func() []Flow {
			var fs []Flow
			for i := 0; i < 200; i++ {
				fs = append(fs, fl(float64(i)/10, "10.0.0.7", "10.0.0.5", 443, 500))
			}
			return fs
		}(), "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := PortScans(c.flows, cfg)
			if kinds(got) != c.want {
				t.Fatalf("got %q, want %q", kinds(got), c.want)
			}
			if len(got) == 1 && got[0].Metrics["distinct_ports"] != c.ports {
				t.Errorf("distinct ports = %v, want %v", got[0].Metrics["distinct_ports"], c.ports)
			}
		})
	}
}

func TestPortScanBestWindowAndTargets(t *testing.T) {
	cfg := testConfig()
	// a slow trickle, then a burst across two hosts two minutes later
	flows := scan("10.0.0.66", "10.0.0.5", 5, 30, 0)
	burst := scan("10.0.0.66", "10.0.0.5", 8, 1, 300)
	for i := range burst[4:] {
		burst[4+i].Dst = ip("10.0.0.6")
	}
	burst = append(burst, scan("10.0.0.66", "10.0.0.6", 12, 0.5, 310)[8:]...) // ports 9-12
	flows = append(flows, burst...)
	got := PortScans(sortByStart(flows), cfg)
	if len(got) != 1 {
		t.Fatalf("findings = %+v", got)
	}
	f := got[0]
	if f.Metrics["distinct_ports"] != 12 || f.Metrics["targets"] != 2 || f.Dst != "" || !f.First.Equal(t0.Add(300*time.Second)) {
		t.Errorf("finding = %+v", f)
	}
	if f.Severity != "medium" {
		t.Errorf("severity = %s", f.Severity)
	}
	// a single target is named; 1000+ ports is high severity
	got = PortScans(scan("10.0.0.66", "10.0.0.5", 1000, 0.01, 0), cfg)
	if len(got) != 1 || got[0].Dst != "10.0.0.5" || got[0].Severity != "high" || !strings.Contains(got[0].Summary, "1000 distinct ports on 1 hosts") {
		t.Errorf("big scan = %+v", got)
	}
}

func sortByStart(fs []Flow) []Flow {
	sorted := append([]Flow(nil), fs...)
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && sorted[j].Start.Before(sorted[j-1].Start); j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	return sorted
}

// beacon returns n connections from src to an external C2 every interval
// seconds, with uniform jitter of +-jitter seconds.
func beacon(src string, n int, interval, jitter float64, seed int64) []Flow {
	rng := rand.New(rand.NewSource(seed))
	var out []Flow
	for i := 0; i < n; i++ {
		d := (rng.Float64()*2 - 1) * jitter
		out = append(out, fl(float64(i)*interval+d, src, "203.0.113.50", 443, 300))
	}
	return out
}

func TestBeacons(t *testing.T) {
	cfg := testConfig()
	missed := beacon("10.0.0.8", 12, 60, 1, 1)
	missed = append(missed[:5], missed[6:]...) // one missed check-in: a 120s gap
	var human []Flow
	rng := rand.New(rand.NewSource(3))
	sec := 0.0
	for i := 0; i < 20; i++ {
		sec += 5 + rng.Float64()*300
		human = append(human, fl(sec, "10.0.0.9", "203.0.113.50", 443, 5000))
	}
	internal := beacon("10.0.0.8", 12, 60, 0, 1)
	for i := range internal {
		internal[i].Dst = ip("10.0.0.53")
	}
	cases := []struct {
		name  string
		flows []Flow
		want  string
	}{
		{"perfect beacon", beacon("10.0.0.8", 10, 60, 0, 1), "beaconing:10.0.0.8"},
		{"small jitter", beacon("10.0.0.8", 10, 60, 3, 1), "beaconing:10.0.0.8"},
		{"missed check-in tolerated", missed, "beaconing:10.0.0.8"},
		{"large jitter", beacon("10.0.0.8", 10, 60, 25, 1), ""},
		{"too few connections", beacon("10.0.0.8", 5, 60, 0, 1), ""},
		{"too fast to be a beacon", beacon("10.0.0.8", 30, 2, 0, 1), ""},
		{"human browsing", human, ""},
		{"internal destination ignored", internal, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := kinds(Beacons(sortByStart(c.flows), cfg)); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestBeaconMetrics(t *testing.T) {
	got := Beacons(beacon("10.0.0.8", 9, 300, 0, 1), testConfig())
	if len(got) != 1 {
		t.Fatalf("findings = %+v", got)
	}
	f := got[0]
	if f.Dst != "203.0.113.50" || f.DstPort != 443 || f.Metrics["interval_seconds"] != 300 || f.Metrics["jitter"] != 0 ||
		f.Metrics["connections"] != 9 || !strings.Contains(f.Summary, "every 5m0s") {
		t.Errorf("finding = %+v", f)
	}
	// separate channels are judged separately
	a := beacon("10.0.0.8", 8, 60, 0, 1)
	b := beacon("10.0.0.8", 8, 60, 0, 1)
	for i := range b {
		b[i].DstPort = 8443
	}
	if got := Beacons(sortByStart(append(a, b...)), testConfig()); len(got) != 2 || got[0].DstPort != 443 || got[1].DstPort != 8443 {
		t.Errorf("channels = %+v", got)
	}
}

func TestMedian(t *testing.T) {
	cases := []struct {
		in   []float64
		want float64
	}{
		{[]float64{5}, 5}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, c := range cases {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	in := []float64{3, 1, 2}
	median(in)
	if in[0] != 3 {
		t.Error("median sorted its input")
	}
}

func TestExfiltrations(t *testing.T) {
	cfg := testConfig() // 1000 bytes, ratio 3
	cases := []struct {
		name  string
		flows []Flow
		want  string
	}{
		{"large upload, nothing back", []Flow{fl(0, "10.0.0.4", "198.51.100.9", 443, 1500)}, "exfiltration:10.0.0.4"},
		{"summed over flows", []Flow{fl(0, "10.0.0.4", "198.51.100.9", 443, 600), fl(5, "10.0.0.4", "198.51.100.9", 443, 400)}, "exfiltration:10.0.0.4"},
		{"just under", []Flow{fl(0, "10.0.0.4", "198.51.100.9", 443, 999)}, ""},
		{"two destinations are separate", []Flow{fl(0, "10.0.0.4", "198.51.100.9", 443, 600), fl(5, "10.0.0.4", "198.51.100.10", 443, 600)}, ""},
		{"balanced exchange", []Flow{fl(0, "10.0.0.4", "198.51.100.9", 443, 3000), fl(0, "198.51.100.9", "10.0.0.4", 50000, 1001)}, ""},
		{"ratio exactly 3", []Flow{fl(0, "10.0.0.4", "198.51.100.9", 443, 3000), fl(0, "198.51.100.9", "10.0.0.4", 50000, 1000)}, "exfiltration:10.0.0.4"},
		{"internal to internal", []Flow{fl(0, "10.0.0.4", "10.0.0.200", 445, 5000)}, ""},
		{"external to internal", []Flow{fl(0, "198.51.100.9", "10.0.0.4", 443, 5000)}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := kinds(Exfiltrations(c.flows, cfg)); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestExfiltrationMetrics(t *testing.T) {
	cfg := testConfig()
	flows := []Flow{
		fl(10, "10.0.0.4", "198.51.100.9", 443, 6000),
		fl(0, "10.0.0.4", "198.51.100.9", 443, 6000),
		fl(1, "198.51.100.9", "10.0.0.4", 50000, 1000),
	}
	got := Exfiltrations(flows, cfg)
	if len(got) != 1 {
		t.Fatalf("findings = %+v", got)
	}
	f := got[0]
	if f.Metrics["bytes_out"] != 12000 || f.Metrics["bytes_in"] != 1000 || f.Metrics["ratio"] != 12 || f.Metrics["flows"] != 2 ||
		f.Severity != "high" || !f.First.Equal(t0) || !f.Last.Equal(t0.Add(11*time.Second)) {
		t.Errorf("finding = %+v", f)
	}
	if !strings.Contains(f.Summary, "sent 11.7 KiB to 198.51.100.9 in 2 flows, 1000 B back") {
		t.Errorf("summary = %q", f.Summary)
	}
	got = Exfiltrations(flows[:1], cfg)
	if got[0].Metrics["ratio"] != -1 || got[0].Severity != "medium" {
		t.Errorf("no reply: %+v", got[0])
	}
}

func TestHumanBytes(t *testing.T) {
	cases := map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB", 2 << 50: "2.0 PiB", math.MaxUint64: "16384.0 PiB"}
	for n, want := range cases {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestHosts(t *testing.T) {
	flows := []Flow{
		fl(0, "10.0.0.1", "10.0.0.2", 22, 100),
		fl(5, "10.0.0.1", "198.51.100.9", 443, 300),
		fl(2, "10.0.0.1", "10.0.0.2", 80, 50),
		fl(1, "10.0.0.2", "10.0.0.1", 50000, 1000),
	}
	hs := Hosts(flows, testConfig())
	if len(hs) != 3 {
		t.Fatalf("hosts = %+v", hs)
	}
	a, b, c := hs[0], hs[1], hs[2]
	if a.IP != ip("10.0.0.2") || a.BytesOut != 1000 || a.BytesIn != 150 || a.FlowsOut != 1 || a.FlowsIn != 2 || a.Peers != 1 || a.DstPorts != 1 {
		t.Errorf("10.0.0.2 = %+v", a)
	}
	if b.IP != ip("10.0.0.1") || b.BytesOut != 450 || b.FlowsOut != 3 || b.Peers != 2 || b.DstPorts != 3 || !b.Internal ||
		!b.First.Equal(t0) || !b.Last.Equal(t0.Add(6*time.Second)) || b.PacketsOut != 3 || b.PacketsIn != 1 {
		t.Errorf("10.0.0.1 = %+v", b)
	}
	if c.IP != ip("198.51.100.9") || c.Internal || c.BytesIn != 300 || c.BytesOut != 0 {
		t.Errorf("external = %+v", c)
	}
	// ties on bytes out are ordered by address
	hs = Hosts([]Flow{fl(0, "10.0.0.9", "10.0.0.3", 1, 0)}, testConfig())
	if hs[0].IP != ip("10.0.0.3") || hs[1].IP != ip("10.0.0.9") {
		t.Errorf("tie order = %v, %v", hs[0].IP, hs[1].IP)
	}
}

func TestAnalyzeCombines(t *testing.T) {
	cfg := testConfig()
	cfg.ExfilMinBytes = 10000 // above the beacon's 10 x 300 bytes
	var flows []Flow
	flows = append(flows, beacon("10.0.0.8", 10, 60, 0, 1)...)
	flows = append(flows, scan("10.0.0.66", "10.0.0.5", 20, 1, 30)...)
	flows = append(flows, fl(100, "10.0.0.4", "198.51.100.9", 443, 50000))
	rand.New(rand.NewSource(9)).Shuffle(len(flows), func(i, j int) { flows[i], flows[j] = flows[j], flows[i] })
	got := kinds(Analyze(flows, cfg))
	if want := "port_scan:10.0.0.66,beaconing:10.0.0.8,exfiltration:10.0.0.4"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if fs := Analyze(nil, cfg); fs == nil || len(fs) != 0 {
		t.Errorf("no flows: %#v", fs)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*Config){
		"window":   func(c *Config) { c.ScanWindow = 0 },
		"ports":    func(c *Config) { c.ScanMinPorts = 1 },
		"conns":    func(c *Config) { c.BeaconMinConns = 2 },
		"interval": func(c *Config) { c.BeaconMinInterval = -1 },
		"jitter":   func(c *Config) { c.BeaconMaxJitter = 1.5 },
		"neg jit":  func(c *Config) { c.BeaconMaxJitter = -0.1 },
		"bytes":    func(c *Config) { c.ExfilMinBytes = 0 },
		"ratio":    func(c *Config) { c.ExfilMinRatio = -1 },
	} {
		c := DefaultConfig()
		mutate(&c)
		if c.Validate() == nil {
			t.Errorf("%s: invalid config accepted", name)
		}
	}
}
