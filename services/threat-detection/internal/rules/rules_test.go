package rules

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func leaf(t *testing.T, cond string) *Rule {
	t.Helper()
	rs, err := Parse("t.json", []byte(`{"id":"r1","title":"t","severity":"low","match":`+cond+`}`))
	if err != nil {
		t.Fatalf("%s: %v", cond, err)
	}
	return rs[0]
}

func ev(js string) Event {
	var e Event
	if err := json.Unmarshal([]byte(js), &e); err != nil {
		panic(err)
	}
	return e
}

func TestOperators(t *testing.T) {
	e := ev(`{"user":"alice","action":"login","bytes":1500,"port":"443","ok":true,"tags":["vpn","mfa"],
	          "src":{"ip":"10.0.0.5","geo":{"country":"DE"}},"dst.ip":"192.0.2.1","nothing":null,"obj":{"a":1}}`)
	cases := []struct {
		cond string
		want bool
	}{
		{`{"field":"user","op":"eq","value":"alice"}`, true},
		{`{"field":"user","op":"eq","value":"Alice"}`, false}, // exact
		{`{"field":"user","op":"ne","value":"bob"}`, true},
		{`{"field":"user","op":"ne","value":"alice"}`, false},
		{`{"field":"missing","op":"ne","value":"x"}`, true},
		{`{"field":"missing","op":"eq","value":"x"}`, false},
		{`{"field":"bytes","op":"eq","value":1500}`, true},
		{`{"field":"bytes","op":"eq","value":"1500"}`, true},
		{`{"field":"port","op":"eq","value":443}`, true}, // numeric string vs number
		{`{"field":"port","op":"eq","value":443.5}`, false},
		{`{"field":"ok","op":"eq","value":true}`, true},
		{`{"field":"ok","op":"eq","value":false}`, false},
		{`{"field":"user","op":"eq","value":true}`, false},
		{`{"field":"ok","op":"eq","value":"true"}`, true},
		{`{"field":"obj","op":"eq","value":"x"}`, false},
		{`{"field":"src.ip","op":"eq","value":"10.0.0.5"}`, true},
		{`{"field":"src.geo.country","op":"eq","value":"DE"}`, true},
		{`{"field":"src.geo.city","op":"exists","value":false}`, true},
		{`{"field":"user.name","op":"exists","value":true}`, false}, // path through a string
		{`{"field":"dst.ip","op":"eq","value":"192.0.2.1"}`, true},  // literal dotted key
		{`{"field":"user","op":"contains","value":"lic"}`, true},
		{`{"field":"user","op":"contains","value":"LIC"}`, false},
		{`{"field":"bytes","op":"contains","value":"15"}`, false}, // contains is for strings and lists
		{`{"field":"tags","op":"contains","value":"mfa"}`, true},
		{`{"field":"tags","op":"contains","value":"mf"}`, false},
		{`{"field":"missing","op":"contains","value":"x"}`, false},
		{`{"field":"user","op":"regex","value":"^a.*e$"}`, true},
		{`{"field":"user","op":"regex","value":"^b"}`, false},
		{`{"field":"bytes","op":"regex","value":"^15\\d\\d$"}`, true},
		{`{"field":"tags","op":"regex","value":"vpn"}`, false},
		{`{"field":"action","op":"in","value":["login","logout"]}`, true},
		{`{"field":"action","op":"in","value":["logout"]}`, false},
		{`{"field":"bytes","op":"in","value":["1500"]}`, true},
		{`{"field":"user","op":"exists","value":true}`, true},
		{`{"field":"user","op":"exists","value":false}`, false},
		{`{"field":"nothing","op":"exists","value":true}`, false}, // null is absence
		{`{"field":"nothing","op":"ne","value":"x"}`, true},
		{`{"field":"bytes","op":"gt","value":1499}`, true},
		{`{"field":"bytes","op":"gt","value":1500}`, false},
		{`{"field":"bytes","op":"gte","value":1500}`, true},
		{`{"field":"bytes","op":"gte","value":1501}`, false},
		{`{"field":"bytes","op":"lt","value":1501}`, true},
		{`{"field":"bytes","op":"lt","value":1500}`, false},
		{`{"field":"bytes","op":"lte","value":1500}`, true},
		{`{"field":"bytes","op":"lte","value":1499}`, false},
		{`{"field":"port","op":"gt","value":80}`, true},
		{`{"field":"user","op":"gt","value":0}`, false},
		{`{"field":"missing","op":"lt","value":10}`, false},
		{`{"all":[{"field":"user","op":"eq","value":"alice"},{"field":"bytes","op":"gt","value":1000}]}`, true},
		{`{"all":[{"field":"user","op":"eq","value":"alice"},{"field":"bytes","op":"gt","value":2000}]}`, false},
		{`{"any":[{"field":"user","op":"eq","value":"bob"},{"field":"bytes","op":"gt","value":1000}]}`, true},
		{`{"any":[{"field":"user","op":"eq","value":"bob"},{"field":"bytes","op":"gt","value":2000}]}`, false},
		{`{"not":{"field":"user","op":"eq","value":"alice"}}`, false},
		{`{"not":{"any":[{"field":"user","op":"eq","value":"bob"}]}}`, true},
	}
	for _, c := range cases {
		if got := leaf(t, c.cond).Matches(e); got != c.want {
			t.Errorf("%s = %v, want %v", c.cond, got, c.want)
		}
	}
}

