package flow

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"time"
)

// Config holds the detectors' thresholds.
type Config struct {
	// Port scan: at least ScanMinPorts distinct destination ports from
	// one source within any ScanWindow.
	ScanWindow   time.Duration
	ScanMinPorts int
	// Beaconing: at least BeaconMinConns connections from one source to
	// one destination port, at a median interval of at least
	// BeaconMinInterval, with jitter (median absolute deviation of the
	// intervals / median interval) at most BeaconMaxJitter. Only
	// destinations outside Internal are considered.
	BeaconMinConns    int
	BeaconMinInterval time.Duration
	BeaconMaxJitter   float64
	// Exfiltration: an internal source sent at least ExfilMinBytes to one
	// external destination, and at least ExfilMinRatio times what it got back.
	ExfilMinBytes uint64
	ExfilMinRatio float64
	// Internal networks; everything else is external.
	Internal []netip.Prefix
}

// DefaultConfig returns the platform's default thresholds.
func DefaultConfig() Config {
	var internal []netip.Prefix
	for _, p := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"} {
		internal = append(internal, netip.MustParsePrefix(p))
	}
	return Config{
		ScanWindow: time.Minute, ScanMinPorts: 50,
		BeaconMinConns: 6, BeaconMinInterval: 10 * time.Second, BeaconMaxJitter: 0.1,
		ExfilMinBytes: 100 << 20, ExfilMinRatio: 3,
		Internal: internal,
	}
}

// Validate reports the first bad threshold.
func (c Config) Validate() error {
	switch {
	case c.ScanWindow <= 0 || c.ScanMinPorts < 2:
		return fmt.Errorf("scan window must be positive and min ports at least 2")
	case c.BeaconMinConns < 3:
		return fmt.Errorf("beaconing needs at least 3 connections to measure intervals")
	case c.BeaconMinInterval < 0 || c.BeaconMaxJitter < 0 || c.BeaconMaxJitter > 1:
		return fmt.Errorf("beacon min interval must not be negative and max jitter must be 0-1")
	case c.ExfilMinBytes == 0 || c.ExfilMinRatio < 0:
		return fmt.Errorf("exfiltration min bytes must be positive and min ratio not negative")
	}
	return nil
}

func (c Config) internal(a netip.Addr) bool {
	for _, p := range c.Internal {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Finding kinds.
const (
	PortScan     = "port_scan"
	Beaconing    = "beaconing"
	Exfiltration = "exfiltration"
)

// Finding is one detection. Metrics carry the numbers behind it.
type Finding struct {
	Kind     string             `json:"kind"`
	Severity string             `json:"severity"`
	Src      string             `json:"src_ip"`
	Dst      string             `json:"dst_ip,omitempty"`
	DstPort  uint16             `json:"dst_port,omitempty"`
	First    time.Time          `json:"first"`
	Last     time.Time          `json:"last"`
	Summary  string             `json:"summary"`
	Metrics  map[string]float64 `json:"metrics"`
}

// Analyze runs every detector over flows (in any order) and returns the
// findings ordered by kind, then source, then destination.
func Analyze(flows []Flow, cfg Config) []Finding {
	sorted := append([]Flow(nil), flows...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Start.Before(sorted[j].Start) })
	out := []Finding{}
	out = append(out, PortScans(sorted, cfg)...)
	out = append(out, Beacons(sorted, cfg)...)
	out = append(out, Exfiltrations(sorted, cfg)...)
	return out
}

// bySource groups time-ordered flows by source, keeping order.
func bySource(flows []Flow) ([]netip.Addr, map[netip.Addr][]Flow) {
	groups := map[netip.Addr][]Flow{}
	var keys []netip.Addr
	for _, f := range flows {
		if _, ok := groups[f.Src]; !ok {
			keys = append(keys, f.Src)
		}
		groups[f.Src] = append(groups[f.Src], f)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Less(keys[j]) })
	return keys, groups
}

