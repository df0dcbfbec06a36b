package router

import (
	"net/url"
	"strings"
	"testing"
)

func u(s string) *url.URL {
	v, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

func table(t *testing.T) *Table {
	t.Helper()
	tb, err := New([]Route{
		{Name: "frontend", Prefix: "/", Target: u("http://frontend:3000"), Public: true},
		{Name: "auth", Prefix: "/auth/", Target: u("http://auth:8081/v1/"), Public: true},
		{Name: "analysis", Prefix: "/analysis", Target: u("http://ba:8000/v1")},
		{Name: "analysis-admin", Prefix: "/analysis/admin", Target: u("http://ba-admin:8001")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestLongestPrefixMatch(t *testing.T) {
	tb := table(t)
	cases := []struct {
		path, route, cleaned string
	}{
		{"/auth/token", "auth", "/auth/token"},
		{"/auth", "auth", "/auth"},
		{"/auth/", "auth", "/auth/"},
		{"/authz", "frontend", "/authz"}, // whole segments only
		{"/analysis/score", "analysis", "/analysis/score"},
		{"/analysis/admin", "analysis-admin", "/analysis/admin"},
		{"/analysis/admin/users", "analysis-admin", "/analysis/admin/users"},
		{"/analysis/administrator", "analysis", "/analysis/administrator"},
		{"/", "frontend", "/"},
		{"", "frontend", "/"},
		{"/index.html", "frontend", "/index.html"},
		// cleaning happens before matching
		{"/auth/../analysis/admin/x", "analysis-admin", "/analysis/admin/x"},
		{"//analysis//score", "analysis", "/analysis/score"},
		{"/analysis/./admin", "analysis-admin", "/analysis/admin"},
		{"/auth/../../../etc/passwd", "frontend", "/etc/passwd"},
	}
	for _, c := range cases {
		r, cleaned, ok := tb.Match(c.path)
		if !ok || r.Name != c.route || cleaned != c.cleaned {
			t.Errorf("Match(%q) = %q %q %v; want %q %q", c.path, r.Name, cleaned, ok, c.route, c.cleaned)
		}
	}
}

func TestNoMatchWithoutRoot(t *testing.T) {
	tb, err := New([]Route{{Prefix: "/api", Target: u("http://x")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := tb.Match("/apis"); ok {
		t.Error("/apis should not match /api")
	}
	if r, _, ok := tb.Match("/api/v2"); !ok || r.Name != "/api" {
		t.Errorf("default name = %q", r.Name)
	}
}

func TestRewrite(t *testing.T) {
	cases := []struct {
		prefix, target, path, want string
	}{
		{"/auth", "http://a/v1/", "/auth/token", "/v1/token"},
		{"/auth", "http://a/v1", "/auth/token", "/v1/token"},
		{"/auth", "http://a/v1", "/auth", "/v1"},
		{"/auth", "http://a/v1/", "/auth/", "/v1/"},
		{"/auth", "http://a", "/auth/token", "/token"},
		{"/auth", "http://a", "/auth", "/"},
		{"/", "http://f", "/app.js", "/app.js"},
		{"/", "http://f/static", "/app.js", "/static/app.js"},
		{"/", "http://f", "/", "/"},
	}
	for _, c := range cases {
		tb, err := New([]Route{{Prefix: c.prefix, Target: u(c.target)}})
		if err != nil {
			t.Fatal(err)
		}
		r, cleaned, ok := tb.Match(c.path)
		if !ok {
			t.Fatalf("%q did not match %q", c.path, c.prefix)
		}
		if got := r.Rewrite(cleaned); got != c.want {
			t.Errorf("%s -> %s: Rewrite(%q) = %q, want %q", c.prefix, c.target, c.path, got, c.want)
		}
	}
	// a path without the leading slash after the prefix (defensive)
	r := Route{Prefix: "/a", Target: u("http://x/b")}
	if got := r.Rewrite("/ac"); got != "/b/c" {
		t.Errorf("got %q", got)
	}
}

func TestNewValidation(t *testing.T) {
	cases := []struct {
		name   string
		routes []Route
		want   string
	}{
		{"relative prefix", []Route{{Prefix: "auth", Target: u("http://a")}}, "must start with /"},
		{"duplicate", []Route{{Prefix: "/a/", Target: u("http://a")}, {Prefix: "/a", Target: u("http://b")}}, "duplicate"},
		{"nil target", []Route{{Prefix: "/a"}}, "http(s) target"},
		{"bad scheme", []Route{{Prefix: "/a", Target: u("ftp://a")}}, "http(s) target"},
		{"no host", []Route{{Prefix: "/a", Target: u("http:///x")}}, "http(s) target"},
	}
	for _, c := range cases {
		if _, err := New(c.routes); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestRoutesOrderAndCopy(t *testing.T) {
	tb := table(t)
	rs := tb.Routes()
	for i := 1; i < len(rs); i++ {
		if len(rs[i-1].Prefix) < len(rs[i].Prefix) {
			t.Errorf("not sorted longest first: %v", rs)
		}
	}
	rs[0].Prefix = "/mutated"
	if tb.Routes()[0].Prefix == "/mutated" {
		t.Error("Routes exposes internal state")
	}
}

func TestParseSpec(t *testing.T) {
	rs, err := ParseSpec(" /reports=http://reports:9000/api , public:/status=http://status:9200,, ")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("got %d routes", len(rs))
	}
	if rs[0].Prefix != "/reports" || rs[0].Public || rs[0].Target.Host != "reports:9000" || rs[0].Target.Path != "/api" {
		t.Errorf("route 0 = %+v", rs[0])
	}
	if rs[1].Prefix != "/status" || !rs[1].Public {
		t.Errorf("route 1 = %+v", rs[1])
	}
	if rs, err := ParseSpec(""); err != nil || len(rs) != 0 {
		t.Errorf("empty spec = %v, %v", rs, err)
	}
	for _, bad := range []string{"/x", "/x=http://a b:%zz"} {
		if _, err := ParseSpec(bad); err == nil {
			t.Errorf("ParseSpec(%q) accepted", bad)
		}
	}
}
