package assets

import (
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"example.com/platform/services/asset-discovery/internal/scan"
)

var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

func obs(ip, mac string, ports ...scan.Port) scan.Observation {
	return scan.Observation{IP: netip.MustParseAddr(ip), MAC: mac, Ports: ports}
}

func clock() (*Registry, *time.Time) {
	now := t0
	return New(func() time.Time { return now }), &now
}

func TestSameIPWithoutMACIsOneAsset(t *testing.T) {
	r, now := clock()
	id1, o1 := r.Observe(obs("10.0.0.5", "", port(22, "tcp", "ssh")))
	*now = t0.Add(time.Hour)
	id2, o2 := r.Observe(obs("10.0.0.5", "", port(443, "tcp", "")))
	if id1 != id2 || o1 != Created || o2 != Updated {
		t.Fatalf("ids %s %s outcomes %v %v", id1, id2, o1, o2)
	}
	a := r.List(nil)[0]
	if len(a.Ports) != 2 || !a.FirstSeen.Equal(t0) || !a.LastSeen.Equal(t0.Add(time.Hour)) {
		t.Errorf("asset = %+v", a)
	}
}

func TestMACFollowsDHCPMove(t *testing.T) {
	r, _ := clock()
	id1, _ := r.Observe(obs("10.0.0.5", "aa:aa:aa:aa:aa:01"))
	id2, out := r.Observe(obs("10.0.0.99", "aa:aa:aa:aa:aa:01"))
	if id1 != id2 || out != Updated {
		t.Fatalf("moved host got a new asset: %s %s", id1, id2)
	}
	a := r.List(nil)[0]
	if !reflect.DeepEqual(a.IPs, []string{"10.0.0.5", "10.0.0.99"}) {
		t.Errorf("ips = %v", a.IPs)
	}
}

func TestReassignedIPCreatesNewAssetAndMovesIP(t *testing.T) {
	r, _ := clock()
	old, _ := r.Observe(obs("10.0.0.5", "aa:aa:aa:aa:aa:01"))
	fresh, out := r.Observe(obs("10.0.0.5", "bb:bb:bb:bb:bb:02"))
	if fresh == old || out != Created {
		t.Fatalf("different MAC on same IP must be a new asset (%s, %s, %v)", old, fresh, out)
	}
	list := r.List(nil)
	if len(list) != 2 {
		t.Fatalf("len = %d", len(list))
	}
	if len(list[0].IPs) != 0 || list[0].MAC != "aa:aa:aa:aa:aa:01" {
		t.Errorf("old holder kept the IP: %+v", list[0])
	}
	if !reflect.DeepEqual(list[1].IPs, []string{"10.0.0.5"}) {
		t.Errorf("new holder = %+v", list[1])
	}
	// the old device is still known by MAC when it shows up elsewhere
	if id, out := r.Observe(obs("10.0.0.6", "aa:aa:aa:aa:aa:01")); id != old || out != Updated {
		t.Errorf("old device came back as %s %v", id, out)
	}
}

func TestMACLearnedForIPOnlyAsset(t *testing.T) {
	r, _ := clock()
	id1, _ := r.Observe(obs("10.0.0.5", ""))
	id2, out := r.Observe(obs("10.0.0.5", "aa:aa:aa:aa:aa:01"))
	if id1 != id2 || out != Updated {
		t.Fatalf("MAC should attach to the IP-only asset")
	}
	if r.List(nil)[0].MAC != "aa:aa:aa:aa:aa:01" {
		t.Error("MAC not learned")
	}
	// and now the MAC identifies it on another IP
	if id3, _ := r.Observe(obs("10.0.0.8", "aa:aa:aa:aa:aa:01")); id3 != id1 {
		t.Errorf("learned MAC not indexed: %s", id3)
	}
}

func TestObservationWithoutMACMatchesHolderWithMAC(t *testing.T) {
	r, _ := clock()
	id1, _ := r.Observe(obs("10.0.0.5", "aa:aa:aa:aa:aa:01"))
	id2, out := r.Observe(obs("10.0.0.5", ""))
	if id1 != id2 || out != Updated {
		t.Errorf("IP-only observation of a known host created %s", id2)
	}
}

