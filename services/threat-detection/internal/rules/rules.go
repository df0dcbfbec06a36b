// Package rules loads and compiles detection rules. A rule file under
// rules/ holds one rule object or an array of them:
//
//	{
//	  "id": "auth-bruteforce",
//	  "title": "Brute-force login",
//	  "severity": "high",
//	  "match": {"all": [
//	    {"field": "action", "op": "eq", "value": "login"},
//	    {"field": "outcome", "op": "eq", "value": "failure"}
//	  ]},
//	  "threshold": {"count": 5, "window": "60s", "group_by": ["user"]}
//	}
//
// A condition is {"all": [...]}, {"any": [...]}, {"not": {...}} or a leaf
// {"field", "op", "value"} with op one of eq, ne, contains, regex, in,
// exists, gt, gte, lt, lte. Fields are dotted paths into the event.
// Unknown keys are errors, so a misspelt "treshold" cannot silently turn
// an aggregation into a per-event alert.
package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Severities a rule may declare.
var Severities = []string{"low", "medium", "high", "critical"}

// Limits on what a rule may ask of the engine.
const (
	MaxDepth  = 16
	MaxWindow = 24 * time.Hour
)

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,63}$`)

// Rule is one detection rule.
type Rule struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Severity    string     `json:"severity"`
	Description string     `json:"description,omitempty"`
	Match       *Cond      `json:"match"`
	Threshold   *Threshold `json:"threshold,omitempty"`
}

// Threshold turns a rule into an aggregation: it fires when Count
// matching events with the same GroupBy values fall within Window.
type Threshold struct {
	Count   int      `json:"count"`
	Window  Duration `json:"window"`
	GroupBy []string `json:"group_by,omitempty"`
}

// Duration is a time.Duration written as "60s" or "5m" in JSON.
type Duration struct{ time.Duration }

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`window must be a string such as "60s"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("window %q: %v", s, err)
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// Cond is a condition tree node.
type Cond struct {
	All   []*Cond         `json:"all,omitempty"`
	Any   []*Cond         `json:"any,omitempty"`
	Not   *Cond           `json:"not,omitempty"`
	Field string          `json:"field,omitempty"`
	Op    string          `json:"op,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`

	// compiled leaf value
	str    string
	num    float64
	isNum  bool
	boolV  bool
	isBool bool
	re     *regexp.Regexp
	set    map[string]bool
}

// Problems collects every error found while compiling rules.
type Problems []string

func (p Problems) Error() string { return strings.Join(p, "\n") }