// PortScans reports, per source, the window of ScanWindow with the most
// distinct destination ports, if it reaches ScanMinPorts. flows must be
// sorted by start time.
func PortScans(flows []Flow, cfg Config) []Finding {
	var out []Finding
	keys, groups := bySource(flows)
	for _, src := range keys {
		fs := groups[src]
		ports := map[uint16]int{} // port -> flows in the window
		best, bestLo, bestHi := 0, 0, 0
		lo := 0
		for hi, f := range fs {
			ports[f.DstPort]++
			for fs[lo].Start.Add(cfg.ScanWindow).Before(f.Start) {
				if ports[fs[lo].DstPort]--; ports[fs[lo].DstPort] == 0 {
					delete(ports, fs[lo].DstPort)
				}
				lo++
			}
			if len(ports) > best {
				best, bestLo, bestHi = len(ports), lo, hi
			}
		}
		if best < cfg.ScanMinPorts {
			continue
		}
		targets := map[netip.Addr]bool{}
		for _, f := range fs[bestLo : bestHi+1] {
			targets[f.Dst] = true
		}
		sev := "medium"
		if best >= 1000 {
			sev = "high"
		}
		first, last := fs[bestLo].Start, fs[bestHi].Start
		fd := Finding{
			Kind: PortScan, Severity: sev, Src: src.String(), First: first, Last: last,
			Summary: fmt.Sprintf("%s probed %d distinct ports on %d hosts in %s", src, best, len(targets), last.Sub(first)),
			Metrics: map[string]float64{"distinct_ports": float64(best), "targets": float64(len(targets)), "flows": float64(bestHi - bestLo + 1)},
		}
		if len(targets) == 1 {
			fd.Dst = fs[bestLo].Dst.String()
		}
		out = append(out, fd)
	}
	return out
}

type channel struct {
	src, dst netip.Addr
	port     uint16
	proto    string
}

// Beacons reports connections to an external destination repeated at a
// regular interval. Jitter uses the median absolute deviation, so a missed
// or doubled beacon does not hide an otherwise regular series. flows must
// be sorted by start time.
func Beacons(flows []Flow, cfg Config) []Finding {
	groups := map[channel][]time.Time{}
	var keys []channel
	for _, f := range flows {
		if cfg.internal(f.Dst) {
			continue
		}
		k := channel{f.Src, f.Dst, f.DstPort, f.Proto}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], f.Start)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.src != b.src {
			return a.src.Less(b.src)
		}
		if a.dst != b.dst {
			return a.dst.Less(b.dst)
		}
		if a.port != b.port {
			return a.port < b.port
		}
		return a.proto < b.proto
	})
	var out []Finding
	for _, k := range keys {
		times := groups[k]
		if len(times) < cfg.BeaconMinConns {
			continue
		}
		intervals := make([]float64, len(times)-1)
		for i := 1; i < len(times); i++ {
			intervals[i-1] = times[i].Sub(times[i-1]).Seconds()
		}
		med := median(intervals)
		if med <= 0 || med < cfg.BeaconMinInterval.Seconds() {
			continue
		}
		dev := make([]float64, len(intervals))
		for i, d := range intervals {
			dev[i] = math.Abs(d - med)
		}
		jitter := median(dev) / med
		if jitter > cfg.BeaconMaxJitter {
			continue
		}
		out = append(out, Finding{
			Kind: Beaconing, Severity: "medium", Src: k.src.String(), Dst: k.dst.String(), DstPort: k.port,
			First: times[0], Last: times[len(times)-1],
			Summary: fmt.Sprintf("%s contacted %s:%d %d times every %s (jitter %.0f%%)",
				k.src, k.dst, k.port, len(times), time.Duration(med*float64(time.Second)).Round(time.Second), jitter*100),
			Metrics: map[string]float64{"connections": float64(len(times)), "interval_seconds": med, "jitter": jitter},
		})
	}
	return out
}

// median of a non-empty slice; it sorts a copy.
func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

type pair struct{ a, b netip.Addr }

