// Package router maps request paths to upstreams by longest matching
// prefix and rewrites the path for the upstream.
//
// Prefixes match whole path segments: "/auth" matches "/auth" and
// "/auth/token" but not "/authz". Paths are cleaned before matching, so
// "/public/../admin" is routed (and forwarded) as "/admin" and a dot-dot
// cannot pick a public route while reaching a protected upstream.
package router

import (
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"
)

// Route sends requests under Prefix to Target. The prefix is replaced by
// Target's path: Prefix "/auth", Target "http://auth:8081/v1" sends
// "/auth/token" to "http://auth:8081/v1/token".
type Route struct {
	Name   string
	Prefix string
	Target *url.URL
	// Public routes skip bearer-token authentication.
	Public bool
}

// Table is an immutable set of routes.
type Table struct {
	routes []Route // longest prefix first
}

// New validates routes and builds a table.
func New(routes []Route) (*Table, error) {
	seen := map[string]bool{}
	out := make([]Route, 0, len(routes))
	for _, r := range routes {
		if !strings.HasPrefix(r.Prefix, "/") {
			return nil, fmt.Errorf("router: prefix %q must start with /", r.Prefix)
		}
		r.Prefix = normalise(r.Prefix)
		if seen[r.Prefix] {
			return nil, fmt.Errorf("router: duplicate prefix %q", r.Prefix)
		}
		seen[r.Prefix] = true
		if r.Target == nil || (r.Target.Scheme != "http" && r.Target.Scheme != "https") || r.Target.Host == "" {
			return nil, fmt.Errorf("router: route %q needs an http(s) target with a host", r.Prefix)
		}
		if r.Name == "" {
			r.Name = r.Prefix
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].Prefix) > len(out[j].Prefix) })
	return &Table{routes: out}, nil
}

// normalise cleans a prefix and drops any trailing slash (except root).
func normalise(p string) string {
	return path.Clean("/" + p)
}

// Clean returns the canonical form of a request path, keeping a trailing
// slash if there was one.
func Clean(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// Match returns the route with the longest prefix that matches the
// cleaned path, and the cleaned path.
func (t *Table) Match(p string) (Route, string, bool) {
	p = Clean(p)
	for _, r := range t.routes {
		if matches(r.Prefix, p) {
			return r, p, true
		}
	}
	return Route{}, p, false
}

func matches(prefix, p string) bool {
	if prefix == "/" {
		return true
	}
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// Routes returns the routes, longest prefix first.
func (t *Table) Routes() []Route { return append([]Route(nil), t.routes...) }

// Rewrite maps a cleaned path under r.Prefix onto r.Target's path.
func (r Route) Rewrite(p string) string {
	rest := p
	if r.Prefix != "/" {
		rest = strings.TrimPrefix(p, r.Prefix)
	}
	base := strings.TrimSuffix(r.Target.Path, "/")
	switch {
	case rest == "":
		if r.Target.Path == "" {
			return "/"
		}
		return r.Target.Path
	case strings.HasPrefix(rest, "/"):
		return base + rest
	default:
		return base + "/" + rest
	}
}

// ParseSpec parses "prefix=url" entries separated by commas, e.g.
// "/reports=http://reports:9000/api,/intel=http://intel:9100". A prefix
// written with a leading "public:" marks the route public.
func ParseSpec(spec string) ([]Route, error) {
	var routes []Route
	for _, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		prefix, target, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("router: entry %q is not prefix=url", entry)
		}
		r := Route{Prefix: strings.TrimSpace(prefix)}
		if strings.HasPrefix(r.Prefix, "public:") {
			r.Public = true
			r.Prefix = strings.TrimPrefix(r.Prefix, "public:")
		}
		u, err := url.Parse(strings.TrimSpace(target))
		if err != nil {
			return nil, fmt.Errorf("router: entry %q: %v", entry, err)
		}
		r.Target = u
		routes = append(routes, r)
	}
	return routes, nil
}