func TestIPOnlyHolderFoldedIntoMACAsset(t *testing.T) {
	r, now := clock()
	mac, _ := r.Observe(obs("10.0.0.5", "aa:aa:aa:aa:aa:01", port(22, "tcp", "ssh")))
	*now = t0.Add(-time.Hour) // the IP-only sighting is older
	o := obs("10.0.0.9", "", port(80, "tcp", "http"), port(22, "tcp", "other"))
	o.Hostname = "web1"
	ipOnly, _ := r.Observe(o)
	*now = t0.Add(time.Hour)
	// the MAC host now shows up on the IP-only asset's address
	if id, out := r.Observe(obs("10.0.0.9", "aa:aa:aa:aa:aa:01")); id != mac || out != Updated {
		t.Fatalf("got %s %v", id, out)
	}
	list := r.List(nil)
	if len(list) != 1 || list[0].ID != mac || ipOnly == mac {
		t.Fatalf("IP-only asset not folded: %+v", list)
	}
	a := list[0]
	if !reflect.DeepEqual(a.IPs, []string{"10.0.0.5", "10.0.0.9"}) || !reflect.DeepEqual(a.Hostnames, []string{"web1"}) {
		t.Errorf("merged = %+v", a)
	}
	wantPorts := []scan.Port{port(22, "tcp", "ssh"), port(80, "tcp", "http")}
	if !reflect.DeepEqual(a.Ports, wantPorts) {
		t.Errorf("ports = %+v, want %+v (claimant's service kept)", a.Ports, wantPorts)
	}
	if !a.FirstSeen.Equal(t0.Add(-time.Hour)) || !a.LastSeen.Equal(t0.Add(time.Hour)) {
		t.Errorf("seen = %v..%v", a.FirstSeen, a.LastSeen)
	}
	if r.Len() != 1 {
		t.Errorf("Len = %d", r.Len())
	}
}

func TestServiceNameKeptWhenLaterScanOmitsIt(t *testing.T) {
	r, _ := clock()
	r.Observe(obs("10.0.0.5", "", port(22, "tcp", "ssh"), port(53, "udp", "")))
	r.Observe(obs("10.0.0.5", "", port(22, "tcp", ""), port(53, "udp", "domain"), port(22, "udp", "")))
	want := []scan.Port{port(22, "tcp", "ssh"), port(22, "udp", ""), port(53, "udp", "domain")}
	if got := r.List(nil)[0].Ports; !reflect.DeepEqual(got, want) {
		t.Errorf("ports = %+v, want %+v", got, want)
	}
}

func TestObservationTimesOrderIndependent(t *testing.T) {
	r, _ := clock()
	late := obs("10.0.0.5", "")
	late.SeenAt = t0.Add(2 * time.Hour)
	early := obs("10.0.0.5", "")
	early.SeenAt = t0.Add(-2 * time.Hour)
	r.Observe(late)
	r.Observe(early)
	a := r.List(nil)[0]
	if !a.FirstSeen.Equal(early.SeenAt) || !a.LastSeen.Equal(late.SeenAt) {
		t.Errorf("seen = %v..%v", a.FirstSeen, a.LastSeen)
	}
}

func TestListFilterAndOrder(t *testing.T) {
	r := New(nil)
	for i, ip := range []string{"10.0.0.1", "192.168.1.1", "2001:db8::1", "10.0.0.2"} {
		if id, _ := r.Observe(obs(ip, "")); id != []string{"asset-0001", "asset-0002", "asset-0003", "asset-0004"}[i] {
			t.Fatalf("id %d = %s", i, id)
		}
	}
	ten := netip.MustParsePrefix("10.0.0.0/8")
	got := r.List(ten.Contains)
	if len(got) != 2 || got[0].ID != "asset-0001" || got[1].ID != "asset-0004" {
		t.Errorf("filtered = %+v", got)
	}
	if got := r.List(func(netip.Addr) bool { return false }); len(got) != 0 || got == nil {
		t.Errorf("empty result should be an empty, non-nil list: %#v", got)
	}
	if all := r.List(nil); len(all) != 4 || all[2].IPs[0] != "2001:db8::1" {
		t.Errorf("all = %+v", all)
	}
}

func TestConcurrentObserve(t *testing.T) {
	r := New(nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				r.Observe(obs("10.0.0.1", "aa:aa:aa:aa:aa:01"))
			}
		}()
	}
	wg.Wait()
	if r.Len() != 1 {
		t.Errorf("Len = %d", r.Len())
	}
}

func port(n int, proto, service string) scan.Port {
	return scan.Port{Number: n, Proto: proto, Service: service}
}