func TestNumbersFromStrings(t *testing.T) {
	r := leaf(t, `{"field":"n","op":"gt","value":5}`)
	for in, want := range map[string]bool{`"6"`: true, `" 7 "`: true, `"5"`: false, `"NaN"`: false, `"Inf"`: false, `"x"`: false, `true`: false} {
		if got := r.Matches(ev(`{"n":` + in + `}`)); got != want {
			t.Errorf("n=%s: %v, want %v", in, got, want)
		}
	}
}

func TestParseArrayAndThreshold(t *testing.T) {
	rs, err := Parse("f.json", []byte(` [
	  {"id":"a1","title":"A","severity":"high","match":{"field":"x","op":"eq","value":1},
	   "threshold":{"count":5,"window":"1m30s","group_by":["user","src_ip"]}},
	  {"id":"b2","title":"B","severity":"critical","description":"d","match":{"field":"x","op":"exists","value":true}}
	] `))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Threshold.Window.Duration != 90*time.Second || rs[0].Threshold.Count != 5 || rs[1].Threshold != nil {
		t.Errorf("parsed = %+v %+v", rs[0], rs[1])
	}
	out, _ := json.Marshal(rs[0].Threshold)
	if string(out) != `{"count":5,"window":"1m30s","group_by":["user","src_ip"]}` {
		t.Errorf("marshal = %s", out)
	}
}

