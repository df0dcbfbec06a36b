package policy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

var known = []string{"credit_card", "iban", "us_ssn", "api_key"}

func TestEvaluateDefault(t *testing.T) {
	p := Default()
	cases := []struct {
		name    string
		counts  map[string]int
		action  Action
		reasons []string
	}{
		{"nothing", map[string]int{}, Allow, []string{}},
		{"zero counts", map[string]int{"credit_card": 0}, Allow, []string{}},
		{"one card warns", map[string]int{"credit_card": 1}, Warn, []string{"credit_card: 1 found, warn at 1"}},
		{"four cards still warn", map[string]int{"credit_card": 4}, Warn, []string{"credit_card: 4 found, warn at 1"}},
		{"five cards block", map[string]int{"credit_card": 5}, Block, []string{"credit_card: 5 found, block at 5"}},
		{"one secret blocks", map[string]int{"api_key": 1}, Block, []string{"api_key: 1 found, block at 1"}},
		{"ssns block at three", map[string]int{"us_ssn": 3}, Block, []string{"us_ssn: 3 found, block at 3"}},
		{"ibans", map[string]int{"iban": 19}, Warn, []string{"iban: 19 found, warn at 1"}},
		{"most severe wins, all reasons kept", map[string]int{"us_ssn": 1, "api_key": 2, "iban": 1},
			Block, []string{"api_key: 2 found, block at 1", "iban: 1 found, warn at 1", "us_ssn: 1 found, warn at 1"}},
		{"block then warn keeps block", map[string]int{"api_key": 1, "credit_card": 1},
			Block, []string{"api_key: 1 found, block at 1", "credit_card: 1 found, warn at 1"}},
		{"detector without a rule", map[string]int{"passport": 9}, Allow, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := p.Evaluate(c.counts)
			if d.Action != c.action || !reflect.DeepEqual(d.Reasons, c.reasons) {
				t.Errorf("got %s %q, want %s %q", d.Action, d.Reasons, c.action, c.reasons)
			}
		})
	}
}

func TestParse(t *testing.T) {
	p, err := Parse(" credit_card = warn:2 , block:10 ; api_key=warn:1;;iban=block:0 ", Default(), known)
	if err != nil {
		t.Fatal(err)
	}
	want := Policy{
		"credit_card": {WarnAt: 2, BlockAt: 10},
		"api_key":     {WarnAt: 1},         // block threshold not named: off
		"iban":        {},                  // both off
		"us_ssn":      Default()["us_ssn"], // untouched
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got %+v, want %+v", p, want)
	}
	if got := p.String(); got != "api_key=warn:1; credit_card=warn:2,block:10; iban=warn:0; us_ssn=warn:1,block:3" {
		t.Errorf("String() = %q", got)
	}
	// the base policy is not modified
	if Default()["credit_card"].WarnAt != 1 {
		t.Error("Default changed")
	}
	if d := p.Evaluate(map[string]int{"api_key": 5, "credit_card": 1}); d.Action != Warn || len(d.Reasons) != 1 {
		t.Errorf("parsed policy decision = %+v", d)
	}
	empty, err := Parse("", Default(), known)
	if err != nil || !reflect.DeepEqual(empty, Default()) {
		t.Errorf("empty text: %v %v", empty, err)
	}
	// a parsed policy round-trips through String
	again, err := Parse(p.String(), nil, known)
	if err != nil || !reflect.DeepEqual(again, p) {
		t.Errorf("round trip: %v %v", again, err)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ text, errSub string }{
		{"credit_card", "want detector=action:count"},
		{"passport=warn:1", "unknown detector"},
		{"credit_card=warn", "want action:count"},
		{"credit_card=warn:x", "want action:count"},
		{"credit_card=warn:-1", "want action:count"},
		{"credit_card=", "want action:count"},
		{"credit_card=deny:1", "unknown action"},
		{"credit_card=warn:1,warn:2", "given twice"},
		{"credit_card=warn:5,block:2", "below warn"},
	}
	for _, c := range cases {
		if _, err := Parse(c.text, Default(), known); err == nil || !strings.Contains(err.Error(), c.errSub) {
			t.Errorf("Parse(%q) err = %v, want %q", c.text, err, c.errSub)
		}
	}
	// equal thresholds are fine: block wins
	p, err := Parse("us_ssn=warn:2,block:2", nil, known)
	if err != nil || p.Evaluate(map[string]int{"us_ssn": 2}).Action != Block {
		t.Errorf("equal thresholds: %v %v", p, err)
	}
}

func TestActionJSON(t *testing.T) {
	b, err := json.Marshal(map[string]Action{"a": Allow, "w": Warn, "b": Block})
	if err != nil || string(b) != `{"a":"allow","b":"block","w":"warn"}` {
		t.Errorf("json = %s %v", b, err)
	}
	if Action(7).String() != "action(7)" {
		t.Error("unknown action string")
	}
}
