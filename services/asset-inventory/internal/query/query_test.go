package query

import (
	"errors"
	"strings"
	"testing"
)

var schema = Schema{
	"name":        {Kind: Text},
	"type":        {Kind: Text},
	"owner":       {Kind: Text},
	"criticality": {Kind: Ordinal, Levels: []string{"low", "medium", "high", "critical"}},
	"tag":         {Kind: Set},
}

type rec map[string][]string

func (r rec) Values(f string) []string { return r[f] }

func asset(name, typ, crit string, tags ...string) rec {
	r := rec{"name": {name}, "type": {typ}, "owner": {"alice@corp.com"}, "tag": tags}
	if crit != "" {
		r["criticality"] = []string{crit}
	}
	return r
}

func TestMatch(t *testing.T) {
	web := asset("web-01", "server", "high", "pci", "internet-facing")
	db := asset("db-01", "database", "critical", "pci")
	laptop := asset("lt-alice", "workstation", "low")
	unset := asset("mystery", "server", "")
	odd := asset("odd", "server", "extreme") // stored level unknown to the schema

	cases := []struct {
		q    string
		r    rec
		want bool
	}{
		{"", web, true},
		{"   ", web, true},
		{"type=server", web, true},
		{"type=SERVER", web, true},
		{"TYPE=server", web, true},
		{"type=server", db, false},
		{"type!=server", db, true},
		{"type!=server", web, false},
		{"criticality>=high", web, true},
		{"criticality>=high", db, true},
		{"criticality>=high", laptop, false},
		{"criticality>high", web, false},
		{"criticality>high", db, true},
		{"criticality<=medium", laptop, true},
		{"criticality<=medium", web, false},
		{"criticality<medium", laptop, true},
		{"criticality<low", laptop, false},
		{"criticality=high", web, true},
		{"criticality=High", web, true},
		{"criticality!=high", web, false},
		{"criticality!=high", db, true},
		{"criticality>=low", unset, false},
		{"criticality<critical", unset, false},
		{"criticality!=low", unset, true},
		{"criticality>=low", odd, false},
		{"criticality!=low", odd, true},
		{"type=server AND criticality>=high", web, true},
		{"type=server AND criticality>=high", db, false},
		{"type=server AND criticality>=high", laptop, false},
		{"type=server and criticality>=high", web, true},
		{"type=database OR criticality>=high", web, true},
		{"type=database OR criticality>=high", laptop, false},
		// AND binds tighter than OR
		{"type=workstation OR type=server AND criticality=critical", laptop, true},
		{"type=workstation OR type=server AND criticality=critical", web, false},
		{"(type=workstation OR type=server) AND criticality=critical", laptop, false},
		{"NOT type=server", web, false},
		{"NOT type=server", db, true},
		{"NOT NOT type=server", web, true},
		{"not type=server and criticality=low", laptop, true},
		{"NOT (type=server OR type=database)", db, false},
		{"tag=pci", web, true},
		{"tag=PCI", db, true},
		{"tag=pci", laptop, false},
		{"tag!=pci", laptop, true},
		{"tag!=pci", web, false},
		{"tag~internet", web, true},
		{"tag~internet", db, false},
		{"name~WEB", web, true},
		{"name~web", db, false},
		{"owner=alice@corp.com", web, true},
		{`owner="alice@corp.com"`, web, true},
		{`name="lt-alice"`, laptop, true},
		{`name=""`, rec{}, true},
		{`name!=""`, web, true},
		{"name=x", rec{}, false},
		{"name!=x", rec{}, true},
		{"tag=x", rec{}, false},
	}
	for _, c := range cases {
		q, err := Compile(c.q, schema)
		if err != nil {
			t.Errorf("Compile(%q): %v", c.q, err)
			continue
		}
		if got := q.Match(c.r); got != c.want {
			t.Errorf("%q on %v = %v, want %v", c.q, c.r["name"], got, c.want)
		}
		if q.String() != c.q {
			t.Errorf("String() = %q", q.String())
		}
	}
}

func TestQuotedStrings(t *testing.T) {
	q, err := Compile(`name="say \"hi\" \\ (AND) x"`, schema)
	if err != nil {
		t.Fatal(err)
	}
	if !q.Match(rec{"name": {`say "hi" \ (and) x`}}) {
		t.Error("escapes or keywords inside quotes mishandled")
	}
	// a backslash before anything else is kept literally
	q, _ = Compile(`name="a\nb"`, schema)
	if !q.Match(rec{"name": {`a\nb`}}) {
		t.Error(`"\n" should stay two characters`)
	}
}

func TestCompileErrors(t *testing.T) {
	cases := []struct {
		q   string
		pos int
		msg string
	}{
		{"colour=red", 0, `unknown field "colour" (fields: criticality, name, owner, tag, type)`},
		{"type>server", 4, "type is not ordered"},
		{"tag<=pci", 3, "tag is not ordered"},
		{"criticality>=urgent", 13, `"urgent" is not a criticality level`},
		{"criticality~hi", 11, "~ is not allowed"},
		{"type", 4, "expected an operator"},
		{"type server", 5, "expected an operator"},
		{"type=", 5, "expected a value"},
		{"type=(", 5, "expected a value"},
		{"type=server AND", 15, "expected a comparison, got end of query"},
		{"type=server OR OR type=x", 15, "expected a comparison"},
		{"AND type=server", 0, "expected a comparison"},
		{"(type=server", 12, `expected ")"`},
		{"type=server)", 11, `unexpected ")"`},
		{"type=server type=db", 12, `unexpected "type"`},
		{"type!server", 4, `"!" must be followed by "="`},
		{"type=serv$er", 9, "unexpected character '$'"},
		{`name="open`, 5, "unterminated string"},
		{`name="trailing\`, 5, "unterminated string"},
		{"=x", 0, "expected a comparison"},
		{`"name"=x`, 0, "expected a comparison, got string"},
	}
	for _, c := range cases {
		_, err := Compile(c.q, schema)
		var qe *Error
		if !errors.As(err, &qe) {
			t.Errorf("Compile(%q) err = %v, want *Error", c.q, err)
			continue
		}
		if qe.Pos != c.pos || !strings.Contains(qe.Msg, c.msg) {
			t.Errorf("Compile(%q) = %v, want at %d: %s", c.q, err, c.pos, c.msg)
		}
	}
}

func TestLimits(t *testing.T) {
	deep := strings.Repeat("(", MaxDepth+2) + "type=x" + strings.Repeat(")", MaxDepth+2)
	if _, err := Compile(deep, schema); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("deep nesting: %v", err)
	}
	nots := strings.Repeat("NOT ", MaxDepth+2) + "type=x"
	if _, err := Compile(nots, schema); err == nil {
		t.Error("deep NOT chain accepted")
	}
	ok := strings.Repeat("(", MaxDepth) + "type=x" + strings.Repeat(")", MaxDepth)
	if _, err := Compile(ok, schema); err != nil {
		t.Errorf("nesting at the limit rejected: %v", err)
	}
	long := "name=" + strings.Repeat("a", MaxLen)
	if _, err := Compile(long, schema); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("long query: %v", err)
	}
}

func TestErrorString(t *testing.T) {
	_, err := Compile("bogus=1", schema)
	if err == nil || !strings.HasPrefix(err.Error(), "query: at 0: unknown field") {
		t.Errorf("Error() = %v", err)
	}
}