func TestParseErrors(t *testing.T) {
	ok := `"id":"r1","title":"t","severity":"low"`
	m := `"match":{"field":"x","op":"eq","value":1}`
	cases := []struct {
		in, want string
	}{
		{`{`, "f.json: unexpected EOF"},
		{`[]`, "f.json: no rules"},
		{`[null]`, "f.json: rule 0: null"},
		{`{` + ok + `,` + m + `} {}`, "trailing data"},
		{`{` + ok + `,` + m + `,"treshold":{}}`, `unknown field "treshold"`},
		{`{"id":"R 1","title":"t","severity":"low",` + m + `}`, `rule R 1: id "R 1" must be`},
		{`{"id":"r","title":"t","severity":"low",` + m + `}`, `id "r" must be`},
		{`{"id":"r1","title":" ","severity":"low",` + m + `}`, "title is required"},
		{`{"id":"r1","title":"t","severity":"urgent",` + m + `}`, `severity "urgent" must be one of low`},
		{`{` + ok + `}`, "match is required"},
		{`{` + ok + `,"match":{}}`, "match: needs exactly one of"},
		{`{` + ok + `,"match":{"all":[],"any":[]}}`, "needs exactly one of"},
		{`{` + ok + `,"match":{"all":[]}}`, "match.all is empty"},
		{`{` + ok + `,"match":{"any":[{"field":"x","op":"eq","value":1},null]}}`, "match.any[1]: null condition"},
		{`{` + ok + `,"match":{"not":{"field":"x","op":"eq"}}}`, "match.not: x eq: value is required"},
		{`{` + ok + `,"match":{"op":"eq","value":1}}`, "match: field is required"},
		{`{` + ok + `,"match":{"field":"x","op":"equals","value":1}}`, `unknown op "equals"`},
		{`{` + ok + `,"match":{"field":"x","op":"eq","value":[1]}}`, "must be a string, number or boolean"},
		{`{` + ok + `,"match":{"field":"x","op":"contains","value":""}}`, "non-empty string"},
		{`{` + ok + `,"match":{"field":"x","op":"regex","value":"(unclosed"}}`, "missing closing )"},
		{`{` + ok + `,"match":{"field":"x","op":"regex","value":1}}`, "value must be a string"},
		{`{` + ok + `,"match":{"field":"x","op":"in","value":[]}}`, "non-empty array of strings"},
		{`{` + ok + `,"match":{"field":"x","op":"in","value":["a",1]}}`, "non-empty array of strings"},
		{`{` + ok + `,"match":{"field":"x","op":"exists","value":"yes"}}`, "true or false"},
		{`{` + ok + `,"match":{"field":"x","op":"gt","value":"5"}}`, "value must be a number"},
		{`{` + ok + `,` + m + `,"threshold":{"count":1,"window":"60s"}}`, "at least 2"},
		{`{` + ok + `,` + m + `,"threshold":{"count":5,"window":"0s"}}`, "must be positive"},
		{`{` + ok + `,` + m + `,"threshold":{"count":5,"window":"25h"}}`, "at most 24h0m0s"},
		{`{` + ok + `,` + m + `,"threshold":{"count":5,"window":"soon"}}`, `window "soon"`},
		{`{` + ok + `,` + m + `,"threshold":{"count":5,"window":60}}`, `window must be a string`},
		{`{` + ok + `,` + m + `,"threshold":{"count":5,"window":"60s","group_by":[""]}}`, "group_by[0] is empty"},
	}
	for _, c := range cases {
		_, err := Parse("f.json", []byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\n  err = %v\n  want %q", c.in, err, c.want)
		}
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse("f.json", []byte(`[{"id":"a1","title":"","severity":"x","match":{"all":[{"field":"x","op":"nope","value":1},{"field":"y","op":"gt","value":"z"}]}},
	  {"id":"b2","title":"t","severity":"low","match":{"field":"x","op":"eq","value":1}}]`))
	probs, ok := err.(Problems)
	if !ok || len(probs) != 4 {
		t.Fatalf("problems = %v", err)
	}
	if !strings.HasPrefix(probs[2], "f.json: rule a1: match.all[0]: unknown op") {
		t.Errorf("problem = %q", probs[2])
	}
}

func TestDepthLimit(t *testing.T) {
	cond := `{"field":"x","op":"eq","value":1}`
	for i := 0; i <= MaxDepth; i++ {
		cond = `{"not":` + cond + `}`
	}
	_, err := Parse("f.json", []byte(`{"id":"r1","title":"t","severity":"low","match":`+cond+`}`))
	if err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("err = %v", err)
	}
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "b.json", `{"id":"r2","title":"t","severity":"low","match":{"field":"x","op":"eq","value":1}}`)
	write(t, dir, "a.json", `[{"id":"r1","title":"t","severity":"low","match":{"field":"x","op":"eq","value":1}}]`)
	write(t, dir, "notes.txt", `ignored`)
	rs, err := LoadDir(dir)
	if err != nil || len(rs) != 2 || rs[0].ID != "r1" || rs[1].ID != "r2" {
		t.Fatalf("LoadDir = %v, %v", rs, err)
	}
	write(t, dir, "c.json", `{"id":"r1","title":"t","severity":"low","match":{"field":"x","op":"eq","value":1}}`)
	write(t, dir, "d.json", `{"id":"r4"}`)
	_, err = LoadDir(dir)
	probs, _ := err.(Problems)
	if len(probs) != 4 || !strings.Contains(probs[0], "c.json: rule r1: id already used in "+filepath.Join(dir, "a.json")) {
		t.Errorf("problems = %v", err)
	}
	if _, err := LoadDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no rule files") {
		t.Errorf("empty dir: %v", err)
	}
	if _, err := LoadDir("[bad"); err == nil {
		t.Error("bad glob accepted")
	}
	unreadable := t.TempDir()
	if err := os.Mkdir(filepath.Join(unreadable, "x.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(unreadable); err == nil {
		t.Error("unreadable rule file accepted")
	}
}

func TestBundledRules(t *testing.T) {
	rs, err := LoadDir("../../rules")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) < 5 {
		t.Errorf("only %d bundled rules", len(rs))
	}
}