// Exfiltrations reports internal hosts that sent a large volume to one
// external host while receiving comparatively little back.
func Exfiltrations(flows []Flow, cfg Config) []Finding {
	type total struct {
		out, in     uint64
		flows       int
		first, last time.Time
	}
	totals := map[pair]*total{}
	var keys []pair
	for _, f := range flows {
		if cfg.internal(f.Src) && !cfg.internal(f.Dst) {
			k := pair{f.Src, f.Dst}
			t, ok := totals[k]
			if !ok {
				t = &total{first: f.Start}
				totals[k] = t
				keys = append(keys, k)
			}
			t.out += f.Bytes
			t.flows++
			if f.End.After(t.last) {
				t.last = f.End
			}
			if f.Start.Before(t.first) {
				t.first = f.Start
			}
		}
	}
	for _, f := range flows { // replies: external -> internal
		if t, ok := totals[pair{f.Dst, f.Src}]; ok {
			t.in += f.Bytes
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].a != keys[j].a {
			return keys[i].a.Less(keys[j].a)
		}
		return keys[i].b.Less(keys[j].b)
	})
	var out []Finding
	for _, k := range keys {
		t := totals[k]
		if t.out < cfg.ExfilMinBytes {
			continue
		}
		ratio := math.Inf(1)
		if t.in > 0 {
			ratio = float64(t.out) / float64(t.in)
		}
		if ratio < cfg.ExfilMinRatio {
			continue
		}
		sev := "medium"
		if t.out >= 10*cfg.ExfilMinBytes {
			sev = "high"
		}
		metricRatio := ratio
		if math.IsInf(ratio, 1) {
			metricRatio = -1 // JSON has no infinity: -1 means nothing came back
		}
		out = append(out, Finding{
			Kind: Exfiltration, Severity: sev, Src: k.a.String(), Dst: k.b.String(), First: t.first, Last: t.last,
			Summary: fmt.Sprintf("%s sent %s to %s in %d flows, %s back", k.a, humanBytes(t.out), k.b, t.flows, humanBytes(t.in)),
			Metrics: map[string]float64{"bytes_out": float64(t.out), "bytes_in": float64(t.in), "flows": float64(t.flows), "ratio": metricRatio},
		})
	}
	return out
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// HostStats summarises one host's traffic.
type HostStats struct {
	IP         netip.Addr `json:"ip"`
	Internal   bool       `json:"internal"`
	FlowsOut   int        `json:"flows_out"`
	FlowsIn    int        `json:"flows_in"`
	BytesOut   uint64     `json:"bytes_out"`
	BytesIn    uint64     `json:"bytes_in"`
	PacketsOut uint64     `json:"packets_out"`
	PacketsIn  uint64     `json:"packets_in"`
	Peers      int        `json:"peers"`     // distinct hosts it sent to
	DstPorts   int        `json:"dst_ports"` // distinct ports it connected to
	First      time.Time  `json:"first_seen"`
	Last       time.Time  `json:"last_seen"`
}

// Hosts computes per-host statistics, ordered by bytes sent (descending),
// then address.
func Hosts(flows []Flow, cfg Config) []HostStats {
	stats := map[netip.Addr]*HostStats{}
	peers := map[netip.Addr]map[netip.Addr]bool{}
	ports := map[netip.Addr]map[uint16]bool{}
	get := func(ip netip.Addr, f Flow) *HostStats {
		h, ok := stats[ip]
		if !ok {
			h = &HostStats{IP: ip, Internal: cfg.internal(ip), First: f.Start, Last: f.End}
			stats[ip] = h
			peers[ip], ports[ip] = map[netip.Addr]bool{}, map[uint16]bool{}
		}
		if f.Start.Before(h.First) {
			h.First = f.Start
		}
		if f.End.After(h.Last) {
			h.Last = f.End
		}
		return h
	}
	for _, f := range flows {
		s := get(f.Src, f)
		s.FlowsOut++
		s.BytesOut += f.Bytes
		s.PacketsOut += f.Packets
		peers[f.Src][f.Dst] = true
		ports[f.Src][f.DstPort] = true
		d := get(f.Dst, f)
		d.FlowsIn++
		d.BytesIn += f.Bytes
		d.PacketsIn += f.Packets
	}
	out := make([]HostStats, 0, len(stats))
	for ip, h := range stats {
		h.Peers, h.DstPorts = len(peers[ip]), len(ports[ip])
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].BytesOut != out[j].BytesOut {
			return out[i].BytesOut > out[j].BytesOut
		}
		return out[i].IP.Less(out[j].IP)
	})
	return out
}
