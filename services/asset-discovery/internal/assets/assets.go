// Package assets keeps the discovered assets and folds observations into
// them, deduplicating by MAC address first and IP address second.
package assets

import (
	"fmt"
	"net/netip"
	"sort"
	"sync"
	"time"

	"example.com/platform/services/asset-discovery/internal/scan"
)

// Asset is one discovered device.
type Asset struct {
	ID        string      `json:"id"`
	MAC       string      `json:"mac,omitempty"`
	IPs       []string    `json:"ips"`
	Hostnames []string    `json:"hostnames"`
	Ports     []scan.Port `json:"ports"`
	FirstSeen time.Time   `json:"first_seen"`
	LastSeen  time.Time   `json:"last_seen"`
}

type asset struct {
	id        string
	mac       string
	ips       map[netip.Addr]bool
	hostnames map[string]bool
	ports     map[string]scan.Port // "tcp/22"
	firstSeen time.Time
	lastSeen  time.Time
}

// Outcome tells what an observation did to the registry.
type Outcome int

// Outcomes of Observe.
const (
	Updated Outcome = iota // an existing asset absorbed it
	Created                // a new asset was recorded
)

// Registry is a concurrency-safe set of assets.
type Registry struct {
	mu     sync.Mutex
	next   int
	byID   map[string]*asset
	byMAC  map[string]*asset
	byIP   map[netip.Addr]*asset
	nowFor func() time.Time
}

// New returns an empty registry; now supplies the time for observations
// that carry none.
func New(now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{
		byID:   map[string]*asset{},
		byMAC:  map[string]*asset{},
		byIP:   map[netip.Addr]*asset{},
		nowFor: now,
	}
}

// Observe folds one observation in and returns the asset's id and whether
// it was created or updated. The rules:
//
//  1. A known MAC identifies the asset, wherever its IP moved (DHCP).
//  2. Otherwise a known IP does, unless both sides have a MAC and they
//     differ: then the address was reassigned to a new device.
//  3. An IP is held by one asset at a time: claiming it takes it from the
//     previous holder, and a holder that never showed a MAC is folded
//     into the claimant (it was the same host seen without layer-2 info).
func (r *Registry) Observe(o scan.Observation) (string, Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	at := o.SeenAt
	if at.IsZero() {
		at = r.nowFor().UTC()
	}
	var a *asset
	outcome := Updated
	if o.MAC != "" {
		a = r.byMAC[o.MAC]
	}
	if a == nil {
		if holder := r.byIP[o.IP]; holder != nil && (holder.mac == "" || o.MAC == "" || holder.mac == o.MAC) {
			a = holder
		}
	}
	if a == nil {
		r.next++
		a = &asset{
			id:        fmt.Sprintf("asset-%04d", r.next),
			ips:       map[netip.Addr]bool{},
			hostnames: map[string]bool{},
			ports:     map[string]scan.Port{},
			firstSeen: at,
		}
		r.byID[a.id] = a
		outcome = Created
	}
	if a.mac == "" && o.MAC != "" {
		a.mac = o.MAC
		r.byMAC[o.MAC] = a
	}
	if holder := r.byIP[o.IP]; holder != nil && holder != a {
		delete(holder.ips, o.IP)
		if holder.mac == "" {
			r.merge(a, holder)
		}
	}
	a.ips[o.IP] = true
	r.byIP[o.IP] = a
	if o.Hostname != "" {
		a.hostnames[o.Hostname] = true
	}
	for _, p := range o.Ports {
		key := fmt.Sprintf("%s/%d", p.Proto, p.Number)
		if old, ok := a.ports[key]; ok && p.Service == "" {
			p.Service = old.Service // keep what an earlier scan identified
		}
		a.ports[key] = p
	}
	if at.Before(a.firstSeen) {
		a.firstSeen = at
	}
	if at.After(a.lastSeen) {
		a.lastSeen = at
	}
	return a.id, outcome
}

// merge moves everything src knows into dst and forgets src.
func (r *Registry) merge(dst, src *asset) {
	for ip := range src.ips {
		dst.ips[ip] = true
		r.byIP[ip] = dst
	}
	for h := range src.hostnames {
		dst.hostnames[h] = true
	}
	for k, p := range src.ports {
		if _, ok := dst.ports[k]; !ok {
			dst.ports[k] = p
		}
	}
	if src.firstSeen.Before(dst.firstSeen) {
		dst.firstSeen = src.firstSeen
	}
	if src.lastSeen.After(dst.lastSeen) {
		dst.lastSeen = src.lastSeen
	}
	delete(r.byID, src.id)
}

// List returns the assets, ordered by id, for which keep returns true
// (every asset when keep is nil). keep sees each of the asset's IPs.
func (r *Registry) List(keep func(netip.Addr) bool) []Asset {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []Asset{}
	for _, a := range r.byID {
		match := keep == nil
		for ip := range a.ips {
			if !match && keep(ip) {
				match = true
			}
		}
		if match {
			out = append(out, a.export())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Len returns the number of assets.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

func (a *asset) export() Asset {
	ips := make([]netip.Addr, 0, len(a.ips))
	for ip := range a.ips {
		ips = append(ips, ip)
	}
	sort.Slice(ips, func(i, j int) bool { return ips[i].Less(ips[j]) })
	out := Asset{
		ID: a.id, MAC: a.mac, FirstSeen: a.firstSeen, LastSeen: a.lastSeen,
		IPs: make([]string, len(ips)), Hostnames: []string{}, Ports: []scan.Port{},
	}
	for i, ip := range ips {
		out.IPs[i] = ip.String()
	}
	for h := range a.hostnames {
		out.Hostnames = append(out.Hostnames, h)
	}
	sort.Strings(out.Hostnames)
	for _, p := range a.ports {
		out.Ports = append(out.Ports, p)
	}
	sort.Slice(out.Ports, func(i, j int) bool {
		if out.Ports[i].Number != out.Ports[j].Number {
			return out.Ports[i].Number < out.Ports[j].Number
		}
		return out.Ports[i].Proto < out.Ports[j].Proto
	})
	return out
}