// Parse decodes one file's content (a rule or an array of rules) and
// compiles each rule. Errors name the file and the rule.
func Parse(name string, data []byte) ([]*Rule, error) {
	data = bytes.TrimSpace(data)
	var list []*Rule
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var err error
	if len(data) > 0 && data[0] == '[' {
		err = dec.Decode(&list)
	} else {
		var r Rule
		err = dec.Decode(&r)
		list = []*Rule{&r}
	}
	if err != nil {
		return nil, Problems{fmt.Sprintf("%s: %v", name, err)}
	}
	if dec.More() {
		return nil, Problems{fmt.Sprintf("%s: trailing data after the rules", name)}
	}
	if len(list) == 0 {
		return nil, Problems{fmt.Sprintf("%s: no rules", name)}
	}
	var probs Problems
	for i, r := range list {
		label := fmt.Sprintf("%s: rule %d", name, i)
		if r != nil && r.ID != "" {
			label = fmt.Sprintf("%s: rule %s", name, r.ID)
		}
		if r == nil {
			probs = append(probs, label+": null")
			continue
		}
		for _, p := range r.compile() {
			probs = append(probs, label+": "+p)
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return list, nil
}

// LoadDir parses every *.json file in dir (sorted by name) and checks
// that rule ids are unique across files. It reports all problems.
func LoadDir(dir string) ([]*Rule, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, Problems{fmt.Sprintf("%s: no rule files (*.json)", dir)}
	}
	sort.Strings(paths)
	var all []*Rule
	var probs Problems
	seen := map[string]string{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			probs = append(probs, err.Error())
			continue
		}
		rs, err := Parse(p, data)
		if err != nil {
			probs = append(probs, err.(Problems)...)
			continue
		}
		for _, r := range rs {
			if prev, dup := seen[r.ID]; dup {
				probs = append(probs, fmt.Sprintf("%s: rule %s: id already used in %s", p, r.ID, prev))
				continue
			}
			seen[r.ID] = p
			all = append(all, r)
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return all, nil
}

func (r *Rule) compile() []string {
	var probs []string
	if !idRE.MatchString(r.ID) {
		probs = append(probs, fmt.Sprintf("id %q must be 2-64 of a-z 0-9 -", r.ID))
	}
	if strings.TrimSpace(r.Title) == "" {
		probs = append(probs, "title is required")
	}
	if !contains(Severities, r.Severity) {
		probs = append(probs, fmt.Sprintf("severity %q must be one of %s", r.Severity, strings.Join(Severities, ", ")))
	}
	if r.Match == nil {
		probs = append(probs, "match is required")
	} else {
		probs = append(probs, r.Match.compile("match", 0)...)
	}
	if t := r.Threshold; t != nil {
		if t.Count < 2 {
			probs = append(probs, fmt.Sprintf("threshold.count %d must be at least 2 (omit the threshold to alert on every match)", t.Count))
		}
		if t.Window.Duration <= 0 || t.Window.Duration > MaxWindow {
			probs = append(probs, fmt.Sprintf("threshold.window %s must be positive and at most %s", t.Window, MaxWindow))
		}
		for i, g := range t.GroupBy {
			if strings.TrimSpace(g) == "" {
				probs = append(probs, fmt.Sprintf("threshold.group_by[%d] is empty", i))
			}
		}
	}
	return probs
}

func (c *Cond) compile(path string, depth int) []string {
	if c == nil {
		return []string{path + ": null condition"}
	}
	if depth > MaxDepth {
		return []string{fmt.Sprintf("%s: nested deeper than %d", path, MaxDepth)}
	}
	kinds := 0
	for _, set := range []bool{c.All != nil, c.Any != nil, c.Not != nil, c.Field != "" || c.Op != ""} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return []string{path + ": needs exactly one of all, any, not or field/op/value"}
	}
	var probs []string
	switch {
	case c.All != nil || c.Any != nil:
		list, key := c.All, "all"
		if c.Any != nil {
			list, key = c.Any, "any"
		}
		if len(list) == 0 {
			return []string{fmt.Sprintf("%s.%s is empty", path, key)}
		}
		for i, sub := range list {
			probs = append(probs, sub.compile(fmt.Sprintf("%s.%s[%d]", path, key, i), depth+1)...)
		}
		return probs
	case c.Not != nil:
		return c.Not.compile(path+".not", depth+1)
	}
	if c.Field == "" {
		return []string{path + ": field is required"}
	}
	bad := func(format string, args ...interface{}) []string {
		return []string{fmt.Sprintf("%s: %s %s: ", path, c.Field, c.Op) + fmt.Sprintf(format, args...)}
	}
	if len(c.Value) == 0 {
		return bad("value is required")
	}
	var v interface{}
	if err := json.Unmarshal(c.Value, &v); err != nil {
		return bad("invalid value")
	}
	switch c.Op {
	case "eq", "ne":
		switch x := v.(type) {
		case string:
			c.str = x
		case float64:
			c.num, c.isNum = x, true
		case bool:
			c.boolV, c.isBool = x, true
		default:
			return bad("value must be a string, number or boolean")
		}
	case "contains":
		s, ok := v.(string)
		if !ok || s == "" {
			return bad("value must be a non-empty string")
		}
		c.str = s
	case "regex":
		s, ok := v.(string)
		if !ok {
			return bad("value must be a string")
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return bad("%v", err)
		}
		c.re = re
	case "in":
		list, ok := v.([]interface{})
		if !ok || len(list) == 0 {
			return bad("value must be a non-empty array of strings")
		}
		c.set = map[string]bool{}
		for _, e := range list {
			s, ok := e.(string)
			if !ok {
				return bad("value must be a non-empty array of strings")
			}
			c.set[s] = true
		}
	case "exists":
		b, ok := v.(bool)
		if !ok {
			return bad("value must be true or false")
		}
		c.boolV = b
	case "gt", "gte", "lt", "lte":
		n, ok := v.(float64)
		if !ok {
			return bad("value must be a number")
		}
		c.num = n
	default:
		return []string{fmt.Sprintf("%s: unknown op %q (eq, ne, contains, regex, in, exists, gt, gte, lt, lte)", path, c.Op)}
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// Event is a decoded JSON event.
type Event map[string]interface{}

// Lookup returns the value at a dotted path: a literal key first
// ("src.ip" as one key), then nested objects.
func (e Event) Lookup(path string) (interface{}, bool) {
	if v, ok := e[path]; ok {
		return v, true
	}
	var cur interface{} = map[string]interface{}(e)
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// Matches reports whether ev satisfies the rule's condition.
func (r *Rule) Matches(ev Event) bool { return r.Match.eval(ev) }

func (c *Cond) eval(ev Event) bool {
	switch {
	case c.All != nil:
		for _, s := range c.All {
			if !s.eval(ev) {
				return false
			}
		}
		return true
	case c.Any != nil:
		for _, s := range c.Any {
			if s.eval(ev) {
				return true
			}
		}
		return false
	case c.Not != nil:
		return !c.Not.eval(ev)
	}
	v, ok := ev.Lookup(c.Field)
	if ok && v == nil {
		ok = false // JSON null is absence
	}
	switch c.Op {
	case "exists":
		return ok == c.boolV
	case "ne":
		return !ok || !c.equal(v)
	}
	if !ok {
		return false
	}
	switch c.Op {
	case "eq":
		return c.equal(v)
	case "contains":
		if list, isList := v.([]interface{}); isList {
			for _, e := range list {
				if s, isStr := e.(string); isStr && s == c.str {
					return true
				}
			}
			return false
		}
		s, isStr := v.(string)
		return isStr && strings.Contains(s, c.str)
	case "regex":
		s, isScalar := scalarString(v)
		return isScalar && c.re.MatchString(s)
	case "in":
		s, isScalar := scalarString(v)
		return isScalar && c.set[s]
	}
	n, isNum := number(v)
	if !isNum {
		return false
	}
	switch c.Op {
	case "gt":
		return n > c.num
	case "gte":
		return n >= c.num
	case "lt":
		return n < c.num
	default: // lte
		return n <= c.num
	}
}

func (c *Cond) equal(v interface{}) bool {
	switch {
	case c.isNum:
		n, ok := number(v)
		return ok && n == c.num
	case c.isBool:
		b, ok := v.(bool)
		return ok && b == c.boolV
	}
	s, ok := scalarString(v)
	return ok && s == c.str
}

// number reads a JSON number or a numeric string ("42", "1.5").
func number(v interface{}) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		n, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return n, err == nil && !math.IsNaN(n) && !math.IsInf(n, 0)
	}
	return 0, false
}

// scalarString renders strings, numbers and booleans; not objects/arrays.
func scalarString(v interface{}) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}
